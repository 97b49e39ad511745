// Runner mode against a real fleet: every profile, exit codes and signals, timeout and cancel
// verified on the host itself (/proc through exec), a payload signed by another key, a tampered
// cached binary, a detached run that survives losing the connection and a new worker, and the CLI.
// Needs root (the fleet) and Go: the suite builds its own artifacts from runner/.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { appVersion, openCore, type Core } from '../../../electron/core/core';
import { Executor } from '../../../electron/core/exec/executor';
import { RunnerExecutor, sq } from '../../../electron/core/exec/runner-mode';
import { STAT_COMMAND, usableStatRecord } from '../../../electron/core/runner/deploy-scripts';
import type { ExecOutcome } from '../../../electron/core/exec/types';
import { Worker } from '../../../electron/core/exec/worker';
import { buildRunnerArtifacts } from '../../../electron/core/runner/artifacts';
import type { DeployResult } from '../../../electron/core/runner/deploy';
import { InstallationKeys } from '../../../electron/core/runner/payload';
import type { JobView } from '../../../electron/shared/api';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { cronium, ROOT } from '../../helpers/cli';
import { until as waitFor } from '../../helpers/workspace';

/** until() with this file's longer default (runs on real hosts). */
const until = <T>(what: string, fn: Parameters<typeof waitFor<T>>[1], timeoutMs = 15_000) => waitFor<T>(what, fn, timeoutMs);

// Other suites use 201-206; the runner benchmark 212.
const SUBNET = 208;
const ctx = { door: 'cli' as const };

let fleet: Fleet | undefined;
let core: Core | undefined;
let scratch = '';
let home = '';
let dataDir = '';
let artifacts = '';

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
function cacheRoots(user: string): string[] {
  const uid = uidOf(user);
  return [`/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`];
}


/** Runs a command on a host through the core's pool. */
async function hostExec(name: string, command: string, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const conn = await c().ssh.connect(await c().hosts.sshTarget(name));
  const r = await conn.exec(command, stdin === undefined ? {} : { stdin });
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** Processes on a host whose command line contains `marker` (read from the host's /proc through exec): pid, pgid, args. */
async function hostProcs(name: string, marker: string): Promise<{ pid: number; pgid: number; args: string }[]> {
  const script = `for f in /proc/[0-9]*; do c=$(tr '\\0' ' ' < "$f/cmdline" 2>/dev/null); case "$c" in *"$1"*) s=$(cat "$f/stat" 2>/dev/null) || continue; s=\${s##*) }; set -- "$1" $s; echo "\${f#/proc/} $4 $c"; ;; esac; done\n`;
  const r = await hostExec(name, `sh -s '${marker}'`, script);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, pgid, ...args] = l.split(' ');
      return { pid: Number(pid), pgid: Number(pgid), args: args.join(' ').trim() };
    })
    .filter((p) => p.args.includes(marker) && !p.args.startsWith('sh -s ')); // not the probe itself
}

/** Processes on a host in process group `pgid`: pid, state and args (from the host's /proc, through exec). */
async function hostGroup(name: string, pgid: number): Promise<string[]> {
  const script = `for f in /proc/[0-9]*; do s=$(cat "$f/stat" 2>/dev/null) || continue; s=\${s##*) }; set -- $s; [ "$3" = "${pgid}" ] && echo "\${f#/proc/} $1 $(tr '\\0' ' ' < "$f/cmdline" 2>/dev/null)"; done; true\n`;
  const r = await hostExec(name, 'sh -s', script);
  return r.stdout.split('\n').filter(Boolean);
}

/** This machine's `serve` processes of the runner at `path` (the fleet's hosts are local accounts). */
function localServes(path: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, 2).join(' ') === `${path} serve`) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

interface Ran {
  job: JobView;
  log: string;
  chunks: { seq: number; stream: string; text: string }[];
}

function newWorker(jobId: number, extra: Partial<ConstructorParameters<typeof Worker>[0]> = {}): Worker {
  return new Worker({ store: c().store.data, queue: c().queue, logs: c().logs, events: c().events, executor: c().executor, owner: `test:${process.pid}:${Math.random().toString(36).slice(2, 8)}`, jobId, graceMs: 1000, ...extra });
}

