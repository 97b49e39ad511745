/**
 * The job queue on a real PostgreSQL (issue #16): the queue's contract, the same cases the
 * SQLite queue passes (test/contract/queue-contract.ts), each on a fresh database of a private
 * cluster; then three "servers" (three pools, as three `cronium serve` processes would hold) on
 * one database: concurrent claims never exceed the global or per-host limit in all, no run is
 * claimed twice, and 1,000 runs of 50 jobs are claimed, started and completed exactly once, every
 * job settled once (its last two runs may finish on two servers at the same moment); an idle
 * server is woken by NOTIFY when a job is queued or a slot freed, also after a restart.
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { migratePg } from '../../../electron/core/db/pg-migrate';
import type { NewJob } from '../../../electron/core/queue/job-queue';
import { pgPool } from '../../../electron/core/db/pg-store';
import { PgJobQueue } from '../../../electron/core/queue/pg-job-queue';
import { PgQueueWaker } from '../../../electron/core/queue/pg-queue-waker';
import { queueContract } from '../../contract/queue-contract';
import { fileCluster } from '../../pg/cluster';

const pgc = fileCluster();

/** A fresh, migrated database with `hostCount` hosts; its pools are closed by `close`. */
async function freshDatabase(hostCount: number): Promise<{ url: string; hosts: { id: number; name: string }[]; admin: pg.Pool }> {
  const url = await pgc.freshDatabase();
  const admin = pgPool(url, 2);
  const c = await admin.connect();
  try {
    await migratePg(c);
  } finally {
    c.release();
  }
  const hosts: { id: number; name: string }[] = [];
  for (let i = 1; i <= hostCount; i++) {
    const { rows } = await admin.query(`insert into hosts (name, address, created_at, updated_at) values ($1, '127.0.0.1', 0, 0) returning id`, [`h${i}`]);
    hosts.push({ id: rows[0]!.id as number, name: `h${i}` });
  }
  return { url, hosts, admin };
}

queueContract('postgresql', async (hostCount) => {
  const { hosts, admin } = await freshDatabase(hostCount);
  return {
    queue: new PgJobQueue(admin),
    hosts,
    run: async (id, column) => (await admin.query(`select ${column} as v from runs where id = $1`, [id])).rows[0]?.v,
    job: async (id, column) => (await admin.query(`select ${column} as v from jobs where id = $1`, [id])).rows[0]?.v,
    markDetached: async (id) => void (await admin.query('update runs set detached = true where id = $1', [id])),
    close: () => admin.end(),
  };
});

test('starts and ends asked for at once go as one batch, and each caller gets its own answer: started or not, retried, the job settled by its last run, a lost lease refused', async () => {
  const { hosts, admin } = await freshDatabase(12);
  try {
    const q = new PgJobQueue(admin);
    const a = await q.enqueue(job(hosts.slice(0, 10)));
    const b = await q.enqueue(job(hosts.slice(10, 12), { maxAttempts: 2 }));
    const claimed = await q.claim({ owner: 'w1', limit: 20, leaseMs: 60_000, perHostLimit: 10, globalLimit: 100 });
    assert.equal(claimed.length, 12);
    // Twelve starts and one by another owner, in the same moment.
    const started = await Promise.all([...claimed.map((c) => q.start(c.runId, 'w1')), q.start(claimed[0]!.runId, 'w2')]);
    assert.deepEqual(started, [...claimed.map(() => true), false]);
    const ofA = claimed.filter((c) => c.jobId === a);
    const ofB = claimed.filter((c) => c.jobId === b);
    const ends = await Promise.allSettled([
      ...ofA.map((c) => q.complete(c.runId, 'w1', { status: 'succeeded', exitCode: 0 })),
      q.complete(ofB[0]!.runId, 'w1', { status: 'failed', exitCode: null, retryable: true, errorCode: 'CONNECT_FAILED' }),
      q.complete(ofB[1]!.runId, 'w9', { status: 'succeeded', exitCode: 0 }),
    ]);
    const values = ends.map((e) => (e.status === 'fulfilled' ? e.value : (e.reason as { code: string }).code));
    assert.deepEqual(values.slice(0, 9), Array.from({ length: 9 }, () => ({ retried: false })));
    assert.deepEqual(values[9], { retried: false, jobStatus: 'succeeded' }, 'the last of the job reports it settled');
    assert.deepEqual(values[10], { retried: true }, 'a connection failure is retried');
    assert.equal(values[11], 'CONFLICT', 'a run another worker holds is refused, alone');
    const rows = (await admin.query('select status, count(*) as n from runs group by status order by status')).rows.map((r) => [r.status, Number(r.n)]);
    assert.deepEqual(rows, [['queued', 1], ['running', 1], ['succeeded', 10]]);
    assert.equal((await admin.query('select status from jobs where id = $1', [a])).rows[0]!.status, 'succeeded');
  } finally {
    await admin.end();
  }
});

test('a job whose last run ended on a server that died before settling it is settled by recover()', async () => {
  const { hosts, admin } = await freshDatabase(2);
  try {
    const q = new PgJobQueue(admin);
    const jobId = await q.enqueue(job(hosts));
    const claimed = await q.claim({ owner: 's1', limit: 10, leaseMs: 60_000, perHostLimit: 10, globalLimit: 100 });
    // The runs' end committed, the settling statement never ran (the server died in between).
    await admin.query(`update runs set status = 'succeeded', finished_at = 1, lease_owner = null, lease_expires_at = null where id = any($1::bigint[])`, [claimed.map((c) => c.runId)]);
    assert.equal((await admin.query('select status from jobs where id = $1', [jobId])).rows[0]!.status, 'queued');
    await q.recover(Date.now(), () => false);
    assert.equal((await admin.query('select status from jobs where id = $1', [jobId])).rows[0]!.status, 'succeeded');
  } finally {
    await admin.end();
  }
});

