/**
 * A PostgreSQL session of one component's own that comes back by itself (issue #16): the queue
 * waker's LISTEN, the event relay's LISTEN and the scheduler's leadership lock each need one
 * connection outside the pool (a LISTEN or a session lock lives exactly as long as its session).
 * When the session breaks (a PostgreSQL restart, a lost network), it is dropped and a new one
 * is opened every `retryMs` until one works; `setup` runs on each new session before it counts as
 * up (a LISTEN, say), and a failing setup counts as a failed connect. `stop()` closes the session
 * and ends the retries; a session that opens after stop() is closed at once.
 */
import type pg from 'pg';

/** Knobs of a reconnecting session. */
export interface ReconnectingSessionOptions {
  /** Opens a new session (a pg Client, connected). */
  connect: () => Promise<pg.Client>;
  /** Prepares a new session before it is up (a LISTEN, handlers for notifications). */
  setup?: (client: pg.Client) => Promise<void>;
  /** A session is up: `again` is false for the first, true for any after a loss. */
  onUp?: (client: pg.Client, again: boolean) => void;
  /** The session in use broke, or was dropped; whatever it held (a lock, a LISTEN) is gone. */
  onLost?: () => void;
  /** How long to wait between tries; 1 s by default. */
  retryMs?: number;
}

/** One session that reconnects itself; see the file's comment. */
export class ReconnectingSession {
  #client: pg.Client | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #everUp = false;
  #connecting = false;

  constructor(private readonly opts: ReconnectingSessionOptions) {}

  /** Opens the session now (and again every retryMs while the database is away). */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    void this.#open();
  }

  /** Closes the session and stops retrying. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const c = this.#client;
    this.#client = undefined;
    if (c) await c.end().catch(() => undefined);
  }

  /** The session when it is up. */
  current(): pg.Client | undefined {
    return this.#client;
  }

  /** Gives up a session its user found broken (a failed query): it is closed and replaced. */
  drop(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    void client.end().catch(() => undefined);
    this.opts.onLost?.();
    this.#retry();
  }

  async #open(): Promise<void> {
    if (this.#stopped || this.#connecting || this.#client) return;
    this.#connecting = true;
    try {
      const c = await this.opts.connect();
      const broken = () => this.drop(c);
      c.on('error', broken);
      c.on('end', broken);
      try {
        await this.opts.setup?.(c);
      } catch (e) {
        await c.end().catch(() => undefined);
        throw e;
      }
      if (this.#stopped) {
        await c.end().catch(() => undefined);
        return;
      }
      this.#client = c;
      const again = this.#everUp;
      this.#everUp = true;
      this.opts.onUp?.(c, again);
    } catch {
      this.#retry();
    } finally {
      this.#connecting = false;
    }
  }

  #retry(): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#open();
    }, this.opts.retryMs ?? 1000);
  }
}
