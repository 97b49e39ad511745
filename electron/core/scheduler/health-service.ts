/**
 * The health side of schedules for clients: their alert settings (grace, expected duration,
 * failing threshold, desktop notifications, webhooks), the health view (state, last and next
 * fire, streaks, webhook deliveries), their events, and a test alert.
 */
import type Database from 'better-sqlite3';
import type { ScheduleHealthView, ScheduleEventView } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { SecretBox } from '../secrets/secret-box';
import { AlertDispatcher, webhookContext } from './alerts';
import { maskUrl, type Health, type ScheduleHealth } from './health';

/** What schedules.set changes. */
export interface ScheduleAlertPatch {
  name: string;
  graceMs?: number | undefined;
  expectedMs?: number | null | undefined;
  failingAfter?: number | undefined;
  notify?: boolean | undefined;
  addWebhook?: { url: string; format: 'generic' | 'slack' } | undefined;
  removeWebhook?: number | undefined;
}

interface Row {
  id: number;
  name: string;
  paused: number;
  health: Health;
  health_since: number | null;
  health_reason: string | null;
  last_fire_at: number | null;
  next_fire_at: number | null;
  grace_ms: number;
  expected_ms: number | null;
  failing_after: number;
  notify: number;
}

export class HealthService {
  private readonly dispatcher: AlertDispatcher;
  constructor(
    private readonly db: Database.Database,
    private readonly secrets: SecretBox,
    private readonly health: ScheduleHealth,
    private readonly audit: AuditLog,
    opts: { fetch?: typeof fetch; clock?: () => number } = {},
  ) {
    this.dispatcher = new AlertDispatcher(db, secrets, opts);
    this.clock = opts.clock ?? Date.now;
  }
  private readonly clock: () => number;

  private row(name: string): Row {
    const r = this.db.prepare('select * from schedules where name = ?').get(name) as Row | undefined;
    if (!r) throw new CroniumError('NOT_FOUND', `no schedule named "${name}"`, 'list them with: cronium schedules list');
    return r;
  }

  /** Changes a schedule's alert settings; returns its health view. */
  set(p: ScheduleAlertPatch): ScheduleHealthView {
    const r = this.row(p.name);
    const now = this.clock();
    this.db.transaction(() => {
      if (p.graceMs !== undefined) this.db.prepare('update schedules set grace_ms = ?, updated_at = ? where id = ?').run(p.graceMs, now, r.id);
      if (p.expectedMs !== undefined) this.db.prepare('update schedules set expected_ms = ?, updated_at = ? where id = ?').run(p.expectedMs, now, r.id);
      if (p.failingAfter !== undefined) this.db.prepare('update schedules set failing_after = ?, updated_at = ? where id = ?').run(p.failingAfter, now, r.id);
      if (p.notify !== undefined) this.db.prepare('update schedules set notify = ?, updated_at = ? where id = ?').run(p.notify ? 1 : 0, now, r.id);
      if (p.addWebhook) {
        const n = this.db.prepare('select count(*) from webhooks where schedule_id = ?').pluck().get(r.id) as number;
        if (n >= 10) throw fieldError('addWebhook', 'a schedule has at most 10 webhooks');
        this.db
          .prepare('insert into webhooks (schedule_id, url_sealed, url_masked, format, created_at) values (?, ?, ?, ?, ?)')
          .run(r.id, this.secrets.seal(p.addWebhook.url, webhookContext(r.id)), maskUrl(p.addWebhook.url), p.addWebhook.format, now);
      }
      if (p.removeWebhook !== undefined) {
        const gone = this.db.prepare('delete from webhooks where id = ? and schedule_id = ?').run(p.removeWebhook, r.id).changes;
        if (gone === 0) throw fieldError('removeWebhook', `schedule ${p.name} has no webhook ${p.removeWebhook}`, `see them with: cronium schedules health --json`);
      }
    }).immediate();
    const fields = Object.keys(p).filter((k) => k !== 'name' && p[k as keyof ScheduleAlertPatch] !== undefined);
    // Never the URL: it is a secret.
    this.audit.recordSync('schedule.alerts', p.name, { fields, ...(p.addWebhook ? { webhook: maskUrl(p.addWebhook.url) } : {}) });
    return this.view(this.row(p.name));
  }

  /** Every schedule's health, by name. */
  list(): ScheduleHealthView[] {
    return (this.db.prepare('select * from schedules order by name').all() as Row[]).map((r) => this.view(r));
  }

