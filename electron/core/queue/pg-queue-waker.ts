/**
 * Wakes an idle team server when runs become claimable (issue #16): a session of its own
 * LISTENs on the queue's channel (PgJobQueue NOTIFYs it when a job is queued, a slot is freed,
 * a run is requeued; delivered when that transaction commits), so workers claim at once instead
 * of at their next poll. A broken session (a PostgreSQL restart) is replaced every `retryMs`
 * until it works, and the worker is woken then too: what was notified meanwhile is not lost,
 * since the worker claims from the table, not from the notifications.
 */
import type pg from 'pg';
import { ReconnectingSession } from '../db/pg-session';
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
  readonly #session: ReconnectingSession;

  constructor(opts: PgQueueWakerOptions) {
    this.#session = new ReconnectingSession({
      connect: opts.connect,
      retryMs: opts.retryMs,
      setup: async (c) => {
        c.on('notification', (n) => {
          if (n.channel === QUEUE_CHANNEL) opts.onWake(n.payload ?? '');
        });
        await c.query(`listen ${QUEUE_CHANNEL}`);
      },
      onUp: (_c, again) => {
        if (again) opts.onWake('reconnected');
      },
    });
  }

  /** Starts listening (at once; again every retryMs while the database is away). */
  start(): void {
    this.#session.start();
  }

  /** Stops listening and closes the session. */
  stop(): Promise<void> {
    return this.#session.stop();
  }

  /** Whether the session is listening now. */
  listening(): boolean {
    return this.#session.current() !== undefined;
  }
}
