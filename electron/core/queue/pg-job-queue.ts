/**
 * The job queue on PostgreSQL, for a team server (issue #16): the same operations and the same
 * invariants as the SQLite queue (job-queue.ts), for any number of servers on one database.
 * - A run is claimed by one worker at a time: candidates are locked with `FOR UPDATE SKIP
 *   LOCKED` (a claimer never waits on rows another transaction holds) and claimed with a lease
 *   (owner + expiry) that heartbeats extend.
 * - The per-host and global concurrency limits hold across every server: claims count the runs
 *   in flight inside a transaction that holds the queue's advisory lock
 *   (`pg_advisory_xact_lock`), so two claimers never count the same free slot; the lock is held
 *   for one short transaction, which claims up to `limit` runs at once.
 * - Recovery, retries and a job's final status follow the SQLite queue exactly (the contract
 *   tests run both: test/integration/pg/queue.test.ts); a job is settled after the commit that
 *   ended its last run, by a guarded update (settleJob), so completions never queue on its row.
 * Async, over a node-postgres pool (bigint columns parsed as numbers: pgPool()).
 */
import type pg from 'pg';
import { CroniumError } from '../../shared/errors';
import { checkedAttempts, jobRecord, retryDelayMs, settledStatus, TERMINAL, type ClaimedRun, type ClaimOptions, type JobStatus, type NewJob, type Queue, type Recovery, type RunOutcome, type RunStatus } from './job-queue';
import { ownerIsDead } from './owner';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { pgDataStore } from '../db/pg-store';
import type { DataStore } from '../db/store';

/**
 * A group commit: calls made while a statement is in flight (or in the same moment) are sent
 * together as the next one. Each caller gets its own answer (an answer that is an Error rejects
 * its caller alone); a failure of the statement fails every call of that batch.
 */
class Coalescer<I, O> {
  #pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  #busy = false;
  constructor(
    private readonly send: (items: I[]) => Promise<(O | Error)[]>,
    private readonly max = 500,
  ) {}

  push(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (!this.#busy) {
        this.#busy = true;
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.max);
      try {
        const answers = await this.send(batch.map((b) => b.item));
        batch.forEach((b, i) => {
          const answer = answers[i]!;
          if (answer instanceof Error) b.reject(answer);
          else b.resolve(answer);
        });
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    this.#busy = false;
  }
}

/** How often at most one server says a slot is free (workers held back by a limit claim again then, or at their poll). */
const SLOT_NOTIFY_MS = 100;
/** Runs enqueued by this server between two refreshes of the runs table's statistics. */
const ANALYZE_AFTER_RUNS = 5_000;

/** The channel a server NOTIFYs when runs become claimable (a job queued, a slot freed, a run requeued). */
export const QUEUE_CHANNEL = 'cronium_queue';

/** The advisory lock key of claims ("cronium" "claim"). */
export const CLAIM_LOCK_KEY = '7238776342580594';

type Tx = pg.PoolClient;

/** The queue over one PostgreSQL database. */
export class PgJobQueue implements Queue {
  constructor(
    private readonly pool: pg.Pool,
    private readonly store: DataStore = pgDataStore(pool),
  ) {}

