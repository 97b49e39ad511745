/**
 * Fires the follow-ups of saved scripts when their runs end. Guards these invariants:
 * - exactly once per (run, follow-up): `fire` runs inside the transaction that finalized
 *   the run (the worker's completion, or recovery marking it lost), claims the run by
 *   setting `runs.followups_at` where it is null, and the unique index
 *   jobs(trigger_run_id, trigger_followup_id) backs that up across processes;
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
import type Database from 'better-sqlite3';
import type { AuditLog } from '../audit/audit-log';
import type { JobQueue } from '../queue/job-queue';

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
  output: string | null;
  condition: number | null;
  script_id: number | null;
  mode: 'auto' | 'runner' | 'direct';
  timeout_ms: number | null;
  max_attempts: number;
}

interface FollowupRow {
  id: number;
  on: On;
  followup_script_id: number;
  hosts: string | null;
  tag: string | null;
}

/** The follow-up jobs fired for one run. */
export interface Fired {
  runId: number;
  jobIds: number[];
}

/** Fires follow-ups into the queue. */
export class FollowupService {
  private readonly db: Database.Database;
  private readonly maxDepth: number;

  constructor(private readonly deps: { db: Database.Database; queue: JobQueue; audit: AuditLog; maxDepth?: number; clock?: () => number }) {
    this.db = deps.db;
    this.maxDepth = deps.maxDepth ?? MAX_FOLLOWUP_DEPTH;
  }

  /**
   * Fires the follow-ups of runs that just reached a final status. Call it inside the
   * transaction that finalized them; it never throws (a failure is audited and the run's
   * follow-ups are given up, not retried for ever). Returns the jobs it queued.
   */
  fire(runIds: readonly number[]): Fired[] {
    const out: Fired[] = [];
    for (const runId of runIds) {
      const jobIds = this.fireOne(runId);
      if (jobIds.length) out.push({ runId, jobIds });
    }
    return out;
  }

  /** Fires what runs that ended unclaimed (a crash, a worker without the hook) still owe; returns what it queued. */
  sweep(limit = 500): Fired[] {
    return this.db
      .transaction(() => {
        const ids = this.db.prepare(`select id from runs where followups_at is null and status in ${FINAL_SQL} order by finished_at limit ?`).pluck().all(limit) as number[];
        return this.fire(ids);
      })
      .immediate();
  }

  private fireOne(runId: number): number[] {
    const now = (this.deps.clock ?? Date.now)();
    // A savepoint: a failure undoes only this run's firing, never the run's end around it.
    try {
      return this.db.transaction(() => this.fireClaimed(runId, now))();
    } catch (e) {
      this.db.prepare('update runs set followups_at = ? where id = ? and followups_at is null').run(now, runId);
      this.deps.audit.recordSync('followup.failed', String(runId), { error: (e as Error).message });
      process.stderr.write(`cronium: the follow-ups of run ${runId} could not be queued: ${(e as Error).message}\n`);
      return [];
    }
  }

  private fireClaimed(runId: number, now: number): number[] {
    // The claim: whoever sets followups_at fires; everyone else sees it set.
    if (this.db.prepare(`update runs set followups_at = ? where id = ? and followups_at is null and status in ${FINAL_SQL}`).run(now, runId).changes !== 1) return [];
    const run = this.db
      .prepare('select r.id, r.job_id, r.host_id, r.host_name, r.status, r.output, r.condition, j.script_id, j.mode, j.timeout_ms, j.max_attempts from runs r join jobs j on j.id = r.job_id where r.id = ?')
      .get(runId) as RunRow;
    if (run.script_id === null) return [];
    const matching = (this.db.prepare('select id, "on", followup_script_id, hosts, tag from script_followups where script_id = ? order by position').all(run.script_id) as FollowupRow[]).filter((f) =>
      followupMatches(f.on, run.status, run.condition === null ? null : run.condition === 1),
    );
    if (matching.length === 0) return [];
    if (this.db.prepare('select 1 from settings where key = ?').get(`job.cancel:${run.job_id}`)) return [];
    const depth = this.depthOf(run.job_id) + 1;
    if (depth > this.maxDepth) {
      this.deps.audit.recordSync('followup.depth', String(runId), { jobId: run.job_id, depth, max: this.maxDepth });
      process.stderr.write(`cronium: run ${runId} fired no follow-ups: the chain is ${depth} jobs deep (at most ${this.maxDepth})\n`);
      return [];
    }
    const fired: number[] = [];
    for (const f of matching) {
      if (this.db.prepare('select 1 from jobs where trigger_run_id = ? and trigger_followup_id = ?').get(runId, f.id)) continue;
      const script = this.db.prepare('select interpreter, body, elevated, files from scripts where id = ?').get(f.followup_script_id) as { interpreter: 'bash' | 'sh' | 'python3' | 'node'; body: string; elevated: number; files: string | null };
      const hosts = this.targets(f, run);
      if (hosts.length === 0) {
        this.deps.audit.recordSync('followup.no-hosts', String(runId), { followup: f.id, hosts: f.hosts ? (JSON.parse(f.hosts) as string[]) : null, tag: f.tag });
        continue;
      }
      const jobId = this.deps.queue.enqueue(
        {
          kind: 'followup',
          requestedBy: 'followup',
          parentJobId: run.job_id,
          scriptId: f.followup_script_id,
          interpreter: script.interpreter,
          scriptBody: script.body,
          mode: run.mode,
          hosts,
          target: f.hosts ? { hosts: JSON.parse(f.hosts) as string[] } : f.tag !== null ? { tags: [f.tag] } : { hosts: hosts.map((h) => h.name) },
          ...(run.timeout_ms !== null ? { timeoutMs: run.timeout_ms } : {}),
          ...(run.output !== null ? { input: JSON.parse(run.output) as unknown } : {}),
          maxAttempts: run.max_attempts,
          // A step of the chain runs as root when its own script says so.
          elevated: script.elevated === 1,
          files: script.files,
        },
        now,
      );
      this.db.prepare('update jobs set trigger_run_id = ?, trigger_on = ?, trigger_followup_id = ? where id = ?').run(runId, f.on, f.id, jobId);
      fired.push(jobId);
    }
    if (fired.length) this.deps.audit.recordSync('followup.fire', String(runId), { jobs: fired });
    return fired;
  }

  /** How many parent links lead from a job to its chain's root. */
  private depthOf(jobId: number): number {
    return this.db
      .prepare(
        `with recursive up(id, parent, d) as (select id, parent_job_id, 0 from jobs where id = ?
           union all select j.id, j.parent_job_id, up.d + 1 from jobs j join up on j.id = up.parent where up.d < ?)
         select max(d) from up`,
      )
      .pluck()
      .get(jobId, this.maxDepth + 1) as number;
  }

  /** The follow-up's hosts now: named hosts (removed ones skipped), a tag's hosts, or the run's own host. */
  private targets(f: FollowupRow, run: RunRow): { id: number; name: string }[] {
    if (f.hosts) {
      const byName = this.db.prepare('select id, name from hosts where name = ?');
      return (JSON.parse(f.hosts) as string[]).map((n) => byName.get(n) as { id: number; name: string } | undefined).filter((h): h is { id: number; name: string } => h !== undefined);
    }
    if (f.tag !== null) return this.db.prepare('select h.id, h.name from hosts h join host_tags t on t.host_id = h.id where t.tag = ? order by h.name').all(f.tag) as { id: number; name: string }[];
    if (run.host_id === null) return [];
    const h = this.db.prepare('select id, name from hosts where id = ?').get(run.host_id) as { id: number; name: string } | undefined;
    return h ? [h] : [];
  }
}
