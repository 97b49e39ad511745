/**
 * Cron expressions that fire when ISC (Vixie) cron would, in any time zone. croner parses the
 * expression and matches wall-clock times; the mapping from wall-clock to real time is ISC
 * cron's (cron.c), which tests compare with ISC cron's own loop (test/reference/isc-cron):
 * - day of month and day of week: when either field starts with `*` (`*`, `*` + `/2`), both must
 *   match; when neither does, either may (`0 0 1,15 * MON` fires on the 1st, the 15th and
 *   Mondays);
 * - a job is a "wildcard" job when its minute or hour field starts with `*` (and, with six
 *   fields, its seconds field); other jobs are "fixed-time", whatever their lists, ranges or
 *   steps (`0,30 2 * * *`, `0-59/15 1 * * *`);
 * - when clocks jump forward (spring), fixed-time jobs whose wall-clock time was skipped fire
 *   once at the first instant after the jump (02:30 on a 02:00→03:00 night fires at 03:00);
 *   wildcard jobs follow real time and skip the missing times;
 * - when clocks jump back (autumn), fixed-time jobs fire in the first pass of the repeated
 *   times only; wildcard jobs fire in both passes.
 * Expressions have 5 fields, or 6 with seconds first.
 */
import { Cron } from 'croner';
import cronstrue from 'cronstrue';
import { CroniumError, fieldError } from '../../shared/errors';

/** A parsed schedule in its time zone. */
export interface CronSchedule {
  /** The next fire time strictly after `from`, or null when it never fires again. */
  nextRun(from: Date): Date | null;
  /** The next `count` fire times strictly after `from`. */
  nextRuns(count: number, from: Date): Date[];
}

/** Whether a string names an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$|^UTC$/.test(tz);
  } catch {
    return false;
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** ISC cron runs every job for each skipped minute when the clock moves forward by at most this. */
const SMALL_JUMP = 5 * MINUTE;

/** Wall-clock time and offsets of a zone, with its transitions cached per year. */
class Zone {
  private readonly fmt: Intl.DateTimeFormat;
  private readonly years = new Map<number, number[]>();

  constructor(readonly tz: string) {
    this.fmt = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  }

  /** The zone's offset from UTC at instant `t` (ms), to the second. */
  offset(t: number): number {
    const at = Math.floor(t / SECOND) * SECOND;
    const f: Record<string, number> = {};
    for (const p of this.fmt.formatToParts(new Date(at))) if (p.type !== 'literal') f[p.type] = Number(p.value);
    return Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!) - at;
  }

  /** The instants (ms) in `year` at which the offset changes: the first instant of the new offset. */
  private transitions(year: number): number[] {
    let list = this.years.get(year);
    if (list) return list;
    list = [];
    const end = Date.UTC(year + 1, 0, 1);
    const step = 6 * 3_600_000;
    let a = Date.UTC(year, 0, 1);
    let oa = this.offset(a);
    while (a < end) {
      const b = Math.min(a + step, end);
      const ob = this.offset(b);
      if (ob !== oa) {
        let lo = a;
        let hi = b; // offset(lo) = oa, offset(hi) != oa
        while (hi - lo > SECOND) {
          const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND;
          if (this.offset(mid) === oa) lo = mid;
          else hi = mid;
        }
        if (hi < end) list.push(hi);
      }
      a = b;
      oa = ob;
    }
    this.years.set(year, list);
    return list;
  }

  /** The last transition at or before `t`, looking back one year; null when none. */
  previousTransition(t: number): number | null {
    const y = new Date(t).getUTCFullYear();
    for (const year of [y, y - 1]) {
      const found = this.transitions(year).filter((x) => x <= t);
      if (found.length) return found[found.length - 1]!;
    }
    return null;
  }

  /** The first transition in (t, until]; null when none. */
  nextTransition(t: number, until: number): number | null {
    for (let y = new Date(t).getUTCFullYear(); y <= new Date(until).getUTCFullYear(); y++) {
      const found = this.transitions(y).find((x) => x > t);
      if (found !== undefined) return found <= until ? found : null;
    }
    return null;
  }
}

const zones = new Map<string, Zone>();
function zoneOf(tz: string): Zone {
  let z = zones.get(tz);
  if (!z) {
    z = new Zone(tz);
    zones.set(tz, z);
  }
  return z;
}