  private async tx<T>(fn: (c: Tx) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('begin');
      const out = await fn(c);
      await c.query('commit');
      return out;
    } catch (e) {
      await c.query('rollback').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * Adds a job with one queued run per host; returns the job id. Inside `tx` when given (a
   * schedule's fire, a follow-up's claim: the job exists if and only if that commits).
   */
  async enqueue(job: NewJob, now = Date.now(), tx?: Db): Promise<number> {
    const maxAttempts = checkedAttempts(job);
    const insert = async (t: Db): Promise<number> => {
      const { jobs, runs } = this.store.schema;
      const [row] = await t
        .insert(jobs)
        .values(jobRecord(job, now, maxAttempts))
        .returning({ id: jobs.id });
      const jobId = row!.id;
      // Under PostgreSQL's 65,535 parameters per statement: 8 per run.
      const all = job.hosts.map((h) => ({ jobId, hostId: h.id, hostName: h.name, status: 'queued' as const, attempt: 1, queuedAt: now, notBefore: now, detached: job.detached === true, priorityRank: -(job.priority ?? 0) }));
      for (let i = 0; i < all.length; i += 5000) await t.insert(runs).values(all.slice(i, i + 5000));
      // Idle servers learn of it when this commits (pg-queue-waker.ts), instead of at their next poll.
      await this.store.exec(sql`select pg_notify(${QUEUE_CHANNEL}, ${`job ${jobId}`})`, t);
      return jobId;
    };
    const jobId = await (tx ? insert(tx) : this.store.tx(insert));
    this.noteEnqueued(job.hosts.length);
    return jobId;
  }

  /** Claims up to `limit` eligible runs for `owner`, honouring both concurrency limits across all servers. */
  async claim(opts: ClaimOptions): Promise<ClaimedRun[]> {
    const now = opts.now ?? Date.now();
    return this.tx(async (c) => {
      await c.query('select pg_advisory_xact_lock($1::bigint)', [CLAIM_LOCK_KEY]);
      let total = Number((await c.query(`select count(*) as n from runs where status in ('claimed', 'running')`)).rows[0]!.n);
      if (total >= opts.globalLimit) return [];
      const perHost = new Map<string, number>();
      for (const r of (await c.query(`select host_name, count(*) as n from runs where status in ('claimed', 'running') group by host_name`)).rows) perHost.set(r.host_name as string, Number(r.n));
      // Oldest eligible runs of the most urgent jobs first; further than `limit`, so that busy hosts do not starve the others.
      const { rows } =
        opts.jobId === undefined
          ? await c.query(
              `select r.id, r.job_id, r.host_id, r.host_name, r.attempt, r.detached from runs r
               where r.status = 'queued' and r.not_before <= $1 order by r.priority_rank, r.not_before, r.id limit $2 for update of r skip locked`,
              [now, Math.max(opts.limit * 4, 64)],
            )
          : await c.query(
              `with recursive t(id) as (select $3::bigint union all select j.id from jobs j join t on j.parent_job_id = t.id where $4)
               select r.id, r.job_id, r.host_id, r.host_name, r.attempt, r.detached from runs r
               where r.job_id in (select id from t) and r.status = 'queued' and r.not_before <= $1 order by r.id limit $2 for update of r skip locked`,
              [now, opts.limit, opts.jobId, opts.withFollowups === true],
            );
      const leaseExpiresAt = now + opts.leaseMs;
      const claimed: ClaimedRun[] = [];
      for (const r of rows) {
        if (claimed.length >= opts.limit || total >= opts.globalLimit) break;
        const n = perHost.get(r.host_name as string) ?? 0;
        if (n >= opts.perHostLimit) continue;
        perHost.set(r.host_name as string, n + 1);
        total++;
        claimed.push({ runId: r.id as number, jobId: r.job_id as number, hostId: (r.host_id as number | null) ?? null, hostName: r.host_name as string, attempt: r.attempt as number, leaseExpiresAt, detached: r.detached === true });
      }
      if (claimed.length) {
        await c.query(`update runs set status = 'claimed', lease_owner = $1, lease_expires_at = $2, heartbeat_at = $3 where id = any($4::bigint[]) and status = 'queued'`, [
          opts.owner,
          leaseExpiresAt,
          now,
          claimed.map((r) => r.runId),
        ]);
      }
      return claimed;
    });
  }

  #lastSlotNotify = 0;
  #sinceAnalyze = 0;

  /**
   * After a burst of runs (5,000 since the last time), PostgreSQL's statistics of the runs table
   * are refreshed (ANALYZE runs, a few ms, blocking no reader or writer): with stale ones the
   * planner sorts every queued run at each claim (18 ms a claim measured) instead of reading
   * runs_claim_idx in order (3 ms); autovacuum would refresh them only within a minute or so.
   */
  private noteEnqueued(runs: number): void {
    this.#sinceAnalyze += runs;
    if (this.#sinceAnalyze < ANALYZE_AFTER_RUNS) return;
    this.#sinceAnalyze = 0;
    this.pool.query('analyze runs').catch(() => undefined);
  }
  /** Whether this run end should say a slot is free (at most every SLOT_NOTIFY_MS). */
  private slotNotifyDue(now: number): boolean {
    if (now - this.#lastSlotNotify < SLOT_NOTIFY_MS) return false;
    this.#lastSlotNotify = now;
    return true;
  }

  /**
   * Marks a claimed run as started; false when the claim was lost meanwhile. Starts asked for in
   * the same moment (a worker's slots, several jobs) go to the database as one statement (a group
   * commit: see Coalescer); each caller gets its own answer.
   */
  start(runId: number, owner: string, now = Date.now()): Promise<boolean> {
    return this.#starts.push({ runId, owner, now });
  }

  readonly #starts = new Coalescer<{ runId: number; owner: string; now: number }, boolean>(async (items) => {
    // The runs, then their jobs if still queued; k tells which ask each started run answers.
    const { rows } = await this.pool.query(
      `with inp as (select * from unnest($1::bigint[], $2::text[], $3::bigint[]) with ordinality as t(id, owner, now, k)),
            r as (update runs set status = 'running', started_at = inp.now, heartbeat_at = inp.now from inp
                  where runs.id = inp.id and runs.status = 'claimed' and runs.lease_owner = inp.owner returning runs.job_id, inp.now, inp.k),
            j as (update jobs set status = 'running', started_at = coalesce(jobs.started_at, f.now)
                  from (select job_id, min(now) as now from r group by job_id) f where jobs.id = f.job_id and jobs.status = 'queued')
       select k from r`,
      [items.map((i) => i.runId), items.map((i) => i.owner), items.map((i) => i.now)],
    );
    const started = new Set(rows.map((r) => Number(r.k)));
    return items.map((_, i) => started.has(i + 1));
  });

  /** Extends the leases of an owner's runs; returns the ids whose lease it no longer holds. */
  async heartbeat(owner: string, runIds: number[], leaseMs: number, now = Date.now()): Promise<number[]> {
    const { rows } = await this.pool.query(
      `update runs set lease_expires_at = $1, heartbeat_at = $2 where id = any($3::bigint[]) and lease_owner = $4 and status in ('claimed', 'running') returning id`,
      [now + leaseMs, now, runIds, owner],
    );
    const held = new Set(rows.map((r) => r.id as number));
    return runIds.filter((id) => !held.has(id));
  }

  /**
   * Records how a run ended (or schedules its retry); finishes the job when it was the last. Ends
   * in the same moment go to the database as one statement (a group commit: see Coalescer); each
   * caller gets its own answer, and a job is settled once per batch after its commit.
   */
  complete(runId: number, owner: string, outcome: RunOutcome, now = Date.now()): Promise<{ retried: boolean; jobStatus?: JobStatus }> {
    return this.#ends.push({ runId, owner, outcome, now });
  }

  readonly #ends = new Coalescer<{ runId: number; owner: string; outcome: RunOutcome; now: number }, { retried: boolean; jobStatus?: JobStatus }>(async (items) => {
    // One statement: each run is read under its row lock, then retried or ended when its owner
    // holds it; the retry's delay for each possible attempt comes from retryDelayMs (attempts are 1-20).
    const now = Math.max(...items.map((i) => i.now));
    const delays = Array.from({ length: 22 }, (_, a) => now + retryDelayMs(a));
    const col = <T>(f: (i: (typeof items)[number]) => T) => items.map(f);
    const { rows } = await this.pool.query(
      `with inp as (
         select * from unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[])
           with ordinality as t(id, owner, status, retryable, exit_code, signal, error_code, error_message, error_hint, now, k)),
       cur as (
         select r.id, r.job_id, r.status as cur_status, r.attempt, r.lease_owner, j.max_attempts, j.retry_script_failures,
           inp.owner, inp.status, inp.retryable, inp.exit_code, inp.signal, inp.error_code, inp.error_message, inp.error_hint, inp.now, inp.k
         from inp join runs r on r.id = inp.id join jobs j on j.id = r.job_id order by r.id for update of r),
       d as (
         select cur.*, (cur.cur_status in ('claimed', 'running') and cur.lease_owner = cur.owner) as ok,
           (cur.status = 'failed' and (cur.retryable or cur.retry_script_failures) and cur.attempt < cur.max_attempts) as retry
         from cur),
       upd as (
         update runs r set
           status = case when d.retry then 'queued' else d.status end,
           attempt = case when d.retry then r.attempt + 1 else r.attempt end,
           not_before = case when d.retry then ($11::bigint[])[r.attempt + 2] else r.not_before end,
           exit_code = case when d.retry then r.exit_code else d.exit_code end,
           signal = case when d.retry then r.signal else d.signal end,
           error_code = d.error_code, error_message = d.error_message, error_hint = d.error_hint,
           finished_at = case when d.retry then r.finished_at else d.now end,
           started_at = case when d.retry then null else r.started_at end,
           lease_owner = null, lease_expires_at = null
         from d where r.id = d.id and d.ok
         returning d.k, d.retry)
       select d.k, d.job_id, d.cur_status as status, upd.retry as retried,
         -- A slot is free (a retried run claimable later): servers held back by a limit may claim
         -- again. Said at most every SLOT_NOTIFY_MS by this server (a NOTIFY serialises the commits
         -- of every session), and for a retry.
         case when d.k = (select min(k) from upd) and ($12::boolean or exists (select 1 from upd where retry)) then pg_notify($13, 'slot ' || d.id) end as notified
       from d left join upd on upd.k = d.k`,
      [
        col((i) => i.runId),
        col((i) => i.owner),
        col((i) => i.outcome.status),
        col((i) => i.outcome.retryable === true),
        col((i) => i.outcome.exitCode ?? null),
        col((i) => i.outcome.signal ?? null),
        col((i) => i.outcome.errorCode ?? null),
        col((i) => i.outcome.errorMessage ?? null),
        col((i) => i.outcome.errorHint ?? null),
        col((i) => i.now),
        delays,
        this.slotNotifyDue(now),
        QUEUE_CHANNEL,
      ],
    );
    const byK = new Map(rows.map((r) => [Number(r.k), r as { job_id: number; status: RunStatus; retried: boolean | null }]));
    // Each job whose run ended here is settled once, after this commit; the last of its runs in the batch reports it.
    const last = new Map<number, number>();
    const out = items.map((item, i): { retried: boolean; jobStatus?: JobStatus } | CroniumError => {
      const row = byK.get(i + 1);
      if (!row) return new CroniumError('NOT_FOUND', `no run ${item.runId}`);
      if (TERMINAL.has(row.status)) return { retried: false };
      if (row.retried === null) return new CroniumError('CONFLICT', `run ${item.runId} is not held by ${item.owner}`, 'its lease expired and another worker took it over');
      if (!row.retried) last.set(Number(row.job_id), i);
      return { retried: row.retried };
    });
    for (const [jobId, i] of last) {
      const jobStatus = await settleJob(this.pool, jobId, now);
      if (jobStatus) out[i] = { retried: false, jobStatus };
    }
    return out;
  });

