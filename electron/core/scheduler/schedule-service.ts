/** Schedules: add, list (with the next runs and a plain description), remove, pause, resume. */
import { eq, sql } from 'drizzle-orm';
import { CroniumError, fieldError } from '../../shared/errors';
import { asBool, asJson, type DataStore } from '../db/store';
import type { AuditLog } from '../audit/audit-log';
import { describeCron, nextRun, nextRuns, parseCron } from './cron';

/** What a user gives to add a schedule. */
export interface NewSchedule {
  name: string;
  cron: string;
  tz: string;
  /** A body of its own (kept as the internal script `schedule:<name>`), or … */
  script?: { name?: string; interpreter: 'bash' | 'sh' | 'python3' | 'node'; body: string };
  /** … a saved script, by name: it runs what the script holds when it fires, and its follow-ups fire. */
  scriptName?: string;
  target: { hosts?: string[]; tags?: string[] };
  mode?: 'auto' | 'runner' | 'direct';
  timeoutMs?: number;
  concurrency?: number;
  overlapPolicy?: 'skip' | 'queue' | 'parallel';
  catchupPolicy?: 'skip' | 'run-once';
  /** Passed to every job it fires (jobs.run's globalVars and secrets). */
  varScope?: 'host' | 'global';
  secretNames?: readonly string[];
  /** Its jobs start the script as root (so do those of an elevated saved script). */
  elevated?: boolean;
}

/** A schedule as listed. */
export interface ScheduleView {
  id: number;
  name: string;
  cron: string;
  tz: string;
  description: string;
  target: { hosts?: string[]; tags?: string[] };
  mode: string;
  overlapPolicy: string;
  catchupPolicy: string;
  paused: boolean;
  lastFireAt: number | null;
  nextRuns: number[];
  /** The saved script it runs, or null for its own script. */
  scriptName: string | null;
  elevated: boolean;
}

interface Row {
  id: number;
  name: string;
  cron: string;
  tz: string;
  target: unknown;
  mode: string;
  overlap_policy: string;
  catchup_policy: string;
  paused: unknown;
  last_fire_at: number | null;
  script_name?: string | null;
  elevated: unknown;
}

