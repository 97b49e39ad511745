/**
 * The scheduler: fires due schedules into the job queue. Guards two invariants:
 * - one active scheduler per data dir: a lease row in `settings` (owner + expiry,
 *   renewed by heartbeats, taken over only once expired), so the desktop and
 *   `cronium serve` never both fire a schedule;
 * - a fire happens at most once: advancing `next_fire_at` and enqueuing the job are
 *   one transaction, conditional on the `next_fire_at` that was read (so also across the
 *   servers of a team on one PostgreSQL);
 * - a due time is not lost to a late tick: within the grace, each one fires in order (a
 *   scheduler taking over after another died catches up second by second).
 * Policies: overlap `skip` drops a fire while the schedule's previous job is still
 * queued or running; `queue` holds the fire until that job ends, then fires once
 * (fires that fall due meanwhile coalesce into it); `parallel` always fires.
 * Catch-up after downtime (app closed, machine asleep): `skip` drops the missed fires
 * and waits for the next one; `run-once` fires once for all of them.
 */
import { sql } from 'drizzle-orm';
import { CroniumError } from '../../shared/errors';
import type { Db } from '../db/database';
import { asBool, asJson, type DataStore } from '../db/store';
import type { Queue } from '../queue/job-queue';
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
  target: unknown;
  mode: 'auto' | 'runner' | 'direct';
  timeout_ms: number | null;
  var_scope: 'host' | 'global';
  secret_names: unknown;
  elevated: unknown;
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
export type TargetResolver = (target: { hosts?: string[]; tags?: string[] }) => Promise<{ id: number; name: string }[]>;

/** Options of the scheduler. */
export interface SchedulerOptions {
  store: DataStore;
  queue: Queue;
  resolveTargets: TargetResolver;
  /** Identifies this process in the lease, e.g. `serve:<pid>`. */
  owner: string;
  leaseMs?: number;
  clock?: () => number;
  onFire?: (result: FireResult) => void;
  /** Records missed fires, late and failing jobs, and their alerts (health.ts). */
  health?: ScheduleHealth;
  /**
   * A team server's leadership (PgLeadership: an advisory lock held on a session of its own):
   * when given, it decides who schedules, in place of the lease row. The fires themselves stay
   * claimed in the database (next_fire_at's compare-and-swap, one job per schedule and due time).
   */
  leadership?: { isLeader(): boolean };
}

/** Fires due schedules while it holds the data dir's scheduler lease. */
export class Scheduler {
  private readonly store: DataStore;
  private readonly leaseMs: number;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lastSweep = 0;
  private ticking: Promise<unknown> | undefined;

  constructor(private readonly opts: SchedulerOptions) {
    this.store = opts.store;
    this.leaseMs = opts.leaseMs ?? 15_000;
    this.clock = opts.clock ?? Date.now;
  }

