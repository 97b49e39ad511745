/**
 * The headless door: serves the built renderer over HTTP and the API over a WebSocket,
 * on 127.0.0.1 only. Guards the invariant that nothing is served without the token:
 * every HTTP request and every WebSocket connection must carry it: the URL that
 * `cronium serve` prints carries it once; the page then keeps it in sessionStorage (this tab
 * only) and names it on the WebSocket, while an HttpOnly SameSite=Strict cookie, named after
 * the port so two servers on one machine do not overwrite each other's, lets a reload fetch
 * the page and its assets. The Host header
 * must name the loopback address (DNS rebinding), and a cookie-authenticated WebSocket
 * must come from our own origin (cross-site WebSocket hijacking).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { isIP } from 'node:net';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { EVENT_NAMES, METHOD_NAMES, type WsServerMessage } from '../shared/api';
import { CroniumError } from '../shared/errors';
import { answerCall } from './client-call';
import { parseJsonBounded } from '../shared/json-bounded';
import type { Core } from '../core/core';
import { LiveLogFeed } from '../core/logs/live-log-feed';
import type { AccountService } from '../core/accounts/accounts';
import { OidcSignIn, type OidcSettings } from '../core/accounts/oidc';
import type { SecretBox } from '../core/secrets/secret-box';
import type { CallContext } from '../core/api/dispatcher';
import { cookieValue, sameSecret, sourceOf, TeamAuth } from './team-auth';

/**
 * Largest WebSocket message accepted from a client: above what the largest valid call takes
 * (a 1 MiB script, JSON-escaped, plus its env and input), so no valid call is cut off.
 */