  /** A schedule's events, newest first. */
  events(name: string, limit: number): ScheduleEventView[] {
    const r = this.row(name);
    return (this.db.prepare('select id, kind, at, fire_at, job_id, reason from schedule_events where schedule_id = ? order by id desc limit ?').all(r.id, limit) as { id: number; kind: ScheduleEventView['kind']; at: number; fire_at: number | null; job_id: number | null; reason: string }[]).map(
      (e) => ({ id: e.id, kind: e.kind, at: e.at, fireAt: e.fire_at, jobId: e.job_id, reason: e.reason }),
    );
  }

  /** Sends a test alert now: to each webhook once (the result per webhook), and to the desktop. */
  async test(name: string): Promise<{ results: { id: number; url: string; ok: boolean; status?: number; error?: string }[] }> {
    const r = this.row(name);
    const now = this.clock();
    const eventId = this.health.record(r.id, 'test', 'a test alert, sent on request', now);
    // The test is answered here, not by the outbox: its deliveries are done when it returns.
    if (eventId !== undefined) this.db.prepare("update webhook_deliveries set status = 'delivered', delivered_at = ? where event_id = ?").run(now, eventId);
    const hooks = this.db.prepare('select id, url_sealed, url_masked, format from webhooks where schedule_id = ? order by id').all(r.id) as { id: number; url_sealed: Buffer; url_masked: string; format: 'generic' | 'slack' }[];
    const results = await Promise.all(
      hooks.map(async (h) => {
        const res = await this.dispatcher.post(h.url_sealed, r.id, h.format, { schedule: name, kind: 'test', reason: 'a test alert, sent on request', at: now, fireAt: null, jobId: null });
        if (!res.ok && eventId !== undefined) this.db.prepare("update webhook_deliveries set status = 'failed', last_error = ? where event_id = ? and webhook_id = ?").run(res.error, eventId, h.id);
        return res.ok ? { id: h.id, url: h.url_masked, ok: true, status: res.status } : { id: h.id, url: h.url_masked, ok: false, error: res.error };
      }),
    );
    this.audit.recordSync('schedule.alert-test', name, { webhooks: results.length, ok: results.filter((x) => x.ok).length });
    return { results };
  }

  private view(r: Row): ScheduleHealthView {
    const jobs = this.db.prepare("select id, status, finished_at from jobs where schedule_id = ? and status in ('succeeded', 'failed', 'partial') order by id desc limit 100").all(r.id) as { id: number; status: string; finished_at: number | null }[];
    let streak: ScheduleHealthView['streak'] = null;
    if (jobs.length) {
      const ok = jobs[0]!.status === 'succeeded';
      let n = 0;
      while (n < jobs.length && (jobs[n]!.status === 'succeeded') === ok) n++;
      streak = { status: ok ? 'succeeded' : 'failed', count: n };
    }
    const hooks = this.db
      .prepare(
        `select w.id, w.url_masked, w.format, d.status, d.attempts, d.last_error from webhooks w
         left join webhook_deliveries d on d.id = (select max(id) from webhook_deliveries where webhook_id = w.id) where w.schedule_id = ? order by w.id`,
      )
      .all(r.id) as { id: number; url_masked: string; format: 'generic' | 'slack'; status: 'pending' | 'delivered' | 'failed' | null; attempts: number | null; last_error: string | null }[];
    const expected = this.health.expected({ id: r.id, expected_ms: r.expected_ms });
    return {
      name: r.name,
      health: r.health,
      since: r.health_since,
      reason: r.health_reason,
      paused: r.paused === 1,
      lastFireAt: r.last_fire_at,
      nextFireAt: r.paused ? null : r.next_fire_at,
      graceMs: r.grace_ms,
      expectedMs: expected,
      expectedSource: r.expected_ms !== null ? 'set' : expected !== null ? 'median' : null,
      failingAfter: r.failing_after,
      notify: r.notify === 1,
      streak,
      lastJob: jobs[0] ? { id: jobs[0].id, status: jobs[0].status, finishedAt: jobs[0].finished_at } : null,
      webhooks: hooks.map((h) => ({ id: h.id, url: h.url_masked, format: h.format, lastDelivery: h.status ? { status: h.status, attempts: h.attempts ?? 0, error: h.last_error } : null })),
    };
  }
}
