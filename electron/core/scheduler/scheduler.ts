/**
 * The scheduler: fires due schedules into the job queue. Guards two invariants:
 * - one active scheduler per data dir: a lease row in `settings` (owner + expiry,
 *   renewed by heartbeats, taken over only once expired), so the desktop and
 *   `cronium serve` never both fire a schedule;
 * - a fire happens at most once: advancing `next_fire_at` and enqueuing the job are
 *   one transaction, conditional on the `next_fire_at` that was read.
 * Policies: overlap `skip` drops a fire while the schedule's previous job is still
 * queued or running; `queue` holds the fire until that job ends, then fires once
 * (fires that fall due meanwhile coalesce into it); `parallel` always fires.
 * Catch-up after downtime (app closed, machine asleep): `skip` drops the missed fires
 * and waits for the next one; `run-once` fires once for all of them.
 */
import type Database from 'better-sqlite3';
import { CroniumError } from '../../shared/errors';
import type { Store } from '../db/database';
import type { JobQueue } from '../queue/job-queue';
import { ownerIsDead } from '../queue/owner';
import { nextRun, parseCron } from './cron';
import type { ScheduleHealth } from './health';

/** The default grace: a fire later than this counts as missed (downtime), not merely late. */
export const MISSED_AFTER_MS = 60_000;
/** Late and finished jobs are looked at this often (health.ts). */
const SWEEP_EVERY_MS = 5_000;
const LOCK_KEY = 'scheduler.lock';

/** A due schedule as read from the table. */
interface DueRow {
  id: number;
  name: string;
  cron: string;
  tz: string;
  next_fire_at: number;
  overlap_policy: 'skip' | 'queue' | 'parallel';
  catchup_policy: 'skip' | 'run-once';
  script_id: number;
  target: string;
  mode: 'auto' | 'runner' | 'direct';
  timeout_ms: number | null;
  var_scope: 'host' | 'global';
  secret_names: string | null;
  elevated: number;
  concurrency: number | null;
  grace_ms: number;
}

/** What happened to one due schedule in a tick. */
export interface FireResult {
  scheduleId: number;
  name: string;
  dueAt: number;
  outcome: 'fired' | 'skipped-overlap' | 'held-overlap' | 'skipped-missed' | 'no-hosts';
  jobId?: number;
}

/** Resolves a schedule's target to the hosts it names now. */
export type TargetResolver = (target: { hosts?: string[]; tags?: string[] }) => { id: number; name: string }[];

/** Options of the scheduler. */
export interface SchedulerOptions {
  store: Store;
  queue: JobQueue;
  resolveTargets: TargetResolver;
  /** Identifies this process in the lease, e.g. `serve:<pid>`. */
  owner: string;
  leaseMs?: number;
  clock?: () => number;
  onFire?: (result: FireResult) => void;
  /** Records missed fires, late and failing jobs, and their alerts (health.ts). */
  health?: ScheduleHealth;
}

/** Fires due schedules while it holds the data dir's scheduler lease. */
export class Scheduler {
  private readonly db: Database.Database;
  private readonly leaseMs: number;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lastSweep = 0;

  constructor(private readonly opts: SchedulerOptions) {
    this.db = opts.store.sqlite;
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.clock = opts.clock ?? Date.now;
  }

  /** Takes or renews the lease; true while this process is the active scheduler. */
  acquire(now = this.clock()): boolean {
    return this.db.transaction(() => {
      const row = this.db.prepare('select value from settings where key = ?').pluck().get(LOCK_KEY) as string | undefined;
      const lock = row ? (JSON.parse(row) as { owner: string; expiresAt: number }) : undefined;
      // Held by another live process: wait. A holder provably dead (same machine, pid gone) loses it now.
      if (lock && lock.owner !== this.opts.owner && lock.expiresAt > now && !ownerIsDead(lock.owner)) return false;
      this.db
        .prepare('insert into settings (key, value, updated_at) values (?, ?, ?) on conflict(key) do update set value = excluded.value, updated_at = excluded.updated_at')
        .run(LOCK_KEY, JSON.stringify({ owner: this.opts.owner, expiresAt: now + this.leaseMs }), now);
      return true;
    }).immediate();
  }

  /** Gives the lease up (on shutdown), so another process can take over at once. */
  release(): void {
    this.db.transaction(() => {
      const row = this.db.prepare('select value from settings where key = ?').pluck().get(LOCK_KEY) as string | undefined;
      if (row && (JSON.parse(row) as { owner: string }).owner === this.opts.owner) this.db.prepare('delete from settings where key = ?').run(LOCK_KEY);
    }).immediate();
  }

