/**
 * A thousand hosts (issue #15.4): one job of `true`, and of a 1-second script, to 1,000 fleet
 * hosts at concurrency 100 and 200, direct mode (cold connections) and auto mode (the runner
 * already cached on the hosts: a second pass), against parallel-ssh at the same concurrency.
 *
 * The hosts: a packed fleet (test/fleet: one sshd per 16 loopback addresses, 63 sshd processes,
 * every host its own 127.x.y.z). The app runs in a child process of its own (this file run as a
 * script), so its peak RSS (VmHWM) and the most file descriptors it held are its own, the
 * descriptors counted by itself every 100 ms (a count lists /proc/self/fd: 0.18 ms with 480 open,
 * which every 20 ms cost the measured app 2 % of its CPU); the parent records them. A run that fails or passes its limit is recorded in
 * its row and the benchmark goes on. Needs root (the fleet).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { call } from '../../electron/core/api/dispatcher';
import { openCore } from '../../electron/core/core';
import { Worker } from '../../electron/core/exec/worker';
import Database from 'better-sqlite3';
import { Client } from 'ssh2';
import { DB_FILE } from '../../electron/core/db/database';
import { buildPrelude } from '../../electron/core/exec/prelude';
import { DIRECT_COMMAND } from '../../electron/core/exec/direct';
import { checkedCommand, runnerCommand, runnerRunId, sq } from '../../electron/core/exec/runner-mode';
import { runnerLayoutOf } from '../../electron/core/runner/deploy-scripts';
import { runnerHostId } from '../../electron/core/runner/deploy';
import { InstallationKeys, newNonce } from '../../electron/core/runner/payload';
import { RUNNER_LIMITS } from '../../electron/shared/runner-protocol';
import { startFleet } from '../fleet/fleet';
import { machineCpu } from './api-client';
import { timePeer, type PeerRun } from './peers';

const SUBNET = 218;
const HOSTS = 1000;
const LIMIT_MS = 120_000;

/** One measured fan-out of the app. */
export interface AppFanout {
  ms: number;
  peakRssMb: number;
  peakFds: number;
  /** CPU time the app used during the job (user + system), ms: near the wall time means the app was the bottleneck. */
  cpuMs: number;
  succeeded: number;
  failed: number;
  /** Why some hosts failed (the most common error codes). */
  errors: Record<string, number>;
}

/** The figures: per case (script, concurrency, way) a sample or why there is none, and the machine's CPU busy time during it (core-seconds). */
export interface Fanout1000Figures {
  cases: { script: 'true' | 'sleep 1'; concurrency: number; way: string; run: (AppFanout & { ok: true }) | (PeerRun & { ok: boolean }); busyCoreS: number }[];
}

/** What a floor run sends to one host: the command, and what it writes on the channel's stdin (kept open until the channel closes). */
export type FloorCommand = { command: string; stdin?: string };

/**
 * The floor of a fan-out on this machine: bare ssh2, no app (no store, queue, pool or prelude):
 * connect with the host's key, exec the command, wait for the channel to close, disconnect, at
 * `concurrency` hosts at a time. The hosts' sshd sessions cost the same as the app's. A run that
 * exits other than 0 counts as failed.
 */
export async function bareSsh2(hosts: readonly FleetHostRef[], what: (h: FleetHostRef) => FloorCommand, concurrency: number): Promise<PeerRun> {
  let failed = 0;
  let first = '';
  const one = (h: FleetHostRef) =>
    new Promise<void>((resolve) => {
      const c = new Client();
      const { command, stdin } = what(h);
      let settled = false;
      const done = (e?: Error | string) => {
        if (settled) return;
        settled = true;
        if (e) {
          failed++;
          first ||= typeof e === 'string' ? e : e.message;
        }
        c.end();
        resolve();
      };
      c.on('ready', () =>
        c.exec(command, (err, ch) => {
          if (err) return done(err);
          let code: number | null = null;
          ch.on('exit', (c: number | null) => (code = c));
          ch.on('close', () => done(code === 0 ? undefined : `${h.name}: exit ${code}`)).resume().stderr.resume();
          // Direct mode keeps stdin open for the whole run (EOF there cancels it); so does this.
          if (stdin !== undefined) ch.write(stdin);
        }),
      );
      c.on('error', done);
      c.connect({ host: h.address, port: h.port, username: h.user, privateKey: readFileSync(h.identityFile!), readyTimeout: 60_000 });
    });
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < hosts.length) await one(hosts[next++]!);
  }));
  const ms = performance.now() - t0;
  return failed ? { ok: false, failure: `${failed} of ${hosts.length} failed: ${first}` } : { ok: true, ms };
}

export type FleetHostRef = { name: string; address: string; port: number; user: string; identityFile?: string };