const starts = (field: string) => field.startsWith('*') || field.startsWith('?');

class IscSchedule implements CronSchedule {
  /** Matches wall-clock times, written as if they were UTC. */
  private readonly wall: Cron;
  private readonly wild: boolean;
  private readonly tick: number;
  private readonly zone: Zone;

  constructor(expr: string, fields: string[], tz: string) {
    const six = fields.length === 6;
    const [sec, min, hour, dom, dow] = six ? [fields[0]!, fields[1]!, fields[2]!, fields[3]!, fields[5]!] : ['0', fields[0]!, fields[1]!, fields[2]!, fields[4]!];
    this.wall = new Cron(expr, { timezone: 'UTC', paused: true, mode: six ? '6-part' : '5-part', domAndDow: starts(dom) || starts(dow) });
    this.wild = starts(min) || starts(hour) || (six && starts(sec));
    this.tick = six ? SECOND : MINUTE;
    this.zone = zoneOf(tz);
  }

  /** The first wall-clock match at or after `w`, or null. */
  private firstWall(w: number): number | null {
    return this.wall.nextRun(new Date(w - 1))?.getTime() ?? null;
  }

  nextRun(from: Date): Date | null {
    const z = this.zone;
    let t = Math.floor(from.getTime() / this.tick) * this.tick + this.tick;
    let start = z.previousTransition(t);
    for (let guard = 0; guard < 10_000; guard++) {
      const o = z.offset(t);
      const before = start === null ? o : z.offset(start - SECOND);
      // Clocks jumped forward at `start`: fixed-time jobs catch up the skipped wall-clock times once.
      if (start !== null && start >= t && o > before && (!this.wild || o - before <= SMALL_JUMP)) {
        const w = this.firstWall(start + before);
        if (w !== null && w < start + o) return new Date(start);
      }
      // Clocks jumped back at `start`: fixed-time jobs skip the repeated wall-clock times.
      let lowest = t + o;
      if (start !== null && o < before && !this.wild) lowest = Math.max(lowest, start + before);
      const w = this.firstWall(lowest);
      if (w === null) return null;
      const fire = w - o;
      const next = z.nextTransition(t, fire);
      if (next === null) return new Date(fire);
      t = next;
      start = next;
    }
    throw new CroniumError('INTERNAL', 'cron: no fire time found after 10,000 time-zone transitions');
  }

  nextRuns(count: number, from: Date): Date[] {
    const out: Date[] = [];
    let at = from;
    while (out.length < count) {
      const n = this.nextRun(at);
      if (!n) break;
      out.push(n);
      at = n;
    }
    return out;
  }
}

/** Parses a cron expression in a time zone; INVALID_INPUT naming `cron` or `tz` otherwise. */
export function parseCron(expr: string, tz: string): CronSchedule {
  if (!isTimeZone(tz)) throw fieldError('tz', `"${tz}" is not an IANA time zone`, 'e.g. UTC, Europe/Berlin, America/New_York');
  const fields = expr.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    throw fieldError('cron', `"${expr}" has ${fields.length} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)`, 'e.g. "*/5 * * * *" or "0 */5 * * * *"');
  }
  try {
    return new IscSchedule(fields.join(' '), fields, tz);
  } catch (e) {
    throw fieldError('cron', `"${expr}": ${(e as Error).message.replace(/^CronPattern: /, '')}`, 'see `man 5 crontab`; seconds may come first as a sixth field');
  }
}

/** The next `count` fire times strictly after `from`. */
export function nextRuns(expr: string, tz: string, from: Date, count: number): Date[] {
  return parseCron(expr, tz).nextRuns(count, from);
}

/** The next fire time strictly after `from`, or null when the expression never fires again. */
export function nextRun(expr: string, tz: string, from: Date): Date | null {
  return parseCron(expr, tz).nextRun(from);
}

/** A plain-language description, e.g. "Every 5 minutes". */
export function describeCron(expr: string): string {
  try {
    return cronstrue.toString(expr, { use24HourTimeFormat: true, verbose: false });
  } catch {
    throw new CroniumError('INVALID_INPUT', `invalid cron: cannot describe "${expr}"`);
  }
}
