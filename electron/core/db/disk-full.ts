/** A write to the store that failed because the data dir's disk (or quota) is full. */
import { CroniumError } from '../../shared/errors';

/** True for SQLite's SQLITE_FULL and the file system's ENOSPC / EDQUOT. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

/** The DATA_DIR_FULL error for such a failure. */
export function dataDirFull(e: unknown): CroniumError {
  return new CroniumError('DATA_DIR_FULL', `the disk of the data dir is full: ${(e as Error).message ?? String(e)}`);
}