async function readRun(jobId: number): Promise<Ran> {
  const job = await call(c().dispatch, 'jobs.get', { id: jobId }, ctx);
  const chunks: Ran['chunks'] = [];
  for (const r of job.runs) {
    const page = await call(c().dispatch, 'runs.logs', { runId: r.id, limit: 10_000 }, ctx);
    for (const ch of page.chunks) chunks.push({ seq: ch.seq, stream: ch.stream, text: Buffer.from(ch.data, 'base64').toString('utf8') });
  }
  return { job, log: chunks.map((x) => `[${x.stream}]${x.text}`).join(''), chunks };
}

const jobStatus = (jobId: number) => c().store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;

/** Runs a job in-process with a worker of its own; `during` runs once the job is queued. */
async function runJob(args: Record<string, unknown>, opts: { during?: (jobId: number) => Promise<void> } = {}): Promise<Ran> {
  const { jobId } = await call(c().dispatch, 'jobs.run', { mode: 'runner', interpreter: 'sh', ...args }, ctx);
  const worker = newWorker(jobId);
  const off = c().jobs.attach(worker);
  worker.start();
  try {
    if (opts.during) await opts.during(jobId);
    await until('the job to end', () => !['queued', 'running'].includes(jobStatus(jobId)), 60_000);
    await worker.idle();
  } finally {
    await worker.stop();
    off();
  }
  return readRun(jobId);
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'dist/cli/cronium.cjs')), 'dist/ is not built: run `node scripts/build.mjs --no-renderer`');
  scratch = mkdtempSync(join(tmpdir(), 'cronium-run-test-'));
  artifacts = join(scratch, 'artifacts');
  await buildRunnerArtifacts({ outDir: artifacts, version: appVersion(), dataDir: join(scratch, 'build-key'), runnerSrcDir: join(ROOT, 'runner') });
  home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  dataDir = join(scratch, 'data');
  fleet = await startFleet({ subnet: SUBNET });
  writeFileSync(join(home, '.ssh', 'known_hosts'), f().knownHosts(), { mode: 0o600 });
  core = openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [join(home, '.ssh', 'known_hosts')], agentSocket: null }, runner: { artifactsDir: artifacts } });
  for (const h of f().hosts) {
    await call(c().dispatch, 'hosts.add', { name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, password: h.password, jump: h.jump, useAgent: false, tags: ['fleet'] }, ctx);
  }
});