const job = (hosts: { id: number; name: string }[], extra: Partial<NewJob> = {}): NewJob => ({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'bash', scriptBody: 'true', mode: 'auto', hosts, ...extra });

test('three servers on one database: limits hold in all, no run claimed twice, 1,000 runs completed once each, every job settled', async () => {
  const { url, hosts, admin } = await freshDatabase(20);
  const servers = [0, 1, 2].map(() => pgPool(url, 4));
  try {
    const queues = servers.map((p) => new PgJobQueue(p));
    const jobIds: number[] = [];
    for (let i = 0; i < 50; i++) jobIds.push(await queues[i % 3]!.enqueue(job(hosts)));

    // Claims only, all at once: exactly the global limit is taken in all, at most 3 per host.
    const limits = { leaseMs: 60_000, perHostLimit: 3, globalLimit: 40 };
    const claimedBy = await Promise.all(
      queues.map(async (q, i) => {
        const mine: { runId: number; hostName: string }[] = [];
        for (;;) {
          const got = await q.claim({ ...limits, owner: `s${i}`, limit: 5 });
          if (got.length === 0) break;
          mine.push(...got);
        }
        return mine;
      }),
    );
    const all = claimedBy.flat();
    assert.equal(all.length, 40, `claimed in all: ${all.length}`);
    assert.equal(new Set(all.map((c) => c.runId)).size, 40, 'no run claimed twice');
    const perHost = new Map<string, number>();
    for (const c of all) perHost.set(c.hostName, (perHost.get(c.hostName) ?? 0) + 1);
    assert.ok([...perHost.values()].every((n) => n <= 3), JSON.stringify([...perHost]));
    // Each server completes what it claimed, then claims and completes until the queue is empty.
    const t0 = performance.now();
    const done = await Promise.all(
      queues.map(async (q, i) => {
        const owner = `s${i}`;
        const completed: number[] = [];
        let ids = claimedBy[i]!.map((c) => c.runId);
        for (;;) {
          for (const id of ids) {
            assert.equal(await q.start(id, owner), true);
            await q.complete(id, owner, { status: 'succeeded', exitCode: 0 });
            completed.push(id);
          }
          ids = (await q.claim({ ...limits, owner, limit: 10 })).map((g) => g.runId);
          if (ids.length > 0) continue;
          // Nothing for us now: done when nothing is queued, else the others hold the slots for a moment.
          if (Number((await servers[i]!.query(`select count(*) as n from runs where status = 'queued'`)).rows[0]!.n) === 0) break;
          await new Promise((r) => setTimeout(r, 5));
        }
        return completed;
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const completed = done.flat();
    assert.equal(completed.length, 1000);
    assert.equal(new Set(completed).size, 1000, 'each run completed once');
    const left = (await admin.query(`select status, count(*) as n from runs group by status`)).rows;
    assert.deepEqual(left.map((r) => [r.status, Number(r.n)]), [['succeeded', 1000]]);
    const jobs = (await admin.query(`select status, count(*) as n from jobs group by status`)).rows;
    assert.deepEqual(jobs.map((r) => [r.status, Number(r.n)]), [['succeeded', 50]], 'every job settled');
    assert.ok(done.every((d) => d.length > 0), `every server did some: ${done.map((d) => d.length).join(', ')}`);
    // A figure, not a bar: the benchmark measures throughput (test/bench).
    console.log(`# three servers: 1,000 runs claimed, started and completed in ${seconds.toFixed(2)} s (${Math.round(1000 / seconds)} runs/s; per server ${done.map((d) => d.length).join(', ')})`);
  } finally {
    await Promise.all(servers.map((p) => p.end()));
    await admin.end();
  }
});

test('an idle server is woken when a job is queued or a slot is freed, also after a PostgreSQL restart', async () => {
  const { url, hosts, admin } = await freshDatabase(1);
  const woken: { why: string; t: number }[] = [];
  const waker = new PgQueueWaker({
    retryMs: 100,
    connect: async () => {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      await c.connect();
      return c;
    },
    onWake: (why) => woken.push({ why, t: Date.now() }),
  });
  const until = async (what: string, ok: () => boolean) => {
    const end = Date.now() + 15_000;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(woken)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  try {
    waker.start();
    await until('listening', () => waker.listening());
    const q = new PgJobQueue(admin);
    const t0 = Date.now();
    const jobId = await q.enqueue(job(hosts));
    await until('the job', () => woken.some((w) => w.why === `job ${jobId}`));
    const latency = woken.find((w) => w.why === `job ${jobId}`)!.t - t0;
    const [run] = await q.claim({ owner: 's', limit: 1, leaseMs: 60_000, perHostLimit: 1, globalLimit: 1 });
    await q.start(run!.runId, 's');
    await q.complete(run!.runId, 's', { status: 'succeeded', exitCode: 0 });
    await until('the freed slot', () => woken.some((w) => w.why === `slot ${run!.runId}`));
    // The database restarts: the waker listens again, says so, and hears the next job.
    await admin.end();
    await pgc.cluster().restart();
    await until('reconnected', () => woken.some((w) => w.why === 'reconnected'));
    const again = pgPool(url, 1);
    try {
      const next = await new PgJobQueue(again).enqueue(job(hosts));
      await until('the job after the restart', () => woken.some((w) => w.why === `job ${next}`));
    } finally {
      await again.end();
    }
    console.log(`# wake-up: a job queued on one server woke another in ${latency} ms (NOTIFY on commit)`);
  } finally {
    await waker.stop();
    await admin.end().catch(() => {});
  }
});
