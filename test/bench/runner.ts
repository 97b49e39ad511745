/**
 * Runner mode's per-run overhead on the test fleet (loopback): the wall time of one run of the
 * script `true` (and of a 1-second script, `sleep 1`) through the executor in runner mode (warm:
 * the runner is cached and verified before every run, the connection is pooled) against direct
 * mode, `ssh host …` and `ssh` through a warm ControlMaster, all on the same host. Runs of the
 * four ways alternate, so all see the same machine load; each figure is a median.
 * Also the parts of the per-run check, on the pooled connection: one exec of each SHA-256 tool
 * on the cached binary, against an exec of `true` (what the check adds to a run); and what runner
 * mode does on the host that direct mode does not, each timed 200 times in a loop in one exec (so
 * no round trip is in it): the check's `stat` in a command substitution and the runner's start.
 * Needs root (the fleet) and Go to build the runner (else the built resources/runner; see artifacts.ts).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openCore } from '../../electron/core/core';
import type { ExecMode, ExecOutcome, ExecRequest } from '../../electron/core/exec/types';
import { sq } from '../../electron/core/exec/runner-mode';
import { STAT_COMMAND } from '../../electron/core/runner/deploy-scripts';
import { startFleet } from '../fleet/fleet';
import { PeerFailure, timePeerSync, startControlMaster } from './peers';
import { benchArtifacts } from './artifacts';

/** Its own fleet subnet (the runner integration test uses 208). */
const SUBNET = 212;

/** The four ways to run one script on one host. */
export type Way = 'runner' | 'direct' | 'ssh' | 'controlMaster';

/** Wall times in ms per way, for `true` and for `sleep 1`, and the parts of the per-run check. */
export interface RunnerFigures {
  /** Runner mode, default check (the cached binary's stat record; it hashes when that changed). */
  runner: number[];
  /** Runner mode with execution.runnerCheck = hash: the binary re-hashed before every run. */
  runnerStrict: number[];
  /** Runner mode, default check, without resident runners (CRONIUM_RUNNER_RESIDENT=0): a channel, the check and a runner start per run. */
  runnerPerRun: number[];
  direct: number[];
  /** `ssh host true`, a new ssh process (and handshake) per run. */
  ssh: number[];
  /** `ssh host true` through a warm ControlMaster. */
  controlMaster: number[];
  /** The per-run check (deploy phase) of runner runs. */
  deploy: number[];
  /** The 1-second script, per way. */
  sleep1: Record<Way, number[]>;
  /** One exec on the pooled connection: `true`, and each hash tool on the cached binary. */
  hashExec: Record<string, number[]>;
  /** Size of the runner binary in bytes. */
  binaryBytes: number;
  /**
   * Host-side parts of runner mode's extra time, in ms per occurrence (median of 3 loops of
   * PART_LOOP in one exec, an empty loop's time taken off): the check's stat in a command
   * substitution, `cronium-runner version`, and `/bin/true` (a small C program's exec).
   */
  parts: { stat: number; runnerStart: number; cStart: number } | undefined;
  /** A peer way that failed or timed out (no more samples after it): what its baselines say instead. */
  failures: Partial<Record<'ssh' | 'controlMaster', string>>;
}

