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
    let next = 1;
    const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
    let onEvent: ((event: EventName, payload: unknown) => void) | undefined;
    const fail = (err: CroniumError) => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
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
      fail(new CroniumError('APP_NOT_RUNNING', 'the connection to the running app was lost'));
    });
    sock.on('close', () => fail(new CroniumError('APP_NOT_RUNNING', 'the running app closed the connection')));
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
            call: (method, args) =>
              new Promise((res, rej) => {
                const id = next++;
                pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
                sock.write(`${JSON.stringify({ id, method, args })}\n`);
              }),
            subscribe: (events, listener) => {
              onEvent = listener as (event: EventName, payload: unknown) => void;
              sock.write(`${JSON.stringify({ type: 'subscribe', events })}\n`);
            },
            close: () => sock.end(),
          });
        } else if (msg.type === 'reply') {
          if (!settled) return settle(undefined); // refused at hello: not this user's app
          const p = pending.get(msg.id ?? -1);
          if (!p) continue;
          pending.delete(msg.id!);
          if (msg.ok) p.resolve(msg.result);
          else p.reject(new CroniumError(msg.error?.code ?? 'INTERNAL', msg.error?.message ?? 'the app refused the call', msg.error?.hint, msg.error?.details));
        } else if (msg.type === 'event' && msg.event) onEvent?.(msg.event, msg.payload);
      }
    });
  });
}
