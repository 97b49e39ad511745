/**
 * Fan-out and scheduling figures on the test fleet (loopback):
 * - one trivial script (`true`) to 10, 50 and 100 hosts: Cronium (direct mode, concurrency
 *   50, cold: new connections, as a scheduled job would start after an idle period) against
 *   an `xargs -P 50` loop over `ssh`, parallel-ssh (`-p 50`) and Ansible ad-hoc (`-f 50`),
 *   each where installed, all measured in the same run against the same hosts;
 * - scheduling jitter: how late a per-second schedule's fires enqueue their job.
 * Needs root (the fleet).
 */
import { spawnSync } from 'node:child_process';
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

/** Wall times in ms per tool and host count, and jitter samples in ms. */
export interface FanoutFigures {
  sizes: number[];
  wall: Record<string, Record<number, number[]>>;
  jitterMs: number[];
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** One cold fan-out: a fresh core (no pooled connections), the job, a worker, until the job ends. */
async function runCronium(open: () => Core, hosts: string[]): Promise<number> {
  const core = open();
  const t0 = performance.now();
  const { jobId } = await call(core.dispatch, 'jobs.run', { hosts, command: 'true', mode: 'direct', concurrency: 50 }, ctx);
  const worker = new Worker({ db: core.store.sqlite, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `bench:${process.pid}`, jobId, globalLimit: 50, pollMs: 5 });
  const detach = core.jobs.attach(worker);
  worker.start();
  for (;;) {
    const status = core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
    if (!['queued', 'running'].includes(status)) {
      if (status !== 'succeeded') throw new Error(`bench job ${jobId} ended ${status}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  await worker.stop();
  detach();
  core.close();
  return ms;
}

function timeCmd(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} exited ${r.status}`);
  return performance.now() - t0;
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
      for (const h of fleet.hosts) core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      const names = fleet.hosts.map((h) => h.name);
      const figures: FanoutFigures = { sizes, wall: {}, jitterMs: [] };
      const record = (tool: string, n: number, ms: number) => ((figures.wall[tool] ??= {})[n] ??= []).push(ms);
      const inventory = join(scratch, 'inventory.ini');
      writeFileSync(inventory, `${names.map((n) => `${n} ansible_host=${fleet.host(n).address} ansible_user=${fleet.host(n).user} ansible_ssh_private_key_file=${fleet.host(n).identityFile}`).join('\n')}\n`);
      for (const n of sizes) {
        const subset = names.slice(0, n);
        const hostsFile = join(scratch, `hosts-${n}`);
        writeFileSync(hostsFile, `${subset.join('\n')}\n`);
        for (let i = 0; i < runs; i++) {
          record('cronium (direct, concurrency 50)', n, await runCronium(open, subset));
          record('xargs -P 50 ssh', n, timeCmd('sh', ['-c', `xargs -P 50 -I{} ssh -F "${cfg}" -o BatchMode=yes {} true < "${hostsFile}"`]));
          if (has('parallel-ssh')) record('parallel-ssh -p 50', n, timeCmd('parallel-ssh', ['-h', hostsFile, '-p', '50', '-x', `-F ${cfg}`, '-O', 'BatchMode=yes', 'true']));
          if (has('ansible')) {
            record('ansible -f 50', n, timeCmd('sh', ['-c', `ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_SSH_ARGS="-o UserKnownHostsFile=${knownHosts}" ansible all -i "${inventory}" -l "${subset.join(',')}" -m shell -a true -f 50 >/dev/null`]));
          }
        }
      }
      // Jitter: a per-second schedule for a few seconds; how late does each fire enqueue its job?
      core.schedules.add({ name: 'tick', cron: '* * * * * *', tz: 'UTC', script: { interpreter: 'sh', body: 'true' }, target: { hosts: [names[0]!] }, overlapPolicy: 'parallel' });
      const scheduler = new Scheduler({
        store: core.store,
        queue: core.queue,
        owner: `bench:${process.pid}`,
        resolveTargets: (t) => core.hosts.list({}).filter((h) => t.hosts?.includes(h.name)).map((h) => ({ id: h.id, name: h.name })),
        onFire: (r) => {
          if (r.outcome === 'fired') figures.jitterMs.push(Date.now() - r.dueAt);
        },
      });
      scheduler.start();
      await new Promise((r) => setTimeout(r, 8_000));
      scheduler.stop();
      return figures;
    } finally {
      core.close();
    }
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
