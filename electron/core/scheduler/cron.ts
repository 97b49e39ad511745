/**
 * Cron expressions on croner, with the time-zone and DST behaviour Cronium promises
 * (the same as ISC cron's):
 * - a wall-clock time that does not exist (spring forward) fires once, at the first
 *   instant after the gap (02:30 on a 02:00→03:00 night fires at 03:00);
 * - a wall-clock time that occurs twice (fall back) fires once, at its first
 *   occurrence, for schedules with fixed hours;
 * - schedules that repeat within the hour (every 15 minutes, every second) follow real
 *   time, so they fire in both occurrences of a repeated hour and none is skipped.
 * Expressions have 5 fields, or 6 with seconds first.
 */
import { Cron } from 'croner';
import cronstrue from 'cronstrue';
import { CroniumError, fieldError } from '../../shared/errors';

/** Whether a string names an IANA time zone this runtime knows. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return /^[A-Za-z_]+(\/[A-Za-z0-9_+-]+)*$|^UTC$/.test(tz);
  } catch {
    return false;
  }
}

/** Parses a cron expression in a time zone; INVALID_INPUT naming `cron` or `tz` otherwise. */
export function parseCron(expr: string, tz: string): Cron {
  if (!isTimeZone(tz)) throw fieldError('tz', `"${tz}" is not an IANA time zone`, 'e.g. UTC, Europe/Berlin, America/New_York');
  const fields = expr.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) {
    throw fieldError('cron', `"${expr}" has ${fields.length} fields; expected 5 (minute hour day month weekday) or 6 (seconds first)`, 'e.g. "*/5 * * * *" or "0 */5 * * * *"');
  }
  try {
    return new Cron(expr.trim(), { timezone: tz, paused: true, mode: fields.length === 6 ? '6-part' : '5-part' });
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
