// Runner deployment against a real fleet: every profile, cache hits, tampering on the host and
// locally, concurrent deploys, pruning to two versions, clean, and one signed payload end to end.
// Needs root (the fleet starts sshd on port 22) and Go: the suite builds its own artifacts from
// runner/ (a second or two with a warm build cache), so a stale resources/runner cannot mislead it.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { appVersion, openCore, type Core } from '../../../electron/core/core';
import { buildRunnerArtifacts, type RunnerManifest } from '../../../electron/core/runner/artifacts';
import { isDirectFallback, RunnerDeployer, type DeployResult } from '../../../electron/core/runner/deploy';
import { LocalArtifacts } from '../../../electron/core/runner/local-artifacts';
import { InstallationKeys, newNonce, parseFrame, logBytes } from '../../../electron/core/runner/payload';
import type { SshPool } from '../../../electron/core/ssh/types';
import { isCroniumError, type CroniumError } from '../../../electron/shared/errors';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { cronium, ROOT } from '../../helpers/cli';

// Other integration suites use 201-205.
const SUBNET = 206;
const ctx = { door: 'cli' as const };
let ARTIFACTS = '';

let fleet: Fleet | undefined;
let core: Core | undefined;
let scratch = '';
let home = '';
let dataDir = '';
let manifest: RunnerManifest;

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}
function c(): Core {
  assert.ok(core, 'core not open');
  return core;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const uidOf = (user: string) => statSync(`/home/${user}`).uid;

/** Every runner cache location of an account, as seen from here (the noexec host has its own /tmp). */
function cacheRoots(user: string): string[] {
  const uid = uidOf(user);
  return [`/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`];
}

/** Version dirs (`<version>-<sha12>`) in a cache dir, sorted. */
function versionDirs(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir).filter((d) => /-[0-9a-f]{12}$/.test(d)).sort() : [];
}

async function deploy(name: string): Promise<DeployResult> {
  return call(c().dispatch, 'runner.deploy', { name }, ctx) as Promise<DeployResult>;
}

