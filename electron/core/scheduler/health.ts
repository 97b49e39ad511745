/**
 * Schedule health: knowing when a schedule did not run, ran late, or keeps failing.
 *
 * States (schedules.health) and the transitions that are events (schedule_events) and alerts:
 * - missed: a fire came due while no scheduler ran (the app closed, the computer asleep) and
 *   was found later than the schedule's grace; or a fired job reached none of its hosts (every
 *   run a connection failure). The catch-up policy then decides whether it runs once.
 * - late: a job has been running longer than the schedule's expected duration (set, or the
 *   median of its last successful jobs) plus the grace. Once per job.
 * - failing: its last `failingAfter` finished jobs all failed.
 * - recovered: a job succeeded while the schedule was missed, late or failing: back to ok.
 * Alerts go out as desktop notifications (the `schedule.health` event; the desktop shows it
 * when the schedule's notify is on) and as outgoing webhooks: a delivery row per event and
 * webhook in the same transaction (an outbox), sent by AlertDispatcher with retries.
 *
 * Everything here runs in the process that holds the scheduler lease, on the scheduler's clock
 * (injectable: the tests jump it over sleeps and DST changes).
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/database';
import type { DataStore } from '../db/store';
import type { EventBus } from '../events/event-bus';

export type HealthKind = 'missed' | 'late' | 'failing' | 'recovered' | 'test';
export type Health = 'ok' | 'missed' | 'late' | 'failing';

/** A connection-class failure: the script never ran there. */
const UNREACHABLE = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'HOST_KEY_UNKNOWN', 'HOST_KEY_MISMATCH', 'AUTH_FAILED', 'DISCONNECTED']);

interface ScheduleRow {
  id: number;
  name: string;
  grace_ms: number;
  expected_ms: number | null;
  failing_after: number;
  health: Health;
  health_job_id: number;
  timeout_ms: number | null;
}

/** Records health transitions and queues their alerts. */
export class ScheduleHealth {
  constructor(
    private readonly store: DataStore,
    private readonly events?: EventBus,
  ) {}

  private rows<T>(q: SQL, tx?: Db): Promise<T[]> {
    return this.store.rows<T>(q, tx);
  }

  /**
   * Records an event: updates the schedule's health (unless a test), queues a delivery per
   * webhook, and tells the desktop. Inside `tx` when the caller has one.
   */
  async record(scheduleId: number, kind: HealthKind, reason: string, now: number, extra: { fireAt?: number; jobId?: number } = {}, tx?: Db): Promise<number | undefined> {
    const [s] = await this.rows<{ name: string; health: Health }>(sql`select name, health from schedules where id = ${scheduleId}`, tx);
    if (!s) return undefined;
    const [inserted] = await this.rows<{ id: number }>(
      sql`insert into schedule_events (schedule_id, kind, at, fire_at, job_id, reason) values (${scheduleId}, ${kind}, ${now}, ${extra.fireAt ?? null}, ${extra.jobId ?? null}, ${reason}) on conflict do nothing returning id`,
      tx,
    );
    if (!inserted) return undefined;
    const eventId = Number(inserted.id);
    if (kind !== 'test') {
      const health: Health = kind === 'recovered' ? 'ok' : kind;
      await this.store.exec(sql`update schedules set health = ${health}, health_since = ${now}, health_reason = ${kind === 'recovered' ? null : reason} where id = ${scheduleId}`, tx);
    }
    await this.store.exec(sql`insert into webhook_deliveries (webhook_id, event_id, status, attempts, next_attempt_at, created_at) select id, ${eventId}, 'pending', 0, ${now}, ${now} from webhooks where schedule_id = ${scheduleId}`, tx);
    this.events?.emit('schedule.health', { schedule: s.name, kind, reason, at: now, ...(extra.jobId !== undefined ? { jobId: extra.jobId } : {}) });
    return eventId;
  }

  /** Fires that came due while no scheduler ran, found at `now`: one missed event for the gap. */
  async missed(scheduleId: number, firstDue: number, count: number, now: number, catchup: 'skip' | 'run-once', tx?: Db): Promise<void> {
    const late = Math.round((now - firstDue) / 1000);
    const what = count === 1 ? `the fire due at ${new Date(firstDue).toISOString()}` : `${count} fires from ${new Date(firstDue).toISOString()}`;
    const reason = `${what} did not happen: no scheduler was running (Cronium closed, or the computer asleep) until ${late} s later; ${catchup === 'run-once' ? 'catch-up runs it once now' : 'catch-up skips it'}`;
    await this.record(scheduleId, 'missed', reason, now, { fireAt: firstDue }, tx);
  }

  /** Late jobs and newly finished jobs of every schedule: the transitions they make. */
  async sweep(now: number): Promise<void> {
    await this.store.tx(async (tx) => {
      const rows = await this.rows<ScheduleRow>(sql`select id, name, grace_ms, expected_ms, failing_after, health, health_job_id, timeout_ms from schedules`, tx);
      for (const raw of rows) {
        const s = { ...raw, id: Number(raw.id), grace_ms: Number(raw.grace_ms), expected_ms: raw.expected_ms === null ? null : Number(raw.expected_ms), failing_after: Number(raw.failing_after), health_job_id: Number(raw.health_job_id) };
        await this.lateJobs(tx, s, now);
        await this.finishedJobs(tx, s, now);
      }
    });
  }

