/**
 * Catches a view that fails to render or to load (a lazy chunk that is gone because the
 * app was rebuilt or upgraded while the page stayed open) and offers a reload, instead of
 * leaving a blank window. Keyed by the route, so another view starts afresh.
 */
import { Component, type ReactNode } from 'react';
import { ErrorNotice } from './ErrorNotice';

interface State {
  error: Error | null;
}

/** An error boundary around the current view. */
export class ViewBoundary extends Component<{ children: ReactNode }, State> {
  override state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  override render() {
    if (!this.state.error) return this.props.children;
    const chunk = /dynamically imported module|Importing a module script failed|Failed to fetch/i.test(this.state.error.message);
    return (
      <section className="view">
        <ErrorNotice
          error={{
            code: chunk ? 'UI_OUTDATED' : 'INTERNAL',
            message: chunk ? 'This view could not be loaded: the app was updated since this page opened.' : `This view failed: ${this.state.error.message}`,
            hint: 'Reload the page.',
          }}
        >
          <button type="button" className="btn btn-small" onClick={() => window.location.reload()}>
            Reload
          </button>
        </ErrorNotice>
      </section>
    );
  }
}
