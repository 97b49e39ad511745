// The SSH pool against real sshd hosts of the test fleet: every profile, jump chains, key, agent and
// password auth, MaxSessions 1, failures that must be fast and clear, and dead connections replaced.
// Needs root (the fleet starts sshd on port 22 of 127.x addresses); connects only to 127.0.0.0/8.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from 'ssh2';
import { openCore, type Core } from '../../../electron/core/core';
import { Ssh2Pool, type Ssh2Connection } from '../../../electron/core/ssh/ssh2-pool';
import type { SshTarget } from '../../../electron/core/ssh/types';
import { CroniumError } from '../../../electron/shared/errors';
import { PROFILES, startFleet, type Fleet } from '../../fleet/fleet';
import { assertDoneWaitsForSlowReader, blackHole, descendants, generateClientKey, signalAll, silentServer, startAgent } from './helpers';

// Not 201 (CLI default) nor 202 (fleet test): fleets that run at the same time need their own subnet.
const SUBNET = 203;
/** Addresses on this subnet where the fleet runs nothing (its hosts use 127.203.1.x). */
const FREE = (n: number) => `127.${SUBNET}.250.${n}`;

let fleet: Fleet | undefined;
let core: Core | undefined;
let scratch = '';

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}
function c(): Core {
  assert.ok(core, 'core not opened');
  return core;
}

async function rejects(p: Promise<unknown>, code: string): Promise<CroniumError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CroniumError, String((e as Error)?.stack ?? e));
    assert.equal(e.code, code, `${e.message} (hint: ${e.hint})`);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** Adds a fleet host (or an alias of one, with overrides) to the inventory. */
async function addHost(name: string, fleetName: string, extra: Record<string, unknown> = {}): Promise<void> {
  const h = f().host(fleetName);
  await c().hosts.add({
    name,
    address: h.address,
    port: h.port,
    user: h.user,
    identityFile: h.identityFile,
    password: h.password,
    jump: h.jump,
    useAgent: false,
    tags: [],
    ...extra,
  });
}

/** A pooled connection to an inventory host. */
async function connect(name: string): Promise<Ssh2Connection> {
  return (await c().ssh.connect(await c().hosts.sshTarget(name))) as Ssh2Connection;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cronium-ssh-it-'));
  fleet = await startFleet({
    subnet: SUBNET,
    hosts: [...PROFILES.map((p) => ({ name: p, profile: p })), { name: 'victim', profile: 'default' }, { name: 'stall', profile: 'default' }],
  });
  core = openCore({
    dataDir: join(scratch, 'data'),
    door: 'cli',
    ssh: { knownHostsFiles: [join(fleet.dir, 'known_hosts')], agentSocket: null, connectTimeoutMs: 2000, handshakeTimeoutMs: 3000 },
  });
  // Jump hosts first: a host can only name a jump host that exists.
  for (const h of [...fleet.hosts].sort((a, b) => Number(a.jump !== undefined) - Number(b.jump !== undefined))) await addHost(h.name, h.name);
});