after(async () => {
  core?.close();
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('every profile runs a script in runner mode; noexec: --mode runner fails naming each location, auto runs direct and says why', async (t) => {
  const names = f().hosts.map((h) => h.name).filter((n) => n !== 'noexec');
  const ran = await runJob({ hosts: names, command: 'echo "runner says hi"; echo err >&2' });
  for (const r of ran.job.runs) {
    t.diagnostic(`${r.host}: ${r.status} deploy ${r.timings.deploy} ms start ${r.timings.start} ms exec ${r.timings.exec} ms total ${r.timings.total} ms`);
    assert.equal(r.status, 'succeeded', `${r.host}: ${r.errorCode} ${r.errorMessage}`);
    assert.equal(r.mode, 'runner', r.host);
    assert.equal(r.runnerVersion, appVersion(), r.host);
    assert.equal(typeof r.timings.deploy, 'number', r.host);
    assert.equal(r.exitCode, 0);
  }
  assert.match(ran.log, /\[stdout\]runner says hi\n/);
  assert.match(ran.log, /\[stderr\]err\n/);

  const strict = await runJob({ hosts: ['noexec'], command: 'echo no' });
  const s = strict.job.runs[0]!;
  assert.equal(s.status, 'failed');
  assert.equal(s.errorCode, 'RUNNER_DEPLOY_FAILED');
  for (const what of ['/.cache/cronium', '/dev/shm', '/tmp', '/var/tmp']) assert.ok(s.errorMessage!.includes(what), `names ${what}: ${s.errorMessage}`);

  const auto = await runJob({ hosts: ['noexec'], command: 'echo direct here', mode: 'auto' });
  const a = auto.job.runs[0]!;
  assert.equal(a.status, 'succeeded', `${a.errorCode} ${a.errorMessage}`);
  assert.equal(a.mode, 'direct');
  assert.match(a.modeReason ?? '', /no runner cache location/);
  assert.match(auto.log, /direct here/);
});

test('exit codes pass through; a script that KILLs itself reports signal KILL; input and env reach the script', async () => {
  const seven = await runJob({ hosts: ['default'], command: 'exit 7' });
  assert.deepEqual([seven.job.runs[0]!.status, seven.job.runs[0]!.exitCode, seven.job.runs[0]!.signal], ['failed', 7, null]);
  const killed = await runJob({ hosts: ['default'], command: 'kill -KILL $$' });
  const k = killed.job.runs[0]!;
  assert.deepEqual([k.status, k.exitCode, k.signal], ['failed', null, 'KILL']);
  const io = await runJob({ hosts: ['default'], command: 'echo "v=$GREETING"', env: { GREETING: 'hello' } });
  assert.equal(io.job.runs[0]!.status, 'succeeded');
  assert.match(io.log, /v=hello/);
  // The runner gives the job input to the script on stdin and in $CRONIUM_INPUT_FILE, as direct mode does.
  const withInput = await runJob({ hosts: ['default'], command: 'cat; cat "$CRONIUM_INPUT_FILE"', input: { a: 1 } });
  assert.equal(withInput.job.runs[0]!.status, 'succeeded', withInput.log);
  assert.equal(withInput.job.runs[0]!.mode, 'runner');
  assert.equal(withInput.log.match(/\{"a":1\}/g)?.length, 2, withInput.log);
});

async function stopTest(kind: 'timeout' | 'cancel'): Promise<void> {
  const marker = `${4000 + Math.floor(Math.random() * 1000)}.${Math.floor(Math.random() * 1e6)}`;
  let pgid = 0;
  const ran = await runJob(
    { hosts: ['default'], command: `sleep ${marker} & sleep ${marker}; wait`, ...(kind === 'timeout' ? { timeoutMs: 1500 } : {}) },
    {
      during: async (jobId) => {
        const procs = await until('the sleeps to start', async () => {
          const p = await hostProcs('default', `sleep ${marker}`);
          return p.length >= 2 ? p : undefined;
        });
        pgid = procs[0]!.pgid;
        assert.ok(procs.every((p) => p.pgid === pgid), `both sleeps in the script group: ${JSON.stringify(procs)}`);
        if (kind === 'cancel') await call(c().dispatch, 'jobs.cancel', { id: jobId }, ctx);
      },
    },
  );
  const r = ran.job.runs[0]!;
  assert.equal(r.status, kind === 'timeout' ? 'timed_out' : 'cancelled', `${r.errorCode} ${r.errorMessage}`);
  assert.equal(r.mode, 'runner');
  assert.match(r.errorMessage ?? '', /stopped with (TERM|KILL)/, 'killedWith is recorded');
  assert.match(ran.log, /\[system\]the runner stopped the script's process group with (TERM|KILL)/);
  assert.deepEqual(await hostProcs('default', `sleep ${marker}`), [], 'no sleep left on the host');
  const left = await until(`group ${pgid} to be gone`, async () => ((await hostGroup('default', pgid)).length === 0 ? [] : undefined), 3000).catch(async () => hostGroup('default', pgid));
  assert.deepEqual(left, [], `no process of group ${pgid} left on the host`);
}

test('timeout: timed_out, killedWith recorded, and no process of the script group is left on the host', () => stopTest('timeout'));
test('cancel: cancelled, killedWith recorded, and no process of the script group is left on the host', () => stopTest('cancel'));

test('a payload signed by another key is refused: PAYLOAD_REJECTED (unknown-key), the script never runs', async () => {
  const other = new InstallationKeys(join(scratch, 'other-key'));
  const executor = new Executor({ pool: c().ssh, resolve: (n) => c().hosts.sshTarget(n), runner: new RunnerExecutor({ deployer: c().runner, keys: other }) });
  const marker = `never-${Date.now()}`;
  const system: string[] = [];
  let out = '';
  const o = (await executor.execute(
    { runId: 999_001, jobId: 999_001, host: 'default', interpreter: 'sh', script: `touch /tmp/${marker}\n`, mode: 'runner', timeoutMs: 5000, graceMs: 500 },
    { stdout: (b) => void (out += b.toString()), stderr: (b) => void (out += b.toString()), system: (m) => system.push(m) },
    new AbortController().signal,
  )) as ExecOutcome;
  executor.closeIdle();
  assert.equal(o.status, 'failed');
  assert.equal(o.errorCode, 'PAYLOAD_REJECTED');
  assert.match(o.errorMessage ?? '', /unknown-key/);
  assert.equal(o.exitCode, 255, 'a start failure is 255-class');
  assert.equal(existsSync(`/tmp/${marker}`), false);
});

test('a tampered cached binary is caught before the run, recorded, replaced, and the run still succeeds', async () => {
  const d = (await call(c().dispatch, 'runner.deploy', { name: 'default' }, ctx)) as DeployResult;
  const good = sha256(readFileSync(d.path));
  // An idle resident runner executes this file: the kernel refuses writes to it (ETXTBSY). The
  // replacement a resident runner meets is the next test's.
  c().executor.closeIdle();
  await until('no serve process of the default host', async () => (await hostProcs('default', `${d.path} serve`)).length === 0);
  appendFileSync(d.path, Buffer.from('#tampered\n'));
  assert.notEqual(sha256(readFileSync(d.path)), good);
  const ran = await runJob({ hosts: ['default'], command: 'echo still fine' });
  const r = ran.job.runs[0]!;
  assert.equal(r.status, 'succeeded', `${r.errorCode} ${r.errorMessage}`);
  assert.equal(r.mode, 'runner');
  assert.match(ran.log, /\[system\]RUNNER_INTEGRITY_FAILED: .*replac/);
  assert.match(ran.log, /still fine/);
  assert.equal(sha256(readFileSync(d.path)), good, 'the binary was replaced by a verified one');
  const rows = await call(c().dispatch, 'runner.deployments', { name: 'default' }, ctx);
  assert.ok(rows.some((x) => x.status === 'failed' && /RUNNER_INTEGRITY_FAILED/.test(x.error ?? '')), 'the failure is recorded');
});

test('resident runner: the runs of one connection share one serve process behind the check, each in a runner process of its own; a binary replaced on the host is caught before the next run, recorded and replaced', async () => {
  const d = (await call(c().dispatch, 'runner.deploy', { name: 'default' }, ctx)) as DeployResult;
  const good = sha256(readFileSync(d.path));
  // The first run after a deploy hashes (no stat record yet); the ones after it run through serve.
  for (let i = 0; i < 3; i++) {
    const ran = await runJob({ hosts: ['default'], command: `echo resident $$ ${i}` });
    assert.equal(ran.job.runs[0]!.status, 'succeeded', `${ran.job.runs[0]!.errorCode} ${ran.job.runs[0]!.errorMessage}`);
  }
  const serve = await hostProcs('default', `${d.path} serve`);
  assert.equal(serve.length, 1, `one serve process: ${JSON.stringify(serve)}`);
  const pids: number[] = [];
  for (let i = 0; i < 3; i++) {
    const ran = await runJob({ hosts: ['default'], command: 'echo "pid $PPID"; cat /proc/$PPID/status | grep ^PPid' });
    assert.equal(ran.job.runs[0]!.status, 'succeeded', `${ran.job.runs[0]!.errorCode} ${ran.job.runs[0]!.errorMessage}`);
    // The script's parent is the run's runner process, whose parent is serve: a fresh process per run.
    const [, runnerPid] = /pid (\d+)/.exec(ran.log) ?? [];
    const [, parent] = /PPid:\s*(\d+)/.exec(ran.log) ?? [];
    assert.equal(Number(parent), serve[0]!.pid, `the runner process of run ${i} is serve's child: ${ran.log}`);
    pids.push(Number(runnerPid));
  }
  assert.equal(new Set(pids).size, 3, `a runner process per run: ${pids}`);
  assert.deepEqual((await hostProcs('default', `${d.path} serve`)).map((p) => p.pid), [serve[0]!.pid], 'still the same serve');

  // Replaced by rename while serve is idle (the way a deploy writes, and the only way past ETXTBSY).
  const tampered = `${d.path}.evil`;
  writeFileSync(tampered, Buffer.concat([readFileSync(d.path), Buffer.from('#tampered\n')]), { mode: 0o755 });
  execFileSync('chown', ['--reference', d.path, tampered]);
  renameSync(tampered, d.path);
  assert.notEqual(sha256(readFileSync(d.path)), good);
  const ran = await runJob({ hosts: ['default'], command: 'echo after the swap' });
  const r = ran.job.runs[0]!;
  assert.equal(r.status, 'succeeded', `${r.errorCode} ${r.errorMessage}`);
  assert.match(ran.log, /\[system\]RUNNER_INTEGRITY_FAILED: .*replac/);
  assert.match(ran.log, /after the swap/);
  assert.equal(sha256(readFileSync(d.path)), good, 'the binary was replaced by a verified one');
  await until('the old serve to be gone', async () => !(await hostProcs('default', `${d.path} serve`)).some((p) => p.pid === serve[0]!.pid));
});

test('MaxSessions 1: an idle resident runner gives the one session back as soon as another command of the connection waits for it', async () => {
  const d = (await call(c().dispatch, 'runner.deploy', { name: 'maxsessions1' }, ctx)) as DeployResult;
  for (let i = 0; i < 3; i++) {
    const ran = await runJob({ hosts: ['maxsessions1'], command: `echo one session ${i}` });
    assert.equal(ran.job.runs[0]!.status, 'succeeded', `${ran.job.runs[0]!.errorCode} ${ran.job.runs[0]!.errorMessage}`);
  }
  // The idle serve holds the host's only session (seen in this machine's /proc: the fleet's hosts
  // are local accounts); the exec below needs one on the same connection.
  assert.equal(localServes(d.path).length, 1, 'an idle resident runner holds the session');
  const t0 = performance.now();
  const probe = await hostExec('maxsessions1', 'true');
  const waited = performance.now() - t0;
  assert.equal(probe.code, 0, probe.stderr);
  assert.ok(waited < 10_000, `the exec waited ${Math.round(waited)} ms: the idle runner kept the session (it idles for 30 s)`);
  await until('the yielded serve to be gone', () => localServes(d.path).length === 0);
  // And runs still go on (a new resident opens on the next run that may).
  const again = await runJob({ hosts: ['maxsessions1'], command: 'echo still one session' });
  assert.equal(again.job.runs[0]!.status, 'succeeded', `${again.job.runs[0]!.errorCode} ${again.job.runs[0]!.errorMessage}`);
});

test('a fresh app process runs on the last verified deploy in one round trip; a binary gone from the host falls back to a full deploy', async () => {
  await runJob({ hosts: ['default'], command: 'echo warm' });
  const d = (await call(c().dispatch, 'runner.deploy', { name: 'default' }, ctx)) as DeployResult;
  const checks = () => c().store.sqlite.prepare("select count(*) from audit_log where action = 'runner.cache-hit' and target = 'default'").pluck().get() as number;
  const reopen = () => {
    core!.close();
    core = openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [join(home, '.ssh', 'known_hosts')], agentSocket: null }, runner: { artifactsDir: artifacts } });
  };
  reopen();
  const before = checks();
  const fast = await runJob({ hosts: ['default'], command: 'echo fresh' });
  const r = fast.job.runs[0]!;
  assert.equal(r.status, 'succeeded', `${r.errorCode} ${r.errorMessage}`);
  assert.deepEqual([r.mode, r.timings.deploy, checks()], ['runner', 0, before], 'no separate deploy-or-verify round trip');
  assert.match(fast.log, /fresh/);
  // That run hashed the binary and printed its stat record: kept with the deployment for the next process.
  const record = c().store.sqlite.prepare("select stat_record from runner_deployments where path = ? and status = 'ready'").pluck().get(d.path) as string | null;
  assert.ok(record && usableStatRecord(record), `stat record ${record}`);
  reopen();
  const third = await runJob({ hosts: ['default'], command: 'echo on the record' });
  assert.equal(third.job.runs[0]!.status, 'succeeded');

  rmSync(d.path);
  reopen();
  // Gone from the host: the stat differs from the record, the hash fails, a full deploy puts it back and clears the record.
  const again = await runJob({ hosts: ['default'], command: 'echo redeployed' });
  const a = again.job.runs[0]!;
  assert.equal(a.status, 'succeeded', `${a.errorCode} ${a.errorMessage}`);
  assert.ok((a.timings.deploy ?? 0) > 0, 'a full deploy ran');
  assert.ok(existsSync(d.path), 'the binary is back');
  assert.match(again.log, /redeployed/);
  // The install printed the stat it took just before its last hash: recorded with the deployment,
  // and the files (after a run: the state dir was made by the install) still stat the same, so
  // the next process's first run starts without hashing.
  const installed = c().store.sqlite.prepare("select stat_record from runner_deployments where path = ? and status = 'ready' order by id desc").pluck().get(d.path) as string | null;
  assert.ok(installed && usableStatRecord(installed), `stat record after the install: ${installed}`);
  const now = await hostExec('default', `sh -c ${sq(`p=${sq(d.path)}; ${STAT_COMMAND}`)}`);
  assert.equal(now.stdout.trim(), installed, 'the binary, its dir and the cache root stat as recorded');
});

