/**
 * The local door: the running app (`cronium serve`, the desktop app) answers the `cronium`
 * command over a unix socket in its data dir, so a run started from the command uses the app's
 * warm SSH connections and its one worker. Guards the invariant that only the data dir's
 * owner can call: the socket is 0600 in the 0700 data dir, and the first line of every
 * connection must prove the key in `cronium.sock.key` (0600), compared in constant time.
 *
 * Protocol: newline-delimited JSON. Client: {"type":"hello","key":…}, then {"id","method","args"}
 * calls and {"type":"subscribe","events":[…]}; server: {"type":"hello",…}, replies
 * {"type":"reply","id",ok,…} and {"type":"event",event,payload}.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { Core } from '../core/core';
import { EVENT_NAMES, METHOD_NAMES, type EventName } from '../shared/api';
import { CroniumError } from '../shared/errors';
import { answerCall } from './client-call';
import { parseJsonBounded } from '../shared/json-bounded';

/** Where the door listens for a data dir (a named pipe on Windows). */
export function localDoorPath(dataDir: string): string {
  if (process.platform === 'win32') return `\\\\.\\pipe\\cronium-${createHash('sha256').update(dataDir.toLowerCase()).digest('hex').slice(0, 16)}`;
  return join(dataDir, 'cronium.sock');
}

/** The key file a client must prove. */
export function localDoorKeyPath(dataDir: string): string {
  return join(dataDir, 'cronium.sock.key');
}

/** Largest line either side accepts (the largest call is a 1 MiB script, escaped). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether something answers on the door's path (a live app) or not (nothing, or a stale socket). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

/** Starts the door on a core; CONFLICT when another app already serves this data dir. */
export async function startLocalDoor(core: Core, dataDir: string): Promise<{ path: string; close(): Promise<void> }> {
  const path = localDoorPath(dataDir);
  if (process.platform !== 'win32' && existsSync(path)) {
    if (await answers(path)) throw new CroniumError('CONFLICT', `another Cronium app already serves ${dataDir} (${path})`, 'stop it first, or use another --data-dir');
    rmSync(path, { force: true }); // stale: its app is gone
  }
  const key = randomBytes(32).toString('hex');
  const keyPath = localDoorKeyPath(dataDir);
  const tmp = `${keyPath}.${process.pid}.tmp`;
  writeFileSync(tmp, key, { mode: 0o600 });
  renameSync(tmp, keyPath);
  const expected = digest(key);
  const sockets = new Set<net.Socket>();

  const server = net.createServer((sock) => {
    sockets.add(sock);
    let authed = false;
    let buf = '';
    const offs: (() => void)[] = [];
    const send = (msg: unknown) => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(msg)}\n`);
    };
    const end = () => {
      offs.forEach((off) => off());
      offs.length = 0;
      sockets.delete(sock);
    };
    sock.on('close', end);
    sock.on('error', () => sock.destroy());
    const refuse = (message: string) => {
      send({ type: 'reply', id: 0, ok: false, error: new CroniumError('APP_UNAUTHORIZED', message).toJSON() });
      sock.end();
    };
    const onLine = (line: string) => {
      try {
        const raw = parseJsonBounded(line, 'message') as Record<string, unknown> | null;
        if (!authed) {
          const given = typeof raw?.key === 'string' ? raw.key : '';
          if (raw?.type !== 'hello' || !timingSafeEqual(digest(given), expected)) return refuse('the local door needs the key of this data dir');
          authed = true;
          send({ type: 'hello', version: core.info.version, pid: process.pid, methods: METHOD_NAMES, events: EVENT_NAMES });
          return;
        }
        if (raw?.type === 'subscribe') {
          const wanted = (Array.isArray(raw.events) ? raw.events : []).filter((e): e is EventName => (EVENT_NAMES as readonly string[]).includes(e as string));
          offs.push(core.events.onAny(wanted, (event, payload) => send({ type: 'event', event, payload })));
          return;
        }
        answerCall(core, raw, 'cli', send);
      } catch (e) {
        const err = e instanceof CroniumError ? e : new CroniumError('INVALID_INPUT', 'bad message');
        if (!authed) return refuse(err.message);
        send({ type: 'reply', id: 0, ok: false, error: err.toJSON() });
      }
    };
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > MAX_LINE_BYTES) {
        sock.destroy();
        return;
      }
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim()) onLine(line);
      }
    });
  });

  // The socket is created 0600 (no window in which another user could connect), then checked.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  if (process.platform !== 'win32') chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        rmSync(keyPath, { force: true });
      }),
  };
}