  /** The expected duration of a schedule's job: set, else the median of its last 10 successes (null: no idea yet). */
  async expected(s: Pick<ScheduleRow, 'id' | 'expected_ms'>, tx?: Db): Promise<number | null> {
    if (s.expected_ms !== null) return s.expected_ms;
    const d = (
      await this.rows<{ d: number }>(sql`select finished_at - started_at as d from jobs where schedule_id = ${s.id} and status = 'succeeded' and started_at is not null and finished_at is not null order by id desc limit 10`, tx)
    ).map((r) => Number(r.d));
    if (d.length < 3) return null;
    d.sort((a, b) => a - b);
    return d[Math.floor(d.length / 2)]!;
  }

  private async lateJobs(tx: Db, s: ScheduleRow, now: number): Promise<void> {
    const expected = await this.expected(s, tx);
    if (expected === null) return;
    const limit = expected + s.grace_ms;
    const running = await this.rows<{ id: number; started_at: number }>(sql`select id, started_at from jobs where schedule_id = ${s.id} and status = 'running' and started_at is not null and started_at < ${now - limit}`, tx);
    for (const j of running) {
      const reason = `job ${j.id} has run ${Math.round((now - Number(j.started_at)) / 1000)} s, longer than expected (${Math.round(expected / 1000)} s${s.expected_ms === null ? ', the median of its recent successes' : ''}) plus the grace of ${Math.round(s.grace_ms / 1000)} s`;
      await this.record(s.id, 'late', reason, now, { jobId: Number(j.id) }, tx);
    }
  }

  private async finishedJobs(tx: Db, s: ScheduleRow, now: number): Promise<void> {
    const jobs = (await this.rows<{ id: number; status: string }>(sql`select id, status from jobs where schedule_id = ${s.id} and id > ${s.health_job_id} and status in ('succeeded', 'failed', 'partial', 'cancelled') order by id`, tx)).map((j) => ({ ...j, id: Number(j.id) }));
    if (jobs.length === 0) return;
    let health = s.health;
    for (const j of jobs) {
      if (j.status === 'succeeded') {
        if (health !== 'ok') {
          await this.record(s.id, 'recovered', `job ${j.id} succeeded`, now, { jobId: j.id }, tx);
          health = 'ok';
        }
        continue;
      }
      if (j.status === 'cancelled') continue;
      const runs = await this.rows<{ host_name: string; error_code: string | null }>(sql`select host_name, error_code from runs where job_id = ${j.id}`, tx);
      if (runs.length > 0 && runs.every((r) => r.error_code !== null && UNREACHABLE.has(r.error_code))) {
        const list = runs.slice(0, 5).map((r) => `${r.host_name} ${r.error_code}`).join(', ');
        await this.record(s.id, 'missed', `job ${j.id} reached none of its hosts (${list}${runs.length > 5 ? ', …' : ''}): the script did not run`, now, { jobId: j.id }, tx);
        health = 'missed';
        continue;
      }
      // The last failingAfter finished jobs (cancelled ones aside) all failed.
      const last = (await this.rows<{ status: string }>(sql`select status from jobs where schedule_id = ${s.id} and id <= ${j.id} and status in ('succeeded', 'failed', 'partial') order by id desc limit ${s.failing_after}`, tx)).map((r) => r.status);
      if (health !== 'failing' && last.length >= s.failing_after && last.every((x) => x !== 'succeeded')) {
        await this.record(s.id, 'failing', `its last ${s.failing_after} job${s.failing_after === 1 ? '' : 's'} failed (the newest: job ${j.id}, ${j.status})`, now, { jobId: j.id }, tx);
        health = 'failing';
      }
    }
    await this.store.exec(sql`update schedules set health_job_id = ${jobs[jobs.length - 1]!.id} where id = ${s.id}`, tx);
  }
}

/** The body a webhook gets for an event. */
export function webhookBody(format: 'generic' | 'slack', e: { schedule: string; kind: HealthKind; reason: string; at: number; fireAt: number | null; jobId: number | null }): string {
  if (format === 'slack') {
    const icon = e.kind === 'recovered' ? ':large_green_circle:' : e.kind === 'test' ? ':white_circle:' : ':red_circle:';
    const what = e.kind === 'test' ? 'test alert' : e.kind;
    return JSON.stringify({ text: `${icon} Cronium: schedule *${e.schedule}* ${what}: ${e.reason}` });
  }
  return JSON.stringify({
    source: 'cronium',
    event: e.kind,
    schedule: e.schedule,
    reason: e.reason,
    at: new Date(e.at).toISOString(),
    fireAt: e.fireAt === null ? null : new Date(e.fireAt).toISOString(),
    jobId: e.jobId,
  });
}

/** A URL as shown: scheme and host, the path masked (a webhook URL is a secret). */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' && !u.search ? '/' : '/***'}`;
  } catch {
    return '***';
  }
}