test('a malformed frame is recorded as INVALID_INPUT, never a crash', async (t) => {
  // A fake "runner" that writes garbage, through a runner mode whose deployer answers with it
  // (the real deployer would re-verify and replace a planted binary). The default host shares /tmp.
  const d = (await call(c().dispatch, 'runner.deploy', { name: 'default' }, ctx)) as DeployResult;
  const fake = `/tmp/cronium-fake-runner-${process.pid}`;
  t.after(() => rmSync(fake, { force: true }));
  writeFileSync(fake, '#!/bin/sh\nread line\necho \'{"type":"hello","protocol":3,"version":"x","runId":"r1","pid":1}\'\necho "this is not a frame"\necho \'{"type":"exit","seq":1,"code":0,"signal":null,"reason":"exited","killedWith":null,"rusage":{"userMs":0,"sysMs":0,"maxRssKb":0},"durationMs":1,"limiter":"none"}\'\n', { mode: 0o755 });
  const deployer = { deploy: async () => ({ ...d, path: fake }) } as unknown as Core['runner'];
  const executor = new Executor({ pool: c().ssh, resolve: (n) => c().hosts.sshTarget(n), runner: new RunnerExecutor({ deployer, keys: new InstallationKeys(dataDir) }) });
  const system: string[] = [];
  const o = (await executor.execute(
    { runId: 999_002, jobId: 999_002, host: 'default', interpreter: 'sh', script: 'true\n', mode: 'runner', timeoutMs: 5000 },
    { stdout: () => undefined, stderr: () => undefined, system: (m) => system.push(m) },
    new AbortController().signal,
  )) as ExecOutcome;
  assert.equal(o.status, 'failed');
  assert.equal(o.errorCode, 'INVALID_INPUT');
  assert.ok(system.some((m) => /malformed frame/.test(m)), JSON.stringify(system));
});

