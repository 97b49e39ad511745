/**
 * Fan-out and scheduling figures on the test fleet (loopback):
 * - one trivial script (`true`) to 10, 50 and 100 hosts: Cronium (direct mode, concurrency
 *   50, cold: new connections, as a scheduled job would start after an idle period) against
 *   an `xargs -P 50` loop over `ssh`, parallel-ssh (`-p 50`) and Ansible ad-hoc (`-f 50`),
 *   each where installed, all measured in the same run against the same hosts;
 * - scheduling jitter: how late a per-second schedule's fires enqueue their job.
 * A peer (or Cronium) that fails or runs past its limit is recorded as such for that size, is not
 * run again at that size or larger ones, and the rest goes on (peers.ts); fanoutRows turns it all
 * into the table's rows. Needs root (the fleet).
 */
import { spawnSync } from 'node:child_process';
import type { Row } from './table';
import { peerBaseline, stats } from './table';
import { PEER_TIMEOUT_MS, seconds, timePeer, type PeerRun } from './peers';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call } from '../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../electron/core/core';
import { Worker } from '../../electron/core/exec/worker';
import { Scheduler } from '../../electron/core/scheduler/scheduler';
import { startFleet } from '../fleet/fleet';

const SUBNET = 215;
const ctx = { door: 'cli' as const };

/** Wall times in ms per tool and host count, how a tool failed at a size, and jitter samples in ms. */
export interface FanoutFigures {
  sizes: number[];
  wall: Record<string, Record<number, number[]>>;
  /** Per tool and host count: why it has no figure there (failed, timed out, or not run after that). */
  failures: Record<string, Record<number, string>>;
  jitterMs: number[];
}

/** The tool whose row each size gets; the others are its baselines. */
export const OURS = 'cronium (direct, concurrency 50)';

/** The table rows of the fan-out figures: one per size, every peer a baseline (or how it failed), and the jitter. */
export function fanoutRows(fan: FanoutFigures): Row[] {
  const rows: Row[] = [];
  const tools = [...new Set([...Object.keys(fan.wall), ...Object.keys(fan.failures)])];
  const peerOf = (tool: string, n: number) => ({ samples: fan.wall[tool]?.[n] ?? [], ...(fan.failures[tool]?.[n] ? { failure: fan.failures[tool]![n]! } : {}) });
  for (const n of fan.sizes) {
    const ours = peerOf(OURS, n);
    const peers = tools.filter((t) => t !== OURS).map((t) => peerBaseline(t, peerOf(t, n)));
    const name = `fan-out of \`true\` to ${n} hosts, cold connections (${OURS})`;
    if (ours.failure || ours.samples.length === 0) {
      rows.push({ name, median: Number.NaN, spread: '-', unit: 'ms', baselines: [{ label: 'cronium', median: Number.NaN, failed: ours.failure ?? 'no samples' }, ...peers] });
      continue;
    }
    const s = stats(ours.samples);
    // A peer that failed or timed out is not ahead of us.
    const fastest = peers.every((p) => p.failed !== undefined || s.median < p.median);
    rows.push({
      name,
      median: s.median,
      spread: `${s.p25.toFixed(0)}–${s.p75.toFixed(0)}`,
      unit: 'ms',
      baselines: peers,
      ...(n === 100 ? { target: '< 5 s and ahead of every peer', verdict: s.median < 5000 && fastest ? ('met' as const) : ('missed' as const) } : {}),
    });
  }
  if (fan.jitterMs.length) {
    const j = stats(fan.jitterMs);
    rows.push({ name: `scheduling jitter: per-second schedule, fire to job enqueued (${fan.jitterMs.length} fires)`, median: j.median, spread: `${j.p25.toFixed(0)}–${j.p75.toFixed(0)}`, unit: 'ms' });
  }
  return rows;
}

/**
 * Records one timed run of a tool at a size; after a failure the tool is not run again at this
 * size or larger ones (each would only wait for its own time limit), and those sizes say why.
 */
export class FanoutRecorder {
  constructor(readonly figures: FanoutFigures) {}

  /** Whether the tool failed at a size up to n (so it is not run at n). */
  gaveUp(tool: string, n: number): boolean {
    return Object.keys(this.figures.failures[tool] ?? {}).some((k) => Number(k) <= n);
  }