after(async () => {
  core?.close();
  await fleet?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('every profile: connect and run echo through the pool (password host by password, inner through the bastion)', async (t) => {
  for (const h of f().hosts) {
    const conn = await connect(h.name);
    const r = await conn.exec('echo pool-ok');
    assert.equal(r.code, 0, `${h.name}: ${r.stderr.toString()}`);
    assert.match(r.stdout.toString(), /pool-ok\n$/, h.name);
    assert.equal(conn.info.hostKey.fingerprint, h.hostKeyFingerprint, h.name);
    assert.equal(conn.info.hostKey.trust, 'known_hosts');
    assert.match(conn.info.serverIdent, /^SSH-2\.0-OpenSSH/);
    assert.equal(await connect(h.name), conn, `${h.name}: the pooled connection is reused`);
    t.diagnostic(`${h.name}: tcp ${conn.info.tcpConnectMs.toFixed(1)} ms, handshake ${conn.info.handshakeMs.toFixed(1)} ms, auth ${JSON.stringify(conn.info.authAttempts.map((a) => a.method))}`);
  }
  const pw = await connect('password');
  assert.deepEqual(pw.info.authMethodsOffered, ['password', 'keyboard-interactive']);
  assert.deepEqual(pw.info.authAttempts.map((a) => [a.method, a.ok]), [['password', true]]);
  const inner = await connect('inner');
  assert.deepEqual(inner.info.jumps, ['bastion']);
  assert.equal((await inner.exec('cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d " "')).stdout.toString(), 'lo\n', 'really inside the netns');
});

test('a two-hop jump chain: default → bastion → inner, each hop verified and authenticated on its own', async () => {
  await addHost('bastion-via-default', 'bastion', { jump: 'default' });
  await addHost('inner-2hop', 'inner', { jump: 'bastion-via-default' });
  const target = await c().hosts.sshTarget('inner-2hop');
  assert.deepEqual(target.jumps.map((j) => j.name), ['default', 'bastion-via-default']);
  const conn = await connect('inner-2hop');
  assert.deepEqual(conn.info.jumps, ['default', 'bastion-via-default']);
  assert.equal((await conn.exec('id -un')).stdout.toString().trim(), f().host('inner').user);
  const hop = await connect('bastion-via-default');
  assert.deepEqual(hop.info.jumps, ['default']);
  assert.equal(hop.info.hostKey.fingerprint, f().host('bastion').hostKeyFingerprint);
});

test('a jump host that forbids forwarding fails with CONNECT_FAILED naming it', async () => {
  await addHost('inner-via-noforward', 'inner', { jump: 'noforward' });
  const e = await rejects(connect('inner-via-noforward'), 'CONNECT_FAILED');
  assert.match(e.message, /jump host noforward could not open a tunnel/);
  assert.equal(e.details?.reason, 'forwarding-prohibited');
  assert.match(e.hint ?? '', /AllowTcpForwarding/);
});

test('key auth with ed25519, ecdsa and rsa (SHA-2 signatures), and an encrypted key with its passphrase', async () => {
  const keys = [generateClientKey(scratch, 'id_ed25519', 'ed25519'), generateClientKey(scratch, 'id_ecdsa', 'ecdsa'), generateClientKey(scratch, 'id_rsa', 'rsa')];
  const encrypted = generateClientKey(scratch, 'id_encrypted', 'ed25519', 'open sesame');
  for (const k of [...keys, encrypted]) await f().authorize('default', k.publicKey);
  const expected = { id_ed25519: 'ssh-ed25519', id_ecdsa: 'ecdsa-sha2-nistp256', id_rsa: /^rsa-sha2-(256|512)$/ };
  for (const k of keys) {
    const name = `key-${k.path.split('id_')[1]}`;
    await addHost(name, 'default', { identityFile: k.path });
    const conn = await connect(name);
    assert.equal((await conn.exec('echo key-ok')).stdout.toString(), 'key-ok\n');
    const attempt = conn.info.authAttempts.at(-1)!;
    assert.equal(attempt.method, 'publickey');
    assert.equal(attempt.ok, true);
    const want = expected[k.path.split('/').pop() as keyof typeof expected];
    if (typeof want === 'string') assert.equal(attempt.signature, want, name);
    else assert.match(attempt.signature ?? '', want, `${name}: RSA must sign with SHA-2 (OpenSSH refuses ssh-rsa)`);
  }
  await addHost('key-encrypted', 'default', { identityFile: encrypted.path, passphrase: 'open sesame' });
  assert.equal((await (await connect('key-encrypted')).exec('echo enc-ok')).stdout.toString(), 'enc-ok\n');

  await addHost('key-bad-passphrase', 'default', { identityFile: encrypted.path, passphrase: 'wrong' });
  const bad = await rejects(connect('key-bad-passphrase'), 'AUTH_FAILED');
  assert.match(bad.message, /passphrase does not decrypt/);
  await addHost('key-no-passphrase', 'default', { identityFile: encrypted.path });
  const none = await rejects(connect('key-no-passphrase'), 'AUTH_FAILED');
  assert.match(none.message, /encrypted and no passphrase is stored/);
  assert.deepEqual(none.details?.offered, ['publickey']);
});

test("one round trip less per login: the identity key signs at once, and the host keys sshd announces are not asked to be proven (ssh2 alone asks both)", async (t) => {
  const lines: string[] = [];
  const pool = new Ssh2Pool(c().hostKeys, { agentSocket: null, debug: (m) => lines.push(m) });
  t.after(() => pool.close());
  const conn = await pool.connect(await c().hosts.sshTarget('default'));
  assert.equal((await conn.exec('echo unproven')).stdout.toString(), 'unproven\n');
  // A global request of our own after the announcement: its reply must still reach its caller.
  const fwd = await conn.forwardIn('127.0.0.1', 0, (s) => s.destroy(), AbortSignal.timeout(3000));
  assert.ok(fwd.port > 0);
  await fwd.close();
  assert.ok(lines.some((l) => l.includes('Inbound: GLOBAL_REQUEST (hostkeys-00@openssh.com)')), 'the server announced its keys');
  assert.deepEqual(lines.filter((l) => l.includes('hostkeys-prove')), []);
  // The identity key's request went signed at once, without asking whether the server takes it.
  assert.deepEqual(lines.filter((l) => l.includes('USERAUTH_REQUEST (publickey')), ['Outbound: Sending USERAUTH_REQUEST (publickey)']);

  // The control: ssh2 on its own, against the same server, asks for the proof.
  const h = f().host('default');
  const bare: string[] = [];
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.on('hostkeys', () => resolve());
    client.on('error', reject);
    client.connect({ host: h.address, port: h.port, username: h.user, privateKey: readFileSync(h.identityFile!), debug: (m) => bare.push(m), readyTimeout: 5000 });
  });
  client.end();
  assert.ok(bare.some((l) => l.includes('Outbound: Sending GLOBAL_REQUEST (hostkeys-prove-00@openssh.com)')));
  assert.ok(bare.some((l) => l.includes('Outbound: Sending USERAUTH_REQUEST (publickey -- check)')), 'ssh2 alone asks first');
});

