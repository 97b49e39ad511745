/**
 * Connect failures that need no sshd: DNS (injected lookup, no network), a closed
 * loopback port, a listener that never speaks, cancellation, and the pool key.
 * Everything connects only to 127.0.0.0/8.
 */
import assert from 'node:assert/strict';
import { createServer, type LookupFunction, type Server, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import type { HostKeyStore } from '../../../../electron/core/ssh/host-key-store';
import { Ssh2Pool, targetKey, tcpConnect } from '../../../../electron/core/ssh/ssh2-pool';
import type { SshTarget } from '../../../../electron/core/ssh/types';
import { CroniumError } from '../../../../electron/shared/errors';

const refuseAll: HostKeyStore = {
  trustFor: async () => ({ verify: () => ({ state: 'unknown' }), preferredKeyTypes: () => [] }),
  pinned: async () => [],
  pin: async () => undefined,
};

function target(address: string, port: number, extra: Partial<SshTarget> = {}): SshTarget {
  return { name: 'h', address, port, user: 'nobody', useAgent: false, jumps: [], ...extra };
}

async function rejects(p: Promise<unknown>, code: string): Promise<CroniumError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CroniumError, String((e as Error)?.stack ?? e));
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** A server on a loopback address that accepts TCP and never says a word. */
async function silentServer(t: TestContext, host = '127.0.0.1'): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, host, r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, sockets };
}

/** A free port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

test('a closed port fails fast with CONNECT_FAILED (refused)', async (t) => {
  const pool = new Ssh2Pool(refuseAll, { agentSocket: null });
  t.after(() => pool.close());
  const port = await closedPort();
  const t0 = Date.now();
  const e = await rejects(pool.connect(target('127.0.0.1', port)), 'CONNECT_FAILED');
  assert.ok(Date.now() - t0 < 1000);
  assert.match(e.message, /connection refused/);
  assert.equal(e.details?.reason, 'refused');
  assert.ok(e.hint);
});

test('a DNS failure says so (lookup injected: no network is used)', async () => {
  const failing: LookupFunction = (hostname, _options, callback) => {
    const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    (callback as (e: Error) => void)(err);
  };
  const e = await rejects(tcpConnect({ name: 'h', address: 'no-such-host.invalid', port: 22 }, 1000, undefined, failing), 'CONNECT_FAILED');
  assert.match(e.message, /DNS lookup failed \(ENOTFOUND\)/);
  assert.equal(e.details?.reason, 'dns');
});

test('a listener that never speaks fails with CONNECT_TIMEOUT within the handshake limit', async (t) => {
  const { port } = await silentServer(t);
  const pool = new Ssh2Pool(refuseAll, { agentSocket: null, handshakeTimeoutMs: 400 });
  t.after(() => pool.close());
  const t0 = Date.now();
  const e = await rejects(pool.connect(target('127.0.0.1', port)), 'CONNECT_TIMEOUT');
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 1500, `took ${took} ms`);
  assert.match(e.message, /sent no SSH banner within 400 ms/);
  assert.equal(e.details?.phase, 'handshake');
  assert.equal(e.details?.timeoutMs, 400);
});

test('aborting a connect rejects with the abort reason, quietly and at once', async (t) => {
  const { port } = await silentServer(t);
  const pool = new Ssh2Pool(refuseAll, { agentSocket: null, handshakeTimeoutMs: 5000 });
  t.after(() => pool.close());
  const ac = new AbortController();
  const p = pool.connect(target('127.0.0.1', port), ac.signal);
  setTimeout(() => ac.abort(), 50);
  const t0 = Date.now();
  await assert.rejects(p, (e: Error) => e.name === 'AbortError');
  assert.ok(Date.now() - t0 < 500);
  // An already-aborted signal never dials.
  await assert.rejects(pool.connect(target('127.0.0.1', port), AbortSignal.abort()), (e: Error) => e.name === 'AbortError');
});

test('one waiter giving up does not cancel a dial another caller still waits for', async (t) => {
  const { port, sockets } = await silentServer(t);
  const pool = new Ssh2Pool(refuseAll, { agentSocket: null, handshakeTimeoutMs: 600 });
  t.after(() => pool.close());
  const ac = new AbortController();
  const a = pool.connect(target('127.0.0.1', port), ac.signal);
  const b = pool.connect(target('127.0.0.1', port));
  ac.abort();
  await assert.rejects(a, (e: Error) => e.name === 'AbortError');
  await rejects(b, 'CONNECT_TIMEOUT');
  assert.equal(sockets.length, 1, 'both callers shared one dial');
});

test('repeated failures back off before redialing', async (t) => {
  const pool = new Ssh2Pool(refuseAll, { agentSocket: null, backoff: { initialMs: 300, maxMs: 1000 } });
  t.after(() => pool.close());
  const port = await closedPort();
  await rejects(pool.connect(target('127.0.0.1', port)), 'CONNECT_FAILED');
  const t0 = Date.now();
  await rejects(pool.connect(target('127.0.0.1', port)), 'CONNECT_FAILED');
  assert.ok(Date.now() - t0 >= 250, 'waited for the backoff');
});

test('the pool key covers where and as whom, and the jump chain', () => {
  const a = target('127.0.0.1', 22);
  assert.equal(targetKey(a), targetKey({ ...a, password: () => 'x' }), 'secrets are not part of the key');
  assert.notEqual(targetKey(a), targetKey({ ...a, user: 'other' }));
  assert.notEqual(targetKey(a), targetKey({ ...a, jumps: [target('127.0.0.2', 22)] }));
});