/**
 * The floors of the two modes' host-side work, measured with no app (bare ssh2, as above), so a
 * row shows how much of its time is the hosts' and how much the app's:
 * - direct mode: `sh -s` fed direct mode's own prelude for the script (buildPrelude), as the app
 *   sends it: the run's temp files, the process group, the cleanup;
 * - runner mode, two floors: the per-run check of the cached runner exactly as the app sends it
 *   (checkedCommand with the host's stat record from the app's store) and the runner's start
 *   alone (`cronium-runner version`); and the same check with a whole run: a payload for the
 *   script signed with the app's installation key, read, verified and claimed by the runner,
 *   which starts the script and writes its frames, as the app's run does but with no helpers
 *   (no tunnel or helper socket; the app's runs have them).
 */
export function floors(dataDir: string, script: string): Record<'direct' | 'runnerStart' | 'runnerRun', (h: FleetHostRef) => FloorCommand> {
  const db = new Database(join(dataDir, DB_FILE), { readonly: true });
  const rows = db
    .prepare("select h.name as name, h.id as hostDbId, d.path as path, d.version as version, d.sha256 as sha256, d.stat_record as record from runner_deployments d join hosts h on h.id = d.host_id where d.status = 'ready'")
    .all() as { name: string; hostDbId: number; path: string; version: string; sha256: string; record: string | null }[];
  db.close();
  const byHost = new Map(rows.map((r) => [r.name, r]));
  const keys = new InstallationKeys(dataDir);
  // Run ids of their own (the runner refuses one it has seen): past the app's, and new per call.
  let next = Date.now() * 10;
  const checked = (h: FleetHostRef, run: (d: (typeof rows)[number]) => string): string => {
    const d = byHost.get(h.name);
    // No deployment recorded: the command fails, and the floor's row says so.
    if (!d) return 'exit 3';
    return checkedCommand({ path: d.path, sha256: d.sha256, shaTool: 'sha256sum' }, run(d), 'stat', d.record ?? undefined);
  };
  return {
    // The interpreter of the app's job: `jobs.run` with a command defaults to bash.
    direct: () => ({ command: DIRECT_COMMAND, stdin: buildPrelude({ interpreter: 'bash', script }).text }),
    runnerStart: (h) => ({ command: checked(h, (d) => `${sq(d.path)} version >/dev/null`) }),
    runnerRun: (h) => {
      const d = byHost.get(h.name);
      const iat = Date.now();
      const hostId = d ? runnerHostId(d.hostDbId, keys.keyId()) : '';
      const envelope = d
        ? keys.sign({
            jobId: 'j0',
            runId: runnerRunId(keys.keyId(), next++, 1),
            hostId,
            nonce: newNonce(),
            iat,
            exp: iat + 120_000,
            interpreter: 'bash',
            script,
            env: {},
            limits: { timeoutMs: 60_000, graceMs: 5000, maxOutputBytes: RUNNER_LIMITS.defaultMaxOutputBytes },
            detach: false,
            pty: false,
            helper: { transport: 'none' },
          })
        : '';
      return { command: checked(h, (dd) => runnerCommand({ path: dd.path, hostId, stateDir: runnerLayoutOf(dd.path, dd.version, dd.sha256).stateDir }, 'run')), stdin: envelope };
    },
  };
}

/** The floors' names (rows find their floor by them). */
export const FLOOR_DIRECT = "bare ssh2 + direct mode's prelude, no app";
export const FLOOR_RUNNER_START = "bare ssh2 + the runner's check and start, no app";
export const FLOOR_RUNNER = "bare ssh2 + the runner's check and a whole run without helpers, no app";

type ChildArgs = { dataDir: string; knownHosts: string; command: string; concurrency: number; mode: 'direct' | 'auto' };

/** The child: the app with one worker; runs one job over every host and reports its own peak figures. */
async function child(a: ChildArgs): Promise<AppFanout> {
  let peakFds = 0;
  const sampleFds = () => {
    peakFds = Math.max(peakFds, readdirSync('/proc/self/fd').length);
  };
  const sampler = setInterval(sampleFds, 100);
  const core = openCore({ dataDir: a.dataDir, door: 'cli', ssh: { knownHostsFiles: [a.knownHosts], agentSocket: null } });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    const { jobId } = await call(core.dispatch, 'jobs.run', { tag: 'k', command: a.command, mode: a.mode, concurrency: a.concurrency, timeoutMs: 60_000 }, { door: 'cli' });
    const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `bench:${process.pid}`, jobId, globalLimit: a.concurrency, perHostLimit: 4, pollMs: 5, ...core.runHooks });
    const detach = core.jobs.attach(worker);
    worker.start();
    for (;;) {
      const status = core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
      if (!['queued', 'running'].includes(status)) break;
      if (performance.now() - t0 > LIMIT_MS) {
        await core.jobs.cancel(jobId);
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await worker.stop();
    detach();
    const rows = core.store.sqlite.prepare('select status, error_code as code, count(*) as n from runs where job_id = ? group by status, error_code').all(jobId) as { status: string; code: string | null; n: number }[];
    sampleFds();
    const status = readFileSync('/proc/self/status', 'utf8');
    const peakRssMb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
    const errors: Record<string, number> = {};
    for (const r of rows) if (r.status !== 'succeeded') errors[r.code ?? r.status] = (errors[r.code ?? r.status] ?? 0) + r.n;
    return {
      ms,
      peakRssMb,
      peakFds,
      cpuMs: (cpu.user + cpu.system) / 1000,
      succeeded: rows.filter((r) => r.status === 'succeeded').reduce((n, r) => n + r.n, 0),
      failed: rows.filter((r) => r.status !== 'succeeded').reduce((n, r) => n + r.n, 0),
      errors,
    };
  } finally {
    clearInterval(sampler);
    core.close();
  }
}

