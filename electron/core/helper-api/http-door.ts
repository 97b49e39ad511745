/**
 * The helper API's HTTP face for the SSH reverse tunnel: `POST /v1/<op>` with
 * `Authorization: Bearer <token>` and a JSON body, answered with JSON.
 *
 * Nothing listens on this machine: the tunnel's forwarded channels are handed to an
 * `http.Server` that was never bound to a port (`server.emit('connection', stream)`), each
 * tagged with the host whose connection carried it. Bodies are capped (PAYLOAD_TOO_LARGE 413
 * without reading the rest), requests and idle connections time out, and any request that is
 * not a well-formed call gets a JSON error with a stable code, never a stack trace.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { CroniumError } from '../../shared/errors';
import { RUNNER_LIMITS } from '../../shared/runner-protocol';
import { errorReply, type HelperApi, type HelperReply, type HelperVia } from './helper-api';
import { parseJsonBounded } from '../../shared/json-bounded';

/** Request bodies above this are refused: the runner's bound on a helper body, plus room for its wrapping. */
export const MAX_HELPER_BODY = RUNNER_LIMITS.maxHelperBodyBytes + 8 * 1024;

const tags = new WeakMap<object, HelperVia>();

/** Serves helper calls arriving as HTTP over streams (the tunnel's channels). */
export class HelperHttpDoor {
  readonly #server: http.Server;

  constructor(private readonly api: HelperApi) {
    this.#server = http.createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 }, (req, res) => {
      void this.#serve(req, res);
    });
    // A client that half-closes after its request (the tunnel's channels may send EOF once the
    // request is written) must still get the answer: by default Node aborts such a request.
    (this.#server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    this.#server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Hands one forwarded connection to the server. */
  accept(stream: Duplex, via: HelperVia): void {
    tags.set(stream, via);
    stream.on('error', () => stream.destroy());
    this.#server.emit('connection', stream);
  }

  /** Ends the server's bookkeeping (connections close with their channels). */
  close(): void {
    this.#server.close();
  }

  async #serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const via = tags.get(req.socket);
    const send = (r: HelperReply) => {
      const text = JSON.stringify(r.body);
      res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    };
    try {
      if (!via) throw new CroniumError('HELPER_FORBIDDEN', 'this connection did not come through a helper tunnel');
      const m = /^\/v1\/([A-Za-z][A-Za-z0-9_-]{0,63})$/.exec(req.url ?? '');
      if (!m) throw new CroniumError('NOT_FOUND', `no helper endpoint ${String(req.url).slice(0, 80)}`, 'helper calls are POST /v1/<operation>');
      if (req.method !== 'POST') throw new CroniumError('INVALID_INPUT', `helper calls are POST, not ${String(req.method).slice(0, 16)}`);
      const auth = req.headers.authorization ?? '';
      const bearer = /^Bearer ([^\s]{1,8192})$/.exec(auth);
      if (!bearer) throw new CroniumError('HELPER_TOKEN_INVALID', 'the request has no bearer token', 'helpers send CRONIUM_HELPER_TOKEN as `Authorization: Bearer …`');
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > MAX_HELPER_BODY) throw new CroniumError('PAYLOAD_TOO_LARGE', `the request body is ${declared} bytes, limit ${MAX_HELPER_BODY}`, 'a helper value is at most 1 MiB of JSON');
      const raw = await readBody(req);
      let body: unknown = {};
      if (raw.length) {
        body = parseJsonBounded(raw.toString('utf8'), 'the request body', 'send a JSON object');
      }
      send(await this.api.handle({ op: m[1]!, token: bearer[1]!, body }, via));
    } catch (e) {
      res.setHeader('connection', 'close');
      send(errorReply(e));
    }
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_HELPER_BODY) {
        req.pause();
        reject(new CroniumError('PAYLOAD_TOO_LARGE', `the request body is over ${MAX_HELPER_BODY} bytes`, 'a helper value is at most 1 MiB of JSON'));
        return;
      }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}
