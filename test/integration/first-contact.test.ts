/**
 * A new user's first contact, on the real fleet (subnet 242) and the real `cronium` (dist/): a
 * fresh data dir and HOME whose ~/.ssh/config names four hosts (two plain ones, a bastion and a
 * host reached only through it), `cronium hosts import`, a first run that fails once per host with
 * HOST_KEY_UNKNOWN and the exact `cronium hosts trust NAME --fingerprint …` to run, which the test
 * runs as a user would (taking the fingerprints from the printed hints, until no hint is left),
 * then a default-mode `cronium run` over all hosts that succeeds: in runner mode with the runner
 * built (resources/runner, as `npm install` builds it), and in direct mode, with the reason shown,
 * with an empty artifacts dir. Then what a machine without artifacts says in runner mode and in
 * `cronium diagnose`, and a target built on demand by a core whose artifacts dir starts empty.
 * Needs root (the fleet), a build (dist/ and resources/runner) and Go (the on-demand build).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import { openCore } from '../../electron/core/core';
import { Worker } from '../../electron/core/exec/worker';
import type { EventPayload } from '../../electron/shared/api';
import { startFleet, type Fleet } from '../fleet/fleet';
import { cronium, ROOT, type CliResult } from '../helpers/cli';

const SUBNET = 242;
const HOSTS = ['web1', 'web2', 'bastion', 'inner'];
const NOT_BUILT = 'runner artifacts are not built here; build them with: cronium runner build';

let fleet: Fleet | undefined;
let scratch = '';
let home = '';
let dataDir = '';
let empty = '';

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}

/** The real CLI as the user runs it: their HOME, a fresh data dir, no agent; `runnerDir` for CRONIUM_RUNNER_DIR. */
function user(args: string[], runnerDir?: string): Promise<CliResult> {
  return cronium(args, { env: { HOME: home, CRONIUM_HOME: dataDir, SSH_AUTH_SOCK: '', ...(runnerDir ? { CRONIUM_RUNNER_DIR: runnerDir } : {}) } });
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const RUN_ALL = ['run', ...HOSTS.flatMap((h) => ['--host', h]), '--command', 'echo hi'];

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/cronium.cjs')), 'dist/ is not built: run `node scripts/build.mjs`');
  assert.ok(existsSync(join(ROOT, 'resources/runner/manifest.json')), 'the runner is not built: run `node scripts/build.mjs` (needs Go)');
  scratch = mkdtempSync(join(tmpdir(), 'cronium-first-contact-'));
  home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  dataDir = join(scratch, 'data');
  empty = join(scratch, 'empty-runner');
  mkdirSync(empty);
  fleet = await startFleet({
    subnet: SUBNET,
    hosts: [
      { name: 'web1', profile: 'default' },
      { name: 'web2', profile: 'default' },
      { name: 'bastion', profile: 'bastion' },
      { name: 'inner', profile: 'inner' },
    ],
  });
  // The user's own ssh_config: what they use with ssh every day, with no known_hosts yet.
  const config = f()
    .hosts.map((h) => [`Host ${h.name}`, `  HostName ${h.address}`, `  Port ${h.port}`, `  User ${h.user}`, `  IdentityFile ${h.identityFile}`, ...(h.jump ? [`  ProxyJump ${h.jump}`] : [])].join('\n'))
    .join('\n\n');
  writeFileSync(join(home, '.ssh', 'config'), `${config}\n`, { mode: 0o600 });
});

