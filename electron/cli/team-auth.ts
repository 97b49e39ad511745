/**
 * Sign-in on a team server's door (issue #16): people sign in with name, password and TOTP
 * code at `POST /auth/sign-in`, and get a session cookie (HttpOnly, SameSite=Strict, Secure over
 * TLS) and the session's CSRF token. The app's page asks `GET /auth/session` who is signed in,
 * and opens the API's WebSocket with the CSRF token in its address: a WebSocket authenticated by
 * the cookie must come from the server's own origin AND name the CSRF token, which a page of
 * another site can neither read nor guess. `POST /auth/sign-out` needs the token in
 * `X-CSRF-Token`. Clients that are not browsers (the CLI) send no Origin, get the session token
 * in the answer, and use it as `Authorization: Bearer`; a bearer is never ambient, so it needs no
 * CSRF token.
 *
 * Every request's body is parsed (JSON, 8 KiB at most, the fields' schema); every failure is a
 * JSON error with a stable code (SIGN_IN_FAILED, TOTP_REQUIRED, ACCOUNT_LOCKED, SIGNED_OUT).
 *
 * With OpenID Connect configured, `GET /auth/oidc/start` sends the browser to the identity
 * provider and `GET /auth/oidc/callback` signs in the account linked to the identity it proves
 * (core/accounts/oidc.ts), then returns to the page (with `?sign_in_error=CODE` when refused).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AccountService, SessionPrincipal } from '../core/accounts/accounts';
import type { OidcSignIn } from '../core/accounts/oidc';
import { CroniumError, invalidInput, type ApiErrorBody } from '../shared/errors';

const MAX_BODY = 8 * 1024;
const SignIn = z.strictObject({
  name: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
  code: z.string().max(16).optional(),
});
const STATUS: Partial<Record<ApiErrorBody['code'], number>> = { SIGN_IN_FAILED: 401, TOTP_REQUIRED: 401, SIGNED_OUT: 401, ACCOUNT_LOCKED: 423, SIGN_IN_BUSY: 503, INVALID_INPUT: 400, FORBIDDEN: 403 };

/** What the team door needs of its server. */
export interface TeamAuthOptions {
  accounts: AccountService;
  /** The cookie's name (per address and port: two servers on one machine keep their own). */
  cookie: () => string;
  /** Whether the door is served over TLS (cookies are Secure then). */
  secure: boolean;
  /** Whether an Origin header names this server. */
  ownOrigin: (origin: string) => boolean;
  /** OpenID Connect sign-in, when configured. */
  oidc?: OidcSignIn;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, e: unknown): void {
  const err = e instanceof CroniumError ? e : new CroniumError('INTERNAL', 'sign-in failed', 'try again; the server logged the cause');
  if (!(e instanceof CroniumError)) process.stderr.write(`cronium: sign-in: ${(e as Error)?.stack ?? String(e)}\n`);
  json(res, STATUS[err.code] ?? 500, { error: err.toJSON() });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new CroniumError('INVALID_INPUT', `the request body is larger than ${MAX_BODY} bytes`, 'send {"name": …, "password": …, "code": …} only'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The value of a cookie of the request. */
export function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer ([A-Za-z0-9_-]{16,128})$/.exec(req.headers.authorization ?? '')?.[1];
}

/** Whether a secret a request carried is the expected one, in constant time. */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Where a request came from: the peer's address. */
export function sourceOf(req: IncomingMessage): string | undefined {
  return req.socket.remoteAddress?.replace(/^::ffff:/, '');
}

/** The team door's sign-in endpoints and its checks of API connections. */
export class TeamAuth {
  constructor(private readonly opts: TeamAuthOptions) {}

  private cookie(token: string, maxAgeS: number): string {
    return `${this.opts.cookie()}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${this.opts.secure ? '; Secure' : ''}`;
  }

  private oidcCookie(value: string, maxAgeS: number): string {
    // Lax: the IdP sends the browser back with a cross-site navigation, which a Strict cookie would miss.
    return `${this.opts.cookie()}_oidc=${value}; HttpOnly; SameSite=Lax; Path=/auth/oidc; Max-Age=${maxAgeS}${this.opts.secure ? '; Secure' : ''}`;
  }

  /** Answers /auth/* requests; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (!pathname.startsWith('/auth/')) return false;
    void this.route(req, res, pathname).catch((e: unknown) => fail(res, e));
    return true;
  }

  private async route(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.opts.ownOrigin(origin)) throw new CroniumError('FORBIDDEN', 'a request from another site was refused', 'open the team server’s own address');
    if (pathname === '/auth/session' && req.method === 'GET') {
      const who = await this.principal(req);
      // `team` tells the page it is a team server's (sign in) rather than a one-person one's (token).
      const oidc = this.opts.oidc !== undefined;
      return json(res, 200, who ? { team: true, oidc, user: await this.opts.accounts.get(who.name), csrf: who.csrf } : { team: true, oidc, user: null });
    }
    if (pathname === '/auth/oidc/start' && req.method === 'GET') {
      if (!this.opts.oidc) throw new CroniumError('NOT_FOUND', 'this team server has no OpenID Connect sign-in', 'sign in with your name and password');
      const { url, pending } = await this.opts.oidc.start();
      res.writeHead(302, { Location: url, 'Set-Cookie': this.oidcCookie(pending, 600), 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    if (pathname === '/auth/oidc/callback' && req.method === 'GET') {
      if (!this.opts.oidc) throw new CroniumError('NOT_FOUND', 'this team server has no OpenID Connect sign-in');
      const back = (location: string, cookies: string[]) => {
        res.writeHead(302, { Location: location, 'Set-Cookie': cookies, 'Cache-Control': 'no-store' });
        res.end();
      };
      const clear = this.oidcCookie('', 0);
      try {
        const identity = await this.opts.oidc.finish(new URL(req.url ?? '/', 'http://x'), cookieValue(req, `${this.opts.cookie()}_oidc`));
        const source = sourceOf(req);
        const client = req.headers['user-agent'];
        const s = await this.opts.accounts.signInOidc(identity, { ...(source ? { source } : {}), ...(client ? { client } : {}) });
        return back('/', [clear, this.cookie(s.token, Math.floor((s.expiresAt - Date.now()) / 1000))]);
      } catch (e) {
        // Back to the page, which says why (the code only: the page shows its words).
        const code = e instanceof CroniumError ? e.code : 'INTERNAL';
        if (!(e instanceof CroniumError)) process.stderr.write(`cronium: OpenID Connect sign-in: ${(e as Error)?.stack ?? String(e)}\n`);
        return back(`/?sign_in_error=${code}`, [clear]);
      }
    }
    if (pathname === '/auth/sign-in' && req.method === 'POST') {
      if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) throw new CroniumError('INVALID_INPUT', 'the sign-in is JSON', 'send Content-Type: application/json');
      let raw: unknown;
      try {
        raw = JSON.parse(await readBody(req));
      } catch (e) {
        if (e instanceof CroniumError) throw e;
        throw new CroniumError('INVALID_INPUT', 'the sign-in is not JSON', 'send {"name": …, "password": …, "code": …}');
      }
      const parsed = SignIn.safeParse(raw);
      if (!parsed.success) throw invalidInput(parsed.error, 'sign-in');
      const source = sourceOf(req);
      const client = req.headers['user-agent'];
      const s = await this.opts.accounts.signIn({ ...parsed.data, ...(source ? { source } : {}), ...(client ? { client } : {}) });
      const maxAge = Math.floor((s.expiresAt - Date.now()) / 1000);
      // A browser gets the cookie only; a client without an Origin (the CLI) gets the token to send as a bearer.
      return json(res, 200, { user: s.user, csrf: s.csrf, expiresAt: s.expiresAt, ...(origin === undefined ? { token: s.token } : {}) }, { 'Set-Cookie': this.cookie(s.token, maxAge) });
    }
    if (pathname === '/auth/sign-out' && req.method === 'POST') {
      const token = bearer(req) ?? cookieValue(req, this.opts.cookie());
      const who = token ? await this.opts.accounts.principal(token) : undefined;
      if (!token || !who) throw new CroniumError('SIGNED_OUT', 'not signed in');
      // A cookie rides along on any request to this site: the CSRF token proves the page is ours.
      if (!bearer(req) && !sameSecret(req.headers['x-csrf-token'] as string | undefined, who.csrf)) throw new CroniumError('FORBIDDEN', 'sign-out without the session’s CSRF token', 'send it in X-CSRF-Token');
      await this.opts.accounts.signOut(token);
      return json(res, 200, { signedOut: true }, { 'Set-Cookie': this.cookie('', 0) });
    }
    json(res, 404, { error: new CroniumError('NOT_FOUND', `no ${req.method} ${pathname}`, 'GET /auth/session, POST /auth/sign-in, POST /auth/sign-out').toJSON() });
  }

  /** The person of a request, by its bearer or its cookie (no CSRF check: reads only). */
  private async principal(req: IncomingMessage): Promise<SessionPrincipal | undefined> {
    const token = bearer(req) ?? cookieValue(req, this.opts.cookie());
    return token ? this.opts.accounts.principal(token) : undefined;
  }

  /**
   * The session a WebSocket to the API opens, or why not: a bearer; or the cookie from the
   * server's own origin with the session's CSRF token in the address (`?csrf=`).
   */
  async upgrade(req: IncomingMessage, url: URL): Promise<{ token: string } | { status: number; text: string }> {
    const token = bearer(req);
    if (token) return (await this.opts.accounts.principal(token)) ? { token } : { status: 401, text: 'Unauthorized' };
    const cookie = cookieValue(req, this.opts.cookie());
    const origin = req.headers.origin;
    if (!cookie || origin === undefined || !this.opts.ownOrigin(origin)) return { status: 401, text: 'Unauthorized' };
    const who = await this.opts.accounts.principal(cookie);
    if (!who) return { status: 401, text: 'Unauthorized' };
    if (!sameSecret(url.searchParams.get('csrf') ?? undefined, who.csrf)) return { status: 403, text: 'Forbidden' };
    return { token: cookie };
  }
}
