/**
 * Binds the contract to Electron IPC. Guards the invariant that only our own window
 * reaches the core: a call from any other sender or frame (another window, an
 * iframe, a navigated page) is refused with UNAUTHORIZED before anything is parsed.
 * Takes ipcMain as an interface so that it can be tested without the Electron binary.
 */
import { IPC_INVOKE_CHANNEL } from '../shared/api';
import { CroniumError } from '../shared/errors';
import type { Dispatch } from '../core/api/dispatcher';

/** The part of an IPC invoke event this module reads. */
export interface InvokeEventLike {
  sender: { id: number };
  senderFrame: { url: string; parent: unknown } | null;
}

/** The part of ipcMain this module uses. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

/** Decides whether an IPC event comes from our window's top frame showing our app. */
export type SenderCheck = (event: InvokeEventLike) => boolean;

/** A sender check for one window's webContents and the app's own origin. */
export function ownWindowOnly(webContentsId: () => number | undefined, appOrigin: string): SenderCheck {
  return (event) =>
    event.sender.id === webContentsId() &&
    event.senderFrame !== null &&
    event.senderFrame.parent === null &&
    event.senderFrame.url.startsWith(`${appOrigin}/`);
}

/** Registers the invoke channel; returns a function that unregisters it. */
export function bindIpc(ipcMain: IpcMainLike, dispatch: Dispatch, isTrusted: SenderCheck): () => void {
  ipcMain.handle(IPC_INVOKE_CHANNEL, (event, method, args) => {
    if (!isTrusted(event)) {
      return { ok: false, error: new CroniumError('UNAUTHORIZED', 'IPC from an untrusted sender was refused').toJSON() };
    }
    return dispatch(method, args, { door: 'desktop' });
  });
  return () => ipcMain.removeHandler(IPC_INVOKE_CHANNEL);
}