after(async () => {
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('import, then trust each host from the hint the CLI printed, until a default-mode run works everywhere', async (t) => {
  const imported = await user(['hosts', 'import']);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stderr, /4 added, 0 skipped, 0 problems/);

  const trusted: string[] = [];
  let last: CliResult | undefined;
  for (let round = 1; round <= 3; round++) {
    last = await user(RUN_ALL);
    if (last.code === 0) break;
    assert.equal(last.code, 1, last.stderr);
    // Every failed host once, and each error with exactly one hint under it.
    const errors = [...last.stderr.matchAll(/^error\[(\w+)\]: (\S+): .*\n {2}hint: (.*)$/gm)];
    assert.ok(errors.length > 0, last.stderr);
    assert.equal(count(last.stderr, 'error['), errors.length, `each error once, with its hint:\n${last.stderr}`);
    assert.equal(count(last.stderr, 'hint: '), errors.length);
    for (const [, code, host] of errors) assert.equal(code, 'HOST_KEY_UNKNOWN', `${host}: ${last.stderr}`);
    assert.equal(new Set(errors.map((e) => e[2])).size, errors.length, 'one error per host');
    // Do what the hints say: `cronium hosts trust NAME --fingerprint SHA256:…`.
    const commands = new Set(errors.map((e) => /cronium hosts trust (\S+) --fingerprint (SHA256:\S+)$/.exec(e[3]!)?.slice(1).join(' ')));
    for (const cmd of commands) {
      assert.ok(cmd, `a hint without the trust command: ${last.stderr}`);
      const [name, fingerprint] = cmd.split(' ') as [string, string];
      // The fingerprint the hint shows is the host's real key (the fleet's own record of it).
      assert.equal(fingerprint, f().host(name).hostKeyFingerprint, name);
      const r = await user(['hosts', 'trust', name, '--fingerprint', fingerprint]);
      assert.equal(r.code, 0, r.stderr);
      trusted.push(name);
    }
    t.diagnostic(`round ${round}: trusted ${[...commands].map((c) => c?.split(' ')[0]).join(', ')}`);
  }
  assert.deepEqual([...trusted].sort(), [...HOSTS].sort(), 'every host trusted once (inner only after its bastion)');
  assert.ok(last);
  assert.equal(last.code, 0, last.stderr);
  for (const h of HOSTS) assert.equal(count(last.stdout, `${h} | hi\n`), 1, last.stdout);
  assert.doesNotMatch(last.stderr, /error\[|direct mode/, last.stderr);
  assert.match(last.stderr, /job \d+: succeeded \(4 succeeded\)/);
});

test('with the runner built, the default mode runs every host in runner mode', async () => {
  const r = await user(['--json', ...RUN_ALL]);
  assert.equal(r.code, 0, r.stderr);
  const runs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string; mode: string; modeReason: string | null; runnerVersion: string | null; error: unknown });
  assert.deepEqual(runs.map((x) => x.host).sort(), [...HOSTS].sort());
  for (const x of runs) {
    assert.equal(x.status, 'succeeded', JSON.stringify(x));
    assert.equal(x.mode, 'runner', JSON.stringify(x));
    assert.equal(x.modeReason, null);
    assert.ok(x.runnerVersion);
    assert.equal(x.error, null);
  }
});

test('with an empty artifacts dir, the default mode falls back to direct on every host, saying why once per host', async () => {
  const human = await user(RUN_ALL, empty);
  assert.equal(human.code, 0, human.stderr);
  for (const h of HOSTS) {
    assert.equal(count(human.stdout, `${h} | hi\n`), 1, human.stdout);
    assert.equal(count(human.stderr, `${h} | cronium: direct mode: ${NOT_BUILT}\n`), 1, human.stderr);
  }
  assert.doesNotMatch(human.stderr, /RUNNER_INTEGRITY_FAILED|error\[/);
  const json = await user(['--json', ...RUN_ALL], empty);
  assert.equal(json.code, 0, json.stderr);
  for (const x of json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { status: string; mode: string; modeReason: string })) {
    assert.deepEqual([x.status, x.mode, x.modeReason], ['succeeded', 'direct', NOT_BUILT]);
  }
  // The job view of the API (and so the UI's) records it on the run.
  const job = await user(['--json', 'jobs', 'show', String(JSON.parse(json.stdout.split('\n')[0]!).jobId)], empty);
  for (const run of (JSON.parse(job.stdout) as { runs: { mode: string; modeReason: string }[] }).runs) assert.deepEqual([run.mode, run.modeReason], ['direct', NOT_BUILT]);
});

