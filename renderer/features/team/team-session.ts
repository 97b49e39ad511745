/**
 * A team server's sign-in on the page's side (issue #16; electron/cli/team-auth.ts is the
 * server's). The page asks `/auth/session` who is signed in: a team server answers JSON with
 * `team: true`; a one-person server (its token in the address, or its cookie) answers
 * otherwise, and the page goes on as before. The session cookie is HttpOnly: the page never
 * sees it; it keeps only the CSRF token, which it names on the API's WebSocket and on sign-out.
 */
import type { UserInfo } from '../../../electron/shared/api';

/** Who is signed in on a team server, with the session's CSRF token. */
export interface TeamSession {
  user: UserInfo | null;
  csrf?: string;
  /** The server offers sign-in with OpenID Connect (GET /auth/oidc/start). */
  oidc?: boolean;
}

/** The team session, or null when this is not a team server. */
export async function teamSession(fetcher: typeof fetch = fetch): Promise<TeamSession | null> {
  try {
    const r = await fetcher('/auth/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!r.ok || !(r.headers.get('content-type') ?? '').startsWith('application/json')) return null;
    const body = (await r.json()) as { team?: boolean; user?: UserInfo | null; csrf?: string; oidc?: boolean };
    if (body.team !== true) return null;
    return { user: body.user ?? null, ...(body.csrf ? { csrf: body.csrf } : {}), ...(body.oidc ? { oidc: true } : {}) };
  } catch {
    return null;
  }
}

/** An error of the sign-in endpoints, as the page shows it. */
export interface SignInError {
  code: string;
  message: string;
  hint?: string;
}

/** Signs in; resolves to null on success (the cookie is set), or the error. */
export async function signIn(fields: { name: string; password: string; code?: string }, fetcher: typeof fetch = fetch): Promise<SignInError | null> {
  try {
    const r = await fetcher('/auth/sign-in', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(fields) });
    if (r.ok) return null;
    const body = (await r.json().catch(() => ({}))) as { error?: SignInError };
    return body.error ?? { code: 'INTERNAL', message: `the server answered ${r.status}` };
  } catch {
    return { code: 'DISCONNECTED', message: 'the server cannot be reached', hint: 'check that it runs, then try again' };
  }
}

/** Signs out (the CSRF token proves the request is this page's). */
export async function signOut(csrf: string, fetcher: typeof fetch = fetch): Promise<void> {
  await fetcher('/auth/sign-out', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } }).catch(() => undefined);
}

/** What a failed single sign-on came back with (`?sign_in_error=CODE`), in words. */
export function ssoError(search: string): SignInError | null {
  const code = new URLSearchParams(search).get('sign_in_error');
  if (!code) return null;
  return {
    code,
    message: code === 'SIGN_IN_FAILED' ? 'single sign-on did not sign you in: no account here is linked to that identity, or the sign-in expired' : `single sign-on failed (${code})`,
    hint: 'try again, or ask an admin to link your identity to your account',
  };
}

let teamPage = false;
/** Marks this page as a team server's own (set once at boot, when signed in there). */
export function markTeamPage(): void {
  teamPage = true;
}
/** Whether this page is a team server's own (it then offers no workspace switcher of its own). */
export function isTeamPage(): boolean {
  return teamPage;
}
