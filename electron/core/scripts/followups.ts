/**
 * Fires the follow-ups of saved scripts when their runs end. Guards these invariants:
 * - exactly once per (run, follow-up): `fire` runs right after the commit that finalized the
 *   run (the worker's completion, or recovery marking it lost) and, in one transaction per run,
 *   claims it by setting `runs.followups_at` where it is null and queues its follow-up jobs;
 *   the unique index jobs(trigger_run_id, trigger_followup_id) backs that up across processes
 *   and servers;
 * - a crash between a run's end and its follow-ups cannot lose them: runs that became
 *   final without being claimed (another door's worker without the hook, a crash
 *   mid-way, runs cancelled in the queue) are found by `sweep`, which recovery runs;
 * - loops are refused when scripts are saved; a depth guard (MAX_FOLLOWUP_DEPTH jobs in
 *   one chain) stops a chain at run time all the same;
 * - a job being cancelled fires nothing more (its cancel request is checked).
 * A follow-up job runs in its parent's mode, with its timeout and retries, on the follow-up's
 * hosts or tag (resolved when it fires) or the run's own host; its input is the run's output.
 * Matching: success ← succeeded; failure ← failed, timed_out or lost; always ← any final
 * status but cancelled; condition ← the run set its condition true (and was not cancelled).
 */
import { sql } from 'drizzle-orm';
import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../db/database';
import { asBool, asJson, type DataStore } from '../db/store';
import type { Queue } from '../queue/job-queue';

/** How deep a chain of follow-up jobs may go (the root job is depth 0). */
export const MAX_FOLLOWUP_DEPTH = 20;

/** Final run statuses (the same list as the partial index runs_followups_pending_idx). */
const FINAL_SQL = "('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')";

type On = 'success' | 'failure' | 'always' | 'condition';

/** Whether a follow-up with `on` fires for a run that ended with `status` and `condition`. */
export function followupMatches(on: On, status: string, condition: boolean | null): boolean {
  if (status === 'cancelled') return false;
  switch (on) {
    case 'success':
      return status === 'succeeded';
    case 'failure':
      return status === 'failed' || status === 'timed_out' || status === 'lost';
    case 'always':
      return true;
    case 'condition':
      return condition === true;
  }
}

interface RunRow {
  id: number;
  job_id: number;
  host_id: number | null;
  host_name: string;
  status: string;
  output: unknown;
  condition: unknown;
  script_id: number | null;
  mode: 'auto' | 'runner' | 'direct';
  timeout_ms: number | null;
  max_attempts: number;
}

interface FollowupRow {
  id: number;
  on: On;
  followup_script_id: number;
  hosts: unknown;
  tag: string | null;
}

/** The follow-up jobs fired for one run. */
export interface Fired {
  runId: number;
  jobIds: number[];
}

/** Fires follow-ups into the queue. */
export class FollowupService {
  private readonly store: DataStore;
  private readonly maxDepth: number;

  constructor(private readonly deps: { store: DataStore; queue: Queue; audit: AuditLog; maxDepth?: number; clock?: () => number }) {
    this.store = deps.store;
    this.maxDepth = deps.maxDepth ?? MAX_FOLLOWUP_DEPTH;
  }

  /**
   * Fires the follow-ups of runs that just reached a final status, each run in a transaction of
   * its own; it never rejects (a failure is audited and the run's follow-ups are given up, not
   * retried for ever). Returns the jobs it queued.
   */
  async fire(runIds: readonly number[]): Promise<Fired[]> {
    const out: Fired[] = [];
    for (const runId of runIds) {
      const jobIds = await this.fireOne(runId);
      if (jobIds.length) out.push({ runId, jobIds });
    }
    return out;
  }

  /** Fires what runs that ended unclaimed (a crash, a worker without the hook) still owe; returns what it queued. */
  async sweep(limit = 500): Promise<Fired[]> {
    const ids = (await this.store.rows<{ id: number }>(sql`select id from runs where followups_at is null and status in ${sql.raw(FINAL_SQL)} order by finished_at limit ${limit}`)).map((r) => Number(r.id));
    return this.fire(ids);
  }

  private async fireOne(runId: number): Promise<number[]> {
    const now = (this.deps.clock ?? Date.now)();
    try {
      return await this.store.tx((tx) => this.fireClaimed(tx, runId, now));
    } catch (e) {
      try {
        await this.store.exec(sql`update runs set followups_at = ${now} where id = ${runId} and followups_at is null`);
        await this.deps.audit.record('followup.failed', String(runId), { error: (e as Error).message });
      } catch {
        // The store itself fails: the sweep tries this run again.
      }
      process.stderr.write(`cronium: the follow-ups of run ${runId} could not be queued: ${(e as Error).message}\n`);
      return [];
    }
  }