  /** Cancels a job: its queued runs end now; returns the runs in flight, for their servers to stop. */
  async cancel(jobId: number, now = Date.now()): Promise<number[]> {
    const inFlight = await this.tx(async (c) => {
      await c.query(`update runs set status = 'cancelled', finished_at = $1, error_message = 'cancelled before it started' where job_id = $2 and status = 'queued'`, [now, jobId]);
      return (await c.query(`select id from runs where job_id = $1 and status in ('claimed', 'running') order by id`, [jobId])).rows.map((r) => r.id as number);
    });
    if (inFlight.length === 0) await settleJob(this.pool, jobId, now);
    return inFlight;
  }

  /** As the SQLite queue's recover: expired leases (and leases of provably dead owners on this machine) resolved. */
  async recover(now = Date.now(), isDead: (owner: string) => boolean = ownerIsDead): Promise<Recovery> {
    const out = await this.tx(async (c) => {
      const out: Recovery = { requeued: [], lost: [], reattach: [] };
      type Row = { id: number; job_id: number; status: RunStatus; detached: boolean; lease_owner: string | null };
      const verdicts = new Map<string, boolean>();
      const dead = (owner: string) => verdicts.get(owner) ?? verdicts.set(owner, isDead(owner)).get(owner)!;
      const expired = (await c.query(`select id, job_id, status, detached, lease_owner from runs where status in ('claimed', 'running') and lease_expires_at < $1 order by id for update skip locked`, [now])).rows as Row[];
      const held = (
        await c.query(`select id, job_id, status, detached, lease_owner from runs where status in ('claimed', 'running') and lease_expires_at >= $1 and lease_owner is not null order by id for update skip locked`, [now])
      ).rows as Row[];
      for (const r of [...expired, ...held.filter((h) => dead(h.lease_owner!))]) {
        if (r.status === 'claimed') {
          await c.query(`update runs set status = 'queued', lease_owner = null, lease_expires_at = null where id = $1`, [r.id]);
          out.requeued.push(r.id);
        } else if (r.detached) {
          out.reattach.push({ runId: r.id, deadOwner: r.lease_owner !== null && verdicts.get(r.lease_owner) === true ? r.lease_owner : null });
        } else {
          const reason = verdicts.get(r.lease_owner ?? '') ? `the process running it (${r.lease_owner}) is gone` : `the process running it stopped; its lease expired at ${new Date(now).toISOString()}`;
          await c.query(`update runs set status = 'lost', error_code = 'INTERNAL', error_message = $1, finished_at = $2, lease_owner = null, lease_expires_at = null where id = $3`, [
            `${reason} and the script's fate is unknown`,
            now,
            r.id,
          ]);
          out.lost.push(r.id);
        }
      }
      if (out.requeued.length) await c.query(`select pg_notify($1, $2)`, [QUEUE_CHANNEL, `requeued ${out.requeued.length}`]);
      return out;
    });
    // Every job whose runs have all ended is settled: these, and any a server died before settling.
    const open = (
      await this.pool.query(
        `select j.id from jobs j where j.status in ('queued', 'running') and not exists (select 1 from runs r where r.job_id = j.id and r.status in ('queued', 'claimed', 'running')) order by j.id`,
      )
    ).rows.map((r) => r.id as number);
    for (const jobId of open) await settleJob(this.pool, jobId, now);
    return out;
  }
}

