/**
 * The headless session's token on the client side. `cronium serve` prints a URL that
 * carries the token once; the page it serves moves the token to sessionStorage (this tab
 * only, gone when the tab closes) and drops it from the address bar with
 * history.replaceState, so it is neither bookmarked nor shown; a reload finds it in
 * sessionStorage, and the WebSocket names it explicitly. (The server also sets an HttpOnly
 * cookie, named after its port, so that a reload can fetch the page and its assets.) The
 * token is never logged and never put anywhere else.
 */

/** The sessionStorage key of the token. */
export const TOKEN_KEY = 'cronium.token';

/** What the module needs of a window (a fake in tests). */
export interface TokenWindow {
  location: Pick<Location, 'href'>;
  history: Pick<History, 'replaceState' | 'state'>;
  sessionStorage: Pick<Storage, 'getItem' | 'setItem'>;
}

/**
 * Takes a token from the address (moving it to sessionStorage and out of the address bar)
 * and returns the session's token, or null when the cookie alone carries the session.
 */
export function takeSessionToken(win: TokenWindow): string | null {
  const url = new URL(win.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    try {
      win.sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage disabled: the cookie still carries the session.
    }
    url.searchParams.delete('token');
    win.history.replaceState(win.history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return win.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** The API's WebSocket URL with the session's token, when there is one. */
export function withToken(wsUrl: string, token: string | null): string {
  if (!token) return wsUrl;
  const u = new URL(wsUrl);
  u.searchParams.set('token', token);
  return u.toString();
}
