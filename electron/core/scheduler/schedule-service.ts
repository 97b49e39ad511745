/** Schedules: add, list (with the next runs and a plain description), remove, pause, resume. */
import { CroniumError, fieldError } from '../../shared/errors';
import type { Store } from '../db/database';
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
  target: string;
  mode: string;
  overlap_policy: string;
  catchup_policy: string;
  paused: number;
  last_fire_at: number | null;
  script_name?: string | null;
  elevated: number;
}

// The script's name, when it is a saved one (a schedule's own script is `schedule:<name>`).
const SELECT = "select s.*, case when sc.name like 'schedule:%' then null else sc.name end as script_name from schedules s left join scripts sc on sc.id = s.script_id";

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** CRUD over the schedules table. */
export class ScheduleService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Adds a schedule (and its script); its first fire is the next cron time from now. */
  add(input: NewSchedule): ScheduleView {
    if (!NAME.test(input.name)) throw fieldError('name', 'must be 1-63 characters of letters, digits, ".", "_" or "-"');
    if (parseCron(input.cron, input.tz).nextRun(new Date(this.clock())) === null) {
      throw fieldError('cron', `"${input.cron}" never fires: no date matches it (like February 30 or April 31)`, 'check the day and month fields; `cronium schedules add --help` shows examples');
    }
    if (!input.target.hosts?.length && !input.target.tags?.length) throw fieldError('target', 'name at least one host or tag', 'use --host NAME or --tag T');
    if ((input.script ? 1 : 0) + (input.scriptName !== undefined ? 1 : 0) !== 1) throw fieldError('script', 'give either a script or a saved script name');
    if (input.script && input.script.body.length === 0) throw fieldError('script', 'is empty');
    if (input.script && input.script.body.length > 1024 * 1024) throw fieldError('script', 'is larger than 1 MiB');
    const now = this.clock();
    const db = this.store.sqlite;
    db.transaction(() => {
      if (db.prepare('select 1 from schedules where name = ?').get(input.name)) {
        throw new CroniumError('ALREADY_EXISTS', `a schedule named "${input.name}" already exists`, `remove it first: cronium schedules rm ${input.name}`, { fields: [{ field: 'name', message: 'is already taken' }] });
      }
      let scriptId: number;
      if (input.script) {
        const scriptName = input.script.name ?? `schedule:${input.name}`;
        scriptId = Number(
          db
            .prepare('insert into scripts (name, interpreter, body, created_at, updated_at) values (?, ?, ?, ?, ?) on conflict(name) do update set interpreter = excluded.interpreter, body = excluded.body, updated_at = excluded.updated_at returning id')
            .pluck()
            .get(scriptName, input.script.interpreter, input.script.body, now, now),
        );
      } else {
        const id = db.prepare('select id from scripts where name = ?').pluck().get(input.scriptName) as number | undefined;
        if (id === undefined) throw new CroniumError('NOT_FOUND', `no saved script named "${input.scriptName}"`, 'list them with: cronium scripts list', { fields: [{ field: 'scriptName', message: 'no such script' }] });
        scriptId = id;
      }
      db.prepare(
        `insert into schedules (name, cron, tz, script_id, target, mode, timeout_ms, concurrency, overlap_policy, catchup_policy, var_scope, secret_names, elevated, paused, next_fire_at, created_at, updated_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
      ).run(
        input.name,
        input.cron.trim(),
        input.tz,
        scriptId,
        JSON.stringify(input.target),
        input.mode ?? 'auto',
        input.timeoutMs ?? null,
        input.concurrency ?? null,
        input.overlapPolicy ?? 'skip',
        input.catchupPolicy ?? 'skip',
        input.varScope ?? 'host',
        input.secretNames?.length ? JSON.stringify(input.secretNames) : null,
        input.elevated ? 1 : 0,
        nextRun(input.cron, input.tz, new Date(now))?.getTime() ?? null,
        now,
        now,
      );
    }).immediate();
    this.audit.recordSync('schedule.add', input.name, { cron: input.cron, tz: input.tz, target: input.target, ...(input.scriptName !== undefined ? { script: input.scriptName } : {}) });
    return this.get(input.name);
  }

  /** Every schedule, by name, each with its next five runs. */
  list(): ScheduleView[] {
    return (this.store.sqlite.prepare(`${SELECT} order by s.name`).all() as Row[]).map((r) => this.view(r));
  }

  /** One schedule by name. */
  get(name: string): ScheduleView {
    const row = this.store.sqlite.prepare(`${SELECT} where s.name = ?`).get(name) as Row | undefined;
    if (!row) throw new CroniumError('NOT_FOUND', `no schedule named "${name}"`, 'list them with: cronium schedules list');
    return this.view(row);
  }

  /** Removes a schedule; its past jobs stay in the history. */
  remove(name: string): void {
    this.get(name);
    this.store.sqlite.prepare('delete from schedules where name = ?').run(name);
    this.audit.recordSync('schedule.remove', name);
  }

  /** Pauses a schedule: it fires no more until resumed. */
  pause(name: string): ScheduleView {
    this.get(name);
    this.store.sqlite.prepare('update schedules set paused = 1, updated_at = ? where name = ?').run(this.clock(), name);
    this.audit.recordSync('schedule.pause', name);
    return this.get(name);
  }

  /** Resumes a schedule from now on: fires missed while paused are not made up. */
  resume(name: string): ScheduleView {
    const s = this.get(name);
    const now = this.clock();
    this.store.sqlite.prepare('update schedules set paused = 0, next_fire_at = ?, updated_at = ? where name = ?').run(nextRun(s.cron, s.tz, new Date(now))?.getTime() ?? null, now, name);
    this.audit.recordSync('schedule.resume', name);
    return this.get(name);
  }

  private view(r: Row): ScheduleView {
    return {
      id: r.id,
      name: r.name,
      cron: r.cron,
      tz: r.tz,
      description: describeCron(r.cron),
      target: JSON.parse(r.target) as ScheduleView['target'],
      mode: r.mode,
      overlapPolicy: r.overlap_policy,
      catchupPolicy: r.catchup_policy,
      paused: r.paused === 1,
      lastFireAt: r.last_fire_at,
      nextRuns: r.paused ? [] : nextRuns(r.cron, r.tz, new Date(this.clock()), 5).map((d) => d.getTime()),
      scriptName: r.script_name ?? null,
      elevated: r.elevated === 1,
    };
  }
}