/**
 * Sets a job's final status once none of its runs is pending, after the transaction that ended
 * its last run committed; returns it when this call set it. No lock is held across runs: two
 * servers finishing a job's last two runs at once both count after their own commit, so at
 * least the later one sees every run ended; the update is guarded (the job still open, no run
 * pending at that moment), so it lands once. A server that dies between its commit and this
 * leaves the job open: recover() settles it.
 */
async function settleJob(db: pg.Pool, jobId: number, now: number): Promise<JobStatus | undefined> {
  // One probe of runs_job_idx (job_id, status) while runs are pending: counting a 1,000-run job's
  // runs at each of its ends would be quadratic.
  const pending = await db.query(`select 1 from runs where job_id = $1 and status in ('queued', 'claimed', 'running') limit 1`, [jobId]);
  if (pending.rowCount) return undefined;
  const rows = (await db.query(`select status, count(*) as n from runs where job_id = $1 group by status`, [jobId])).rows.map((r) => ({ status: r.status as RunStatus, n: Number(r.n) }));
  const status = settledStatus(rows);
  if (!status) return undefined;
  const { rows: set } = await db.query(
    `update jobs set status = $1, finished_at = $2 where id = $3 and status in ('queued', 'running')
       and not exists (select 1 from runs where job_id = $3 and status in ('queued', 'claimed', 'running')) returning id`,
    [status, now, jobId],
  );
  return set.length === 1 ? status : undefined;
}
