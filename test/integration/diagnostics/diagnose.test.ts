// `cronium diagnose NAME --json` against a real fleet: each profile's report must say what is
// really true of that host. Needs root (the fleet starts sshd on port 22) and a built dist/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../electron/core/core';
import { CHECK_IDS } from '../../../electron/core/diagnostics/diagnose';
import { hosts as hostsTable, runnerDeployments } from '../../../electron/core/db/schema';
import type { DiagnosticReport } from '../../../electron/shared/api';
import { NOISY_BANNER, startFleet, type Fleet } from '../../fleet/fleet';
import { cronium, ROOT } from '../../helpers/cli';

// Other integration suites use 202 and 203; the fleet CLI's default is 201.
const SUBNET = 204;
/** Nothing listens here: an address of the fleet's subnet that no host uses. */
const GHOST = `127.${SUBNET}.250.250`;
const ctx = { door: 'cli' as const };

let fleet: Fleet | undefined;
let scratch = '';
let home = '';
let dataDir = '';

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}

/** Opens the core on the test's data dir (the CLI runs in other processes on the same dir). */
async function withCore<T>(fn: (core: Core) => Promise<T> | T): Promise<T> {
  const core = openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [join(home, '.ssh', 'known_hosts')], agentSocket: null } });
  try {
    return await fn(core);
  } finally {
    core.close();
  }
}