test('a detached run survives losing the connection and a new worker: every log line stored exactly once', async (t) => {
  const lines = 40;
  const { jobId, runIds } = await call(
    c().dispatch,
    'jobs.run',
    { hosts: ['default'], mode: 'runner', interpreter: 'sh', detach: true, command: `i=1; while [ $i -le ${lines} ]; do echo "line-$i"; i=$((i+1)); sleep 0.1; done` },
    ctx,
  );
  const runId = runIds[0]!;
  assert.equal(c().store.sqlite.prepare('select detached from runs where id = ?').pluck().get(runId), 1);
  const stored = () => c().logs.lastStoredSeq(runId);
  const a = newWorker(jobId, { leaseMs: 1500, heartbeatMs: 300 });
  const offA = c().jobs.attach(a);
  a.start();
  await until('some lines', async () => (await stored()) >= 5 || undefined);
  // Kill the app's connection under the run: worker A reattaches by itself.
  const conn = await c().ssh.connect(await c().hosts.sshTarget('default'));
  conn.close();
  const atDrop = await stored();
  await until('lines after the reattach', async () => (await stored()) >= atDrop + 8 || undefined, 20_000);
  // Worker A goes away mid-run (the run is left running on the host); its lease expires.
  await a.stop();
  offA();
  assert.equal(jobStatus(jobId), 'running');
  const atStop = await stored();
  await new Promise((r) => setTimeout(r, 1700));
  const b = newWorker(jobId);
  const offB = c().jobs.attach(b);
  b.start();
  try {
    await until('the job to end', () => !['queued', 'running'].includes(jobStatus(jobId)), 30_000);
    await b.idle();
  } finally {
    await b.stop();
    offB();
  }
  t.diagnostic(`dropped the connection at seq ${atDrop}, stopped worker A at seq ${atStop}`);
  const ran = await readRun(jobId);
  const r = ran.job.runs[0]!;
  assert.equal(r.status, 'succeeded', `${r.errorCode} ${r.errorMessage}\n${ran.log}`);
  assert.equal(r.mode, 'runner');
  const out = ran.chunks.filter((x) => x.stream === 'stdout');
  assert.deepEqual(
    out.map((x) => x.seq),
    out.map((_, i) => i + 1),
    'stdout seqs are 1..N, no gap, no duplicate',
  );
  const seqs = ran.chunks.map((x) => x.seq);
  assert.equal(new Set(seqs).size, seqs.length, 'no duplicate seq');
  assert.equal(out.map((x) => x.text).join(''), Array.from({ length: lines }, (_, i) => `line-${i + 1}\n`).join(''));
  assert.ok(atStop < lines, 'worker A was stopped before the script ended');
});

