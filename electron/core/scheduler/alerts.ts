/**
 * The alert outbox's sender: webhook deliveries (health.ts queues them with the events) are
 * POSTed as JSON, each claimed first (so two processes never send one twice), retried with
 * exponential backoff (5 s, 10 s, 20 s, … capped at an hour) and given up after MAX_ATTEMPTS.
 * Webhook URLs are sealed in the store and only opened here; what clients see is masked.
 */
import { sql } from 'drizzle-orm';
import type { DataStore } from '../db/store';
import type { SecretBox } from '../secrets/secret-box';
import { webhookBody, type HealthKind } from './health';

export const MAX_ATTEMPTS = 8;
const BASE_BACKOFF_MS = 5_000;
const MAX_BACKOFF_MS = 3_600_000;
/** While a delivery is being sent, nobody else picks it up. */
const CLAIM_MS = 60_000;

/** The seal context of a schedule's webhook URLs. */
export const webhookContext = (scheduleId: number) => `webhook:${scheduleId}`;

interface DueDelivery {
  id: number;
  attempts: number;
  next_attempt_at: number;
  format: 'generic' | 'slack';
  url_sealed: Buffer;
  schedule_id: number;
  schedule: string;
  kind: HealthKind;
  reason: string;
  at: number;
  fire_at: number | null;
  job_id: number | null;
}

/** Sends due webhook deliveries. */
export class AlertDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  constructor(
    private readonly store: DataStore,
    private readonly secrets: SecretBox,
    private readonly opts: { clock?: () => number; timeoutMs?: number; fetch?: typeof fetch } = {},
  ) {}

  private now(): number {
    return (this.opts.clock ?? Date.now)();
  }

  /** Sends every delivery due now; resolves when they are done (delivered, rescheduled or given up). */
  async deliverDue(): Promise<number> {
    if (this.busy) return 0;
    this.busy = true;
    try {
      const now = this.now();
      const due = (
        await this.store.rows<DueDelivery>(
          sql`select d.id, d.attempts, d.next_attempt_at, w.format, w.url_sealed, w.schedule_id, s.name as schedule, e.kind, e.reason, e.at, e.fire_at, e.job_id
           from webhook_deliveries d join webhooks w on w.id = d.webhook_id join schedule_events e on e.id = d.event_id join schedules s on s.id = w.schedule_id
           where d.status = 'pending' and d.next_attempt_at <= ${now} order by d.id limit 100`,
        )
      ).map((d) => ({ ...d, id: Number(d.id), attempts: Number(d.attempts), next_attempt_at: Number(d.next_attempt_at), schedule_id: Number(d.schedule_id), at: Number(d.at), fire_at: d.fire_at === null ? null : Number(d.fire_at), job_id: d.job_id === null ? null : Number(d.job_id) }));
      // Claimed one by one (compare-and-swap on next_attempt_at): two processes or servers never send one twice.
      const mine: DueDelivery[] = [];
      for (const d of due) if ((await this.store.exec(sql`update webhook_deliveries set next_attempt_at = ${now + CLAIM_MS} where id = ${d.id} and status = 'pending' and next_attempt_at = ${d.next_attempt_at}`)) === 1) mine.push(d);
      await Promise.all(mine.map((d) => this.deliver(d)));
      return mine.length;
    } finally {
      this.busy = false;
    }
  }

  private async deliver(d: DueDelivery): Promise<void> {
    const result = await this.post(d.url_sealed, d.schedule_id, d.format, { schedule: d.schedule, kind: d.kind, reason: d.reason, at: d.at, fireAt: d.fire_at, jobId: d.job_id });
    const attempts = d.attempts + 1;
    const now = this.now();
    if (result.ok) {
      await this.store.exec(sql`update webhook_deliveries set status = 'delivered', attempts = ${attempts}, delivered_at = ${now}, last_error = null where id = ${d.id}`);
    } else if (attempts >= MAX_ATTEMPTS) {
      await this.store.exec(sql`update webhook_deliveries set status = 'failed', attempts = ${attempts}, last_error = ${result.error} where id = ${d.id}`);
    } else {
      const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempts - 1));
      await this.store.exec(sql`update webhook_deliveries set attempts = ${attempts}, next_attempt_at = ${now + backoff}, last_error = ${result.error} where id = ${d.id}`);
    }
  }

  /** One POST; never throws. The error names the status or the network failure, never the URL. */
  async post(sealed: Buffer, scheduleId: number, format: 'generic' | 'slack', e: Parameters<typeof webhookBody>[1]): Promise<{ ok: true; status: number } | { ok: false; error: string }> {
    let url: string;
    try {
      url = this.secrets.open(sealed, webhookContext(scheduleId));
    } catch (err) {
      return { ok: false, error: `the webhook URL cannot be opened: ${(err as Error).message}` };
    }
    try {
      const res = await (this.opts.fetch ?? fetch)(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'cronium-alerts' },
        body: webhookBody(format, e),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        redirect: 'manual',
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? { ok: true, status: res.status } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { ok: false, error: (err as Error).name === 'TimeoutError' ? 'no answer within the time limit' : (cause ?? (err as Error).message) };
    }
  }

  /** Sends due deliveries every `intervalMs` until stopped. */
  start(intervalMs = 1000): void {
    if (this.timer) return;
    const loop = () => {
      void this.deliverDue()
        .catch((e: unknown) => process.stderr.write(`cronium: alert delivery failed: ${(e as Error).message}\n`))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(loop, intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