/** Runs `cronium diagnose NAME --json` as the user would, with the test's HOME (its known_hosts). */
async function diagnose(name: string, opts: { home?: string } = {}): Promise<{ code: number; report: DiagnosticReport; stderr: string }> {
  const r = await cronium(['--data-dir', dataDir, 'diagnose', name, '--json'], { env: { HOME: opts.home ?? home, SSH_AUTH_SOCK: '' } });
  let report: DiagnosticReport;
  try {
    report = JSON.parse(r.stdout) as DiagnosticReport;
  } catch {
    assert.fail(`diagnose ${name}: no JSON on stdout (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

type Check = DiagnosticReport['checks'][number];
function byId(report: DiagnosticReport): Record<string, Check> {
  return Object.fromEntries(report.checks.map((c) => [c.id, c]));
}

/** Asserts the statuses of the named checks and that every other check passed. */
function expectStatuses(report: DiagnosticReport, expected: Record<string, Check['status']>): void {
  for (const c of report.checks) {
    const want = expected[c.id] ?? 'pass';
    assert.equal(c.status, want, `${report.host} ${c.id}: expected ${want}, got ${c.status}: ${c.detail}`);
  }
}

/** The contract of every report: all checks, in order, each with id, status, detail and hint. */
function assertShape(report: DiagnosticReport): void {
  assert.deepEqual(report.checks.map((c) => c.id), [...CHECK_IDS]);
  for (const c of report.checks) {
    assert.ok(['pass', 'warn', 'fail'].includes(c.status), `${c.id} status ${c.status}`);
    assert.equal(typeof c.detail, 'string');
    assert.ok(c.detail.length > 0, `${c.id} has a detail`);
    assert.ok('hint' in c, `${c.id} has a hint field`);
    if (c.status !== 'pass') assert.ok(c.hint || c.detail.startsWith('not checked:'), `${report.host} ${c.id} (${c.status}) has a hint: ${c.detail}`);
  }
  const rank = { pass: 0, warn: 1, fail: 2 } as const;
  assert.equal(report.status, report.checks.reduce<Check['status']>((w, c) => (rank[c.status] > rank[w] ? c.status : w), 'pass'));
}

/** Existence and listing of a host user's runner cache locations, as seen from here (same mount namespace). */
function cacheSnapshot(user: string, uid: number): string {
  const paths = [`/home/${user}/.cache`, `/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`];
  return paths.map((p) => `${p}: ${existsSync(p) ? readdirSync(p).sort().join(',') : '-'}`).join('\n');
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/cronium.cjs')), 'dist/ is not built: run `npm run build` (npm test does it)');
  scratch = mkdtempSync(join(tmpdir(), 'cronium-diag-test-'));
  home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  dataDir = join(scratch, 'data');
  fleet = await startFleet({ subnet: SUBNET });
  writeFileSync(join(home, '.ssh', 'known_hosts'), f().knownHosts(), { mode: 0o600 });
  await withCore(async (core) => {
    for (const h of f().hosts) {
      await call(core.dispatch, 'hosts.add', { name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, password: h.password, jump: h.jump, useAgent: false }, ctx);
    }
    await call(core.dispatch, 'hosts.add', { name: 'ghost', address: GHOST, user: 'nobody', useAgent: false }, ctx);
  });
});

after(async () => {
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('default: every check passes, well under 2 s, and nothing is left on the host', async (t) => {
  const user = f().host('default').user;
  const uid = statSync(`/home/${user}`).uid;
  const before = cacheSnapshot(user, uid);
  const { code, report } = await diagnose('default');
  t.diagnostic(`default diagnosed in ${report.durationMs} ms`);
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, {});
  assert.ok(report.durationMs < 2000, `took ${report.durationMs} ms`);
  const c = byId(report);
  assert.match(c.ssh!.detail, /^SSH-2\.0-OpenSSH_/);
  assert.ok(c.ssh!.detail.includes(f().host('default').hostKeyFingerprint));
  assert.match(c.auth!.detail, /offers publickey; publickey .*succeeded/);
  assert.match(String(c.platform!.data?.target), /^(linux|darwin|freebsd)-/);
  assert.match(c.platform!.detail, new RegExp(`→ runner ${String(c.platform!.data?.target)}$`));
  assert.equal(c.cache!.data?.selected, 'xdg-cache');
  assert.equal(c.cache!.data?.selectedPath, `/home/${user}/.cache/cronium`);
  assert.equal((c.sftp!.data as { available: boolean }).available, true);
  assert.deepEqual([c.forwarding!.data?.remote, c.forwarding!.data?.local], [true, true]);
  assert.equal(c.runner!.detail, 'not deployed yet (the first run in runner mode deploys it)');
  assert.ok(Math.abs(Number(c.clock!.data?.skewMs)) < 2000);
  assert.equal(cacheSnapshot(user, uid), before, 'the probe created or left something in a cache location');
});

test('nosftp: SFTP reported unavailable, everything else passes', async () => {
  const { code, report } = await diagnose('nosftp');
  assert.equal(code, 0, 'a warning is not a failure');
  assertShape(report);
  expectStatuses(report, { sftp: 'warn' });
  const sftp = byId(report).sftp!;
  assert.equal(sftp.data?.available, false);
  assert.match(sftp.detail, /^not available: Unable to start subsystem: sftp/);
  assert.match(sftp.hint!, /Subsystem sftp/);
});

test('noforward: both forwarding directions reported refused', async () => {
  const { code, report } = await diagnose('noforward');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, { forwarding: 'warn' });
  const fwd = byId(report).forwarding!;
  assert.deepEqual([fwd.data?.remote, fwd.data?.local], [false, false]);
  assert.match(fwd.detail, /remote forwarding .*: refused/);
  assert.match(fwd.detail, /local forwarding .*: refused/);
  assert.match(fwd.hint!, /AllowTcpForwarding yes/);
});

test('noexec: read-only home and noexec temp dirs: which locations fail and that none is usable', async () => {
  const { code, report } = await diagnose('noexec');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, { cache: 'warn' });
  const cache = byId(report).cache!;
  type Loc = { id: string; path: string | null; usable: boolean; writable: boolean; executable: boolean; problem: string | null };
  const locs = Object.fromEntries((cache.data?.locations as Loc[]).map((l) => [l.id, l]));
  assert.equal(cache.data?.selected, null);
  assert.match(cache.detail, /^no location can hold and run the runner, so runs use direct mode/);
  assert.match(locs['xdg-cache']!.problem!, /^cannot be created: Read-only file system/);
  assert.equal(locs['xdg-runtime']!.problem, 'XDG_RUNTIME_DIR is not set');
  for (const id of ['dev-shm', 'tmp', 'var-tmp']) {
    assert.equal(locs[id]!.writable, true, `${id} is writable`);
    assert.equal(locs[id]!.executable, false, `${id} is noexec`);
    assert.match(locs[id]!.problem!, /^not executable: Permission denied/);
  }
});

test('noisy: the noisy login shell is warned about, with the bytes it printed', async () => {
  const { code, report } = await diagnose('noisy');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, { 'shell-noise': 'warn' });
  const noise = byId(report)['shell-noise']!;
  assert.ok(noise.detail.includes(NOISY_BANNER), noise.detail);
  assert.equal(noise.data?.bytes, Buffer.byteLength(`${NOISY_BANNER}\n`));
  assert.ok(noise.hint!.includes('[ -z "$PS1" ] && return'));
  // The probe's own results are not polluted by the noise.
  assert.match(String((byId(report).interpreters!.data?.bash as { version: string }).version), /^\d+\.\d+\.\d+/);
});

test('nobash: bash reported missing (bash scripts need --interpreter sh there), sh present', async () => {
  const { code, report } = await diagnose('nobash');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, { interpreters: 'warn' });
  const interp = byId(report).interpreters!;
  assert.equal(interp.data?.bash, null);
  assert.ok(interp.data?.sh);
  assert.match(interp.detail, /^bash (missing|not runnable)/);
  assert.match(interp.hint!, /INTERPRETER_MISSING here in either mode; run them with --interpreter sh/);
  assert.match(byId(report)['shell-noise']!.detail, /^\/bin\/sh printed nothing/);
});

test('maxsessions1: fully diagnosed over one connection that allows one session at a time', async () => {
  const { code, report } = await diagnose('maxsessions1');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, {});
  assert.ok(report.checks.every((c) => !c.detail.startsWith('not checked')));
});

test('password: authentication by password is reported', async () => {
  const { report } = await diagnose('password');
  assertShape(report);
  expectStatuses(report, {});
  assert.match(byId(report).auth!.detail, /^the server offers password, keyboard-interactive; password succeeded/);
});

test('inner: diagnosed through the bastion, each leg of the jump measured', async () => {
  const { code, report } = await diagnose('inner');
  assert.equal(code, 0);
  assertShape(report);
  expectStatuses(report, {});
  const tcp = byId(report).tcp!;
  assert.match(tcp.detail, /^through bastion: bastion 127\.\S+:22 in [\d.]+ ms; bastion → inner 127\.\S+:22 in [\d.]+ ms$/);
  assert.equal((tcp.data?.legs as unknown[]).length, 2);
  assert.match(byId(report).ssh!.detail, /through bastion; host key/);
  assert.ok(byId(report).ssh!.detail.includes(f().host('inner').hostKeyFingerprint));
  assert.ok(report.durationMs < 2000, `took ${report.durationMs} ms`);
});

test('every healthy host is diagnosed in well under 2 s', async (t) => {
  for (const name of ['bastion', 'rekey']) {
    const { report } = await diagnose(name);
    assertShape(report);
    expectStatuses(report, {});
  }
  await withCore(async (core) => {
    const times: string[] = [];
    for (const h of f().hosts) {
      const last = (await core.diagnostics.list(h.name, 1))[0];
      assert.ok(last, `${h.name} has a stored report`);
      assert.ok(last.durationMs < 2000, `${h.name} took ${last.durationMs} ms`);
      times.push(`${h.name} ${last.durationMs} ms`);
    }
    t.diagnostic(`diagnose time per host: ${times.join(', ')}`);
  });
});

test('an unreachable host yields a stored report with tcp failed (CONNECT_FAILED), exit 1', async () => {
  const { code, report } = await diagnose('ghost');
  assert.equal(code, 1);
  assertShape(report);
  const c = byId(report);
  assert.equal(c.dns!.status, 'pass');
  assert.equal(c.tcp!.status, 'fail');
  assert.equal(c.tcp!.data?.code, 'CONNECT_FAILED');
  assert.match(c.tcp!.detail, /connection refused/);
  assert.equal(c.ssh!.detail, 'not checked: no TCP connection');
  assert.equal(c.runner!.status, 'pass');
  const stored = await withCore((core) => call(core.dispatch, 'diagnostics.list', { name: 'ghost' }, ctx));
  assert.equal(stored[0]!.id, report.id);
  assert.equal(stored[0]!.status, 'fail');
  assert.deepEqual(stored[0]!.checks, report.checks);
});

test('an unknown host key fails the ssh check with its fingerprint; auth is not attempted', async () => {
  const empty = join(scratch, 'empty-home');
  mkdirSync(join(empty, '.ssh'), { recursive: true });
  const { code, report } = await diagnose('default', { home: empty });
  assert.equal(code, 1);
  const c = byId(report);
  expectStatuses(report, { ssh: 'fail', auth: 'warn', 'shell-noise': 'warn', platform: 'warn', interpreters: 'warn', cache: 'warn', sftp: 'warn', forwarding: 'warn', clock: 'warn' });
  assert.equal(c.ssh!.data?.code, 'HOST_KEY_UNKNOWN');
  assert.ok(c.ssh!.detail.includes(f().host('default').hostKeyFingerprint), c.ssh!.detail);
  assert.match(c.ssh!.hint!, /cronium hosts trust default/);
  assert.equal(c.auth!.detail, 'not checked: the host key is not trusted');
});

test('runner: a recorded deployment is checksummed on the host: match, tampered, gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-diag-runner-'));
  chmodSync(dir, 0o755);
  const path = join(dir, 'cronium-runner');
  try {
    writeFileSync(path, '#!/bin/sh\necho fake runner\n', { mode: 0o755 });
    const sha256 = createHash('sha256').update('#!/bin/sh\necho fake runner\n').digest('hex');
    const target = String(byId((await diagnose('rekey')).report).platform!.data?.target);
    await withCore((core) => {
      const host = core.store.db.select().from(hostsTable).all().find((h) => h.name === 'default')!;
      const now = Date.now();
      core.store.db.insert(runnerDeployments).values({ hostId: host.id, version: '0.0.0-test', target, path, sha256, status: 'ready', createdAt: now, updatedAt: now }).run();
    });
    let r = await diagnose('default');
    assert.equal(byId(r.report).runner!.status, 'pass');
    assert.equal(byId(r.report).runner!.detail, `runner 0.0.0-test (${target}) at ${path}, SHA-256 matches`);

    writeFileSync(path, '#!/bin/sh\necho tampered\n');
    r = await diagnose('default');
    assert.equal(r.code, 1);
    assert.equal(byId(r.report).runner!.status, 'fail');
    assert.match(byId(r.report).runner!.detail, /does not match its checksum/);
    assert.match(byId(r.report).runner!.hint!, /cronium runner deploy default/);

    rmSync(path);
    r = await diagnose('default');
    assert.equal(byId(r.report).runner!.status, 'warn');
    assert.match(byId(r.report).runner!.detail, /the file is gone/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await withCore((core) => core.store.db.delete(runnerDeployments).run());
  }
});

test('a changed host key fails the ssh check as HOST_KEY_MISMATCH with both fingerprints', async () => {
  const { oldFingerprint, newFingerprint } = await f().rotateHostKey('rekey');
  // The test's known_hosts still holds the old key (rotateHostKey rewrote only the fleet's copy).
  const { code, report } = await diagnose('rekey');
  assert.equal(code, 1);
  const ssh = byId(report).ssh!;
  assert.equal(ssh.status, 'fail');
  assert.equal(ssh.data?.code, 'HOST_KEY_MISMATCH');
  assert.ok(ssh.detail.includes(newFingerprint) && ssh.detail.includes(oldFingerprint), ssh.detail);
  assert.equal(byId(report).tcp!.status, 'pass');
});

test('the human checklist marks each check and prints hints; history is listed newest first', async () => {
  const r = await cronium(['--data-dir', dataDir, 'diagnose', 'noisy'], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^noisy: passed with warnings \(\d+ ms\)\n/);
  assert.match(r.stdout, /^✔ dns {2,}/m);
  assert.match(r.stdout, /^! shell-noise +\/bin\/bash printed 22 bytes/m);
  assert.match(r.stdout, /^ +hint: output from shell startup files/m);
  const list = await withCore((core) => call(core.dispatch, 'diagnostics.list', { name: 'noisy', limit: 5 }, ctx));
  assert.equal(list.length, 2);
  assert.ok(list[0]!.startedAt >= list[1]!.startedAt);
  assert.ok(list[0]!.id! > list[1]!.id!);
});

test('diagnose of a host that does not exist is NOT_FOUND, exit 1', async () => {
  const r = await cronium(['--data-dir', dataDir, 'diagnose', 'nope', '--json'], { env: { HOME: home } });
  assert.equal(r.code, 1);
  assert.equal(JSON.parse(r.stdout).error.code, 'NOT_FOUND');
});
