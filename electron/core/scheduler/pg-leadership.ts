/**
 * Who schedules for a team (issue #16): one leader among any number of servers on one
 * PostgreSQL database, by a session advisory lock held on a connection of its own. The lock
 * lives exactly as long as that session: a leader that dies (SIGKILL, crash, a lost network)
 * loses its session, PostgreSQL releases the lock, and a follower takes it at its next try
 * (every `retryMs`). A leader checks its session every `retryMs` too, and steps down the moment
 * the session fails (a PostgreSQL restart, say), so it never goes on scheduling without the lock.
 *
 * Leadership alone does not make a fire exactly-once: between a leader losing its session and
 * learning so, a follower may already lead. The fires themselves are therefore claimed in the
 * database (one row per schedule and slot, unique), which the scheduler on PostgreSQL does.
 */
import type pg from 'pg';
import { ReconnectingSession } from '../db/pg-session';

/** The advisory lock key of scheduler leadership ("cronium" "leader"). */
export const LEADER_LOCK_KEY = '7238776342580595';

/** Knobs of a leadership. */
export interface PgLeadershipOptions {
  /** Opens a new session (a pg Client, connected); it is this leadership's alone. */
  connect: () => Promise<pg.Client>;
  /** How often a follower tries the lock and a leader checks its session. */
  retryMs?: number;
  /** Called when this server becomes leader (true) or stops being it (false). */
  onChange?: (leader: boolean) => void;
  key?: string;
}

/** One server's part in the election. */
export class PgLeadership {
  private leader = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private busy = false;
  private readonly retryMs: number;
  private readonly key: string;
  private readonly session: ReconnectingSession;

  constructor(private readonly opts: PgLeadershipOptions) {
    this.retryMs = opts.retryMs ?? 1000;
    this.key = opts.key ?? LEADER_LOCK_KEY;
    // The session is the lock: when it goes, so does leadership.
    this.session = new ReconnectingSession({
      connect: opts.connect,
      retryMs: this.retryMs,
      onLost: () => this.set(false),
      // A new session tries the lock at once rather than at the next tick.
      onUp: () => {
        if (this.busy || this.stopped) return;
        clearTimeout(this.timer);
        void this.tick();
      },
    });
  }

  /** Whether this server leads now. */
  isLeader(): boolean {
    return this.leader;
  }

  /** Starts trying (at once, then every retryMs). */
  start(): void {
    this.stopped = false;
    this.session.start();
    void this.tick();
  }

  /** Steps down (the lock released with the session) and stops trying. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.set(false);
    await this.session.stop();
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.opts.onChange?.(leader);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    const c = this.session.current();
    try {
      if (!c) {
        // No session (the database is away): it reconnects itself and calls back when up.
      } else if (this.leader) {
        // The session is the lock: check it is still there.
        await c.query('select 1');
      } else {
        const { rows } = await c.query('select pg_try_advisory_lock($1::bigint) as ok', [this.key]);
        if (rows[0]?.ok === true && this.session.current() === c && !this.stopped) this.set(true);
      }
    } catch {
      // The session failed: not leader; a new session is opened and tried at a later tick.
      if (c) this.session.drop(c);
    } finally {
      this.busy = false;
      if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.retryMs);
    }
  }
}
