/**
 * Aggregations for the interface's charts and the runner's health, computed in SQL over
 * the store: run durations per schedule, success rate per host, and the runner's health
 * per day. Read-only: nothing here writes. Every query is bounded by a time window that
 * an index narrows (jobs_created_idx, jobs_schedule_idx, audit_log_ts_idx,
 * runner_deployments by host), so a store with 100,000 runs answers in milliseconds.
 * Days are UTC days (`floor(ts / 86,400,000)`), returned as the ms timestamp of their start.
 */
import { sql } from 'drizzle-orm';
import type { DataStore } from '../db/store';
import type { z } from 'zod';
import type { JobStatus } from '../../shared/api';
import { CroniumError } from '../../shared/errors';

const DAY_MS = 86_400_000;

/** How many rows of a group meet a condition (portable: no boolean sums, which only SQLite has). */
const count = (condition: string) => sql.raw(`sum(case when ${condition} then 1 else 0 end)`);

/** One job fired by a schedule: when it started and how long it took. */
export interface SchedulePoint {
  jobId: number;
  /** When the job started (its creation time when it never started). */
  at: number;
  /** finished − started of the job, or null while it runs or when it never started. */
  durationMs: number | null;
  status: z.output<typeof JobStatus>;
  /** Runs of the job, and how many of them succeeded. */
  runs: number;
  succeeded: number;
}

/** Success of one host's finished runs in a window. */
export interface HostSuccess {
  host: string;
  /** Finished runs (every final status). */
  total: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  lost: number;
  /** succeeded / (total − cancelled), or null when nothing counted (cancelled runs say nothing about a host). */
  rate: number | null;
  /** Mean total time of the successful runs, in ms. */
  avgMs: number | null;
  lastAt: number | null;
}

/** The runner's health over one UTC day. */
export interface RunnerHealthDay {
  /** Start of the UTC day, ms. */
  day: number;
  /** Deployment rows started that day that ended ready (or were removed later), and that failed. */
  deploys: number;
  deployFailures: number;
  /** Runs checked a cached runner on the host and used it (no upload), and uploads. */
  cacheHits: number;
  uploads: number;
  /** A cached binary whose SHA-256 no longer matched (changed on the host), or runs refused for integrity. */
  integrityFailures: number;
  /** Runs whose signed payload the runner refused (PAYLOAD_REJECTED). */
  signatureFailures: number;
  /** Runs whose helper API could not use the SSH tunnel and went in-band, and recorded tunnel failures. */
  tunnelFailures: number;
  /** Runs of auto mode that fell back to direct mode (with the reason on the run). */
  directFallbacks: number;
  /** Runs that ran in runner mode. */
  runnerRuns: number;
}

/** The runner's health over a window of days, with totals and rates. */
export interface RunnerHealth {
  since: number;
  days: RunnerHealthDay[];
  totals: Omit<RunnerHealthDay, 'day'> & {
    /** deploys / (deploys + deployFailures), null when none. */
    deploySuccessRate: number | null;
    /** cacheHits / (cacheHits + uploads), null when none. */
    cacheHitRate: number | null;
  };
}

