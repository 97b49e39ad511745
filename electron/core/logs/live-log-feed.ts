/**
 * One client's live logs (a WebSocket of the headless door, the desktop window over IPC).
 *
 * A log view cannot show more than a few MB/s (its pump writes at most 64 KiB per animation
 * frame), and a run can print 50 MB/s or more. Sending every byte anyway made the page decode
 * and throw away most of it, which cost it its frame rate; holding bytes for a client that
 * takes them slower than they come would grow the app's memory. So, per run and client:
 *
 * - output goes out at up to `rate` bytes per second (a token bucket of `burst` bytes), and
 *   only while the client has at most CLIENT_LOG_HIGH_WATER bytes not yet taken;
 * - what waits is at most `queueBytes`, the newest kept: older output chunks are left out of
 *   the feed, and the next batch says which and how much (`skipped: [{ from, to, bytes }]`,
 *   and `gapFrom` for a client that would rather read them from the store with runs.logs);
 * - Cronium's own (system) lines are never left out, and the order is kept: a chunk goes out
 *   only after every chunk before it went out or was left out (and said so);
 * - a timer sends what waits once the budget allows, so the end of a run's output always
 *   arrives, at most about queueBytes / rate later.
 *
 * Nothing is lost (every chunk is in the store); memory is bounded per run and client; a run
 * printing less than `rate` is sent as it comes, with no delay.
 */
import type { EventPayload } from '../../shared/api';
import { encodeRunLog, type RawRunLog } from '../events/event-bus';

/** Above this many bytes not yet taken by a client, its live logs wait. */
export const CLIENT_LOG_HIGH_WATER = 1024 * 1024;
/** Live output sent to one client per run, in bytes per second (20,000 lines of 100 bytes: more than anyone reads, less than a view draws). */
export const LIVE_LOG_RATE = 2 * 1024 * 1024;
/** The token bucket's size: what may go at once after a quiet spell. */
export const LIVE_LOG_BURST = 512 * 1024;
/** Output waiting for one client per run, at most (about 125 ms at the rate); older chunks beyond it are left out. */
export const LIVE_LOG_QUEUE = 256 * 1024;

type Batch = EventPayload<'run.log'>;
type Chunk = RawRunLog['chunks'][number];
type Skip = NonNullable<Batch['skipped']>[number];

