/**
 * The health side of schedules for clients: their alert settings (grace, expected duration,
 * failing threshold, desktop notifications, webhooks), the health view (state, last and next
 * fire, streaks, webhook deliveries), their events, and a test alert.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { asBool, type DataStore } from '../db/store';
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
  paused: unknown;
  health: Health;
  health_since: number | null;
  health_reason: string | null;
  last_fire_at: number | null;
  next_fire_at: number | null;
  grace_ms: number;
  expected_ms: number | null;
  failing_after: number;
  notify: unknown;
}

export class HealthService {
  private readonly dispatcher: AlertDispatcher;
  constructor(
    private readonly store: DataStore,
    private readonly secrets: SecretBox,
    private readonly health: ScheduleHealth,
    private readonly audit: AuditLog,
    opts: { fetch?: typeof fetch; clock?: () => number } = {},
  ) {
    this.dispatcher = new AlertDispatcher(store, secrets, opts);
    this.clock = opts.clock ?? Date.now;
  }
  private readonly clock: () => number;

  private async row(name: string, tx?: Db): Promise<Row> {
    const [r] = await this.store.rows<Row>(sql`select * from schedules where name = ${name}`, tx);
    if (!r) throw new CroniumError('NOT_FOUND', `no schedule named "${name}"`, 'list them with: cronium schedules list');
    return { ...r, id: Number(r.id) };
  }

  /** Changes a schedule's alert settings; returns its health view. */
  async set(p: ScheduleAlertPatch): Promise<ScheduleHealthView> {
    const now = this.clock();
    const s = this.store;
    await s.tx(async (tx) => {
      const r = await this.row(p.name, tx);
      if (p.graceMs !== undefined) await s.exec(sql`update schedules set grace_ms = ${p.graceMs}, updated_at = ${now} where id = ${r.id}`, tx);
      if (p.expectedMs !== undefined) await s.exec(sql`update schedules set expected_ms = ${p.expectedMs}, updated_at = ${now} where id = ${r.id}`, tx);
      if (p.failingAfter !== undefined) await s.exec(sql`update schedules set failing_after = ${p.failingAfter}, updated_at = ${now} where id = ${r.id}`, tx);
      if (p.notify !== undefined) await tx.update(s.schema.schedules).set({ notify: p.notify, updatedAt: now }).where(eq(s.schema.schedules.id, r.id));
      if (p.addWebhook) {
        const [n] = await s.rows<{ n: number }>(sql`select count(*) as n from webhooks where schedule_id = ${r.id}`, tx);
        if (Number(n?.n ?? 0) >= 10) throw fieldError('addWebhook', 'a schedule has at most 10 webhooks');
        await tx.insert(s.schema.webhooks).values({ scheduleId: r.id, urlSealed: this.secrets.seal(p.addWebhook.url, webhookContext(r.id)), urlMasked: maskUrl(p.addWebhook.url), format: p.addWebhook.format, createdAt: now });
      }
      if (p.removeWebhook !== undefined) {
        const gone = await s.exec(sql`delete from webhooks where id = ${p.removeWebhook} and schedule_id = ${r.id}`, tx);
        if (gone === 0) throw fieldError('removeWebhook', `schedule ${p.name} has no webhook ${p.removeWebhook}`, `see them with: cronium schedules health --json`);
      }
      const fields = Object.keys(p).filter((k) => k !== 'name' && p[k as keyof ScheduleAlertPatch] !== undefined);
      // Never the URL: it is a secret.
      await this.audit.record('schedule.alerts', p.name, { fields, ...(p.addWebhook ? { webhook: maskUrl(p.addWebhook.url) } : {}) }, tx);
    });
    return this.view(await this.row(p.name));
  }

  /** Every schedule's health, by name. */
  async list(): Promise<ScheduleHealthView[]> {
    const rows = await this.store.rows<Row>(sql`select * from schedules order by name`);
    const out: ScheduleHealthView[] = [];
    for (const r of rows) out.push(await this.view({ ...r, id: Number(r.id) }));
    return out;
  }

  /** A schedule's events, newest first. */
  async events(name: string, limit: number): Promise<ScheduleEventView[]> {
    const r = await this.row(name);
    const rows = await this.store.rows<{ id: number; kind: ScheduleEventView['kind']; at: number; fire_at: number | null; job_id: number | null; reason: string }>(
      sql`select id, kind, at, fire_at, job_id, reason from schedule_events where schedule_id = ${r.id} order by id desc limit ${limit}`,
    );
    return rows.map((e) => ({ id: Number(e.id), kind: e.kind, at: Number(e.at), fireAt: e.fire_at === null ? null : Number(e.fire_at), jobId: e.job_id === null ? null : Number(e.job_id), reason: e.reason }));
  }

  /** Sends a test alert now: to each webhook once (the result per webhook), and to the desktop. */
  async test(name: string): Promise<{ results: { id: number; url: string; ok: boolean; status?: number; error?: string }[] }> {
    const r = await this.row(name);
    const now = this.clock();
    const s = this.store;
    const eventId = await this.health.record(r.id, 'test', 'a test alert, sent on request', now);
    // The test is answered here, not by the outbox: its deliveries are done when it returns.
    if (eventId !== undefined) await s.exec(sql`update webhook_deliveries set status = 'delivered', delivered_at = ${now} where event_id = ${eventId}`);
    const hooks = await s.rows<{ id: number; url_sealed: Buffer; url_masked: string; format: 'generic' | 'slack' }>(sql`select id, url_sealed, url_masked, format from webhooks where schedule_id = ${r.id} order by id`);
    const results = await Promise.all(
      hooks.map(async (h) => {
        const id = Number(h.id);
        const res = await this.dispatcher.post(h.url_sealed, r.id, h.format, { schedule: name, kind: 'test', reason: 'a test alert, sent on request', at: now, fireAt: null, jobId: null });
        if (!res.ok && eventId !== undefined) await s.exec(sql`update webhook_deliveries set status = 'failed', last_error = ${res.error} where event_id = ${eventId} and webhook_id = ${id}`);
        return res.ok ? { id, url: h.url_masked, ok: true, status: res.status } : { id, url: h.url_masked, ok: false, error: res.error };
      }),
    );
    await this.audit.record('schedule.alert-test', name, { webhooks: results.length, ok: results.filter((x) => x.ok).length });
    return { results };
  }

  private async view(r: Row): Promise<ScheduleHealthView> {
    const s = this.store;
    const jobs = (await s.rows<{ id: number; status: string; finished_at: number | null }>(sql`select id, status, finished_at from jobs where schedule_id = ${r.id} and status in ('succeeded', 'failed', 'partial') order by id desc limit 100`)).map((j) => ({
      id: Number(j.id),
      status: j.status,
      finished_at: j.finished_at === null ? null : Number(j.finished_at),
    }));
    let streak: ScheduleHealthView['streak'] = null;
    if (jobs.length) {
      const ok = jobs[0]!.status === 'succeeded';
      let n = 0;
      while (n < jobs.length && (jobs[n]!.status === 'succeeded') === ok) n++;
      streak = { status: ok ? 'succeeded' : 'failed', count: n };
    }
    const hooks = await s.rows<{ id: number; url_masked: string; format: 'generic' | 'slack'; status: 'pending' | 'delivered' | 'failed' | null; attempts: number | null; last_error: string | null }>(
      sql`select w.id, w.url_masked, w.format, d.status, d.attempts, d.last_error from webhooks w
         left join webhook_deliveries d on d.id = (select max(id) from webhook_deliveries where webhook_id = w.id) where w.schedule_id = ${r.id} order by w.id`,
    );
    const expectedMs = r.expected_ms === null ? null : Number(r.expected_ms);
    const expected = await this.health.expected({ id: r.id, expected_ms: expectedMs });
    const paused = asBool(r.paused) === true;
    const num = (v: number | null) => (v === null ? null : Number(v));
    return {
      name: r.name,
      health: r.health,
      since: num(r.health_since),
      reason: r.health_reason,
      paused,
      lastFireAt: num(r.last_fire_at),
      nextFireAt: paused ? null : num(r.next_fire_at),
      graceMs: Number(r.grace_ms),
      expectedMs: expected,
      expectedSource: expectedMs !== null ? 'set' : expected !== null ? 'median' : null,
      failingAfter: Number(r.failing_after),
      notify: asBool(r.notify) === true,
      streak,
      lastJob: jobs[0] ? { id: jobs[0].id, status: jobs[0].status, finishedAt: jobs[0].finished_at } : null,
      webhooks: hooks.map((h) => ({ id: Number(h.id), url: h.url_masked, format: h.format, lastDelivery: h.status ? { status: h.status, attempts: Number(h.attempts ?? 0), error: h.last_error } : null })),
    };
  }
}
