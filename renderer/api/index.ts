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

/**
 * window.cronium in the desktop; otherwise a WebSocket to this page's origin: with the one-person
 * server's token, or, on a team server (`csrf`), with the signed-in session's CSRF token.
 */
export function openDoor(win: Window = window, team?: { csrf: string }): Door {
  if (win.cronium) return { api: createApi(win.cronium), connection: null };
  let url = headlessApiUrl(win.location);
  if (team) {
    const u = new URL(url);
    u.searchParams.set('csrf', team.csrf);
    url = u.toString();
  } else url = withToken(url, takeSessionToken(win));
  const { bridge, connection } = createWsBridge(url);
  return { api: createApi(bridge), connection };
}

/** Whether the page holds a one-person server's token (then it is no team server's). */
export function hasSessionToken(win: Window = window): boolean {
  return new URL(win.location.href).searchParams.has('token') || (() => {
    try {
      return win.sessionStorage.getItem('cronium.token') !== null;
    } catch {
      return false;
    }
  })();
}
