/**
 * Store scale (issue #8.8): a store with 1,000 hosts and 100,000 runs of history, then the
 * latency of hosts.list and jobs.list through the dispatcher (default arguments and filtered),
 * and the resident memory of the app (`cronium serve` on that store, after it served the lists
 * over its WebSocket API), and the CLI's cold start on that store.
 *
 * The history is written with direct SQL in one transaction (seconds, not minutes), shaped like
 * a real one: 20 schedules, jobs of 1-10 runs on random hosts over 90 days (most scheduled,
 * some ad hoc, mostly succeeded, some failed or cancelled), log chunks for one run in ten.
 * The generator is seeded, so every bench run lists the same store.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { call } from '../../electron/core/api/dispatcher';
import { LogService } from '../../electron/core/logs/log-service';
import { openCore } from '../../electron/core/core';
import { ROOT, startServe } from '../e2e/harness';
import { connectApi, processMemory } from './api-client';

/** Samples in ms per list query, and the app's memory. */
export interface StoreFigures {
  hosts: number;
  jobs: number;
  runs: number;
  chunks: number;
  generateMs: number;
  /** Label → latency samples (ms) through the dispatcher. */
  lists: Record<string, number[]>;
  /** The raw SQL of hosts.list, same store (what the API adds on top). */
  hostsRaw: number[];
  /** `cronium serve` on this store after serving the lists: RSS now and its peak. */
  serve: { rssMb: number; peakMb: number; wsHostsList: number[]; wsJobsList: number[] };
  /** CLI cold start, `cronium hosts list --json` on this store, against `node -e 0`. */
  cli: number[];
  node: number[];
}

/** A small seeded PRNG (mulberry32), so the store is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function sample(fn: () => Promise<unknown> | unknown, runs: number, warm = 5): Promise<number[]> {
  for (let i = 0; i < warm; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Runs the store-scale benchmark. */
