/** An error as the user reads it: what went wrong and, when known, what to do. */
import type { ReactNode } from 'react';
import type { ErrorInfo } from '../api';

/** A block showing an error's message and hint, announced as an alert. */
export function ErrorNotice({ error, children }: { error: ErrorInfo; children?: ReactNode }) {
  return (
    <div className="notice notice-error" role="alert">
      <p>
        <span className="notice-message">{error.message}</span>
        {error.hint && <span className="notice-hint"> {error.hint}</span>}
      </p>
      {children}
    </div>
  );
}