/** Knobs of a feed (tests pass a clock and timers of their own). */
export interface LiveLogFeedOptions {
  /** Bytes the client has not taken yet (the socket's bufferedAmount, unacknowledged IPC credit). */
  queued: () => number;
  /** Sends a batch to the client (its output in base64, encoded when it is sent: what is left out never is). */
  send: (batch: Batch) => void;
  rate?: number;
  burst?: number;
  queueBytes?: number;
  highWater?: number;
  now?: () => number;
  setTimer?: (cb: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

interface RunFeed {
  jobId: number;
  host: string;
  /** Chunks waiting, oldest first, and their output bytes. */
  chunks: Chunk[];
  bytes: number;
  /** Output left out and not yet reported, oldest first. */
  skipped: Skip[];
  /** A gap the log service reported upstream (size unknown): passed on. */
  gapFrom: number | undefined;
  tokens: number;
  at: number;
}

/** Paces and bounds one client's live logs (see the file's comment). */
export class LiveLogFeed {
  private readonly runs = new Map<number, RunFeed>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly queueBytes: number;
  private readonly highWater: number;
  private readonly now: () => number;
  private readonly setTimer: (cb: () => void, ms: number) => unknown;
  private readonly clearTimer: (handle: unknown) => void;
  private timer: unknown = null;
  private closed = false;

  constructor(private readonly opts: LiveLogFeedOptions) {
    this.rate = opts.rate ?? LIVE_LOG_RATE;
    this.burst = opts.burst ?? LIVE_LOG_BURST;
    this.queueBytes = opts.queueBytes ?? LIVE_LOG_QUEUE;
    this.highWater = opts.highWater ?? CLIENT_LOG_HIGH_WATER;
    this.now = opts.now ?? (() => performance.now());
    this.setTimer = opts.setTimer ?? ((cb, ms) => setTimeout(cb, ms).unref());
    this.clearTimer = opts.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  /** Takes a run's live output from the core (events.onRunLog); sends what the budget allows now, the rest later. */
  push(batch: RawRunLog): void {
    if (this.closed) return;
    let feed = this.runs.get(batch.runId);
    if (!feed) {
      this.sweep();
      feed = { jobId: batch.jobId, host: batch.host, chunks: [], bytes: 0, skipped: [], gapFrom: undefined, tokens: this.burst, at: this.now() };
      this.runs.set(batch.runId, feed);
    }
    if (batch.gapFrom !== undefined) feed.gapFrom = Math.min(feed.gapFrom ?? batch.gapFrom, batch.gapFrom);
    for (const c of batch.chunks) {
      feed.chunks.push(c);
      if (c.stream !== 'system') feed.bytes += c.data.length;
    }
    this.trim(feed);
    this.drain(batch.runId, feed);
    this.schedule();
  }

  /** Stops: nothing more is sent, timers are cleared, what waits is dropped. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    this.runs.clear();
  }

  /** Leaves out the oldest output chunks beyond the queue's size (system lines stay). */
  private trim(feed: RunFeed): void {
    if (feed.bytes <= this.queueBytes) return;
    const kept: Chunk[] = [];
    for (const c of feed.chunks) {
      if (feed.bytes > this.queueBytes && c.stream !== 'system') {
        const n = c.data.length;
        feed.bytes -= n;
        const last = feed.skipped[feed.skipped.length - 1];
        if (last && last.to + 1 === c.seq) {
          last.to = c.seq;
          last.bytes += n;
        } else feed.skipped.push({ from: c.seq, to: c.seq, bytes: n });
      } else kept.push(c);
    }
    feed.chunks = kept;
  }

  /** Sends the run's waiting chunks the budget allows, in order, with the skips before them. */
  private drain(runId: number, feed: RunFeed): void {
    const t = this.now();
    feed.tokens = Math.min(this.burst, feed.tokens + ((t - feed.at) * this.rate) / 1000);
    feed.at = t;
    if (this.opts.queued() > this.highWater) return;
    let n = 0;
    while (n < feed.chunks.length) {
      const c = feed.chunks[n]!;
      if (c.stream !== 'system') {
        // The bucket may go into debt by one chunk (a chunk larger than the bucket still goes).
        if (feed.tokens <= 0) break;
        const size = c.data.length;
        feed.tokens -= size;
        feed.bytes -= size;
      }
      n++;
    }
    const out = feed.chunks.splice(0, n);
    // Skips older than every chunk still waiting can be told now (the client keeps the order).
    const nextWaiting = feed.chunks[0]?.seq ?? Number.POSITIVE_INFINITY;
    let k = 0;
    while (k < feed.skipped.length && feed.skipped[k]!.from < nextWaiting) k++;
    const skipped = feed.skipped.splice(0, k);
    // An upstream gap is told once the chunks before it went out (else the client would read
    // from the store what is still on its way).
    const upstream = feed.gapFrom !== undefined && !feed.chunks.some((c) => c.seq < feed.gapFrom!) ? feed.gapFrom : undefined;
    if (upstream !== undefined) feed.gapFrom = undefined;
    const gapFrom = upstream ?? skipped[0]?.from;
    if (out.length > 0 || skipped.length > 0 || gapFrom !== undefined) {
      this.opts.send({ ...encodeRunLog({ runId, jobId: feed.jobId, host: feed.host, chunks: out, ...(gapFrom !== undefined ? { gapFrom } : {}) }), ...(skipped.length > 0 ? { skipped } : {}) });
    }
    // A run with nothing waiting and a full bucket needs no state.
    if (feed.chunks.length === 0 && feed.skipped.length === 0 && feed.gapFrom === undefined && feed.tokens >= this.burst) this.runs.delete(runId);
  }

  /** Forgets runs with nothing waiting whose buckets have filled up again (ended or quiet runs). */
  private sweep(): void {
    const t = this.now();
    for (const [runId, feed] of this.runs) {
      if (feed.chunks.length === 0 && feed.skipped.length === 0 && feed.gapFrom === undefined && feed.tokens + ((t - feed.at) * this.rate) / 1000 >= this.burst) this.runs.delete(runId);
    }
  }

  /** Sets the timer that sends what still waits, once the budget (or the client) allows. */
  private schedule(): void {
    if (this.closed || this.timer !== null) return;
    let wait = Number.POSITIVE_INFINITY;
    for (const feed of this.runs.values()) {
      if (feed.chunks.length === 0 && feed.skipped.length === 0) continue;
      wait = Math.min(wait, feed.tokens > 0 ? 0 : (-feed.tokens * 1000) / this.rate);
    }
    if (wait === Number.POSITIVE_INFINITY) return;
    this.timer = this.setTimer(
      () => {
        this.timer = null;
        if (this.closed) return;
        for (const [runId, feed] of [...this.runs]) if (feed.chunks.length > 0 || feed.skipped.length > 0) this.drain(runId, feed);
        this.schedule();
      },
      // A client that is behind is asked again soon; a run waiting for its budget when it is there.
      Math.max(this.opts.queued() > this.highWater ? 50 : 10, Math.ceil(wait)),
    );
  }
}
