/** An error as the user reads it: what went wrong, its stable code, and under it what to do. */
import type { ReactNode } from 'react';
import type { ErrorInfo } from '../api';

/** A block showing an error's message, then its hint on a line of its own, announced as an alert. */
export function ErrorNotice({ error, children, role = 'alert' }: { error: ErrorInfo; children?: ReactNode; role?: 'alert' | 'status' }) {
  return (
    <div className="notice notice-error" role={role}>
      <div className="notice-body">
        <p>
          <span className="notice-message">{error.message}</span> <code className="notice-code">{error.code}</code>
        </p>
        {error.hint && <p className="notice-hint">{error.hint}</p>}
      </div>
      {children}
    </div>
  );
}
