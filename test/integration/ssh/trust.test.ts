// Host-key trust against real sshd hosts: unknown keys refused before any auth, a fan-out scan that
// collects every unknown key for one review, trust, a rotated key refused as changed until re-trusted,
// known_hosts (hashed) honoured, and the CLI's `hosts trust` and `hosts add --accept-new-host-key`.
// Needs root (test fleet) and a build (`npm run build`: the CLI tests run dist/); connects only to 127/8.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../electron/core/core';
import type { Ssh2Connection } from '../../../electron/core/ssh/ssh2-pool';
import { CroniumError } from '../../../electron/shared/errors';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { cronium } from '../../helpers/cli';
import { generateClientKey } from './helpers';

// Its own subnet: 201 is the CLI default, 202 the fleet test, 203 the pool test.
const SUBNET = 209;
const EXTRA = 24;
const ctx = { door: 'cli' as const };

let fleet: Fleet | undefined;
let scratch = '';
const cores: Core[] = [];

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
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

/** A fresh core whose only known_hosts file is `knownHosts` (empty by default), with every fleet host added. */
async function openWith(name: string, knownHosts = ''): Promise<Core> {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'known_hosts');
  writeFileSync(file, knownHosts);
  const core = openCore({ dataDir: join(dir, 'data'), door: 'cli', ssh: { knownHostsFiles: [file], agentSocket: null, connectTimeoutMs: 2000, handshakeTimeoutMs: 3000 } });
  cores.push(core);
  for (const h of [...f().hosts].sort((a, b) => Number(a.jump !== undefined) - Number(b.jump !== undefined))) {
    await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, password: h.password, jump: h.jump, useAgent: false, tags: h.name.startsWith('default-') ? ['many'] : [] });
  }
  return core;
}

async function connect(core: Core, name: string): Promise<Ssh2Connection> {
  return (await core.ssh.connect(await core.hosts.sshTarget(name))) as Ssh2Connection;
}

function sshdLog(name: string): string {
  return readFileSync(join(f().dir, 'hosts', name, 'sshd.log'), 'utf8');
}

/** Environment for the CLI: an empty home (no ~/.ssh/known_hosts of this machine), no agent. */
function cliEnv(home: string): NodeJS.ProcessEnv {
  return { HOME: home, SSH_AUTH_SOCK: '' };
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cronium-trust-it-'));
  fleet = await startFleet({
    subnet: SUBNET,
    hosts: ['default', 'password', 'bastion', 'inner', 'rekey'].map((p) => ({ name: p, profile: p as 'default' })),
    defaults: EXTRA,
  });
});

