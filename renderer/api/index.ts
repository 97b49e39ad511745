/** Picks the door the page was opened through and returns the API over it. */
import type { CroniumApi } from '../../electron/shared/api';
import { createApi } from './client';
import { takeSessionToken, withToken } from './session-token';
import { createWsBridge, headlessApiUrl, type Connection } from './ws-bridge';

export { ApiError, ConnectionLostError, fieldErrors, toErrorInfo, type ErrorInfo, type FieldError } from './api-error';
export { createApi } from './client';
export type { Connection, ConnectionState, ConnectionStatus } from './ws-bridge';

/** The API, plus the connection to watch when it runs over a WebSocket. */
export interface Door {
  api: CroniumApi;
  /** Null in the desktop, where IPC cannot drop. */
  connection: Connection | null;
}

/** window.cronium in the desktop; otherwise a WebSocket to this page's origin. */
export function openDoor(win: Window = window): Door {
  if (win.cronium) return { api: createApi(win.cronium), connection: null };
  const token = takeSessionToken(win);
  const { bridge, connection } = createWsBridge(withToken(headlessApiUrl(win.location), token));
  return { api: createApi(bridge), connection };
}