  /** Takes or renews the lease; true while this process is the active scheduler. */
  async acquire(now = this.clock()): Promise<boolean> {
    if (this.opts.leadership) return this.opts.leadership.isLeader();
    const { settings } = this.store.schema;
    return this.store.tx(async (tx) => {
      const [row] = await this.store.rows<{ value: unknown }>(sql`select value from settings where key = ${LOCK_KEY}${this.store.dialect === 'postgres' ? sql` for update` : sql``}`, tx);
      const lock = asJson<{ owner: string; expiresAt: number }>(row?.value);
      // Held by another live process: wait. A holder provably dead (same machine, pid gone) loses it now.
      if (lock && lock.owner !== this.opts.owner && lock.expiresAt > now && !ownerIsDead(lock.owner)) return false;
      const value = { owner: this.opts.owner, expiresAt: now + this.leaseMs };
      await tx.insert(settings).values({ key: LOCK_KEY, value, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } });
      return true;
    });
  }

  /** Gives the lease up (on shutdown), so another process can take over at once. */
  async release(): Promise<void> {
    if (this.opts.leadership) return;
    await this.store.tx(async (tx) => {
      const [row] = await this.store.rows<{ value: unknown }>(sql`select value from settings where key = ${LOCK_KEY}`, tx);
      if (asJson<{ owner: string }>(row?.value)?.owner === this.opts.owner) await this.store.exec(sql`delete from settings where key = ${LOCK_KEY}`, tx);
    });
  }

  /** Fires every due schedule once (if this process holds the lease); returns what it did. */
  async tick(now = this.clock()): Promise<FireResult[]> {
    if (!(await this.acquire(now))) return [];
    const due = await this.store.rows<DueRow>(
      sql`select s.id, s.name, s.cron, s.tz, s.next_fire_at, s.overlap_policy, s.catchup_policy, s.script_id, s.target, s.mode, s.timeout_ms, s.concurrency, s.var_scope, s.secret_names, s.elevated, s.grace_ms
         from schedules s where s.paused = ${this.store.dialect === 'postgres' ? sql`false` : sql`0`} and s.next_fire_at is not null and s.next_fire_at <= ${now} order by s.next_fire_at`,
    );
    const results: FireResult[] = [];
    for (const raw of due) {
      const row: DueRow = { ...raw, id: Number(raw.id), next_fire_at: Number(raw.next_fire_at), script_id: Number(raw.script_id), grace_ms: Number(raw.grace_ms) };
      const result = await this.fireOne(row, now);
      if (result) {
        results.push(result);
        this.opts.onFire?.(result);
      }
    }
    if (this.opts.health && (results.length > 0 || now - this.lastSweep >= SWEEP_EVERY_MS || now < this.lastSweep)) {
      this.lastSweep = now;
      await this.opts.health.sweep(now);
    }
    return results;
  }

  private async fireOne(s: DueRow, now: number): Promise<FireResult | undefined> {
    const target = asJson<{ hosts?: string[]; tags?: string[] }>(s.target) ?? {};
    // The hosts the target names now, read before the transaction (the inventory is not locked by a fire).
    const resolved = await this.opts.resolveTargets(target);
    return this.store.tx(async (tx): Promise<FireResult | undefined> => {
      const base = { scheduleId: s.id, name: s.name, dueAt: s.next_fire_at };
      // A held-back fire, or one found only after the grace (downtime), is followed by the next
      // cron time after now (the catch-up policy decides about the gap); a fire merely late (a
      // takeover by another server, a busy moment) by the next cron time after its own, so every
      // due time within the grace fires once, in order, none lost and none doubled.
      // A fire held back by the `queue` overlap policy is late on purpose, not missed.
      const [lf] = await this.store.rows<{ m: number | null }>(sql`select max(finished_at) as m from jobs where schedule_id = ${s.id}`, tx);
      const lastFinished = lf?.m === null || lf?.m === undefined ? null : Number(lf.m);
      const held = s.overlap_policy === 'queue' && lastFinished !== null && lastFinished >= s.next_fire_at;
      const lateOnly = !held && now - s.next_fire_at <= (s.grace_ms ?? MISSED_AFTER_MS);
      const following = nextRun(s.cron, s.tz, new Date(lateOnly ? s.next_fire_at : now))?.getTime() ?? null;
      // The compare-and-swap that makes a fire happen once: only the transaction that moves
      // next_fire_at from the value read fires (across processes and servers).
      const advance = async () => (await this.store.exec(sql`update schedules set next_fire_at = ${following}, updated_at = ${now} where id = ${s.id} and next_fire_at = ${s.next_fire_at}`, tx)) === 1;
      const missed = !held && now - s.next_fire_at > (s.grace_ms ?? MISSED_AFTER_MS);
      // A missed fire is recorded by the transaction that moves past it (so once, whoever finds it).
      const moveOn = async () => {
        if (!(await advance())) return false;
        if (missed) await this.recordMissed(tx, s, now);
        return true;
      };
      if (missed && s.catchup_policy === 'skip') {
        return (await moveOn()) ? { ...base, outcome: 'skipped-missed' } : undefined;
      }
      if (s.overlap_policy !== 'parallel') {
        const [active] = await this.store.rows<{ n: number }>(sql`select count(*) as n from jobs where schedule_id = ${s.id} and status in ('queued', 'running')`, tx);
        if (Number(active?.n ?? 0) > 0) {
          if (s.overlap_policy === 'queue') return { ...base, outcome: 'held-overlap' };
          return (await moveOn()) ? { ...base, outcome: 'skipped-overlap' } : undefined;
        }
      }
      if (!(await moveOn())) return undefined;
      await this.store.exec(sql`update schedules set last_fire_at = ${now} where id = ${s.id}`, tx);
      if (resolved.length === 0) return { ...base, outcome: 'no-hosts' };
      const [script] = await this.store.rows<{ interpreter: 'bash' | 'sh' | 'python3' | 'node'; body: string; elevated: unknown; files: unknown }>(sql`select interpreter, body, elevated, files from scripts where id = ${s.script_id}`, tx);
      if (!script) throw new CroniumError('NOT_FOUND', `the script of schedule ${s.name} is gone`);
      const secretNames = asJson<string[]>(s.secret_names);
      const jobId = await this.opts.queue.enqueue(
        {
          kind: 'schedule',
          requestedBy: 'scheduler',
          scheduleId: s.id,
          fireAt: s.next_fire_at,
          scriptId: s.script_id,
          interpreter: script.interpreter,
          scriptBody: script.body,
          mode: s.mode,
          hosts: resolved,
          target,
          ...(s.timeout_ms !== null ? { timeoutMs: Number(s.timeout_ms) } : {}),
          ...(s.concurrency !== null ? { concurrency: Number(s.concurrency) } : {}),
          varScope: s.var_scope,
          ...(secretNames ? { secretNames } : {}),
          elevated: asBool(s.elevated) === true || asBool(script.elevated) === true,
          files: script.files === null || script.files === undefined ? null : typeof script.files === 'string' ? script.files : JSON.stringify(script.files),
        },
        now,
        tx,
      );
      return { ...base, outcome: 'fired', jobId };
    });
  }

  /** The missed event of a fire found late, inside the fire's transaction. */
  private async recordMissed(tx: Db, s: DueRow, now: number): Promise<void> {
    if (!this.opts.health) return;
    // Every fire of the gap, as cron names them (a DST gap has none to miss).
    const cron = parseCron(s.cron, s.tz);
    let count = 1;
    for (let t = cron.nextRun(new Date(s.next_fire_at)); t && t.getTime() <= now && count < 10_000; t = cron.nextRun(t)) count++;
    await this.opts.health.missed(s.id, s.next_fire_at, count, now, s.catchup_policy, tx);
  }

  /** The earliest next fire time of unpaused schedules, or undefined. */
  async nextDue(): Promise<number | undefined> {
    const [row] = await this.store.rows<{ m: number | null }>(sql`select min(next_fire_at) as m from schedules where paused = ${this.store.dialect === 'postgres' ? sql`false` : sql`0`}`);
    return row?.m === null || row?.m === undefined ? undefined : Number(row.m);
  }

  /** Runs the loop: sleeps until the next due time (at most `maxSleepMs`), ticks, repeats. */
  start(maxSleepMs = 1000): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      let wait = maxSleepMs;
      try {
        await this.tick();
        const next = await this.nextDue();
        wait = next === undefined ? maxSleepMs : Math.max(0, Math.min(maxSleepMs, next - this.clock()));
      } catch (e) {
        process.stderr.write(`cronium: scheduler tick failed: ${(e as Error).message}\n`);
      }
      if (this.stopped) return;
      this.timer = setTimeout(() => void (this.ticking = loop()), wait);
    };
    this.ticking = loop();
  }

  /** Stops the loop (after the tick under way) and releases the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking?.catch(() => undefined);
    try {
      await this.release();
    } catch {
      // The store may already be closed on shutdown; the lease then simply expires.
    }
  }
}