after(async () => {
  for (const core of cores) core.close();
  await fleet?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('an unknown key is refused with HOST_KEY_UNKNOWN and its fingerprint, before any authentication; after trust it connects', async () => {
  const core = await openWith('unknown');
  const h = f().host('default');
  const logBefore = sshdLog('default');
  const e = await rejects(connect(core, 'default'), 'HOST_KEY_UNKNOWN');
  assert.equal(e.details?.fingerprint, h.hostKeyFingerprint);
  assert.equal(e.details?.algorithm, 'ssh-ed25519');
  assert.ok(e.message.includes(h.hostKeyFingerprint), e.message);
  assert.match(e.hint ?? '', /cronium hosts trust default/);
  await new Promise((r) => setTimeout(r, 100));
  const during = sshdLog('default').slice(logBefore.length);
  assert.doesNotMatch(during, /Accepted|Failed|Postponed|authenticating user|userauth/i, `no authentication was attempted:\n${during}`);
  // Disconnect reason 3 is SSH_DISCONNECT_KEY_EXCHANGE_FAILED: the client hung up inside the key exchange.
  assert.match(during, /Received disconnect from 127\.0\.0\.1 port \d+:3:.*\[preauth\]/, during);

  const trusted = await call(core.dispatch, 'hosts.trust', { name: 'default', fingerprint: h.hostKeyFingerprint }, ctx);
  assert.deepEqual(trusted, { name: 'default', algorithm: 'ssh-ed25519', fingerprint: h.hostKeyFingerprint, previousFingerprint: null, pinned: true, source: 'user' });
  const conn = await connect(core, 'default');
  assert.equal(conn.info.hostKey.trust, 'pinned');
  assert.equal((await conn.exec('echo trusted')).stdout.toString(), 'trusted\n');
  assert.match(sshdLog('default'), /Accepted publickey/);
  const audit = core.store.sqlite.prepare("select target, detail from audit_log where action = 'host.trust'").all() as { target: string; detail: string }[];
  assert.equal(audit.length, 1);
  assert.equal(audit[0]!.target, 'default');
  assert.equal(JSON.parse(audit[0]!.detail).fingerprint, h.hostKeyFingerprint);
});

test('a scan over many new hosts collects every unknown key for one review, in parallel', async (t) => {
  const core = await openWith('scan');
  const t0 = Date.now();
  const first = await call(core.dispatch, 'hosts.scanKeys', {}, ctx);
  t.diagnostic(`scanned ${first.length} hosts in ${Date.now() - t0} ms`);
  assert.equal(first.length, f().hosts.length);
  for (const r of first) {
    const h = f().host(r.name);
    if (r.name === 'inner') {
      // Its jump host is not trusted yet: reported, not attempted.
      assert.equal(r.state, 'error');
      assert.equal(r.error?.code, 'HOST_KEY_UNKNOWN');
      assert.match(r.error?.message ?? '', /bastion/);
      continue;
    }
    assert.equal(r.state, 'unknown', r.name);
    assert.equal(r.fingerprint, h.hostKeyFingerprint, r.name);
  }
  assert.ok(Date.now() - t0 < 5000);
  const tagged = await call(core.dispatch, 'hosts.scanKeys', { tag: 'many' }, ctx);
  assert.equal(tagged.length, EXTRA);
  // The review: trust what was shown, then scan again for what the trusted jump hosts now reveal.
  for (const r of first.filter((x) => x.state === 'unknown')) await call(core.dispatch, 'hosts.trust', { name: r.name, fingerprint: r.fingerprint! }, ctx);
  const second = await call(core.dispatch, 'hosts.scanKeys', {}, ctx);
  assert.deepEqual(second.filter((r) => r.state !== 'trusted').map((r) => [r.name, r.state, r.fingerprint]), [['inner', 'unknown', f().host('inner').hostKeyFingerprint]]);
  await call(core.dispatch, 'hosts.trust', { name: 'inner', fingerprint: f().host('inner').hostKeyFingerprint }, ctx);
  assert.ok((await call(core.dispatch, 'hosts.scanKeys', {}, ctx)).every((r) => r.state === 'trusted' && r.source === 'pinned'));
  assert.equal((await (await connect(core, 'inner')).exec('echo in')).stdout.toString(), 'in\n');
  await assert.rejects(call(core.dispatch, 'hosts.scanKeys', { names: ['nobody'] }, ctx), (e: CroniumError) => e.code === 'NOT_FOUND');
});

test('trust pins only the fingerprint the host presents now', async () => {
  const core = await openWith('exact');
  const wrong = `SHA256:${'A'.repeat(43)}`;
  const e = await rejects(call(core.dispatch, 'hosts.trust', { name: 'password', fingerprint: wrong }, ctx), 'HOST_KEY_MISMATCH');
  assert.match(e.message, /nothing was pinned/);
  assert.equal(e.details?.fingerprint, f().host('password').hostKeyFingerprint);
  assert.deepEqual(await core.hostKeys.pinned('password'), []);
  await rejects(call(core.dispatch, 'hosts.trust', { name: 'password', fingerprint: 'SHA256:short' }, ctx), 'INVALID_INPUT');
  await rejects(call(core.dispatch, 'hosts.trust', { name: 'nobody', fingerprint: wrong }, ctx), 'NOT_FOUND');
});

test('a rotated host key is refused with HOST_KEY_MISMATCH naming old and new, until re-trusted', async () => {
  const core = await openWith('rotate');
  const h = f().host('rekey');
  const old = h.hostKeyFingerprint;
  await call(core.dispatch, 'hosts.trust', { name: 'rekey', fingerprint: old }, ctx);
  const conn = await connect(core, 'rekey');
  conn.close();
  const { newFingerprint } = await f().rotateHostKey('rekey');
  const e = await rejects(connect(core, 'rekey'), 'HOST_KEY_MISMATCH');
  assert.ok(e.message.includes(old) && e.message.includes(newFingerprint), e.message);
  assert.match(e.message, /CHANGED/);
  assert.equal(e.details?.previousFingerprint, old);
  assert.equal(e.details?.fingerprint, newFingerprint);
  assert.match(e.hint ?? '', new RegExp(`cronium hosts trust rekey --fingerprint ${newFingerprint.replace(/[+/]/g, '\\$&')}`));
  // Still refused on the next attempt: a hard failure, not a warning.
  await rejects(connect(core, 'rekey'), 'HOST_KEY_MISMATCH');
  const [scan] = await call(core.dispatch, 'hosts.scanKeys', { names: ['rekey'] }, ctx);
  assert.deepEqual(scan, { name: 'rekey', state: 'mismatch', algorithm: 'ssh-ed25519', fingerprint: newFingerprint, previousFingerprint: old, source: 'pinned' });
  // accept-new never accepts a changed key.
  await rejects(call(core.dispatch, 'hosts.trust', { name: 'rekey', fingerprint: newFingerprint, acceptNew: true }, ctx), 'HOST_KEY_MISMATCH');
  const re = await call(core.dispatch, 'hosts.trust', { name: 'rekey', fingerprint: newFingerprint }, ctx);
  assert.equal(re.previousFingerprint, old);
  assert.equal((await (await connect(core, 'rekey')).exec('echo re-trusted')).stdout.toString(), 're-trusted\n');
});

test('known_hosts entries count as trusted, hashed ones included; a changed one is a mismatch', async () => {
  const file = join(scratch, 'hashed_known_hosts');
  writeFileSync(file, f().knownHosts());
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  const hashed = readFileSync(file, 'utf8');
  assert.doesNotMatch(hashed, new RegExp(`127\\.${SUBNET}\\.`), 'every entry is hashed');
  const core = await openWith('hashed', hashed);
  const conn = await connect(core, 'default');
  assert.equal(conn.info.hostKey.trust, 'known_hosts');
  assert.equal((await conn.exec('echo known')).stdout.toString(), 'known\n');
  assert.equal((await connect(core, 'inner')).info.hostKey.trust, 'known_hosts', 'the jump host too');
  const [scan] = await call(core.dispatch, 'hosts.scanKeys', { names: ['default'] }, ctx);
  assert.equal(scan?.state, 'trusted');
  assert.equal(scan?.source, 'known_hosts');
  // acceptNew on a host known_hosts already trusts pins nothing.
  const r = await call(core.dispatch, 'hosts.trust', { name: 'default', fingerprint: f().host('default').hostKeyFingerprint, acceptNew: true }, ctx);
  assert.equal(r.pinned, false);

  // known_hosts listing another key for the password host's address: refused as changed.
  const pw = f().host('password');
  const other = await openWith('changed', `${pw.address} ${f().host('default').hostPublicKey}\n`);
  const e = await rejects(connect(other, 'password'), 'HOST_KEY_MISMATCH');
  assert.equal(e.details?.source, 'known_hosts');
  assert.match(e.hint ?? '', /ssh-keygen -R/);
});

test('CLI: hosts add --accept-new-host-key pins the key; hosts trust shows and pins; errors keep their codes', async (t) => {
  const home = join(scratch, 'cli-home');
  const data = join(scratch, 'cli-data');
  mkdirSync(home, { recursive: true });
  const env = cliEnv(home);
  const d = f().host('default');
  const add = await cronium(['--data-dir', data, 'hosts', 'add', 'web', '--address', d.address, '--user', d.user, '--identity', d.identityFile!, '--accept-new-host-key'], { env });
  assert.equal(add.code, 0, add.stderr);
  assert.ok(add.stderr.includes(`pinned ssh-ed25519 ${d.hostKeyFingerprint}`), add.stderr);
  const again = await cronium(['--data-dir', data, 'hosts', 'trust', 'web'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /already trusted .*nothing changed/);

  const pw = f().host('password');
  const addPw = await cronium(['--data-dir', data, '--json', 'hosts', 'add', 'pw', '--address', pw.address, '--user', pw.user, '--password-stdin'], { env, input: `${pw.password}\n` });
  assert.equal(addPw.code, 0, addPw.stderr);
  const bad = await cronium(['--data-dir', data, 'hosts', 'trust', 'pw', '--fingerprint', `SHA256:${'B'.repeat(43)}`], { env });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error\[HOST_KEY_MISMATCH\]: .*nothing was pinned/);
  const malformed = await cronium(['--data-dir', data, 'hosts', 'trust', 'pw', '--fingerprint', 'MD5:aa:bb'], { env });
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /^error\[INVALID_INPUT\]: invalid --fingerprint/);
  const trust = await cronium(['--data-dir', data, 'hosts', 'trust', 'pw'], { env });
  assert.equal(trust.code, 0, trust.stderr);
  assert.ok(trust.stderr.includes(`pw presents ssh-ed25519 ${pw.hostKeyFingerprint}`), trust.stderr);
  assert.ok(trust.stderr.includes(`trusted pw: pinned ssh-ed25519 ${pw.hostKeyFingerprint}`), trust.stderr);
  const json = await cronium(['--data-dir', data, '--json', 'hosts', 'trust', 'pw', '--fingerprint', pw.hostKeyFingerprint], { env });
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).fingerprint, pw.hostKeyFingerprint);

  // The host stays added when it cannot be reached; the command fails with the connect error and a hint.
  const down = await cronium(['--data-dir', data, '--json', 'hosts', 'add', 'down', '--address', `127.${SUBNET}.250.1`, '--accept-new-host-key'], { env });
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^error\[CONNECT_FAILED\]: .*connection refused/);
  assert.match(down.stderr, /hint: .*the host was added; trust its key once it is reachable: cronium hosts trust down/);
  assert.equal(JSON.parse(down.stdout).error.code, 'CONNECT_FAILED');
  const list = JSON.parse((await cronium(['--data-dir', data, 'hosts', 'list', '--json'], { env })).stdout) as { name: string }[];
  assert.deepEqual(list.map((h) => h.name), ['down', 'pw', 'web']);

  // An encrypted identity with --passphrase-stdin: stored sealed, used when connecting.
  const enc = generateClientKey(scratch, 'cli_encrypted', 'ed25519', 'cli passphrase');
  await f().authorize('default', enc.publicKey);
  const addEnc = await cronium(['--data-dir', data, '--json', 'hosts', 'add', 'enc', '--address', d.address, '--user', d.user, '--identity', enc.path, '--passphrase-stdin', '--no-agent', '--accept-new-host-key'], { env, input: 'cli passphrase\n' });
  assert.equal(addEnc.code, 0, addEnc.stderr);
  const shown = JSON.parse(addEnc.stdout) as { hasPassphrase: boolean; useAgent: boolean; hostKey: { fingerprint: string; pinned: boolean } };
  assert.equal(shown.hasPassphrase, true);
  assert.equal(shown.useAgent, false);
  assert.deepEqual([shown.hostKey.fingerprint, shown.hostKey.pinned], [d.hostKeyFingerprint, true]);
  assert.ok(!(addEnc.stdout + addEnc.stderr).includes('cli passphrase'));
  const core = openCore({ dataDir: data, door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null } });
  t.after(() => core.close());
  const conn = await connect(core, 'enc');
  assert.equal((await conn.exec('echo via-cli-host')).stdout.toString(), 'via-cli-host\n');
  assert.equal(conn.info.authAttempts.at(-1)?.method, 'publickey');

  // After a key rotation, `hosts trust` without --fingerprint refuses (a changed key is what a
  // man in the middle shows) and says how to pin the new one; with it, it replaces the old key.
  const r = f().host('rekey');
  const addR = await cronium(['--data-dir', data, 'hosts', 'add', 'rk', '--address', r.address, '--user', r.user, '--identity', r.identityFile!, '--accept-new-host-key'], { env });
  assert.equal(addR.code, 0, addR.stderr);
  const before = r.hostKeyFingerprint;
  await f().rotateHostKey('rekey');
  const changed = await cronium(['--data-dir', data, 'hosts', 'add', 'rk2', '--address', r.address, '--user', r.user, '--accept-new-host-key'], { env });
  assert.equal(changed.code, 0, 'a new host at that address has no trusted key yet: accepted');
  const refused = await cronium(['--data-dir', data, 'hosts', 'trust', 'rk'], { env });
  assert.equal(refused.code, 1, refused.stderr);
  const now = f().host('rekey').hostKeyFingerprint;
  assert.match(refused.stderr, /^error\[HOST_KEY_MISMATCH\]: the host key of rk CHANGED/);
  assert.ok(refused.stderr.includes(`the pinned key is ${before}; nothing was changed`), refused.stderr);
  assert.ok(refused.stderr.includes(`cronium hosts trust rk --fingerprint ${now}`), refused.stderr);
  const stillOld = await cronium(['--data-dir', data, '--json', 'hosts', 'trust', 'rk', '--fingerprint', before], { env });
  assert.notEqual(stillOld.code, 0, 'the old key is no longer what the host presents');
  const retrust = await cronium(['--data-dir', data, 'hosts', 'trust', 'rk', '--fingerprint', now], { env });
  assert.equal(retrust.code, 0, retrust.stderr);
  assert.ok(retrust.stderr.includes(`(replacing ${before})`), retrust.stderr);
});