test('CLI: run --mode runner --json shows mode runner, the runner version and timings with deploy', async () => {
  const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '', CRONIUM_RUNNER_DIR: artifacts };
  const r = await cronium(['--data-dir', dataDir, 'run', '--host', 'default', '--command', 'echo hello; exit 3', '--mode', 'runner', '--interpreter', 'sh', '--json'], { env });
  assert.equal(r.code, 3, r.stderr);
  const o = JSON.parse(r.stdout) as { runs?: { mode: string; runnerVersion: string; timings: Record<string, number | null> }[]; mode?: string; runnerVersion?: string; timings?: Record<string, number | null> };
  const run = o.runs?.[0] ?? (o as { mode: string; runnerVersion: string; timings: Record<string, number | null> });
  assert.equal(run.mode, 'runner', r.stdout);
  assert.ok(run.runnerVersion, r.stdout);
  assert.equal(typeof run.timings.deploy, 'number', r.stdout);
  assert.equal(typeof run.timings.exec, 'number', r.stdout);
  const d = await cronium(['--data-dir', dataDir, 'run', '--host', 'default', '--command', 'echo detached', '--mode', 'runner', '--interpreter', 'sh', '--detach', '--json'], { env });
  assert.equal(d.code, 0, d.stderr);
  const dj = JSON.parse(d.stdout) as { runId: number; mode: string };
  assert.equal(dj.mode, 'runner');
  assert.equal(c().store.sqlite.prepare('select detached from runs where id = ?').pluck().get(dj.runId), 1, '--detach marks the run detached');
});

