/**
 * The job queue on SQLite. Guards these invariants:
 * - a run is claimed by one worker at a time: claims happen inside IMMEDIATE
 *   transactions and carry a lease (owner + expiry) that heartbeats extend;
 * - the per-host and global concurrency limits hold across every worker of one
 *   data dir, because they are counted from the table inside the claim transaction;
 * - no run is ever left `claimed` or `running` after its lease expired: `recover()`
 *   re-queues unstarted runs, hands detached runs back for reattachment, and marks
 *   the rest `lost` with the reason;
 * - a job's status is derived from its runs when the last one finishes.
 * Hot paths use prepared statements over the raw handle: this is the throughput path.
 */
import type Database from 'better-sqlite3';
import { CroniumError } from '../../shared/errors';
import type { Db, Store } from '../db/database';
import { ownerIsDead } from './owner';

/** Statuses of a run, in the data model's words. */
export type RunStatus = 'queued' | 'claimed' | 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled' | 'lost';
/** Statuses of a job. */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'partial' | 'cancelled';

/** A job to enqueue: what to run and on which hosts. */
export interface NewJob {
  kind: 'adhoc' | 'schedule' | 'followup' | 'push';
  requestedBy: 'cli' | 'desktop' | 'headless' | 'scheduler' | 'followup';
  /** On a team server: the person who asked for it. */
  requestedByPerson?: string;
  /** A schedule's job: the due time it fires for. */
  fireAt?: number;
  interpreter: 'bash' | 'sh' | 'python3' | 'node';
  scriptBody: string;
  mode: 'auto' | 'runner' | 'direct';
  hosts: { id: number; name: string }[];
  target?: unknown;
  scheduleId?: number;
  parentJobId?: number;
  scriptId?: number;
  timeoutMs?: number;
  concurrency?: number;
  env?: Record<string, string>;
  input?: unknown;
  priority?: number;
  /** Attempts per run, the first included (connection-class failures are retried). */
  maxAttempts?: number;
  /** Retry failed scripts too, not only connection failures. */
  retryScriptFailures?: boolean;
  /** setVariable from its runs writes the host's own variable ('host', the default) or, as before, the global one. */
  varScope?: 'host' | 'global';
  /** The secret variables its runs may read through getVariable. */
  secretNames?: readonly string[];
  /** Its runs start the script as root through each host's elevation setting. */
  elevated?: boolean;
  /** A push job's file (kind 'push'). */
  push?: { name: string; sha256: string; size: number; to: string; mode: number; owner?: string };
  /** Files its script needs, pushed before it on each host (a saved script's, as JSON text). */
  files?: string | null;
  /** Its runs go on on their hosts without a connection (runner mode), set before any can be claimed. */
  detached?: boolean;
}

/** The queue as services see it, on either store (this file's JobQueue through sqliteQueue, or PgJobQueue). */
export interface Queue {
  /** Inside `tx` when given: the job exists if and only if that transaction commits. */
  enqueue(job: NewJob, now?: number, tx?: Db): Promise<number>;
  claim(opts: ClaimOptions): Promise<ClaimedRun[]>;
  start(runId: number, owner: string, now?: number): Promise<boolean>;
  heartbeat(owner: string, runIds: number[], leaseMs: number, now?: number): Promise<number[]>;
  complete(runId: number, owner: string, outcome: RunOutcome, now?: number): Promise<{ retried: boolean; jobStatus?: JobStatus }>;
  cancel(jobId: number, now?: number): Promise<number[]>;
  recover(now?: number, isDead?: (owner: string) => boolean): Promise<Recovery>;
}

/** The SQLite queue as a Queue: each operation waits for the store's open transaction, if any, then runs at once. */
export function sqliteQueue(store: Store, q: JobQueue): Queue {
  const x = <T>(fn: () => T) => store.data.exclusive(fn);
  return {
    // Inside the port's transaction the connection is already this one's (and the gate is held).
    enqueue: (job, now, tx) => (tx ? Promise.resolve().then(() => q.enqueue(job, now)) : x(() => q.enqueue(job, now))),
    claim: (opts) => x(() => q.claim(opts)),
    start: (runId, owner, now) => x(() => q.start(runId, owner, now)),
    heartbeat: (owner, runIds, leaseMs, now) => x(() => q.heartbeat(owner, runIds, leaseMs, now)),
    complete: (runId, owner, outcome, now) => x(() => q.complete(runId, owner, outcome, now)),
    cancel: (jobId, now) => x(() => q.cancel(jobId, now)),
    recover: (now, isDead) => x(() => q.recover(now, isDead)),
  };
}