test('agent auth through a real ssh-agent', async (t) => {
  const key = generateClientKey(scratch, 'id_agent', 'ed25519');
  await f().authorize('default', key.publicKey);
  const agent = await startAgent(t, scratch, [key.path]);
  const pool = new Ssh2Pool(c().hostKeys, { agentSocket: agent.socket });
  t.after(() => pool.close());
  await addHost('agent-only', 'default', { identityFile: undefined, useAgent: true });
  const conn = await pool.connect(await c().hosts.sshTarget('agent-only'));
  assert.equal((await conn.exec('echo agent-ok')).stdout.toString(), 'agent-ok\n');
  assert.deepEqual(conn.info.authAttempts.map((a) => [a.method, a.ok]), [['agent', true]]);
  // With useAgent off the same host has nothing to offer.
  await addHost('agent-off', 'default', { identityFile: undefined, useAgent: false });
  const e = await rejects(pool.connect(await c().hosts.sshTarget('agent-off')), 'AUTH_FAILED');
  assert.match(e.message, /tried nothing/);
  assert.match(e.hint ?? '', /--identity|ssh-add/);
});

test('password auth: a wrong password and a key-only attempt fail with AUTH_FAILED saying what was offered and tried', async () => {
  await addHost('password-wrong', 'password', { password: 'not-the-password' });
  const wrong = await rejects(connect('password-wrong'), 'AUTH_FAILED');
  assert.deepEqual(wrong.details?.offered, ['password', 'keyboard-interactive']);
  assert.deepEqual(wrong.details?.tried, ['password']);
  assert.match(wrong.message, /offers password, keyboard-interactive; tried password/);
  await addHost('password-by-key', 'password', { password: undefined, identityFile: f().host('default').identityFile });
  const byKey = await rejects(connect('password-by-key'), 'AUTH_FAILED');
  assert.match(byKey.message, /not tried: publickey .*does not offer publickey/);
  assert.match(byKey.hint ?? '', /--password-stdin/);
});