// Accounts outlive fleets: leave no cached runner behind.
after(() => {
  if (fleet) for (const h of fleet.hosts) for (const d of cacheRoots(h.user)) rmSync(d, { recursive: true, force: true });
});

test('two inventory entries for one account on one host (import aliases) run together in runner mode, neither rejects the other\'s payload', async () => {
  const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '', CRONIUM_RUNNER_DIR: artifacts };
  const d = f().host('default');
  for (const alias of ['alias-a', 'alias-b']) {
    const add = await cronium(['--data-dir', dataDir, 'hosts', 'add', alias, '--address', d.address, '--user', d.user, '--identity', d.identityFile!, '--no-agent'], { env });
    assert.equal(add.code, 0, add.stderr);
  }
  for (let round = 0; round < 3; round++) {
    const r = await cronium(['--data-dir', dataDir, 'run', '--host', 'alias-a', '--host', 'alias-b', '--command', 'sleep 0.3; echo ok', '--mode', 'runner', '--interpreter', 'sh', '--json'], { env });
    assert.equal(r.code, 0, `round ${round}: ${r.stdout}\n${r.stderr}`);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string; errorCode: string | null });
    assert.deepEqual(rows.map((x) => `${x.host}:${x.status}`).sort(), ['alias-a:succeeded', 'alias-b:succeeded'], r.stdout);
  }
});
