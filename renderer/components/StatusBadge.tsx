/** A run's or job's status as a coloured badge with its words (never colour alone). */
import { statusLabel, statusTone } from '../features/jobs/job-format';

/** A status badge. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${statusTone(status)}`}>{statusLabel(status)}</span>;
}
