/** Tells the user when the headless session has lost its connection to the app. */
import { useAppStore } from '../store';

/** A banner shown while the WebSocket is down; nothing in the desktop or when connected. */
export function ConnectionBanner() {
  const connection = useAppStore((s) => s.session.connection);
  const failures = useAppStore((s) => s.session.failures);
  if (connection !== 'reconnecting') return null;
  return (
    <div className="banner banner-warning" role="alert">
      <strong>Disconnected — reconnecting…</strong>
      {failures >= 4 && <span> If <code>cronium serve</code> was restarted, open the new URL it printed.</span>}
    </div>
  );
}
