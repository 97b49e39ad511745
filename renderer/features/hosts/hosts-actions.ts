/**
 * Actions other parts of the UI (the command palette, the desktop menu) ask of the Hosts
 * view: open the Add host or Import dialog. A request made while the view is not shown is
 * kept until the view mounts and takes it; one made while it is shown arrives at once.
 */
import { navigate } from '../../app/route';

/** What the Hosts view can be asked to open. */
export type HostsAction = 'add-host' | 'import-hosts';

const EVENT = 'cronium:hosts-action';
let pending: HostsAction | null = null;

/** Opens the Hosts view and asks it to open a dialog. */
export function requestHostsAction(action: HostsAction): void {
  pending = action;
  navigate({ view: 'hosts' });
  window.dispatchEvent(new CustomEvent<HostsAction>(EVENT, { detail: action }));
}

/** Subscribes the Hosts view; a request made before it mounted is delivered now. Returns the unsubscribe. */
export function onHostsAction(handler: (action: HostsAction) => void): () => void {
  const listener = (e: Event) => {
    pending = null;
    handler((e as CustomEvent<HostsAction>).detail);
  };
  window.addEventListener(EVENT, listener);
  if (pending) {
    const a = pending;
    pending = null;
    handler(a);
  }
  return () => window.removeEventListener(EVENT, listener);
}