/** Runs the runner-mode benchmark, or says why it cannot run here. */
export async function benchRunner(opts: { runs?: number; sshRuns?: number; sleepRuns?: number } = {}): Promise<RunnerFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  const runs = Math.max(20, opts.runs ?? 25);
  const sshRuns = Math.min(runs, opts.sshRuns ?? 15);
  const sleepRuns = opts.sleepRuns ?? 5;
  const hashRuns = 20;
  let master: ChildProcess | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-runner-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'default', profile: 'default' }] });
  const user = fleet.host('default').user;
  const uid = statSync(`/home/${user}`).uid;
  const wipe = () => {
    for (const d of [`/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`]) rmSync(d, { recursive: true, force: true });
  };
  try {
    const artifactsDir = await benchArtifacts();
    if (!artifactsDir) return { skipped: 'no runner artifacts and no Go to build them' };
    const knownHosts = join(scratch, 'known_hosts');
    spawnSync('sh', ['-c', 'cat > "$1"', 'sh', knownHosts], { input: fleet.knownHosts() });
    const core = openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null }, runner: { artifactsDir } });
    try {
      const h = fleet.host('default');
      const host = await core.hosts.add({ name: 'default', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      let n = 0;
      const once = async (mode: ExecMode, script = 'true\n'): Promise<{ ms: number; outcome: ExecOutcome }> => {
        n++;
        const req: ExecRequest = { runId: 1_000_000 + n, jobId: 1_000_000 + n, host: host.name, interpreter: 'sh', script, mode, timeoutMs: 30_000, graceMs: 1000 };
        const t0 = performance.now();
        const outcome = await core.executor.execute(req, { stdout: () => undefined, stderr: () => undefined, system: () => undefined }, new AbortController().signal);
        const ms = performance.now() - t0;
        if (outcome.status !== 'succeeded' || outcome.mode !== mode) throw new Error(`bench: a ${mode} run ended ${outcome.status} in ${outcome.mode} mode: ${outcome.errorCode} ${outcome.errorMessage}`);
        return { ms, outcome };
      };
      const sshBase = ['-F', join(fleet.dir, 'ssh_config'), '-o', 'BatchMode=yes'];
      const controlPath = join(fleet.dir, 'cm-runner-bench');
      const mux = ['-o', 'ControlMaster=no', '-o', `ControlPath=${controlPath}`];
      const failures: RunnerFigures['failures'] = {};
      /** One ssh peer run of a way, unless that way failed before (then nothing is recorded). */
      const timeSsh = (way: 'ssh' | 'controlMaster', command: string, into: number[]): void => {
        if (failures[way]) return;
        try {
          into.push(timePeerSync('ssh', [...sshBase, ...(way === 'controlMaster' ? mux : []), 'default', command], 60_000));
        } catch (e) {
          if (!(e instanceof PeerFailure)) throw e;
          failures[way] = e.message;
        }
      };
      const cm = await startControlMaster(sshBase, 'default', controlPath);
      master = cm.child;
      if (cm.failure) failures.controlMaster = cm.failure;
      // Warm up: deploy, pool the connection, and let both paths JIT.
      for (let i = 0; i < 3; i++) {
        await once('runner');
        await once('direct');
        timeSsh('controlMaster', 'true', []);
      }
      const figures: RunnerFigures = {
        runner: [],
        runnerStrict: [],
        direct: [],
        ssh: [],
        controlMaster: [],
        runnerPerRun: [],
        deploy: [],
        sleep1: { runner: [], direct: [], ssh: [], controlMaster: [] },
        hashExec: {},
        binaryBytes: 0,
        parts: undefined,
        failures,
      };
      for (let i = 0; i < runs; i++) {
        const r = await once('runner');
        figures.runner.push(r.ms);
        if (r.outcome.timings.deploy !== null) figures.deploy.push(r.outcome.timings.deploy);
        figures.direct.push((await once('direct')).ms);
        await core.settings.set({ execution: { runnerCheck: 'hash' } });
        figures.runnerStrict.push((await once('runner')).ms);
        await core.settings.set({ execution: { runnerCheck: 'stat' } });
        process.env.CRONIUM_RUNNER_RESIDENT = '0';
        try {
          figures.runnerPerRun.push((await once('runner')).ms);
        } finally {
          delete process.env.CRONIUM_RUNNER_RESIDENT;
        }
        timeSsh('controlMaster', 'true', figures.controlMaster);
        if (i < sshRuns) timeSsh('ssh', 'true', figures.ssh);
      }
      for (let i = 0; i < sleepRuns; i++) {
        figures.sleep1.runner.push((await once('runner', 'sleep 1\n')).ms);
        figures.sleep1.direct.push((await once('direct', 'sleep 1\n')).ms);
        timeSsh('ssh', 'sleep 1', figures.sleep1.ssh);
        timeSsh('controlMaster', 'sleep 1', figures.sleep1.controlMaster);
      }
      // The per-run check's parts: each hash tool on the cached binary, one exec on a pooled connection.
      const deployed = await core.runner.deploy(host.name);
      figures.binaryBytes = Number(spawnSync('stat', ['-c', '%s', deployed.path], { encoding: 'utf8' }).stdout.trim());
      const conn = await core.ssh.connect(await core.hosts.sshTarget(host.name));
      try {
        const p = `'${deployed.path}'`;
        const tools: Record<string, string> = {
          true: 'true',
          'openssl dgst -sha256': `openssl dgst -sha256 -r ${p}`,
          sha256sum: `sha256sum ${p}`,
          'shasum -a 256': `shasum -a 256 ${p}`,
        };
        for (const [label, command] of Object.entries(tools)) {
          const first = await conn.exec(command);
          if (first.code !== 0) continue;
          if (label !== 'true' && !first.stdout.toString().startsWith(deployed.sha256)) throw new Error(`bench: ${label} disagrees with the deployed hash`);
          const samples: number[] = [];
          for (let i = 0; i < hashRuns; i++) {
            const t0 = performance.now();
            await conn.exec(command);
            samples.push(performance.now() - t0);
          }
          figures.hashExec[label] = samples;
        }
        figures.parts = await hostParts(conn, deployed.path);
      } finally {
        conn.close();
      }
      spawnSync('ssh', [...sshBase, ...mux, '-O', 'exit', 'default'], { stdio: 'ignore', timeout: 10_000 });
      return figures;
    } finally {
      core.close();
    }
  } finally {
    master?.kill('SIGTERM');
    wipe();
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** How many times each part runs in one exec's loop. */
export const PART_LOOP = 200;

/** The host-side parts of runner mode's extra time (RunnerFigures.parts); undefined where a loop failed. */
async function hostParts(conn: { exec(command: string): Promise<{ code: number | null; stdout: Buffer }> }, path: string): Promise<RunnerFigures['parts']> {
  const loop = (body: string) => `sh -c ${sq(`p=${sq(path)}; i=0; while [ $i -lt ${PART_LOOP} ]; do ${body}; i=$((i+1)); done`)}`;
  const time = async (body: string): Promise<number | undefined> => {
    const samples: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const out = await conn.exec(loop(body));
      if (out.code !== 0) return undefined;
      samples.push(performance.now() - t0);
    }
    return samples.sort((a, b) => a - b)[1]!;
  };
  const empty = await time(':');
  const stat = await time(`s=$(${STAT_COMMAND})`);
  const runner = await time('"$p" version >/dev/null');
  const c = await time('/bin/true');
  if (empty === undefined || stat === undefined || runner === undefined || c === undefined) return undefined;
  const per = (x: number) => Math.max(0, x - empty) / PART_LOOP;
  return { stat: per(stat), runnerStart: per(runner), cStart: per(c) };
}
