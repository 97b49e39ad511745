/**
 * The `cronium` command's side of the local door (local-door.ts): finds the app that serves
 * this data dir, proves the key, and calls it. Nothing listening, a stale socket, a key it
 * cannot read or an app that does not answer in time all mean "no app": the command then runs
 * in its own process, unless CRONIUM_USE_APP=always.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { EventName, EventPayload, MethodName, MethodResult } from '../shared/api';
import { CroniumError, type ApiErrorBody } from '../shared/errors';
import { parseJsonBounded } from '../shared/json-bounded';
import { localDoorKeyPath, localDoorPath, MAX_LINE_BYTES } from './local-door';

/** A connection to the running app. */
export interface AppClient {
  readonly pid: number;
  call<M extends MethodName>(method: M, args: unknown): Promise<MethodResult<M>>;
  /** Subscribes to events (once per connection, before they matter). */
  subscribe(events: EventName[], listener: <E extends EventName>(event: E, payload: EventPayload<E>) => void): void;
  close(): void;
}

/** A reply of the WebSocket protocol's shape (the local door's lines and a team server's socket). */
interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: ApiErrorBody;
}

/**
 * The calls a client has in flight over one connection: each gets an id, its reply settles it
 * (an error reply as the CroniumError it carries), and a lost connection fails them all.
 */
export class PendingCalls {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();

  constructor(private readonly refused: string) {}

  /** Sends a call (`send` writes it with its id); resolves with its reply's result. */
  call<M extends MethodName>(method: M, args: unknown, send: (message: string) => void): Promise<MethodResult<M>> {
    return new Promise((resolve, reject) => {
      const id = this.#next++;
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      send(JSON.stringify({ id, method, args }));
    });
  }

  /** Settles the call a reply answers (a reply to no call in flight is ignored). */
  reply(msg: Reply): void {
    const p = this.#pending.get(msg.id ?? -1);
    if (!p) return;
    this.#pending.delete(msg.id!);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new CroniumError(msg.error?.code ?? 'INTERNAL', msg.error?.message ?? this.refused, msg.error?.hint, msg.error?.details));
  }

  /** Fails every call in flight (the connection is gone). */
  failAll(err: CroniumError): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

/** How the command chooses: `auto` (the app when it runs), `never`, `always` (APP_NOT_RUNNING without one). */
export function useAppSetting(env: NodeJS.ProcessEnv = process.env): 'auto' | 'never' | 'always' {
  const v = (env.CRONIUM_USE_APP ?? 'auto').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'never' || v === 'always') return v;
  throw new CroniumError('INVALID_INPUT', `invalid CRONIUM_USE_APP: ${JSON.stringify(env.CRONIUM_USE_APP)}`, 'use auto, never or always');
}

/** Connects to the app serving `dataDir`, or undefined when none answers within `timeoutMs`. */
export function connectApp(dataDir: string, timeoutMs = 1000): Promise<AppClient | undefined> {
  let key: string;
  try {
    key = readFileSync(localDoorKeyPath(dataDir), 'utf8').trim();
  } catch {
    return Promise.resolve(undefined); // no app has served this data dir (or not as this user)
  }
  return new Promise((resolve) => {
    const sock = net.connect(localDoorPath(dataDir));
    let settled = false;
    let buf = '';
    const calls = new PendingCalls('the app refused the call');
    let onEvent: ((event: EventName, payload: unknown) => void) | undefined;
    const settle = (client: AppClient | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!client) sock.destroy();
      resolve(client);
    };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', () => {
      settle(undefined);
      calls.failAll(new CroniumError('APP_NOT_RUNNING', 'the connection to the running app was lost'));
    });
    sock.on('close', () => calls.failAll(new CroniumError('APP_NOT_RUNNING', 'the running app closed the connection')));
    sock.on('connect', () => sock.write(`${JSON.stringify({ type: 'hello', key })}\n`));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE_BYTES) return sock.destroy();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let msg: { type?: string; id?: number; pid?: number; ok?: boolean; result?: unknown; error?: ApiErrorBody; event?: EventName; payload?: unknown };
        try {
          msg = parseJsonBounded(line, 'a message of the running app') as typeof msg;
        } catch {
          sock.destroy();
          return;
        }
        if (msg.type === 'hello') {
          settle({
            pid: Number(msg.pid),
            call: (method, args) => calls.call(method, args, (m) => sock.write(`${m}\n`)),
            subscribe: (events, listener) => {
              onEvent = listener as (event: EventName, payload: unknown) => void;
              sock.write(`${JSON.stringify({ type: 'subscribe', events })}\n`);
            },
            close: () => sock.end(),
          });
        } else if (msg.type === 'reply') {
          if (!settled) return settle(undefined); // refused at hello: not this user's app
          calls.reply(msg);
        } else if (msg.type === 'event' && msg.event) onEvent?.(msg.event, msg.payload);
      }
    });
  });
}