test('runner mode without artifacts fails once per host with the command that fixes it; diagnose fails the runner check', async () => {
  const r = await user(['run', '--host', 'web1', '--host', 'web2', '--mode', 'runner', '--command', 'echo hi'], empty);
  assert.equal(r.code, 1, r.stderr);
  for (const h of ['web1', 'web2']) assert.equal(count(r.stderr, `error[RUNNER_DEPLOY_FAILED]: ${h}: ${NOT_BUILT}\n  hint: `), 1, r.stderr);
  assert.equal(count(r.stderr, 'hint: '), 2);
  assert.doesNotMatch(r.stdout, /hi/, 'nothing ran');

  const d = await user(['--json', 'diagnose', 'web1'], empty);
  assert.equal(d.code, 1, d.stderr);
  const checks = Object.fromEntries((JSON.parse(d.stdout) as { checks: { id: string; status: string; detail: string; hint: string | null }[] }).checks.map((c) => [c.id, c]));
  assert.equal(checks.runner?.status, 'fail');
  assert.match(checks.runner?.hint ?? '', /cronium runner build/);
  assert.equal(checks.artifacts?.status, 'fail');
  assert.equal(checks['data-dir']?.status, 'pass', checks['data-dir']?.detail);
  assert.equal(checks['key-files']?.status, 'pass', checks['key-files']?.detail);
  // With the runner built, the same host passes both.
  const ok = await user(['--json', 'diagnose', 'web1']);
  const okChecks = Object.fromEntries((JSON.parse(ok.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.map((c) => [c.id, c]));
  assert.equal(okChecks.artifacts?.status, 'pass', okChecks.artifacts?.detail);
  assert.match(okChecks.artifacts?.detail ?? '', /including this host's linux-amd64/);
  assert.equal(okChecks.runner?.status, 'pass', okChecks.runner?.detail);
});

test('a target that is not built is built on demand (Go), with progress events, and the run uses it', async (t) => {
  const artifactsDir = join(scratch, 'on-demand');
  mkdirSync(artifactsDir);
  const core = openCore({ dataDir: join(scratch, 'on-demand-data'), door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null }, runner: { artifactsDir, buildOnDemand: true } });
  t.after(() => core.close());
  const h = f().host('web1');
  await core.hosts.add({ name: 'web1', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
  await call(core.dispatch, 'hosts.trust', { name: 'web1', fingerprint: h.hostKeyFingerprint }, { door: 'cli' });
  const events: EventPayload<'runner.build'>[] = [];
  core.events.on('runner.build', (e) => events.push(e));
  const { jobId } = await call(core.dispatch, 'jobs.run', { hosts: ['web1'], command: 'echo built', mode: 'auto' }, { door: 'cli' });
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: 'first-contact', jobId, ...core.runHooks });
  const detach = core.jobs.attach(worker);
  worker.start();
  try {
    for (let i = 0; ; i++) {
      const job = await call(core.dispatch, 'jobs.get', { id: jobId }, { door: 'cli' });
      if (job.status !== 'queued' && job.status !== 'running') {
        const run = job.runs[0]!;
        assert.deepEqual([run.status, run.mode, run.modeReason, run.errorCode], ['succeeded', 'runner', null, null], JSON.stringify(run));
        break;
      }
      assert.ok(i < 1200, 'the job ended within 2 minutes');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await worker.stop();
    detach();
  }
  assert.deepEqual(events.map((e) => [e.target, e.phase]), [['linux-amd64', 'started'], ['linux-amd64', 'built']]);
  assert.match(events[1]!.message, /^built the runner for linux-amd64 in \d+\.\d s$/);
  t.diagnostic(events[1]!.message);
  const status = await call(core.dispatch, 'runner.artifacts', {}, { door: 'cli' });
  assert.deepEqual([status.ok, status.artifacts.map((a) => a.target)], [true, ['linux-amd64']]);
});
