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
import { connect as netConnect } from 'node:net';
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

test("tcpConnect's socket sends the writes of one tick in one writev, and a later tick's apart, all bytes in order", async (t) => {
  const { port, sockets } = await silentServer(t);
  const sock = await tcpConnect({ name: 'x', address: '127.0.0.1', port }, 2000);
  t.after(() => sock.destroy());
  const calls: number[] = [];
  const raw = sock as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: () => void) => void };
  const w = raw._write.bind(sock);
  const wv = raw._writev.bind(sock);
  raw._write = (...a) => (calls.push(1), w(...a));
  raw._writev = (chunks, cb) => (calls.push(chunks.length), wv(chunks, cb));
  for (const part of ['one ', 'two ', 'three ']) sock.write(part);
  await new Promise((r) => setImmediate(r));
  sock.write('four');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(calls, [3, 1]);
  let got = '';
  while (!sockets[0]) await new Promise((r) => setTimeout(r, 5));
  sockets[0].on('data', (d: Buffer) => (got += d.toString()));
  const deadline = Date.now() + 2000;
  while (got.length < 'one two three four'.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.equal(got, 'one two three four');
  // Written, then destroyed in the same tick (ssh2's DISCONNECT, then the pool's destroy): still sent.
  const last = await tcpConnect({ name: 'x', address: '127.0.0.1', port }, 2000);
  while (!sockets[1]) await new Promise((r) => setTimeout(r, 5));
  let bye = '';
  sockets[1].on('data', (d: Buffer) => (bye += d.toString()));
  last.write('bye');
  last.destroy();
  while (bye.length < 3 && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 5));
  assert.equal(bye, 'bye');
  // A plain socket writes one at a time: what the assertion above would see without the cork.
  const plain = netConnect({ host: '127.0.0.1', port, noDelay: true });
  t.after(() => plain.destroy());
  await new Promise((r) => plain.once('connect', r));
  const plainCalls: number[] = [];
  const p = plain as unknown as typeof raw;
  const pw = p._write.bind(plain);
  p._write = (...a) => (plainCalls.push(1), pw(...a));
  for (const part of ['a', 'b', 'c']) plain.write(part);
  await new Promise((r) => setImmediate(r));
  assert.equal(plainCalls.length > 1, true);
});

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