  /** Runs the timed peer unless the tool gave up; records its time or its failure. */
  async measure(tool: string, n: number, run: () => Promise<PeerRun>): Promise<void> {
    if (this.gaveUp(tool, n)) return;
    const r = await run();
    if (r.ok) {
      ((this.figures.wall[tool] ??= {})[n] ??= []).push(r.ms);
      return;
    }
    const failures = (this.figures.failures[tool] ??= {});
    failures[n] = r.failure;
    for (const m of this.figures.sizes) if (m > n) failures[m] = `not run: it failed at ${n} hosts (${r.failure})`;
  }
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/**
 * One cold job: a fresh core (no pooled connections), `start` queues the job, a worker runs it
 * until it ends; as a peer run: a job that fails, or is not done within the peers' limit (then
 * cancelled), is a recorded failure. `inspect` reads the store of a job that succeeded before the
 * core is closed, which happens either way.
 */
export async function timedJob<T>(open: () => Core, start: (core: Core) => Promise<number>, timeoutMs = PEER_TIMEOUT_MS, inspect?: (core: Core, jobId: number) => T): Promise<PeerRun & { inspected?: T }> {
  const core = open();
  let worker: Worker | undefined;
  let detach: (() => void) | undefined;
  try {
    const t0 = performance.now();
    const jobId = await start(core);
    worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `bench:${process.pid}`, jobId, globalLimit: 50, pollMs: 5, ...core.runHooks });
    detach = core.jobs.attach(worker);
    worker.start();
    for (;;) {
      const status = core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
      if (!['queued', 'running'].includes(status)) {
        if (status !== 'succeeded') return { ok: false, failure: `the job ended ${status}` };
        const ms = performance.now() - t0;
        return inspect ? { ok: true, ms, inspected: inspect(core, jobId) } : { ok: true, ms };
      }
      if (performance.now() - t0 > timeoutMs) {
        await core.jobs.cancel(jobId);
        return { ok: false, failure: `timed out after ${seconds(timeoutMs)}` };
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } catch (e) {
    return { ok: false, failure: (e as Error).message };
  } finally {
    await worker?.stop();
    detach?.();
    core.close();
  }
}

/** One cold fan-out of a command (`true` unless given) to `hosts`, concurrency 50 (timedJob). */
export function croniumRun(open: () => Core, hosts: string[], timeoutMs = PEER_TIMEOUT_MS, extra: { mode?: 'direct' | 'runner'; elevated?: boolean; command?: string } = {}): Promise<PeerRun> {
  return timedJob(open, async (core) => (await call(core.dispatch, 'jobs.run', { hosts, command: extra.command ?? 'true', mode: extra.mode ?? 'direct', concurrency: 50, ...(extra.elevated ? { elevated: true } : {}) }, ctx)).jobId, timeoutMs);
}

/** Runs the fan-out and jitter benchmark, or says why it cannot run here. */
export async function benchFanout(opts: { runs?: number; sizes?: number[] } = {}): Promise<FanoutFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  const sizes = opts.sizes ?? [10, 50, 100];
  const runs = opts.runs ?? 3;
  const max = Math.max(...sizes);
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-fanout-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [], defaults: max });
  try {
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, fleet.knownHosts());
    const cfg = join(scratch, 'ssh_config');
    writeFileSync(cfg, fleet.sshConfig());
    const open = () => openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
    const core = open();
    try {
      for (const h of fleet.hosts) await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      const names = fleet.hosts.map((h) => h.name);
      const figures: FanoutFigures = { sizes, wall: {}, failures: {}, jitterMs: [] };
      const rec = new FanoutRecorder(figures);
      const inventory = join(scratch, 'inventory.ini');
      writeFileSync(inventory, `${names.map((n) => `${n} ansible_host=${fleet.host(n).address} ansible_user=${fleet.host(n).user} ansible_ssh_private_key_file=${fleet.host(n).identityFile}`).join('\n')}\n`);
      for (const n of sizes) {
        const subset = names.slice(0, n);
        const hostsFile = join(scratch, `hosts-${n}`);
        writeFileSync(hostsFile, `${subset.join('\n')}\n`);
        for (let i = 0; i < runs; i++) {
          await rec.measure(OURS, n, () => croniumRun(open, subset));
          await rec.measure('xargs -P 50 ssh', n, () => timePeer('sh', ['-c', `xargs -P 50 -I{} ssh -F "${cfg}" -o BatchMode=yes {} true < "${hostsFile}"`]));
          if (has('parallel-ssh')) await rec.measure('parallel-ssh -p 50', n, () => timePeer('parallel-ssh', ['-h', hostsFile, '-p', '50', '-x', `-F ${cfg}`, '-O', 'BatchMode=yes', 'true']));
          if (has('ansible')) {
            await rec.measure('ansible -f 50', n, () =>
              timePeer('sh', ['-c', `ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_SSH_ARGS="-o UserKnownHostsFile=${knownHosts}" ansible all -i "${inventory}" -l "${subset.join(',')}" -m shell -a true -f 50 >/dev/null`]),
            );
          }
        }
      }
      // Jitter: a per-second schedule for a few seconds; how late does each fire enqueue its job?
      await core.schedules.add({ name: 'tick', cron: '* * * * * *', tz: 'UTC', script: { interpreter: 'sh', body: 'true' }, target: { hosts: [names[0]!] }, overlapPolicy: 'parallel' });
      const scheduler = new Scheduler({
        store: core.store.data,
        queue: core.queue,
        owner: `bench:${process.pid}`,
        resolveTargets: async (t) => (await core.hosts.list({})).filter((h) => t.hosts?.includes(h.name)).map((h) => ({ id: h.id, name: h.name })),
        onFire: (r) => {
          if (r.outcome === 'fired') figures.jitterMs.push(Date.now() - r.dueAt);
        },
      });
      scheduler.start();
      await new Promise((r) => setTimeout(r, 8_000));
      await scheduler.stop();
      return figures;
    } finally {
      core.close();
    }
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