  private async fireClaimed(tx: Db, runId: number, now: number): Promise<number[]> {
    const s = this.store;
    const one = async <T>(q: ReturnType<typeof sql>) => (await s.rows<T>(q, tx))[0];
    // The claim: whoever sets followups_at fires; everyone else sees it set.
    if ((await s.exec(sql`update runs set followups_at = ${now} where id = ${runId} and followups_at is null and status in ${sql.raw(FINAL_SQL)}`, tx)) !== 1) return [];
    const run = (await one<RunRow>(sql`select r.id, r.job_id, r.host_id, r.host_name, r.status, r.output, r.condition, j.script_id, j.mode, j.timeout_ms, j.max_attempts from runs r join jobs j on j.id = r.job_id where r.id = ${runId}`))!;
    if (run.script_id === null) return [];
    const matching = (await s.rows<FollowupRow>(sql`select id, "on", followup_script_id, hosts, tag from script_followups where script_id = ${run.script_id} order by position`, tx)).filter((f) => followupMatches(f.on, run.status, asBool(run.condition)));
    if (matching.length === 0) return [];
    if (await one(sql`select 1 as one from settings where key = ${`job.cancel:${run.job_id}`}`)) return [];
    const depth = (await this.depthOf(tx, Number(run.job_id))) + 1;
    if (depth > this.maxDepth) {
      await this.deps.audit.record('followup.depth', String(runId), { jobId: Number(run.job_id), depth, max: this.maxDepth }, tx);
      process.stderr.write(`cronium: run ${runId} fired no follow-ups: the chain is ${depth} jobs deep (at most ${this.maxDepth})\n`);
      return [];
    }
    const fired: number[] = [];
    for (const f of matching) {
      if (await one(sql`select 1 as one from jobs where trigger_run_id = ${runId} and trigger_followup_id = ${f.id}`)) continue;
      const script = (await one<{ interpreter: 'bash' | 'sh' | 'python3' | 'node'; body: string; elevated: unknown; files: unknown }>(sql`select interpreter, body, elevated, files from scripts where id = ${f.followup_script_id}`))!;
      const hosts = await this.targets(tx, f, run);
      const named = asJson<string[]>(f.hosts);
      if (hosts.length === 0) {
        await this.deps.audit.record('followup.no-hosts', String(runId), { followup: Number(f.id), hosts: named, tag: f.tag }, tx);
        continue;
      }
      const output = asJson<unknown>(run.output);
      const jobId = await this.deps.queue.enqueue(
        {
          kind: 'followup',
          requestedBy: 'followup',
          parentJobId: Number(run.job_id),
          scriptId: f.followup_script_id,
          interpreter: script.interpreter,
          scriptBody: script.body,
          mode: run.mode,
          hosts,
          target: named ? { hosts: named } : f.tag !== null ? { tags: [f.tag] } : { hosts: hosts.map((h) => h.name) },
          ...(run.timeout_ms !== null ? { timeoutMs: Number(run.timeout_ms) } : {}),
          ...(output !== null ? { input: output } : {}),
          maxAttempts: Number(run.max_attempts),
          // A step of the chain runs as root when its own script says so.
          elevated: asBool(script.elevated) === true,
          files: script.files === null || script.files === undefined ? null : typeof script.files === 'string' ? script.files : JSON.stringify(script.files),
        },
        now,
        tx,
      );
      await s.exec(sql`update jobs set trigger_run_id = ${runId}, trigger_on = ${f.on}, trigger_followup_id = ${f.id} where id = ${jobId}`, tx);
      fired.push(jobId);
    }
    if (fired.length) await this.deps.audit.record('followup.fire', String(runId), { jobs: fired }, tx);
    return fired;
  }

  /** How many parent links lead from a job to its chain's root. */
  private async depthOf(tx: Db, jobId: number): Promise<number> {
    const [row] = await this.store.rows<{ d: number }>(
      sql`with recursive up(id, parent, d) as (select id, parent_job_id, 0 from jobs where id = ${jobId}
           union all select j.id, j.parent_job_id, up.d + 1 from jobs j join up on j.id = up.parent where up.d < ${this.maxDepth + 1})
         select max(d) as d from up`,
      tx,
    );
    return Number(row?.d ?? 0);
  }

  /** The follow-up's hosts now: named hosts (removed ones skipped), a tag's hosts, or the run's own host. */
  private async targets(tx: Db, f: FollowupRow, run: RunRow): Promise<{ id: number; name: string }[]> {
    const s = this.store;
    const norm = (rows: { id: number; name: string }[]) => rows.map((h) => ({ id: Number(h.id), name: h.name }));
    const named = asJson<string[]>(f.hosts);
    if (named) {
      if (named.length === 0) return [];
      const found = new Map(norm(await s.rows<{ id: number; name: string }>(sql`select id, name from hosts where name in ${named}`, tx)).map((h) => [h.name, h]));
      return named.map((n) => found.get(n)).filter((h): h is { id: number; name: string } => h !== undefined);
    }
    if (f.tag !== null) return norm(await s.rows<{ id: number; name: string }>(sql`select h.id, h.name from hosts h join host_tags t on t.host_id = h.id where t.tag = ${f.tag} order by h.name`, tx));
    if (run.host_id === null) return [];
    return norm(await s.rows<{ id: number; name: string }>(sql`select id, name from hosts where id = ${run.host_id}`, tx));
  }
}
