/**
 * Events across the servers of a team (issue #16): what one server's services emit and another
 * server's clients follow (a run's status and its live output, hosts changed, schedules' health) is
 * published with NOTIFY on one channel and emitted again on every other server's bus, so a
 * browser on server A follows a run that executes on server B as it would on B.
 * - In order: one session publishes, and PostgreSQL delivers one session's notifications in
 *   the order of their commits.
 * - Within NOTIFY's 8,000 bytes: an event that does not fit (a big batch of output) goes as a
 *   pointer to its chunks (run, first and last seq), after the publishing server stored them;
 *   the receivers read them from the database.
 * - Never echoed: events this relay emits are not published again, and a server ignores its own.
 * - Parsed: a replayed event must match the event's contract (anyone who can reach the database
 *   can NOTIFY).
 * - A broken session (a PostgreSQL restart) is replaced every `retryMs`; what was published
 *   meanwhile is lost to live views only (the log is in the database; a view reads it there).
 */
import type pg from 'pg';
import { ReconnectingSession } from '../db/pg-session';
import { EVENT_NAMES, events, type EventName, type EventPayload } from '../../shared/api';
import type { EventBus } from './event-bus';

/** The channel of the team's events. */
export const EVENTS_CHANNEL = 'cronium_events';

/**
 * The events a team's clients follow on any server. Not settings.changed: each server's settings
 * service reads the settings again every second and announces a change itself.
 */
export const RELAYED: readonly EventName[] = ['run.status', 'run.log', 'hosts.changed', 'schedule.health'].filter((e): e is EventName =>
  (EVENT_NAMES as readonly string[]).includes(e),
);

/** NOTIFY's payload limit is 8,000 bytes; what is larger goes as a pointer. */
const MAX_PAYLOAD = 7_900;

type RunLog = EventPayload<'run.log'>;
type Chunk = RunLog['chunks'][number];

/** What the relay needs from the server. */
export interface PgEventRelayOptions {
  bus: EventBus;
  /** Tells this server apart from the others (its events are not replayed to it). */
  serverId: string;
  /** Opens a session of the relay's own (connected). */
  session: () => Promise<pg.Client>;
  /** Stores what the log writer holds (before a pointer to it is published). */
  flushLogs: () => Promise<void>;
  /** Chunks of a run from the store, from `fromSeq` on. */
  readLog: (runId: number, fromSeq: number, limit: number) => Promise<{ seq: number; stream: Chunk['stream']; ts: number; data: Buffer }[]>;
  retryMs?: number;
}

interface Envelope {
  /** The publishing server. */
  o: string;
  e: EventName;
  /** The payload, or, for output too large, a pointer to its chunks. */
  p?: unknown;
  ref?: { runId: number; jobId: number; host: string; from: number; to: number };
}

/** Publishes this server's events to the others and replays theirs here; see the file's comment. */
export class PgEventRelay {
  readonly #listen: ReconnectingSession;
  #publish: pg.Client | undefined;
  #stopped = false;
  #replaying = false;
  #off: (() => void) | undefined;
  #queue: Promise<void> = Promise.resolve();
  /** Received events, replayed one at a time in order (a pointer's chunks are read first). */
  #inbox: Promise<void> = Promise.resolve();

  constructor(private readonly opts: PgEventRelayOptions) {
    this.#listen = new ReconnectingSession({
      connect: opts.session,
      retryMs: opts.retryMs ?? 500,
      setup: async (listen) => {
        listen.on('notification', (n) => {
          const text = n.payload;
          if (n.channel === EVENTS_CHANNEL && text) this.#inbox = this.#inbox.then(() => this.#receive(text)).catch(() => undefined);
        });
        await listen.query(`listen ${EVENTS_CHANNEL}`);
      },
    });
  }

  /** Starts listening and publishing. */
  start(): void {
    this.#stopped = false;
    this.#off = this.opts.bus.onAny(RELAYED, (event, payload) => {
      if (this.#replaying) return;
      this.#queue = this.#queue.then(() => this.#send(event, payload)).catch(() => undefined);
    });
    this.#listen.start();
  }

  /** Stops; resolves when the sessions are closed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#off?.();
    await this.#queue;
    await this.#listen.stop();
    const publish = this.#publish;
    this.#publish = undefined;
    await publish?.end().catch(() => undefined);
  }

  async #publisher(): Promise<pg.Client> {
    if (this.#publish) return this.#publish;
    const c = await this.opts.session();
    const gone = () => {
      if (this.#publish === c) this.#publish = undefined;
    };
    c.on('error', gone);
    c.on('end', gone);
    this.#publish = c;
    return c;
  }

  async #send(event: EventName, payload: unknown): Promise<void> {
    if (this.#stopped) return;
    let text = JSON.stringify({ o: this.opts.serverId, e: event, p: payload } satisfies Envelope);
    if (Buffer.byteLength(text) > MAX_PAYLOAD) {
      if (event !== 'run.log') return; // Too large and not output: the others read it from the store.
      const log = payload as RunLog;
      if (log.chunks.length === 0) return;
      await this.opts.flushLogs();
      text = JSON.stringify({ o: this.opts.serverId, e: event, ref: { runId: log.runId, jobId: log.jobId, host: log.host, from: log.chunks[0]!.seq, to: log.chunks.at(-1)!.seq } } satisfies Envelope);
    }
    try {
      const c = await this.#publisher();
      await c.query('select pg_notify($1, $2)', [EVENTS_CHANNEL, text]);
    } catch {
      // The database is away: live views elsewhere miss this batch; the store has it.
    }
  }

  async #receive(text: string): Promise<void> {
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (env.o === this.opts.serverId || !RELAYED.includes(env.e)) return;
    let payload = env.p;
    if (env.ref) {
      const { runId, jobId, host, from, to } = env.ref;
      const chunks = (await this.opts.readLog(runId, from, to - from + 1)).filter((c) => c.seq <= to);
      payload = { runId, jobId, host, chunks: chunks.map((c) => ({ seq: c.seq, stream: c.stream, ts: c.ts, data: c.data.toString('base64') })) } satisfies RunLog;
    }
    // Anyone who can connect to the database can NOTIFY: what arrives is parsed by the event's
    // contract before any client sees it.
    const parsed = events[env.e].safeParse(payload);
    if (!parsed.success) return;
    this.#replaying = true;
    try {
      if (env.e === 'run.log') {
        // Live output goes to the doors' feeds as bytes, as this server's own runs' does.
        const log = parsed.data as RunLog;
        this.opts.bus.emitRunLog({ runId: log.runId, jobId: log.jobId, host: log.host, chunks: log.chunks.map((c) => ({ ...c, data: Buffer.from(c.data, 'base64') })), ...(log.gapFrom !== undefined ? { gapFrom: log.gapFrom } : {}) }, log);
      } else this.opts.bus.emit(env.e, parsed.data as never);
    } finally {
      this.#replaying = false;
    }
  }
}
