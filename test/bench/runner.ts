/**
 * Runner mode's per-run overhead on the test fleet (loopback): the wall time of one run of the
 * script `true` through the executor in runner mode (warm: the runner is cached and verified
 * before every run, the connection is pooled) against direct mode on the same host. Runs of the
 * two modes alternate, so both see the same machine load; each figure is a median.
 * Needs root (the fleet) and Go (artifacts are built into a temp dir, linux-amd64 only).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { appVersion, openCore } from '../../electron/core/core';
import type { ExecMode, ExecOutcome, ExecRequest } from '../../electron/core/exec/types';
import { buildRunnerArtifacts } from '../../electron/core/runner/artifacts';
import { startFleet } from '../fleet/fleet';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Its own fleet subnet (the runner integration test uses 208). */
const SUBNET = 212;

/** Wall times in ms per mode, and the runner's own phases. */
export interface RunnerFigures {
  runner: number[];
  direct: number[];
  /** The per-run check (deploy phase) of runner runs. */
  deploy: number[];
}

/** Runs the runner-mode benchmark, or says why it cannot run here. */
export async function benchRunner(opts: { runs?: number } = {}): Promise<RunnerFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  if (spawnSync('go', ['version']).status !== 0) return { skipped: 'no Go to build the runner' };
  const runs = Math.max(20, opts.runs ?? 25);
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-runner-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'default', profile: 'default' }] });
  const user = fleet.host('default').user;
  const uid = statSync(`/home/${user}`).uid;
  const wipe = () => {
    for (const d of [`/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`]) rmSync(d, { recursive: true, force: true });
  };
  try {
    const artifactsDir = join(scratch, 'artifacts');
    await buildRunnerArtifacts({ outDir: artifactsDir, version: appVersion(), dataDir: join(scratch, 'build-key'), runnerSrcDir: join(ROOT, 'runner'), targets: ['linux-amd64'] });
    const knownHosts = join(scratch, 'known_hosts');
    spawnSync('sh', ['-c', 'cat > "$1"', 'sh', knownHosts], { input: fleet.knownHosts() });
    const core = openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null }, runner: { artifactsDir } });
    try {
      const h = fleet.host('default');
      const host = core.hosts.add({ name: 'default', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      let n = 0;
      const once = async (mode: ExecMode): Promise<{ ms: number; outcome: ExecOutcome }> => {
        n++;
        const req: ExecRequest = { runId: 1_000_000 + n, jobId: 1_000_000 + n, host: host.name, interpreter: 'sh', script: 'true\n', mode, timeoutMs: 30_000, graceMs: 1000 };
        const t0 = performance.now();
        const outcome = await core.executor.execute(req, { stdout: () => undefined, stderr: () => undefined, system: () => undefined }, new AbortController().signal);
        const ms = performance.now() - t0;
        if (outcome.status !== 'succeeded' || outcome.mode !== mode) throw new Error(`bench: a ${mode} run ended ${outcome.status} in ${outcome.mode} mode: ${outcome.errorCode} ${outcome.errorMessage}`);
        return { ms, outcome };
      };
      // Warm up: deploy, pool the connection, and let both paths JIT.
      for (let i = 0; i < 3; i++) {
        await once('runner');
        await once('direct');
      }
      const figures: RunnerFigures = { runner: [], direct: [], deploy: [] };
      for (let i = 0; i < runs; i++) {
        const r = await once('runner');
        figures.runner.push(r.ms);
        if (r.outcome.timings.deploy !== null) figures.deploy.push(r.outcome.timings.deploy);
        figures.direct.push((await once('direct')).ms);
      }
      return figures;
    } finally {
      core.close();
    }
  } finally {
    wipe();
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
