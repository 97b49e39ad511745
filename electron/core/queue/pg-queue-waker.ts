/**
 * Wakes an idle team server when runs become claimable (issue #16): a session of its own
 * LISTENs on the queue's channel (PgJobQueue NOTIFYs it when a job is queued, a slot is freed,
 * a run is requeued; delivered when that transaction commits), so workers claim at once instead
 * of at their next poll. A broken session (a PostgreSQL restart) is replaced every `retryMs`
 * until it works, and the worker is woken then too: what was notified meanwhile is not lost,
 * since the worker claims from the table, not from the notifications.
 */
import type pg from 'pg';
import { QUEUE_CHANNEL } from './pg-job-queue';

/** Knobs of a waker. */
export interface PgQueueWakerOptions {
  /** Opens a new session (a pg Client, connected); it is the waker's alone. */
  connect: () => Promise<pg.Client>;
  /** Called on each notification (its payload: "job 12", "slot 40", "requeued 3"), and after a reconnect ("reconnected"). */
  onWake: (why: string) => void;
  retryMs?: number;
}

/** Listens for claimable runs; see the file's comment. */
export class PgQueueWaker {
  private client: pg.Client | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private everConnected = false;

  constructor(private readonly opts: PgQueueWakerOptions) {}

  /** Starts listening (at once; again every retryMs while the database is away). */
  start(): void {
    this.stopped = false;
    void this.open();
  }

  /** Stops listening and closes the session. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    if (c) await c.end().catch(() => {});
  }

  /** Whether the session is listening now. */
  listening(): boolean {
    return this.client !== undefined;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    try {
      const c = await this.opts.connect();
      const broken = () => {
        if (this.client !== c) return;
        this.client = undefined;
        void c.end().catch(() => {});
        this.retry();
      };
      c.on('error', broken);
      c.on('end', broken);
      c.on('notification', (n) => {
        if (n.channel === QUEUE_CHANNEL) this.opts.onWake(n.payload ?? '');
      });
      await c.query(`listen ${QUEUE_CHANNEL}`);
      if (this.stopped) {
        await c.end().catch(() => {});
        return;
      }
      this.client = c;
      if (this.everConnected) this.opts.onWake('reconnected');
      this.everConnected = true;
    } catch {
      this.retry();
    }
  }

  private retry(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.open();
    }, this.opts.retryMs ?? 1000);
  }
}