export async function benchStore(opts: { hosts?: number; runs?: number; samples?: number } = {}): Promise<StoreFigures> {
  const nHosts = opts.hosts ?? 1000;
  const nRuns = opts.runs ?? 100_000;
  const samples = opts.samples ?? 30;
  const dataDir = mkdtempSync(join(tmpdir(), 'cronium-bench-store-'));
  try {
    const core = openCore({ dataDir, door: 'cli' });
    const g0 = performance.now();
    const db = core.store.sqlite;
    const rand = prng(8);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const hosts: { id: number; name: string }[] = [];
    for (let i = 0; i < nHosts; i++) {
      const h = await core.hosts.add({ name: `host-${String(i).padStart(4, '0')}`, address: `10.0.${i >> 8}.${i & 255}`, port: 22, tags: [`rack-${i % 20}`, i % 2 ? 'web' : 'db'] });
      hosts.push({ id: h.id, name: h.name });
    }
    const schedules: Awaited<ReturnType<typeof core.schedules.add>>[] = [];
    for (let i = 0; i < 20; i++) {
      schedules.push(await core.schedules.add({ name: `nightly-${i}`, cron: `${i} 3 * * *`, tz: 'UTC', script: { interpreter: 'bash', body: `echo backup ${i}` }, target: { tags: [`rack-${i}`] }, overlapPolicy: 'skip' }));
    }
    const insertJob = db.prepare(
      `insert into jobs (kind, schedule_id, interpreter, script_body, target, mode, status, requested_by, created_at, started_at, finished_at)
       values (?, ?, 'bash', ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertRun = db.prepare(
      `insert into runs (job_id, host_id, host_name, status, attempt, exit_code, mode, runner_version, error_code, last_seq, t_connect_ms, t_deploy_ms, t_start_ms, t_exec_ms, t_total_ms, queued_at, started_at, finished_at)
       values (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, 40, 3, 2, ?, ?, ?, ?, ?)`,
    );
    const insertChunk = db.prepare('insert into log_chunks (run_id, seq, stream, ts, bytes) values (?, ?, ?, ?, ?)');
    const line = Buffer.from('2026-11-28T03:00:01Z rsync: sent 1,204,311 bytes  received 8,114 bytes  806,950.00 bytes/sec\n');
    let runs = 0;
    let jobs = 0;
    let chunks = 0;
    const start = Date.now() - 90 * 86_400_000;
    db.transaction(() => {
      while (runs < nRuns) {
        const n = Math.min(nRuns - runs, 1 + Math.floor(rand() * 10));
        const scheduled = rand() < 0.7;
        const schedule = scheduled ? pick(schedules) : null;
        const created = start + Math.floor((runs / nRuns) * 90 * 86_400_000);
        const roll = rand();
        const runStatus = (): string => (roll < 0.9 ? 'succeeded' : roll < 0.97 ? (rand() < 0.5 ? 'failed' : 'succeeded') : 'cancelled');
        const statuses = Array.from({ length: n }, runStatus);
        const jobStatus = statuses.every((s) => s === 'succeeded') ? 'succeeded' : statuses.every((s) => s === 'cancelled') ? 'cancelled' : statuses.some((s) => s === 'succeeded') ? 'partial' : 'failed';
        const mode = rand() < 0.8 ? 'auto' : 'direct';
        const body = schedule ? `echo backup ${schedule.id}` : 'uptime';
        const targetHosts = Array.from({ length: n }, () => pick(hosts));
        const jobId = Number(
          insertJob.run(
            schedule ? 'schedule' : 'adhoc',
            schedule?.id ?? null,
            body,
            JSON.stringify({ hosts: targetHosts.map((h) => h.name) }),
            mode,
            jobStatus,
            schedule ? 'scheduler' : 'cli',
            created,
            created + 5,
            created + 1500,
          ).lastInsertRowid,
        );
        jobs++;
        for (let i = 0; i < n; i++) {
          const h = targetHosts[i]!;
          const status = statuses[i]!;
          const withLog = rand() < 0.1;
          const exec = 200 + Math.floor(rand() * 1000);
          const runId = Number(
            insertRun.run(
              jobId,
              h.id,
              h.name,
              status,
              status === 'succeeded' ? 0 : status === 'failed' ? 1 : null,
              mode === 'direct' ? 'direct' : 'runner',
              mode === 'direct' ? null : '0.1.0',
              status === 'cancelled' ? 'CANCELLED' : null,
              withLog ? 3 : 0,
              exec,
              exec + 50,
              created,
              created + 5,
              created + 5 + exec + 50,
            ).lastInsertRowid,
          );
          runs++;
          if (withLog) {
            for (let seq = 1; seq <= 3; seq++) insertChunk.run(runId, seq, seq === 3 && status !== 'succeeded' ? 'stderr' : 'stdout', created + seq, Buffer.concat(Array.from({ length: 1 + Math.floor(rand() * 8) }, () => line)));
            chunks += 3;
          }
        }
      }
    })();
    const generateMs = performance.now() - g0;

    const ctx = { door: 'headless' as const };
    const someHost = hosts[Math.floor(nHosts / 3)]!.name;
    const lists: Record<string, number[]> = {};
    lists['hosts.list (all 1,000)'] = await sample(() => call(core.dispatch, 'hosts.list', {}, ctx), samples);
    lists['hosts.list {tag: rack-7}'] = await sample(() => call(core.dispatch, 'hosts.list', { tag: 'rack-7' }, ctx), samples);
    lists['jobs.list (default: newest 50)'] = await sample(() => call(core.dispatch, 'jobs.list', {}, ctx), samples);
    lists[`jobs.list {host: one host}`] = await sample(() => call(core.dispatch, 'jobs.list', { host: someHost }, ctx), samples);
    lists['jobs.list {status: failed}'] = await sample(() => call(core.dispatch, 'jobs.list', { status: 'failed' }, ctx), samples);
    lists['jobs.list {schedule: nightly-3}'] = await sample(() => call(core.dispatch, 'jobs.list', { schedule: 'nightly-3' }, ctx), samples);
    const raw = db.prepare('select h.*, group_concat(t.tag) as tags from hosts h left join host_tags t on t.host_id = h.id group by h.id order by h.name');
    const hostsRaw = await sample(() => raw.all(), samples);
    core.close();

    const timeSpawn = (args: string[]) => sample(() => spawnSync(process.execPath, args, { stdio: 'ignore' }), 10, 1);
    const cli = await timeSpawn([join(ROOT, 'bin/cronium.mjs'), '--data-dir', dataDir, 'hosts', 'list', '--json']);
    const node = await timeSpawn(['-e', '0']);

    // The app: `cronium serve` on this store, asked for the same lists over its API.
    const server = await startServe(dataDir);
    try {
      const api = await connectApi(server.url);
      try {
        const wsHostsList = await sample(() => api.call('hosts.list', {}), samples);
        const wsJobsList = await sample(() => api.call('jobs.list', {}), samples);
        await sample(() => api.call('jobs.list', { host: someHost }), 5, 0);
        const mem = processMemory(server.child.pid!);
        return { hosts: nHosts, jobs, runs, chunks, generateMs, lists, hostsRaw, serve: { ...mem, wsHostsList, wsJobsList }, cli, node };
      } finally {
        api.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The store's own ceiling for output: 100 MB as 64 KiB chunks through a log writer into a fresh
 * data dir (the app's schema, pragmas and page size; one host, job and run rows to hang them on),
 * MB/s per sample, the way the app stores output (a run's first 256 KiB in rows, the rest in its
 * output file), and the same through rows alone (SQLite's pages and WAL for every byte, as before
 * output files) as the baseline. On one thread: what the app's main thread spends per MB stored.
 */
export async function logStoreCeiling(samples = 3): Promise<{ files: number[]; rows: number[] }> {
  const out = { files: [] as number[], rows: [] as number[] };
  for (let s = 0; s < samples; s++) {
    for (const way of ['files', 'rows'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'cronium-bench-insert-'));
      try {
        const core = openCore({ dataDir: dir, door: 'cli', ssh: { agentSocket: null } });
        const logs = new LogService(core.store, way === 'rows' ? { inlineBytes: Number.POSITIVE_INFINITY } : {});
        try {
          await core.hosts.add({ name: 'h', address: '127.0.0.1', port: 22, user: 'u', useAgent: false, tags: [] });
          const { runIds } = await call(core.dispatch, 'jobs.run', { hosts: ['h'], command: 'true', mode: 'direct' }, { door: 'cli' });
          const chunk = Buffer.alloc(64 * 1024, 0x78);
          const t0 = performance.now();
          const w = await logs.openWriter(runIds[0]!);
          for (let i = 0; i < 1600; i++) if (!w.write('stdout', chunk)) await w.drain();
          await w.close();
          out[way].push(100 / ((performance.now() - t0) / 1000));
        } finally {
          await logs.close();
          core.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return out;
}