/** A claimed run, with what a worker needs to execute it. */
export interface ClaimedRun {
  runId: number;
  jobId: number;
  hostId: number | null;
  hostName: string;
  attempt: number;
  leaseExpiresAt: number;
  /** Its script goes on on its host without a connection (runner mode). */
  detached?: boolean;
}

/** How a run ended. */
export interface RunOutcome {
  status: Extract<RunStatus, 'succeeded' | 'failed' | 'timed_out' | 'cancelled'>;
  exitCode?: number | null;
  signal?: string | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  /** What to do about the error, when more specific than its code's default hint. */
  errorHint?: string | null;
  /** A connection-class failure (the script never started): eligible for retry. */
  retryable?: boolean;
}

/** Limits of one claim. */
export interface ClaimOptions {
  owner: string;
  /** Runs to claim at most. */
  limit: number;
  leaseMs: number;
  /** Runs in flight (claimed or running) per host, across all workers. */
  perHostLimit: number;
  /** Runs in flight overall, across all workers. */
  globalLimit: number;
  now?: number;
  /** Only runs of this job, oldest first (the CLI's own job). */
  jobId?: number;
  /** With jobId: the runs of the follow-up jobs of its chain too. */
  withFollowups?: boolean;
}

/** What start-up recovery did. */
export interface Recovery {
  requeued: number[];
  lost: number[];
  /** Detached runs whose lease expired or whose owner died (`deadOwner`, whose lease may be taken while unexpired): the executor reattaches them. */
  reattach: { runId: number; deadOwner: string | null }[];
}

/** Backoff before retry number `attempt` (2 = first retry): 2 s doubling to 5 min, with jitter. */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const base = Math.min(300_000, 2000 * 2 ** Math.max(0, attempt - 2));
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** A job's attempts per run, after refusing a job without hosts or with attempts out of 1-20 (both stores). */
export function checkedAttempts(job: NewJob): number {
  if (job.hosts.length === 0) throw new CroniumError('INVALID_INPUT', 'invalid hosts: a job needs at least one host', 'name hosts with --host or select them with --tag');
  const maxAttempts = job.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 20) throw new CroniumError('INVALID_INPUT', 'invalid maxAttempts: must be 1-20');
  return maxAttempts;
}

/** A job's row as drizzle inserts it (both stores; SQLite's prepared insert turns the JSON fields into text). */
export function jobRecord(job: NewJob, now: number, maxAttempts: number) {
  return {
    kind: job.kind,
    scheduleId: job.scheduleId ?? null,
    parentJobId: job.parentJobId ?? null,
    scriptId: job.scriptId ?? null,
    interpreter: job.interpreter,
    scriptBody: job.scriptBody,
    target: job.target ?? { hosts: job.hosts.map((h) => h.name) },
    mode: job.mode,
    timeoutMs: job.timeoutMs ?? null,
    concurrency: job.concurrency ?? null,
    env: job.env ?? null,
    input: job.input === undefined ? null : job.input,
    priority: job.priority ?? 0,
    status: 'queued' as const,
    requestedBy: job.requestedBy,
    requestedByPerson: job.requestedByPerson ?? null,
    fireAt: job.fireAt ?? null,
    createdAt: now,
    maxAttempts,
    retryScriptFailures: job.retryScriptFailures === true,
    varScope: job.varScope ?? 'host',
    secretNames: job.secretNames?.length ? [...job.secretNames] : null,
    elevated: job.elevated === true,
    push: job.push ?? null,
    files: job.files ? (JSON.parse(job.files) as unknown) : null,
  };
}