/** The chart and health aggregations over the store. */
export class StatsService {
  constructor(
    private readonly store: DataStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Jobs fired by a schedule since a time (default 30 days), oldest first, at most `limit` (the newest). */
  async scheduleDurations(args: { name: string; since?: number | undefined; limit?: number | undefined }): Promise<{ schedule: string; since: number; points: SchedulePoint[] }> {
    const [sched] = await this.store.rows<{ id: number }>(sql`select id from schedules where name = ${args.name}`);
    if (!sched) throw new CroniumError('NOT_FOUND', `no schedule named "${args.name}"`, 'list them with: cronium schedules list');
    const since = args.since ?? this.now() - 30 * DAY_MS;
    const limit = args.limit ?? 500;
    const rows = await this.store.rows<{ id: number; status: SchedulePoint['status']; created_at: number; started_at: number | null; finished_at: number | null; runs: number; succeeded: number }>(
      sql`select j.id, j.status, j.created_at, j.started_at, j.finished_at,
                (select count(*) from runs r where r.job_id = j.id) as runs,
                (select count(*) from runs r where r.job_id = j.id and r.status = 'succeeded') as succeeded
           from jobs j where j.schedule_id = ${sched.id} and j.created_at >= ${since} order by j.id desc limit ${limit}`,
    );
    const n = (v: number | null) => (v === null ? null : Number(v));
    const points = rows.reverse().map((r) => ({
      jobId: Number(r.id),
      at: n(r.started_at) ?? Number(r.created_at),
      durationMs: r.started_at !== null && r.finished_at !== null ? Number(r.finished_at) - Number(r.started_at) : null,
      status: r.status,
      runs: Number(r.runs),
      succeeded: Number(r.succeeded),
    }));
    return { schedule: args.name, since, points };
  }

  /** Runs per host that finished since a time (default 30 days), by host name; of one host when named. */
  async hostSuccess(args: { since?: number | undefined; host?: string | undefined } = {}): Promise<{ since: number; hosts: HostSuccess[] }> {
    const since = args.since ?? this.now() - 30 * DAY_MS;
    // Only final runs have finished_at; one pass over the window, grouped in SQL.
    const raw = await this.store.rows<{
      host: string;
      total: number;
      succeeded: number;
      failed: number;
      timed_out: number;
      cancelled: number;
      lost: number;
      last_at: number | null;
      avg_ms: number | null;
    }>(
      sql`select host_name as host, count(*) as total,
                ${count("status = 'succeeded'")} as succeeded, ${count("status = 'failed'")} as failed,
                ${count("status = 'timed_out'")} as timed_out, ${count("status = 'cancelled'")} as cancelled,
                ${count("status = 'lost'")} as lost, max(finished_at) as last_at,
                avg(case when status = 'succeeded' then t_total_ms end) as avg_ms
           from runs where finished_at >= ${since} ${args.host !== undefined ? sql`and host_name = ${args.host}` : sql``}
          group by host_name order by host_name`,
    );
    // bigint counts and numeric averages come back as strings from PostgreSQL.
    const rows = raw.map((r) => ({ ...r, total: Number(r.total), succeeded: Number(r.succeeded), failed: Number(r.failed), timed_out: Number(r.timed_out), cancelled: Number(r.cancelled), lost: Number(r.lost), last_at: r.last_at === null ? null : Number(r.last_at), avg_ms: r.avg_ms === null ? null : Number(r.avg_ms) }));
    const hosts = rows.map((r) => {
      const counted = r.total - r.cancelled;
      return {
        host: r.host,
        total: r.total,
        succeeded: r.succeeded,
        failed: r.failed,
        timedOut: r.timed_out,
        cancelled: r.cancelled,
        lost: r.lost,
        rate: counted > 0 ? r.succeeded / counted : null,
        avgMs: r.avg_ms === null ? null : Math.round(r.avg_ms),
        lastAt: r.last_at,
      };
    });
    return { since, hosts };
  }

  /**
   * The runner's health per UTC day over the last `days` days (today included). Sources:
   * runner_deployments (deploys and their failures), the audit log (`runner.deploy` uploads,
   * `runner.cache-hit` checks of a cached binary, `runner.integrity-failed`,
   * `helper.tunnel-failed`), and runs (mode, mode_reason, helper_transport, error_code).
   */
  async runnerHealth(args: { days?: number | undefined } = {}): Promise<RunnerHealth> {
    const days = args.days ?? 14;
    const today = Math.floor(this.now() / DAY_MS);
    const firstDay = today - days + 1;
    const since = firstDay * DAY_MS;
    const byDay = new Map<number, RunnerHealthDay>();
    for (let d = firstDay; d <= today; d++) {
      byDay.set(d, { day: d * DAY_MS, deploys: 0, deployFailures: 0, cacheHits: 0, uploads: 0, integrityFailures: 0, signatureFailures: 0, tunnelFailures: 0, directFallbacks: 0, runnerRuns: 0 });
    }
    const add = (day: number, key: Exclude<keyof RunnerHealthDay, 'day'>, n: number) => {
      const row = byDay.get(day);
      if (row) row[key] += n;
    };

    const deployRows = await this.store.rows<{ day: number; ok: number; failed: number }>(
      sql`select created_at / ${sql.raw(String(DAY_MS))} as day, ${count("status in ('ready', 'removed')")} as ok, ${count("status = 'failed'")} as failed
           from runner_deployments where created_at >= ${since} group by created_at / ${sql.raw(String(DAY_MS))}`,
    );
    for (const r of deployRows) {
      add(Number(r.day), 'deploys', Number(r.ok));
      add(Number(r.day), 'deployFailures', Number(r.failed));
    }

    const auditRows = (
      await this.store.rows<{ day: number; action: string; n: number }>(
        sql`select ts / ${sql.raw(String(DAY_MS))} as day, action, count(*) as n from audit_log
          where ts >= ${since} and action in ('runner.deploy', 'runner.cache-hit', 'runner.integrity-failed', 'helper.tunnel-failed')
          group by ts / ${sql.raw(String(DAY_MS))}, action`,
      )
    ).map((r) => ({ day: Number(r.day), action: r.action, n: Number(r.n) }));
    for (const r of auditRows) {
      if (r.action === 'runner.deploy') add(r.day, 'uploads', r.n);
      else if (r.action === 'runner.cache-hit') add(r.day, 'cacheHits', r.n);
      else if (r.action === 'runner.integrity-failed') add(r.day, 'integrityFailures', r.n);
      else add(r.day, 'tunnelFailures', r.n);
    }

    // Runs of jobs created in the window, bucketed by when they started (or were queued).
    const runRows = await this.store.rows<{ day: number; runner_runs: number; fallbacks: number; in_band: number; rejected: number; integrity: number }>(
      sql`select coalesce(r.started_at, r.queued_at) / ${sql.raw(String(DAY_MS))} as day,
                ${count("r.mode = 'runner'")} as runner_runs,
                ${count("r.mode = 'direct' and j.mode = 'auto' and r.mode_reason is not null")} as fallbacks,
                ${count("r.helper_transport = 'in-band'")} as in_band,
                ${count("r.error_code = 'PAYLOAD_REJECTED'")} as rejected,
                ${count("r.error_code = 'RUNNER_INTEGRITY_FAILED'")} as integrity
           from jobs j join runs r on r.job_id = j.id
          where j.created_at >= ${since} group by coalesce(r.started_at, r.queued_at) / ${sql.raw(String(DAY_MS))}`,
    );
    for (const r of runRows) {
      const day = Number(r.day);
      add(day, 'runnerRuns', Number(r.runner_runs ?? 0));
      add(day, 'directFallbacks', Number(r.fallbacks ?? 0));
      add(day, 'tunnelFailures', Number(r.in_band ?? 0));
      add(day, 'signatureFailures', Number(r.rejected ?? 0));
      add(day, 'integrityFailures', Number(r.integrity ?? 0));
    }

    const list = [...byDay.values()];
    const sum = (k: Exclude<keyof RunnerHealthDay, 'day'>) => list.reduce((a, d) => a + d[k], 0);
    const t = {
      deploys: sum('deploys'),
      deployFailures: sum('deployFailures'),
      cacheHits: sum('cacheHits'),
      uploads: sum('uploads'),
      integrityFailures: sum('integrityFailures'),
      signatureFailures: sum('signatureFailures'),
      tunnelFailures: sum('tunnelFailures'),
      directFallbacks: sum('directFallbacks'),
      runnerRuns: sum('runnerRuns'),
    };
    return {
      since,
      days: list,
      totals: {
        ...t,
        deploySuccessRate: t.deploys + t.deployFailures > 0 ? t.deploys / (t.deploys + t.deployFailures) : null,
        cacheHitRate: t.cacheHits + t.uploads > 0 ? t.cacheHits / (t.cacheHits + t.uploads) : null,
      },
    };
  }
}