test('MaxSessions 1: five concurrent execs on one connection all succeed, queued', async () => {
  const conn = await connect('maxsessions1');
  const t0 = Date.now();
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => conn.exec(`sleep 0.2; echo ${i}`)));
  assert.deepEqual(results.map((r) => r.stdout.toString().trim()), ['1', '2', '3', '4', '5']);
  assert.ok(results.every((r) => r.code === 0));
  assert.equal(conn.sessionLimit, 1, 'the limit was learnt from the refusal');
  assert.ok(Date.now() - t0 >= 5 * 200, 'they ran one after another');
  assert.equal(await connect('maxsessions1'), conn, 'still one connection');
  // The default host runs them side by side on one connection.
  const d = await connect('default');
  const t1 = Date.now();
  await Promise.all([1, 2, 3, 4, 5].map(() => d.exec('sleep 0.3')));
  assert.ok(Date.now() - t1 < 1200, 'multiplexed, not queued');
  assert.equal(d.sessionLimit, 10);
});

test('exit codes, signals, stdin, and an aborted exec that frees its session', async () => {
  const conn = await connect('maxsessions1');
  assert.equal((await conn.exec('exit 7')).code, 7);
  const killed = await conn.exec('kill -TERM $$');
  assert.equal(killed.code, null);
  assert.equal(killed.signal, 'TERM');
  assert.equal((await conn.exec('cat', { stdin: 'from stdin' })).stdout.toString(), 'from stdin');
  assert.equal((await conn.exec('echo err >&2')).stderr.toString(), 'err\n');
  const ac = new AbortController();
  const slow = conn.exec('sleep 30', { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  await assert.rejects(slow, (e: Error) => e.name === 'AbortError');
  assert.ok(Date.now() - t0 < 2000);
  // With MaxSessions 1 this only works if the aborted session was really closed.
  assert.equal((await conn.exec('echo after-abort')).stdout.toString(), 'after-abort\n');
});

test("execStream: done settles only after the last chunk's callback has, so a reader acting on done never runs beside it", async () => {
  await assertDoneWaitsForSlowReader(await connect('default'));
});

test('a closed port fails fast with CONNECT_FAILED', async () => {
  await c().hosts.add({ name: 'closed', address: FREE(1), port: 22, tags: [], useAgent: false });
  const t0 = Date.now();
  const e = await rejects(connect('closed'), 'CONNECT_FAILED');
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  assert.match(e.message, /connection refused/);
});

test('a listener that never speaks fails with CONNECT_TIMEOUT within the handshake limit', async (t) => {
  const { port } = await silentServer(t, FREE(2));
  await c().hosts.add({ name: 'silent', address: FREE(2), port, tags: [], useAgent: false });
  const t0 = Date.now();
  const e = await rejects(connect('silent'), 'CONNECT_TIMEOUT');
  const took = Date.now() - t0;
  assert.ok(took >= 2900 && took < 3000 + 1000, `took ${took} ms (limit 3000)`);
  assert.match(e.message, /no SSH banner within 3000 ms/);
  assert.equal(e.details?.phase, 'handshake');
});

test('a host that drops SYNs fails with CONNECT_TIMEOUT naming the TCP connect and its limit', async (t) => {
  await blackHole(t, FREE(3), 2222);
  await c().hosts.add({ name: 'blackhole', address: FREE(3), port: 2222, tags: [], useAgent: false });
  const t0 = Date.now();
  const e = await rejects(connect('blackhole'), 'CONNECT_TIMEOUT');
  const took = Date.now() - t0;
  assert.ok(took >= 1900 && took < 2000 + 1000, `took ${took} ms (limit 2000)`);
  assert.match(e.message, /TCP connect to .* did not complete within 2000 ms/);
  assert.equal(e.details?.phase, 'tcp');
});

test('a dead connection (its sshd child killed) is noticed, dropped and replaced on next use', async () => {
  const conn = await connect('victim');
  assert.equal((await conn.exec('echo before')).stdout.toString(), 'before\n');
  const children = descendants(f().host('victim').pid);
  assert.ok(children.length > 0, 'a per-connection sshd process exists');
  signalAll(children, 'SIGKILL');
  const deadline = Date.now() + 3000;
  while (conn.alive && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(conn.alive, false, 'the pool noticed');
  await rejects(conn.exec('true'), 'CONNECT_FAILED');
  const fresh = await connect('victim');
  assert.notEqual(fresh, conn);
  assert.equal((await fresh.exec('echo after')).stdout.toString(), 'after\n');
});

test('a peer that stops answering is declared dead by keepalives, failing its running command', async (t) => {
  const pool = new Ssh2Pool(c().hostKeys, { agentSocket: null, keepaliveIntervalMs: 200, keepaliveCountMax: 2 });
  t.after(() => pool.close());
  const target: SshTarget = await c().hosts.sshTarget('stall');
  const conn = (await pool.connect(target)) as Ssh2Connection;
  const running = conn.exec('sleep 30');
  await new Promise((r) => setTimeout(r, 100));
  const children = descendants(f().host('stall').pid);
  signalAll(children, 'SIGSTOP');
  t.after(() => signalAll(children, 'SIGKILL'));
  const t0 = Date.now();
  const e = await rejects(running, 'CONNECT_FAILED');
  assert.ok(Date.now() - t0 < 2000, `noticed after ${Date.now() - t0} ms`);
  assert.match(e.message, /keepalive/);
  assert.equal(conn.alive, false);
  signalAll(children, 'SIGKILL');
  const fresh = await pool.connect(target);
  assert.equal((await fresh.exec('echo revived')).stdout.toString(), 'revived\n');
});

test('an idle connection is closed after the idle time and reopened on demand', async (t) => {
  const pool = new Ssh2Pool(c().hostKeys, { agentSocket: null, idleTimeoutMs: 300 });
  t.after(() => pool.close());
  const conn = (await pool.connect(await c().hosts.sshTarget('default'))) as Ssh2Connection;
  await conn.exec('true');
  assert.equal(pool.size, 1);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(conn.alive, false);
  assert.equal(pool.size, 0);
  const again = await pool.connect(await c().hosts.sshTarget('default'));
  assert.notEqual(again, conn);
  assert.equal((await again.exec('echo back')).stdout.toString(), 'back\n');
});

test('idle connections beyond maxIdle are closed, the one idle longest first; busy ones never', async (t) => {
  const pool = new Ssh2Pool(c().hostKeys, { agentSocket: null, maxIdle: 2 });
  t.after(() => pool.close());
  const names = ['default', 'victim', 'stall', 'nosftp'];
  const conns: Ssh2Connection[] = [];
  for (const n of names) {
    const conn = (await pool.connect(await c().hosts.sshTarget(n))) as Ssh2Connection;
    await conn.exec('true');
    conns.push(conn);
  }
  assert.deepEqual(
    conns.map((x) => x.alive),
    [false, false, true, true],
    'the two idle longest were closed',
  );
  assert.equal(pool.size, 2);
  // A connection running something is not idle: it stays whatever the count.
  const busy = (await pool.connect(await c().hosts.sshTarget('default'))) as Ssh2Connection;
  const running = busy.exec('sleep 0.5; echo done');
  const other = (await pool.connect(await c().hosts.sshTarget('victim'))) as Ssh2Connection;
  await other.exec('true');
  assert.equal(busy.alive, true);
  assert.equal((await running).stdout.toString(), 'done\n');
});

test('ProxyCommand: a local command carries the connection (socat to %h:%p); one that fails is CONNECT_FAILED with what it said', async () => {
  const base = await c().hosts.sshTarget('default');
  const via = await c().ssh.connect({ ...base, name: 'default-via-proxy', proxyCommand: 'exec socat - TCP:%h:%p' });
  const r = await via.exec('echo proxied');
  assert.equal(r.stdout.toString(), 'proxied\n');
  assert.equal(via.info.hostKey.fingerprint, f().host('default').hostKeyFingerprint, 'the host key is checked as ever');
  await assert.rejects(
    c().ssh.connect({ ...base, name: 'default-bad-proxy', proxyCommand: 'echo "proxy: no route to %h:%p" >&2; exit 3' }),
    (e: unknown) => e instanceof CroniumError && e.code === 'CONNECT_FAILED' && e.message.includes(`proxy: no route to ${base.address}:${base.port}`) && e.message.includes('exited 3'),
  );
});