/** Runs the child for one case; its one line of JSON on stdout is the result. */
function runChild(a: ChildArgs): Promise<AppFanout | { failure: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), LIMIT_MS + 30_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as AppFanout);
      } catch {
        resolve({ failure: `the app exited ${code}: ${err.trim().split('\n').slice(-2).join(' / ').slice(0, 200)}` });
      }
    });
  });
}

/** Runs the 1,000-host benchmark, or says why it cannot run here. */
export async function benchFanout1000(opts: { concurrencies?: number[] } = {}): Promise<Fanout1000Figures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-1000-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [], defaults: HOSTS, packed: true });
  try {
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, fleet.knownHosts());
    const cfg = join(scratch, 'ssh_config');
    writeFileSync(cfg, fleet.sshConfig());
    const hostsFile = join(scratch, 'hosts');
    writeFileSync(hostsFile, `${fleet.hosts.map((h) => h.name).join('\n')}\n`);
    const dataDir = join(scratch, 'data');
    const setup = openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
    try {
      for (const h of fleet.hosts) await setup.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: ['k'] });
    } finally {
      setup.close();
    }
    const figures: Fanout1000Figures = { cases: [] };
    const app = async (script: 'true' | 'sleep 1', concurrency: number, mode: 'direct' | 'auto', way: string) => {
      const c0 = machineCpu();
      const r = await runChild({ dataDir, knownHosts, command: script, concurrency, mode });
      figures.cases.push({ script, concurrency, way, run: 'failure' in r ? { ok: false, failure: r.failure } : { ok: true, ...r }, busyCoreS: machineCpu().busy - c0.busy });
    };
    // The runner cached on the hosts first: auto mode is then warm. The packed fleet's hosts share
    // one account, so one cache dir, where the first pass pins 1,000 host ids in the version dir:
    // that moves the dir's mtime after most hosts' stat records were taken (the per-run check
    // then hashes instead, as it must when the dir changed). A second pass records the settled
    // state, as a fleet of separate hosts would have after its first pass.
    await runChild({ dataDir, knownHosts, command: 'true', concurrency: 200, mode: 'auto' });
    await runChild({ dataDir, knownHosts, command: 'true', concurrency: 200, mode: 'auto' });
    for (const script of ['true', 'sleep 1'] as const) {
      for (const concurrency of opts.concurrencies ?? [100, 200]) {
        await app(script, concurrency, 'direct', `cronium (direct, concurrency ${concurrency})`);
        await app(script, concurrency, 'auto', `cronium (runner, warm, concurrency ${concurrency})`);
        const bare = async (way: string, what: (h: FleetHostRef) => FloorCommand) => {
          const b0 = machineCpu();
          const run = await bareSsh2(fleet.hosts, what, concurrency);
          figures.cases.push({ script, concurrency, way, run, busyCoreS: machineCpu().busy - b0.busy });
        };
        await bare(`bare ssh2, no app (connect, exec, close) at ${concurrency}`, () => ({ command: script }));
        if (script === 'true') {
          const f = floors(dataDir, script);
          await bare(`${FLOOR_DIRECT} at ${concurrency}`, f.direct);
          await bare(`${FLOOR_RUNNER_START} at ${concurrency}`, f.runnerStart);
          await bare(`${FLOOR_RUNNER} at ${concurrency}`, f.runnerRun);
        }
        const c0 = machineCpu();
        const peer = await timePeer('parallel-ssh', ['-h', hostsFile, '-p', String(concurrency), '-t', '60', '-x', `-F ${cfg}`, '-O', 'BatchMode=yes', script], { timeoutMs: LIMIT_MS });
        figures.cases.push({ script, concurrency, way: `parallel-ssh -p ${concurrency}`, run: peer, busyCoreS: machineCpu().busy - c0.busy });
      }
    }
    return figures;
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]?.startsWith('{')) {
  const r = await child(JSON.parse(process.argv[2]) as ChildArgs);
  console.log(JSON.stringify(r));
}
