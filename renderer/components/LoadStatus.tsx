/**
 * What a view shows until its data is there: "Loading …" while the first load runs, and
 * the error with a Retry button when a load failed. Once loaded, only a later error shows
 * (above the data the view keeps showing).
 */
import type { ErrorInfo } from '../api';
import { ErrorNotice } from './ErrorNotice';

/** Props of LoadStatus. */
export interface LoadStatusProps {
  /** The data has been loaded at least once. */
  loaded: boolean;
  /** Why the last load failed, or null. */
  error: ErrorInfo | null;
  /** Loads again (the Retry button). */
  onRetry: () => void;
  /** What is loading, e.g. "hosts": "Loading hosts…". */
  what: string;
}

/** The loading placeholder or the load error with Retry; renders nothing when loaded without error. */
export function LoadStatus({ loaded, error, onRetry, what }: LoadStatusProps) {
  if (error) {
    return (
      <ErrorNotice error={error}>
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      </ErrorNotice>
    );
  }
  if (loaded) return null;
  return (
    <p className="placeholder" role="status">
      Loading {what}…
    </p>
  );
}