export const MAX_WS_MESSAGE_BYTES = 16 * 1024 * 1024;
const COOKIE_PREFIX = 'cronium_token_';
const CALL_HINT = 'send {"id": 1, "method": "hosts.list", "args": {}}';
/** How long a client may take to send its request headers. */
export const HEADERS_TIMEOUT_MS = 10_000;
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/** A running headless server. */
export interface HeadlessServer {
  /** The URL to open, with its token (a team server's: without one; people sign in). */
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Options of the headless server. */
export interface HeadlessOptions {
  core: Core;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** Fixed token, for tests; random otherwise. */
  token?: string;
  /**
   * A team server (issue #16): people sign in (team-auth.ts) instead of one token; the address
   * to listen on (default 127.0.0.1; another needs TLS), the TLS certificate and key, and the
   * public URL people open when it is not the listening address (a name, a reverse proxy).
   */
  team?: { accounts: AccountService; host?: string; tls?: { cert: Buffer; key: Buffer }; publicUrl?: string; oidc?: { settings: Omit<OidcSettings, 'redirectUri'>; secrets: SecretBox } };
}

/** The request's path and query, or undefined when it is not a path `new URL` can parse (`//x:99999/`). */
function requestUrl(req: IncomingMessage): URL | undefined {
  const raw = req.url ?? '/';
  if (!raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    return new URL(raw, 'http://127.0.0.1');
  } catch {
    return undefined;
  }
}

function cookieToken(req: IncomingMessage, port: number): string | undefined {
  return cookieValue(req, `${COOKIE_PREFIX}${port}`);
}

function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Starts the headless server on 127.0.0.1. */
export async function startHeadlessServer(opts: HeadlessOptions): Promise<HeadlessServer> {
  const staticDir = resolve(opts.staticDir);
  if (!existsSync(join(staticDir, 'index.html'))) {
    throw new CroniumError('INTERNAL', `the UI is not built (no ${join(staticDir, 'index.html')})`, 'run `npm run build` in the Cronium folder, then start `cronium serve` again');
  }
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const { core } = opts;
  let port = 0;
  const team = opts.team;
  const listenHost = team?.host ?? '127.0.0.1';
  const scheme = team?.tls ? 'https' : 'http';
  const publicUrl = team?.publicUrl ? new URL(team.publicUrl) : undefined;
  const hostPart = isIP(listenHost) === 6 ? `[${listenHost}]` : listenHost;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `${hostPart}:${port}`, ...(publicUrl ? [publicUrl.host] : [])]);
  const allowedOrigins = () => new Set([`${scheme}://127.0.0.1:${port}`, `${scheme}://localhost:${port}`, `${scheme}://${hostPart}:${port}`, ...(publicUrl ? [publicUrl.origin] : [])]);
  const teamAuth = team
    ? new TeamAuth({
        ...(team.oidc ? { oidc: new OidcSignIn({ ...team.oidc.settings, redirectUri: () => `${publicUrl?.origin ?? `${scheme}://${hostPart}:${port}`}/auth/oidc/callback` }, team.oidc.secrets) } : {}),
        accounts: team.accounts,
        // Named after the address people open: behind one public URL (a load balancer in front of
        // several servers) every server reads the same cookie; two servers on one machine keep theirs apart.
        cookie: () => `cronium_session_${createHash('sha256').update(publicUrl?.origin ?? `${scheme}://${hostPart}:${port}`).digest('hex').slice(0, 12)}`,
        // Secure over TLS, here or at a reverse proxy in front (an https public URL).
        secure: team.tls !== undefined || publicUrl?.protocol === 'https:',
        ownOrigin: (o) => allowedOrigins().has(o),
      })
    : undefined;

  const deny = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(`${status} ${text}\n`);
  };

  // A client that never finishes its request headers (slowloris) is dropped after 10 s; the
  // check runs every second instead of Node's default 30.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    try {
      handleRequest(req, res);
    } catch {
      // Never reached by any request we know of; a request must not end the server that runs the schedules.
      if (!res.headersSent) deny(res, 500, 'internal error');
      else res.destroy();
    }
  };
  const httpOptions = { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 30_000, connectionsCheckingInterval: 1000 };
  const server = team?.tls ? createTlsServer({ ...httpOptions, cert: team.tls.cert, key: team.tls.key }, onRequest) : createServer(httpOptions, onRequest);
  const handleRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (!allowedHosts().has(req.headers.host ?? '')) return deny(res, 403, 'forbidden: wrong Host header');
    const url = requestUrl(req);
    if (!url) return deny(res, 400, 'bad request: the path is not a path');
    if (teamAuth) {
      // A team server: the page itself holds no data (it signs in); /auth/* signs in and out.
      if (teamAuth.handle(req, res, url.pathname)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
      return serveStatic(staticDir, url.pathname, res, [...allowedOrigins()].map((o) => o.replace(/^http/, 'ws')));
    }
    const queryToken = url.searchParams.get('token') ?? undefined;
    const viaQuery = sameSecret(queryToken, token);
    if (viaQuery) {
      // The page moves the token from its address to sessionStorage and out of the address bar
      // (renderer/api/session-token.ts); the cookie serves reloads of the page and its assets.
      res.setHeader('Set-Cookie', `${COOKIE_PREFIX}${port}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    } else if (!sameSecret(cookieToken(req, port), token) && !sameSecret(bearerToken(req), token)) {
      return deny(res, 401, 'unauthorized: open the URL that `cronium serve` printed (it carries the token)');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(res, 405, 'method not allowed');
    serveStatic(staticDir, url.pathname, res, [`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]);
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_MESSAGE_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const url = requestUrl(req);
    if (!url || url.pathname !== '/api') return reject(404, 'Not Found');
    if (!allowedHosts().has(req.headers.host ?? '')) return reject(403, 'Forbidden');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin)) return reject(403, 'Forbidden');
    if (teamAuth) {
      teamAuth.upgrade(req, url).then(
        (ok) => {
          if (!('token' in ok)) return reject(ok.status, ok.text);
          wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req, ok.token));
        },
        () => reject(503, 'Service Unavailable'),
      );
      return;
    }
    const viaCookie = sameSecret(cookieToken(req, port), token);
    const explicit = sameSecret(url.searchParams.get('token') ?? undefined, token) || sameSecret(bearerToken(req), token);
    // A cookie rides along on cross-site requests; only our own origin may use it.
    if (!(explicit || (viaCookie && origin !== undefined))) return reject(401, 'Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  // A reset from the client while the upgrade is answered must not surface as an uncaught error.
  server.on('clientError', (_e, socket) => socket.destroy());

  wss.on('connection', (ws: WebSocket, req: IncomingMessage, sessionToken?: string) => {
    const source = sourceOf(req);
    const send = (msg: WsServerMessage) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    send({ type: 'hello', version: core.info.version, methods: METHOD_NAMES, events: EVENT_NAMES });
    const logs = new LiveLogFeed({ queued: () => ws.bufferedAmount, send: (batch) => send({ type: 'event', event: 'run.log', payload: batch }) });
    // Live output as bytes: the feed encodes only what it sends.
    const offLogs = core.events.onRunLog((batch) => logs.push(batch));
    const off = core.events.onAny(
      EVENT_NAMES.filter((e) => e !== 'run.log'),
      (event, payload) => send({ type: 'event', event, payload }),
    );
    ws.on('close', () => {
      off();
      offLogs();
      logs.close();
    });
    // A protocol violation (oversized or malformed frame) closes that socket; it must never crash the server.
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      let raw: unknown;
      try {
        if (isBinary) throw new CroniumError('INVALID_INPUT', 'binary messages are not accepted', 'send JSON text frames');
        raw = parseJsonBounded(data.toString(), 'message', CALL_HINT);
      } catch (e) {
        const err = e instanceof CroniumError ? e : new CroniumError('INVALID_INPUT', 'bad message');
        send({ type: 'reply', id: 0, ok: false, error: err.toJSON() });
        return;
      }
      if (!teamAuth || sessionToken === undefined) return answerCall(core, raw, 'headless', send, CALL_HINT);
      // A team server: each call is the session's person's as they are now (a new role, a
      // disabled account or a sign-out elsewhere applies to the next call).
      void team!.accounts.principal(sessionToken).then(
        (principal) => {
          if (!principal) {
            const id = Number((raw as { id?: unknown } | null)?.id) || 0;
            send({ type: 'reply', id, ok: false, error: new CroniumError('SIGNED_OUT', 'your session has ended').toJSON() });
            ws.close(4401, 'signed out');
            return;
          }
          const ctx: CallContext = { door: 'headless', principal, ...(source ? { source } : {}) };
          answerCall(core, raw, ctx, send, CALL_HINT);
        },
        () => send({ type: 'reply', id: 0, ok: false, error: new CroniumError('INTERNAL', 'the session could not be checked', 'try again').toJSON() }),
      );
    });
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      rejectListen(
        e.code === 'EADDRINUSE'
          ? new CroniumError('INVALID_INPUT', `invalid --port: ${opts.port} is already in use on ${listenHost}`, 'pick another port, or --port 0 for a free one')
          : e,
      ),
    );
    server.listen(opts.port ?? 0, listenHost, () => resolveListen());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: team ? (publicUrl?.href ?? `${scheme}://${hostPart}:${port}/`) : `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: () =>
      new Promise<void>((done) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

function serveStatic(root: string, pathname: string, res: ServerResponse, sockets: string[]): void {
  let rel: string;
  try {
    rel = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
  } catch {
    res.writeHead(400).end();
    return;
  }
  let file = resolve(root, rel);
  if (file !== root && !file.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  // Client-side routes fall back to the app's index.html.
  if (!existsSync(file) || !statSync(file).isFile()) file = join(root, 'index.html');
  const isIndex = file === join(root, 'index.html');
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Cache-Control': isIndex ? 'no-store' : 'private, max-age=3600',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self' ${sockets.join(' ')}; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  });
  const stream = createReadStream(file);
  // The file vanished or cannot be read after the headers went out: end the response, keep the server.
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