// The script's name, when it is a saved one (a schedule's own script is `schedule:<name>`).
const SELECT = sql.raw("select s.*, case when sc.name like 'schedule:%' then null else sc.name end as script_name from schedules s left join scripts sc on sc.id = s.script_id");

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** CRUD over the schedules table. */
export class ScheduleService {
  constructor(
    private readonly store: DataStore,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Adds a schedule (and its script); its first fire is the next cron time from now. */
  async add(input: NewSchedule): Promise<ScheduleView> {
    if (!NAME.test(input.name)) throw fieldError('name', 'must be 1-63 characters of letters, digits, ".", "_" or "-"');
    if (parseCron(input.cron, input.tz).nextRun(new Date(this.clock())) === null) {
      throw fieldError('cron', `"${input.cron}" never fires: no date matches it (like February 30 or April 31)`, 'check the day and month fields; `cronium schedules add --help` shows examples');
    }
    if (!input.target.hosts?.length && !input.target.tags?.length) throw fieldError('target', 'name at least one host or tag', 'use --host NAME or --tag T');
    if ((input.script ? 1 : 0) + (input.scriptName !== undefined ? 1 : 0) !== 1) throw fieldError('script', 'give either a script or a saved script name');
    if (input.script && input.script.body.length === 0) throw fieldError('script', 'is empty');
    if (input.script && input.script.body.length > 1024 * 1024) throw fieldError('script', 'is larger than 1 MiB');
    const now = this.clock();
    const { scripts, schedules } = this.store.schema;
    await this.store.tx(async (tx) => {
      if ((await tx.select({ id: schedules.id }).from(schedules).where(eq(schedules.name, input.name))).length) {
        throw new CroniumError('ALREADY_EXISTS', `a schedule named "${input.name}" already exists`, `remove it first: cronium schedules rm ${input.name}`, { fields: [{ field: 'name', message: 'is already taken' }] });
      }
      let scriptId: number;
      if (input.script) {
        const scriptName = input.script.name ?? `schedule:${input.name}`;
        const [row] = await tx
          .insert(scripts)
          .values({ name: scriptName, interpreter: input.script.interpreter, body: input.script.body, createdAt: now, updatedAt: now })
          .onConflictDoUpdate({ target: scripts.name, set: { interpreter: input.script.interpreter, body: input.script.body, updatedAt: now } })
          .returning({ id: scripts.id });
        scriptId = row!.id;
      } else {
        const [row] = await tx.select({ id: scripts.id }).from(scripts).where(eq(scripts.name, input.scriptName!));
        if (!row) throw new CroniumError('NOT_FOUND', `no saved script named "${input.scriptName}"`, 'list them with: cronium scripts list', { fields: [{ field: 'scriptName', message: 'no such script' }] });
        scriptId = row.id;
      }
      await tx.insert(schedules).values({
        name: input.name,
        cron: input.cron.trim(),
        tz: input.tz,
        scriptId,
        target: input.target,
        mode: input.mode ?? 'auto',
        timeoutMs: input.timeoutMs ?? null,
        concurrency: input.concurrency ?? null,
        overlapPolicy: input.overlapPolicy ?? 'skip',
        catchupPolicy: input.catchupPolicy ?? 'skip',
        varScope: input.varScope ?? 'host',
        secretNames: input.secretNames?.length ? [...input.secretNames] : null,
        elevated: input.elevated === true,
        paused: false,
        nextFireAt: nextRun(input.cron, input.tz, new Date(now))?.getTime() ?? null,
        createdAt: now,
        updatedAt: now,
      });
      await this.audit.record('schedule.add', input.name, { cron: input.cron, tz: input.tz, target: input.target, ...(input.scriptName !== undefined ? { script: input.scriptName } : {}) }, tx);
    });
    return this.get(input.name);
  }

  /** Every schedule, by name, each with its next five runs. */
  async list(): Promise<ScheduleView[]> {
    return (await this.store.rows<Row>(sql`${SELECT} order by s.name`)).map((r) => this.view(r));
  }

  /** One schedule by name. */
  async get(name: string): Promise<ScheduleView> {
    const [row] = await this.store.rows<Row>(sql`${SELECT} where s.name = ${name}`);
    if (!row) throw new CroniumError('NOT_FOUND', `no schedule named "${name}"`, 'list them with: cronium schedules list');
    return this.view(row);
  }

  /** Removes a schedule; its past jobs stay in the history. */
  async remove(name: string): Promise<void> {
    await this.get(name);
    await this.store.exec(sql`delete from schedules where name = ${name}`);
    await this.audit.record('schedule.remove', name);
  }

  /** Pauses a schedule: it fires no more until resumed. */
  async pause(name: string): Promise<ScheduleView> {
    await this.get(name);
    const { schedules } = this.store.schema;
    await this.store.db.update(schedules).set({ paused: true, updatedAt: this.clock() }).where(eq(schedules.name, name));
    await this.audit.record('schedule.pause', name);
    return this.get(name);
  }

  /** Resumes a schedule from now on: fires missed while paused are not made up. */
  async resume(name: string): Promise<ScheduleView> {
    const s = await this.get(name);
    const now = this.clock();
    const { schedules } = this.store.schema;
    await this.store.db
      .update(schedules)
      .set({ paused: false, nextFireAt: nextRun(s.cron, s.tz, new Date(now))?.getTime() ?? null, updatedAt: now })
      .where(eq(schedules.name, name));
    await this.audit.record('schedule.resume', name);
    return this.get(name);
  }

  private view(r: Row): ScheduleView {
    const paused = asBool(r.paused) === true;
    return {
      id: Number(r.id),
      name: r.name,
      cron: r.cron,
      tz: r.tz,
      description: describeCron(r.cron),
      target: asJson<ScheduleView['target']>(r.target) ?? {},
      mode: r.mode,
      overlapPolicy: r.overlap_policy,
      catchupPolicy: r.catchup_policy,
      paused,
      lastFireAt: r.last_fire_at === null ? null : Number(r.last_fire_at),
      nextRuns: paused ? [] : nextRuns(r.cron, r.tz, new Date(this.clock()), 5).map((d) => d.getTime()),
      scriptName: r.script_name ?? null,
      elevated: asBool(r.elevated) === true,
    };
  }
}