/** Statuses a run ends in (both stores). */
export const TERMINAL = new Set<RunStatus>(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

/** The queue over one store. */
export class JobQueue {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<JobQueue['prepare']>;

  constructor(store: Store) {
    this.db = store.sqlite;
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      insertJob: db.prepare(`insert into jobs (kind, schedule_id, parent_job_id, script_id, interpreter, script_body, target, mode, timeout_ms, concurrency, env, input, priority, status, requested_by, requested_by_person, fire_at, created_at, max_attempts, retry_script_failures, var_scope, secret_names, elevated, push, files)
        values (@kind, @scheduleId, @parentJobId, @scriptId, @interpreter, @scriptBody, @target, @mode, @timeoutMs, @concurrency, @env, @input, @priority, 'queued', @requestedBy, @requestedByPerson, @fireAt, @now, @maxAttempts, @retryScriptFailures, @varScope, @secretNames, @elevated, @push, @files)`),
      insertRun: db.prepare(`insert into runs (job_id, host_id, host_name, status, attempt, queued_at, not_before, detached, priority_rank) values (?, ?, ?, 'queued', 1, ?, ?, ?, ?)`),
      // Oldest eligible runs of the most urgent jobs first, in runs_claim_idx's order (priority_rank: minus the job's priority).
      candidates: db.prepare(`select r.id, r.job_id, r.host_id, r.host_name, r.attempt, r.detached from runs r
        where r.status = 'queued' and r.not_before <= ? order by r.priority_rank, r.not_before, r.id limit ?`),
      jobCandidates: db.prepare(`with recursive t(id) as (select ? union all select j.id from jobs j join t on j.parent_job_id = t.id where ?)
        select r.id, r.job_id, r.host_id, r.host_name, r.attempt, r.detached from runs r where r.job_id in (select id from t) and r.status = 'queued' and r.not_before <= ? order by r.id limit ?`),
      inFlightTotal: db.prepare(`select count(*) from runs where status in ('claimed', 'running')`).pluck(),
      inFlightByHost: db.prepare(`select host_name, count(*) as n from runs where status in ('claimed', 'running') group by host_name`),
      claim: db.prepare(`update runs set status = 'claimed', lease_owner = ?, lease_expires_at = ?, heartbeat_at = ? where id = ? and status = 'queued'`),
      start: db.prepare(`update runs set status = 'running', started_at = ?, heartbeat_at = ? where id = ? and status = 'claimed' and lease_owner = ?`),
      jobStarted: db.prepare(`update jobs set status = 'running', started_at = coalesce(started_at, ?) where id = ? and status = 'queued'`),
      heartbeat: db.prepare(`update runs set lease_expires_at = ?, heartbeat_at = ? where id = ? and lease_owner = ? and status in ('claimed', 'running')`),
      runRow: db.prepare(`select r.id, r.job_id, r.status, r.attempt, r.lease_owner, r.detached, j.max_attempts, j.retry_script_failures from runs r join jobs j on j.id = r.job_id where r.id = ?`),
      finish: db.prepare(`update runs set status = @status, exit_code = @exitCode, signal = @signal, error_code = @errorCode, error_message = @errorMessage, error_hint = @errorHint,
        finished_at = @now, lease_owner = null, lease_expires_at = null where id = @id`),
      retry: db.prepare(`update runs set status = 'queued', attempt = attempt + 1, not_before = ?, error_code = ?, error_message = ?, error_hint = ?, lease_owner = null, lease_expires_at = null, started_at = null where id = ?`),
      jobRuns: db.prepare(`select status, count(*) as n from runs where job_id = ? group by status`),
      // One probe of runs_job_idx (job_id, status): most ends leave runs of their job pending, and
      // counting a 1,000-run job's runs at each of its ends would be quadratic.
      jobPending: db.prepare(`select exists (select 1 from runs where job_id = ? and status in ('queued', 'claimed', 'running'))`).pluck(),
      finishJob: db.prepare(`update jobs set status = ?, finished_at = ? where id = ?`),
      expired: db.prepare(`select id, job_id, status, detached, lease_owner from runs where status in ('claimed', 'running') and lease_expires_at < ?`),
      held: db.prepare(`select id, job_id, status, detached, lease_owner from runs where status in ('claimed', 'running') and lease_expires_at >= ? and lease_owner is not null`),
      requeue: db.prepare(`update runs set status = 'queued', lease_owner = null, lease_expires_at = null where id = ?`),
      lose: db.prepare(`update runs set status = 'lost', error_code = 'INTERNAL', error_message = ?, finished_at = ?, lease_owner = null, lease_expires_at = null where id = ?`),
      cancelQueued: db.prepare(`update runs set status = 'cancelled', finished_at = ?, error_message = 'cancelled before it started' where job_id = ? and status = 'queued'`),
      inFlightOfJob: db.prepare(`select id from runs where job_id = ? and status in ('claimed', 'running')`).pluck(),
    };
  }

  /** Adds a job with one queued run per host; returns the job id. */
  enqueue(job: NewJob, now = Date.now()): number {
    const maxAttempts = checkedAttempts(job);
    return this.db.transaction(() => {
      const r = jobRecord(job, now, maxAttempts);
      const text = (v: unknown) => (v === null ? null : JSON.stringify(v));
      const info = this.stmts.insertJob.run({
        ...r,
        target: text(r.target),
        env: text(r.env),
        input: text(r.input),
        secretNames: text(r.secretNames),
        push: text(r.push),
        // Already JSON text.
        files: job.files ?? null,
        retryScriptFailures: r.retryScriptFailures ? 1 : 0,
        elevated: r.elevated ? 1 : 0,
        now,
      });
      const jobId = Number(info.lastInsertRowid);
      for (const h of job.hosts) this.stmts.insertRun.run(jobId, h.id, h.name, now, now, job.detached ? 1 : 0, -(job.priority ?? 0));
      return jobId;
    }).immediate();
  }

  /** Claims up to `limit` eligible runs for `owner`, honouring both concurrency limits. */
  claim(opts: ClaimOptions): ClaimedRun[] {
    const now = opts.now ?? Date.now();
    return this.db.transaction(() => {
      let total = this.stmts.inFlightTotal.get() as number;
      if (total >= opts.globalLimit) return [];
      const perHost = new Map<string, number>();
      for (const row of this.stmts.inFlightByHost.all() as { host_name: string; n: number }[]) perHost.set(row.host_name, row.n);
      const claimed: ClaimedRun[] = [];
      // Look further than `limit` so that runs of busy hosts do not starve the others.
      type Row = { id: number; job_id: number; host_id: number | null; host_name: string; attempt: number; detached: number };
      const rows = (opts.jobId === undefined ? this.stmts.candidates.all(now, Math.max(opts.limit * 4, 64)) : this.stmts.jobCandidates.all(opts.jobId, opts.withFollowups ? 1 : 0, now, opts.limit)) as Row[];
      const leaseExpiresAt = now + opts.leaseMs;
      for (const r of rows) {
        if (claimed.length >= opts.limit || total >= opts.globalLimit) break;
        const n = perHost.get(r.host_name) ?? 0;
        if (n >= opts.perHostLimit) continue;
        if (this.stmts.claim.run(opts.owner, leaseExpiresAt, now, r.id).changes !== 1) continue;
        perHost.set(r.host_name, n + 1);
        total++;
        claimed.push({ runId: r.id, jobId: r.job_id, hostId: r.host_id, hostName: r.host_name, attempt: r.attempt, leaseExpiresAt, detached: r.detached === 1 });
      }
      return claimed;
    }).immediate();
  }

  /** Marks a claimed run as started; false when the claim was lost meanwhile. */
  start(runId: number, owner: string, now = Date.now()): boolean {
    return this.db.transaction(() => {
      if (this.stmts.start.run(now, now, runId, owner).changes !== 1) return false;
      const row = this.stmts.runRow.get(runId) as { job_id: number };
      this.stmts.jobStarted.run(now, row.job_id);
      return true;
    }).immediate();
  }

  /** Extends the leases of an owner's runs; returns the ids whose lease it no longer holds. */
  heartbeat(owner: string, runIds: number[], leaseMs: number, now = Date.now()): number[] {
    return this.db.transaction(() => runIds.filter((id) => this.stmts.heartbeat.run(now + leaseMs, now, id, owner).changes !== 1)).immediate();
  }

  /** Records how a run ended (or schedules its retry); finishes the job when it was the last. */
  complete(runId: number, owner: string, outcome: RunOutcome, now = Date.now()): { retried: boolean; jobStatus?: JobStatus } {
    return this.db.transaction(() => {
      const row = this.stmts.runRow.get(runId) as
        | { job_id: number; status: RunStatus; attempt: number; lease_owner: string | null; max_attempts: number; retry_script_failures: number }
        | undefined;
      if (!row) throw new CroniumError('NOT_FOUND', `no run ${runId}`);
      if (TERMINAL.has(row.status)) return { retried: false };
      if (row.lease_owner !== owner) throw new CroniumError('CONFLICT', `run ${runId} is not held by ${owner}`, 'its lease expired and another worker took it over');
      const retryable = outcome.status === 'failed' && (outcome.retryable || row.retry_script_failures === 1);
      if (retryable && row.attempt < row.max_attempts) {
        this.stmts.retry.run(now + retryDelayMs(row.attempt + 1), outcome.errorCode ?? null, outcome.errorMessage ?? null, outcome.errorHint ?? null, runId);
        return { retried: true };
      }
      this.stmts.finish.run({
        id: runId,
        status: outcome.status,
        exitCode: outcome.exitCode ?? null,
        signal: outcome.signal ?? null,
        errorCode: outcome.errorCode ?? null,
        errorMessage: outcome.errorMessage ?? null,
        errorHint: outcome.errorHint ?? null,
        now,
      });
      const jobStatus = this.settleJob(row.job_id, now);
      return { retried: false, ...(jobStatus ? { jobStatus } : {}) };
    }).immediate();
  }

  /** Cancels a job: its queued runs end now; returns the runs in flight, for the executor to stop. */
  cancel(jobId: number, now = Date.now()): number[] {
    return this.db.transaction(() => {
      this.stmts.cancelQueued.run(now, jobId);
      const inFlight = this.stmts.inFlightOfJob.all(jobId) as number[];
      if (inFlight.length === 0) this.settleJob(jobId, now);
      return inFlight;
    }).immediate();
  }

  /**
   * Resolves every run whose lease expired (the app stopped or crashed): unstarted
   * claims go back to the queue, detached runs are handed back for reattachment, the
   * rest become `lost` with the reason. Run at start-up and periodically.
   */
  recover(now = Date.now(), isDead: (owner: string) => boolean = ownerIsDead): Recovery {
    return this.db.transaction(() => {
      const out: Recovery = { requeued: [], lost: [], reattach: [] };
      const jobs = new Set<number>();
      type Row = { id: number; job_id: number; status: RunStatus; detached: number; lease_owner: string | null };
      // Leases still running whose owner is provably dead (same machine, pid gone or reused) are
      // taken over now rather than when they expire; each owner is judged once.
      const verdicts = new Map<string, boolean>();
      const dead = (owner: string) => verdicts.get(owner) ?? verdicts.set(owner, isDead(owner)).get(owner)!;
      const rows = [...(this.stmts.expired.all(now) as Row[]), ...(this.stmts.held.all(now) as Row[]).filter((r) => dead(r.lease_owner!))];
      for (const r of rows) {
        if (r.status === 'claimed') {
          this.stmts.requeue.run(r.id);
          out.requeued.push(r.id);
        } else if (r.detached) {
          out.reattach.push({ runId: r.id, deadOwner: r.lease_owner !== null && verdicts.get(r.lease_owner) === true ? r.lease_owner : null });
        } else {
          const reason = verdicts.get(r.lease_owner ?? '') ? `the process running it (${r.lease_owner}) is gone` : `the process running it stopped; its lease expired at ${new Date(now).toISOString()}`;
          this.stmts.lose.run(`${reason} and the script's fate is unknown`, now, r.id);
          out.lost.push(r.id);
          jobs.add(r.job_id);
        }
      }
      for (const jobId of jobs) this.settleJob(jobId, now);
      return out;
    }).immediate();
  }

  /** Sets a job's final status once none of its runs is pending; returns it. */
  private settleJob(jobId: number, now: number): JobStatus | undefined {
    if (this.stmts.jobPending.get(jobId)) return undefined;
    const status = settledStatus(this.stmts.jobRuns.all(jobId) as { status: RunStatus; n: number }[]);
    if (status) this.stmts.finishJob.run(status, now, jobId);
    return status;
  }
}

/** A job's final status from the count of its runs per status, or undefined while any is pending (both stores). */
export function settledStatus(rows: readonly { status: RunStatus; n: number }[]): JobStatus | undefined {
  const counts = new Map<RunStatus, number>();
  for (const r of rows) counts.set(r.status, r.n);
  const pending = (counts.get('queued') ?? 0) + (counts.get('claimed') ?? 0) + (counts.get('running') ?? 0);
  if (pending > 0) return undefined;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const ok = counts.get('succeeded') ?? 0;
  const cancelled = counts.get('cancelled') ?? 0;
  return ok === total ? 'succeeded' : cancelled === total ? 'cancelled' : ok === 0 ? 'failed' : 'partial';
}