  /** Fires every due schedule once (if this process holds the lease); returns what it did. */
  tick(now = this.clock()): FireResult[] {
    if (!this.acquire(now)) return [];
    const due = this.db
      .prepare(
        `select s.id, s.name, s.cron, s.tz, s.next_fire_at, s.overlap_policy, s.catchup_policy, s.script_id, s.target, s.mode, s.timeout_ms, s.concurrency, s.var_scope, s.secret_names, s.elevated, s.grace_ms
         from schedules s where s.paused = 0 and s.next_fire_at is not null and s.next_fire_at <= ? order by s.next_fire_at`,
      )
      .all(now) as DueRow[];
    const results: FireResult[] = [];
    for (const s of due) {
      const result = this.fireOne(s, now);
      if (result) {
        results.push(result);
        this.opts.onFire?.(result);
      }
    }
    if (this.opts.health && (results.length > 0 || now - this.lastSweep >= SWEEP_EVERY_MS || now < this.lastSweep)) {
      this.lastSweep = now;
      this.opts.health.sweep(now);
    }
    return results;
  }

  private fireOne(s: DueRow, now: number): FireResult | undefined {
    return this.db.transaction((): FireResult | undefined => {
      const base = { scheduleId: s.id, name: s.name, dueAt: s.next_fire_at };
      const following = nextRun(s.cron, s.tz, new Date(now))?.getTime() ?? null;
      const advance = () => this.db.prepare('update schedules set next_fire_at = ?, updated_at = ? where id = ? and next_fire_at = ?').run(following, now, s.id, s.next_fire_at).changes === 1;
      // A fire held back by the `queue` overlap policy is late on purpose, not missed.
      const lastFinished = this.db.prepare('select max(finished_at) from jobs where schedule_id = ?').pluck().get(s.id) as number | null;
      const held = s.overlap_policy === 'queue' && lastFinished !== null && lastFinished >= s.next_fire_at;
      const missed = !held && now - s.next_fire_at > (s.grace_ms ?? MISSED_AFTER_MS);
      if (missed && this.opts.health) {
        // Every fire of the gap, as cron names them (a DST gap has none to miss).
        const cron = parseCron(s.cron, s.tz);
        let count = 1;
        for (let t = cron.nextRun(new Date(s.next_fire_at)); t && t.getTime() <= now && count < 10_000; t = cron.nextRun(t)) count++;
        this.opts.health.missed(s.id, s.next_fire_at, count, now, s.catchup_policy);
      }
      if (missed && s.catchup_policy === 'skip') {
        return advance() ? { ...base, outcome: 'skipped-missed' } : undefined;
      }
      if (s.overlap_policy !== 'parallel') {
        const active = this.db.prepare("select count(*) from jobs where schedule_id = ? and status in ('queued', 'running')").pluck().get(s.id) as number;
        if (active > 0) {
          if (s.overlap_policy === 'queue') return { ...base, outcome: 'held-overlap' };
          return advance() ? { ...base, outcome: 'skipped-overlap' } : undefined;
        }
      }
      const hosts = this.opts.resolveTargets(JSON.parse(s.target) as { hosts?: string[]; tags?: string[] });
      if (!advance()) return undefined;
      this.db.prepare('update schedules set last_fire_at = ? where id = ?').run(now, s.id);
      if (hosts.length === 0) return { ...base, outcome: 'no-hosts' };
      const script = this.db.prepare('select interpreter, body, elevated, files from scripts where id = ?').get(s.script_id) as { interpreter: 'bash' | 'sh' | 'python3' | 'node'; body: string; elevated: number; files: string | null } | undefined;
      if (!script) throw new CroniumError('NOT_FOUND', `the script of schedule ${s.name} is gone`);
      const jobId = this.opts.queue.enqueue(
        {
          kind: 'schedule',
          requestedBy: 'scheduler',
          scheduleId: s.id,
          scriptId: s.script_id,
          interpreter: script.interpreter,
          scriptBody: script.body,
          mode: s.mode,
          hosts,
          target: JSON.parse(s.target),
          ...(s.timeout_ms !== null ? { timeoutMs: s.timeout_ms } : {}),
          ...(s.concurrency !== null ? { concurrency: s.concurrency } : {}),
          varScope: s.var_scope,
          ...(s.secret_names ? { secretNames: JSON.parse(s.secret_names) as string[] } : {}),
          elevated: s.elevated === 1 || script.elevated === 1,
          files: script.files,
        },
        now,
      );
      return { ...base, outcome: 'fired', jobId };
    }).immediate();
  }

  /** The earliest next fire time of unpaused schedules, or undefined. */
  nextDue(): number | undefined {
    const v = this.db.prepare('select min(next_fire_at) from schedules where paused = 0').pluck().get() as number | null;
    return v ?? undefined;
  }

  /** Runs the loop: sleeps until the next due time (at most `maxSleepMs`), ticks, repeats. */
  start(maxSleepMs = 1000): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      try {
        this.tick();
      } catch (e) {
        process.stderr.write(`cronium: scheduler tick failed: ${(e as Error).message}\n`);
      }
      const next = this.nextDue();
      const wait = next === undefined ? maxSleepMs : Math.max(0, Math.min(maxSleepMs, next - this.clock()));
      this.timer = setTimeout(loop, wait);
    };
    loop();
  }

  /** Stops the loop and releases the lease. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.release();
    } catch {
      // The store may already be closed on shutdown; the lease then simply expires.
    }
  }
}