async function rejection(p: Promise<unknown>): Promise<CroniumError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isCroniumError(err), `not a CroniumError: ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Runs a command on a host through the core's pool. */
async function hostExec(name: string, command: string, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const conn = await c().ssh.connect(await c().hosts.sshTarget(name));
  const r = await conn.exec(command, stdin === undefined ? {} : { stdin });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** Asserts the deployed files on the host: binary 0700 with the right hash, the pinned key and host id next to it. */
function assertInstalled(r: DeployResult): void {
  const bin = readFileSync(r.path);
  assert.equal(sha256(bin), r.sha256, 'binary hash on the host');
  assert.equal(statSync(r.path).mode & 0o777, 0o700, 'binary mode');
  assert.equal(statSync(r.cacheDir).mode & 0o777, 0o700, 'cache dir mode');
  const dir = join(r.path, '..');
  const pub = readFileSync(join(dir, 'installation.pub'), 'utf8');
  const keys = new InstallationKeys(dataDir);
  assert.equal(pub.replace(/\s+/g, ''), keys.publicKeyPem().replace(/\s+/g, ''), 'installation.pub is the payload key');
  assert.equal(readFileSync(join(dir, `host-id.${r.hostId}`), 'utf8').trim(), r.hostId);
  assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary files left');
}

/** `cronium-runner version` on the host, through exec. */
async function runnerVersion(name: string, path: string): Promise<{ version: string; target: string }> {
  const r = await hostExec(name, `'${path}' version`);
  assert.equal(r.code, 0, r.stderr);
  const line = r.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as { version: string; target: string };
}

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cronium-deploy-test-'));
  ARTIFACTS = join(scratch, 'artifacts');
  manifest = await buildRunnerArtifacts({ outDir: ARTIFACTS, version: appVersion(), dataDir: join(scratch, 'build-key'), runnerSrcDir: join(ROOT, 'runner') });
  home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  dataDir = join(scratch, 'data');
  fleet = await startFleet({ subnet: SUBNET });
  writeFileSync(join(home, '.ssh', 'known_hosts'), f().knownHosts(), { mode: 0o600 });
  // The accounts outlive fleets: start from hosts without a cached runner.
  for (const h of f().hosts) for (const d of cacheRoots(h.user)) rmSync(d, { recursive: true, force: true });
  core = openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [join(home, '.ssh', 'known_hosts')], agentSocket: null }, runner: { artifactsDir: ARTIFACTS } });
  for (const h of f().hosts) {
    await call(c().dispatch, 'hosts.add', { name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, password: h.password, jump: h.jump, useAgent: false }, ctx);
  }
});

after(async () => {
  core?.close();
  if (fleet) for (const h of fleet.hosts) for (const d of cacheRoots(h.user)) rmSync(d, { recursive: true, force: true });
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('default: a cold deploy uploads, verifies and pins; the second is a cache hit; the runner reports its version', async (t) => {
  const cold = await deploy('default');
  const warm = await deploy('default');
  t.diagnostic(`cold deploy ${cold.timings.totalMs} ms (connect ${cold.timings.connectMs}, prepare ${cold.timings.prepareMs}, upload ${cold.timings.uploadMs}; ${cold.uploadedBytes} bytes by ${cold.transport}); warm check ${warm.timings.totalMs} ms`);
  const user = f().host('default').user;
  assert.equal(cold.cached, false);
  assert.equal(cold.target, 'linux-amd64');
  assert.equal(cold.version, manifest.version);
  assert.equal(cold.cacheDir, `/home/${user}/.cache/cronium`);
  assert.equal(cold.path, `${cold.cacheDir}/${manifest.version}-${cold.sha256.slice(0, 12)}/cronium-runner`);
  assert.equal(cold.sha256, manifest.artifacts.find((a) => a.target === 'linux-amd64')!.sha256);
  assert.equal(cold.transport, 'sftp', 'SFTP first where the host has it');
  assert.equal(cold.deployment.status, 'ready');
  assert.equal(cold.integrityFailure, null);
  assertInstalled(cold);
  assert.equal(warm.cached, true);
  assert.equal(warm.uploadedBytes, 0);
  assert.equal(warm.deployment.id, cold.deployment.id, 'a cache hit refreshes the deployment, it is not a new one');
  assert.ok(warm.deployment.verifiedAt! >= cold.deployment.verifiedAt!);
  assert.ok(cold.timings.totalMs < 1000, `cold deploy took ${cold.timings.totalMs} ms (target: under 1 s on loopback)`);
  const v = await runnerVersion('default', cold.path);
  assert.deepEqual([v.version, v.target], [manifest.version, 'linux-amd64']);
  const rows = await call(c().dispatch, 'runner.deployments', { name: 'default' }, ctx);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.status, 'ready');
});

test('a signed payload runs end to end on the deployed runner', async () => {
  const r = await deploy('default');
  const keys = new InstallationKeys(dataDir);
  const now = Date.now();
  const envelope = keys.sign({
    jobId: 'job-1',
    runId: `run-${now}`,
    hostId: r.hostId,
    nonce: newNonce(),
    iat: now,
    exp: now + 60_000,
    interpreter: 'sh',
    script: 'echo hello from the runner; echo oops >&2; exit 7\n',
    env: {},
    limits: { timeoutMs: 10_000, graceMs: 500 },
    detach: false,
    pty: false,
    helper: { transport: 'none' },
  });
  // Closing stdin means the channel is gone: keep it open a little longer than the script runs.
  // As the app starts it: --host-id names this host's file next to the binary.
  const out = await hostExec('default', `{ cat; sleep 1; } | '${r.path}' run --host-id '${r.path.replace(/cronium-runner$/, `host-id.${r.hostId}`)}' --state-dir '${r.stateDir}'`, envelope);
  assert.equal(out.code, 0, out.stderr);
  const frames = out.stdout.trim().split('\n').map((l) => parseFrame(l));
  assert.equal(frames[0]!.type, 'hello');
  const logs = frames.flatMap((fr) => (fr.type === 'log' ? [`${fr.stream}:${logBytes(fr.data).toString('utf8')}`] : []));
  assert.ok(logs.includes('stdout:hello from the runner\n'), JSON.stringify(logs));
  assert.ok(logs.includes('stderr:oops\n'), JSON.stringify(logs));
  const exit = frames.at(-1)!;
  assert.equal(exit.type, 'exit');
  assert.equal((exit as { code?: number }).code, 7);
});

test('every other profile deploys (exec stream without SFTP, through a bastion, one session, no bash, a noisy shell)', async (t) => {
  for (const name of ['nosftp', 'noforward', 'nobash', 'noisy', 'maxsessions1', 'password', 'bastion', 'inner', 'rekey']) {
    const t0 = performance.now();
    const r = await deploy(name);
    t.diagnostic(`${name}: ${r.transport} ${Math.round(performance.now() - t0)} ms (connect ${r.timings.connectMs}, prepare ${r.timings.prepareMs}, upload ${r.timings.uploadMs})`);
    assert.equal(r.cached, false, name);
    assert.equal(r.deployment.status, 'ready', name);
    if (name === 'nosftp') assert.equal(r.transport, 'exec-gzip', 'without SFTP the binary is streamed over exec, gzipped');
    else assert.equal(r.transport, 'sftp', name);
    assertInstalled(r);
    const v = await runnerVersion(name, r.path);
    assert.equal(v.version, manifest.version, name);
    assert.equal((await deploy(name)).cached, true, `${name}: second deploy is a cache hit`);
  }
});

test('the exec stream (gzip) works through a noisy shell, sh as login shell, one session and a bastion', async (t) => {
  const deployer = new RunnerDeployer({ ...deployerDeps(), sftp: false });
  for (const name of ['noisy', 'nobash', 'maxsessions1', 'inner']) {
    await call(c().dispatch, 'runner.clean', { name }, ctx);
    const r = await deployer.deploy(name);
    t.diagnostic(`${name}: exec-gzip ${r.timings.totalMs} ms (prepare ${r.timings.prepareMs}, upload ${r.timings.uploadMs}; ${r.uploadedBytes} bytes)`);
    assert.equal(r.transport, 'exec-gzip', name);
    assert.equal(r.cached, false, name);
    assertInstalled(r);
    assert.equal((await runnerVersion(name, r.path)).version, manifest.version, name);
    assert.equal((await deployer.deploy(name)).cached, true, name);
  }
});

test('noexec: RUNNER_DEPLOY_FAILED naming each location and why, recorded; auto mode can tell it falls back', async () => {
  const err = await rejection(deploy('noexec'));
  assert.equal(err.code, 'RUNNER_DEPLOY_FAILED');
  assert.ok(isDirectFallback(err), 'a reason auto mode falls back on');
  assert.equal(err.details?.reason, 'no-cache-location');
  const user = f().host('noexec').user;
  const uid = uidOf(user);
  assert.match(err.message, new RegExp(`/home/${user}/\\.cache/cronium: cannot be created: Read-only file system`));
  assert.match(err.message, /\$XDG_RUNTIME_DIR\/cronium: XDG_RUNTIME_DIR is not set/);
  for (const p of [`/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`]) {
    assert.match(err.message, new RegExp(`${p}: not executable: Permission denied`), p);
  }
  const locations = err.details?.locations as { id: string; problem: string }[];
  assert.deepEqual(locations.map((l) => l.id), ['xdg-cache', 'xdg-runtime', 'dev-shm', 'tmp', 'var-tmp']);
  const rows = await call(c().dispatch, 'runner.deployments', { name: 'noexec' }, ctx);
  assert.equal(rows[0]!.status, 'failed');
  assert.match(rows[0]!.error!, /^RUNNER_DEPLOY_FAILED: no runner cache location/);
});

test('a tampered cached binary is detected, recorded as RUNNER_INTEGRITY_FAILED and replaced', async () => {
  const good = await deploy('default');
  // Overwrite one byte on the host, as the account itself.
  const tamper = await hostExec('default', `printf 'X' | dd of='${good.path}' bs=1 seek=4096 conv=notrunc 2>/dev/null && echo done`);
  assert.match(tamper.stdout, /done/);
  assert.notEqual(sha256(readFileSync(good.path)), good.sha256);
  const r = await deploy('default');
  assert.equal(r.cached, false);
  assert.match(r.integrityFailure!, /has SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
  assertInstalled(r);
  const rows = await call(c().dispatch, 'runner.deployments', { name: 'default' }, ctx);
  const failed = rows.filter((d) => d.status === 'failed' && d.error?.startsWith('RUNNER_INTEGRITY_FAILED:'));
  assert.ok(failed.length >= 1, JSON.stringify(rows));
  assert.equal(rows[0]!.status, 'ready', 'the newest deployment is the replacement');
  assert.equal((await deploy('default')).cached, true);
});

test('a tampered local artifact is refused before anything reaches the host', async () => {
  const dir = join(scratch, 'tampered');
  cpSync(ARTIFACTS, dir, { recursive: true });
  const bin = join(dir, 'linux-amd64', 'cronium-runner');
  const bytes = readFileSync(bin);
  bytes[5000] = bytes[5000]! ^ 0xff;
  writeFileSync(bin, bytes);
  const connects: string[] = [];
  const spy: SshPool = {
    connect: (target, signal) => {
      connects.push(target.name);
      return c().ssh.connect(target, signal);
    },
    scanHostKey: (target, signal) => c().ssh.scanHostKey(target, signal),
    close: async () => undefined,
  };
  const deployer = new RunnerDeployer({
    store: c().store.data,
    pool: spy,
    resolve: (n) => c().hosts.sshTarget(n),
    keys: new InstallationKeys(dataDir),
    artifacts: new LocalArtifacts({ dir, trustedPublicKeyPem: readFileSync(join(ARTIFACTS, 'cosign.pub'), 'utf8') }),
  });
  const err = await rejection(deployer.deploy('default'));
  assert.equal(err.code, 'RUNNER_INTEGRITY_FAILED');
  assert.match(err.message, /linux-amd64: hash mismatch/);
  assert.deepEqual(connects, [], 'no connection was even made');
  const status = await deployer.artifacts();
  assert.equal(status.ok, false);
  assert.equal(status.artifacts.find((a) => a.target === 'linux-amd64')!.status, 'invalid');
  // Signed by another key than the trusted one: refused too.
  const other = new LocalArtifacts({ dir: ARTIFACTS, trustedPublicKeyPem: new InstallationKeys(dataDir).publicKeyPem() });
  const err2 = await rejection(new RunnerDeployer({ ...deployerDeps(), artifacts: other }).deploy('default'));
  assert.equal(err2.code, 'RUNNER_INTEGRITY_FAILED');
  assert.match(err2.message, /not the trusted signing key/);
});

function deployerDeps() {
  return { store: c().store.data, pool: c().ssh, resolve: (n: string) => c().hosts.sshTarget(n), keys: new InstallationKeys(dataDir), artifacts: new LocalArtifacts({ dir: ARTIFACTS }) };
}

test('five concurrent deploys to one host leave exactly one valid binary', async () => {
  await call(c().dispatch, 'runner.clean', { name: 'maxsessions1' }, ctx);
  await call(c().dispatch, 'runner.clean', { name: 'default' }, ctx);
  for (const name of ['default', 'maxsessions1']) {
    // Five independent deployers (as five processes would be): nothing shared but the host.
    const results = await Promise.all(Array.from({ length: 5 }, () => new RunnerDeployer(deployerDeps()).deploy(name)));
    const paths = new Set(results.map((r) => r.path));
    assert.equal(paths.size, 1, name);
    const r = results[0]!;
    assert.ok(results.some((x) => !x.cached), `${name}: someone uploaded`);
    assertInstalled(r);
    assert.deepEqual(readdirSync(join(r.path, '..')).sort(), ['cronium-runner', `host-id.${r.hostId}`, 'installation.pub']);
    assert.deepEqual(readdirSync(r.cacheDir).filter((n) => n.endsWith('.tmp')), [], 'no SFTP temporaries left');
    assert.equal((await deploy(name)).cached, true);
  }
  // Within one process, concurrent deploys to a host share one.
  const same = await Promise.all(Array.from({ length: 5 }, () => deploy('default')));
  assert.equal(new Set(same.map((r) => r.deployment.id)).size, 1);
});

test('three versions deployed leave the newest two; runner clean (CLI) removes them', async (t) => {
  const builds: string[] = [];
  for (const version of ['0.1.1', '0.1.2']) {
    const out = join(scratch, `artifacts-${version}`);
    const t0 = performance.now();
    await buildRunnerArtifacts({ outDir: out, version, dataDir: join(scratch, 'build-key'), runnerSrcDir: join(ROOT, 'runner'), targets: ['linux-amd64'] });
    t.diagnostic(`built ${version} in ${Math.round(performance.now() - t0)} ms`);
    builds.push(out);
  }
  const name = 'noforward';
  const first = await deploy(name); // deployed before by the profiles test (resources/runner)
  const results = [first];
  for (const dir of builds) results.push(await new RunnerDeployer({ ...deployerDeps(), artifacts: new LocalArtifacts({ dir }) }).deploy(name));
  const [v1, v2, v3] = results as [DeployResult, DeployResult, DeployResult];
  assert.equal(v3.version, '0.1.2');
  assert.deepEqual(v3.pruned, [`${v1.version}-${v1.sha256.slice(0, 12)}`]);
  assert.deepEqual(versionDirs(v3.cacheDir), [`0.1.1-${v2.sha256.slice(0, 12)}`, `0.1.2-${v3.sha256.slice(0, 12)}`]);
  assert.equal((await runnerVersion(name, v3.path)).version, '0.1.2');
  const rows = await call(c().dispatch, 'runner.deployments', { name }, ctx);
  assert.equal(rows.find((d) => d.path === v1.path && d.status !== 'failed')!.status, 'removed');
  assert.deepEqual(rows.filter((d) => d.status === 'ready').map((d) => d.version).sort(), ['0.1.1', '0.1.2']);

  // The CLI, in its own process on the same data dir.
  const env = { HOME: home, SSH_AUTH_SOCK: '' };
  const cleaned = await cronium(['--data-dir', dataDir, 'runner', 'clean', name, '--json'], { env });
  assert.equal(cleaned.code, 0, cleaned.stderr);
  const body = JSON.parse(cleaned.stdout) as { removed: { path: string }[]; deployments: number };
  assert.deepEqual(body.removed.map((r) => r.path).sort(), [join(v2.path, '..'), join(v3.path, '..')].sort());
  assert.equal(body.deployments, 2);
  assert.deepEqual(versionDirs(v3.cacheDir), []);
  const after = await call(c().dispatch, 'runner.deployments', { name }, ctx);
  assert.equal(after.filter((d) => d.status === 'ready').length, 0);
  // And `runner deploy` from the CLI puts it back.
  const again = await cronium(['--data-dir', dataDir, 'runner', 'deploy', name, '--json'], { env });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as DeployResult).cached, false);
  const listed = await cronium(['--data-dir', dataDir, 'runner', 'list', '--deployments', '--host', name, '--json'], { env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.equal((JSON.parse(listed.stdout) as { deployments: { status: string }[] }).deployments[0]!.status, 'ready');
});

test('runner.artifacts lists every target with its verdict and records them', async () => {
  const a = await call(c().dispatch, 'runner.artifacts', {}, ctx);
  assert.equal(a.ok, true);
  assert.equal(a.trust, 'artifact-dir');
  assert.deepEqual(a.artifacts.map((x) => x.target), manifest.artifacts.map((x) => x.target));
  assert.ok(a.artifacts.every((x) => x.status === 'verified' && x.error === null));
  const n = c().store.sqlite.prepare("select count(*) as n from runner_artifacts where version = ? and status = 'verified'").get(manifest.version) as { n: number };
  assert.equal(n.n, manifest.artifacts.length);
});
