/**
 * Run logs: chunks stored with their sequence numbers as they arrive, a live feed
 * batched at about 16 ms, reading back (from a sequence, or the tail), and retention.
 * Guards these invariants:
 * - nothing is lost or stored twice: (run, seq) is the key and re-sent chunks (a
 *   reattached runner replaying from a sequence) are ignored;
 * - memory stays bounded whatever the output rate: writes are buffered up to a
 *   high-water mark and stored in one transaction at the latest when they reach it,
 *   synchronously, so a fast producer is slowed to the store's speed instead of
 *   growing a queue;
 * - a slow live subscriber never holds chunks in memory: when it falls behind, it is
 *   told where the gap starts and reads the rest from the store (no loss); one that can take
 *   more gets a window's batch early when it reaches the limit, instead of a gap;
 * - secret values are masked before anything is stored or streamed.
 */
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { type CroniumError } from '../../shared/errors';
import type { Store } from '../db/database';
import { dataDirFull, isDiskFull } from '../db/disk-full';
import { SecretMasker } from './secret-masker';

/** One stored or streamed piece of output. */
export interface LogChunk {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  ts: number;
  data: Buffer;
}

/** A batch delivered to a live subscriber; `gapFrom` says to read from the store from there. */
export interface LogBatch {
  runId: number;
  chunks: LogChunk[];
  gapFrom?: number;
}

/** Retention limits; each is optional. */
export interface RetentionPolicy {
  /** Delete the logs of runs that finished more than this many days ago. */
  maxAgeDays?: number;
  /** Keep the logs of at most this many finished runs (the newest). */
  maxRuns?: number;
  /** Keep at most this many bytes of logs in all (oldest runs go first). */
  maxTotalBytes?: number;
}

/** Tuning of the service. */
export interface LogServiceOptions {
  /** Live batches go out at most this often. */
  batchMs?: number;
  /** Bytes buffered for the store before they are stored synchronously. */
  highWaterBytes?: number;
  /** Bytes a live subscriber may have pending before it is switched to catch-up. */
  subscriberLimitBytes?: number;
  clock?: () => number;
}

type Subscriber = { listener: (batch: LogBatch) => void; pending: LogChunk[]; pendingBytes: number; gapFrom?: number; isReady: () => boolean };

/** Writes one run's output; assign sequence numbers with `write`, or pass them through with `append`. */
export interface LogWriter {
  /** Appends output with the next sequence number (true while under the high-water mark). */
  write(stream: LogChunk['stream'], data: Buffer, ts?: number): boolean;
  /** Appends a chunk that already has its sequence number (from the runner); duplicates are ignored. */
  append(chunk: LogChunk): boolean;
  /** Resolves when buffered output has been stored. */
  drain(): Promise<void>;
  /** Flushes what masking held back and everything buffered. */
  close(): Promise<void>;
  /** The highest sequence number stored or buffered. */
  readonly lastSeq: number;
}

/** Stores and streams run logs. */
export class LogService {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly buffer: (LogChunk & { runId: number })[] = [];
  private bufferedBytes = 0;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastDeliverAt = Number.NEGATIVE_INFINITY;
  private readonly drainWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly fullListeners = new Set<(e: CroniumError) => void>();
  /** Set while the data dir's disk is full: what was buffered waits, writers are refused. */
  private full: CroniumError | undefined;
  private readonly subscribers = new Map<number, Set<Subscriber>>();
  private liveTimer: NodeJS.Timeout | undefined;
  private readonly batchMs: number;
  private readonly highWaterBytes: number;
  private readonly subscriberLimitBytes: number;
  private readonly clock: () => number;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(store: Store, options: LogServiceOptions = {}) {
    this.db = store.sqlite;
    this.insert = this.db.prepare('insert or ignore into log_chunks (run_id, seq, stream, ts, bytes) values (?, ?, ?, ?, ?)');
    this.batchMs = options.batchMs ?? 16;
    this.highWaterBytes = options.highWaterBytes ?? 4 * 1024 * 1024;
    this.subscriberLimitBytes = options.subscriberLimitBytes ?? 1024 * 1024;
    this.clock = options.clock ?? Date.now;
  }

  /** A writer for one run; `secrets` are masked in everything it writes. */
  writer(runId: number, secrets: readonly string[] = [], startSeq = this.lastStoredSeq(runId)): LogWriter {
    const maskers = new Map<LogChunk['stream'], SecretMasker>();
    const masker = (stream: LogChunk['stream']) => maskers.get(stream) ?? maskers.set(stream, new SecretMasker(secrets)).get(stream)!;
    let seq = startSeq;
    const enqueue = (chunk: LogChunk): boolean => {
      if (chunk.data.length === 0) return this.bufferedBytes < this.highWaterBytes;
      seq = Math.max(seq, chunk.seq);
      this.buffer.push({ ...chunk, runId });
      this.bufferedBytes += chunk.data.length;
      this.toSubscribers(runId, chunk);
      this.scheduleFlush();
      return this.bufferedBytes < this.highWaterBytes;
    };
    return {
      write: (stream, data, ts = this.clock()) => {
        const out = masker(stream).push(data);
        return enqueue({ seq: seq + 1, stream, ts, data: Buffer.from(out) });
      },
      append: (chunk) => {
        if (chunk.seq <= seq && this.isStored(runId, chunk.seq)) return this.bufferedBytes < this.highWaterBytes;
        // Chunks that carry their own sequence numbers are masked one by one: holding a tail
        // back across chunks could lose it if the app stopped before the next chunk, since a
        // reattach resumes after the last stored sequence. (A secret split across two pipe
        // reads of the runner is the runner's to mask at the source.)
        const data = secrets.length ? this.maskWhole(chunk.data, secrets) : chunk.data;
        return enqueue({ ...chunk, data });
      },
      drain: () => this.drain(),
      close: async () => {
        for (const [stream, m] of maskers) {
          const rest = m.end();
          if (rest.length) enqueue({ seq: seq + 1, stream, ts: this.clock(), data: rest });
        }
        this.flush();
      },
      get lastSeq() {
        return seq;
      },
    };
  }

  private maskWhole(data: Buffer, secrets: readonly string[]): Buffer {
    const m = new SecretMasker(secrets);
    return Buffer.concat([m.push(data), m.end()]);
  }

  private isStored(runId: number, seq: number): boolean {
    return this.db.prepare('select 1 from log_chunks where run_id = ? and seq = ?').get(runId, seq) !== undefined || this.buffer.some((c) => c.runId === runId && c.seq === seq);
  }

  /** The highest stored sequence number of a run (0 when none). */
  lastStoredSeq(runId: number): number {
    return (this.db.prepare('select max(seq) from log_chunks where run_id = ?').pluck().get(runId) as number | null) ?? 0;
  }

  private scheduleFlush(): void {
    if (this.bufferedBytes >= this.highWaterBytes) {
      this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => this.flush(), 50);
  }

  /** Writes everything buffered in one transaction. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.buffer.length) {
      const rows = this.buffer.splice(0);
      try {
        this.db.transaction(() => {
          for (const c of rows) this.insert.run(c.runId, c.seq, c.stream, c.ts, c.data);
        }).immediate();
      } catch (e) {
        if (!isDiskFull(e)) throw e;
        // Nothing is lost yet: the rows wait in memory (writers are refused, so no more come)
        // and are stored when space returns; every waiting writer learns why now.
        this.buffer.unshift(...rows);
        const first = !this.full;
        this.full = dataDirFull(e);
        for (const w of this.drainWaiters.splice(0)) w.reject(this.full);
        if (first) for (const l of this.fullListeners) l(this.full);
        this.flushTimer ??= setTimeout(() => this.flush(), 1000);
        return;
      }
      this.bufferedBytes = 0;
      this.full = undefined;
    }
    for (const w of this.drainWaiters.splice(0)) w.resolve();
  }

  /** Calls `listener` when a write to the store fails because the data dir's disk is full; returns the unsubscribe. */
  onFull(listener: (e: CroniumError) => void): () => void {
    this.fullListeners.add(listener);
    return () => this.fullListeners.delete(listener);
  }

  private drain(): Promise<void> {
    if (this.bufferedBytes === 0) return Promise.resolve();
    if (this.full) return Promise.reject(this.full);
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Subscribes to a run's live output. `isReady` reports whether the subscriber's
   * transport can take more now (e.g. a WebSocket's bufferedAmount is low); while it
   * cannot, chunks are not kept beyond a limit and the next batch carries `gapFrom`.
   */
  subscribe(runId: number, listener: (batch: LogBatch) => void, isReady: () => boolean = () => true): () => void {
    const sub: Subscriber = { listener, pending: [], pendingBytes: 0, isReady };
    const set = this.subscribers.get(runId) ?? this.subscribers.set(runId, new Set()).get(runId)!;
    set.add(sub);
    return () => {
      set.delete(sub);
      if (set.size === 0) this.subscribers.delete(runId);
    };
  }

  private toSubscribers(runId: number, chunk: LogChunk): void {
    const set = this.subscribers.get(runId);
    if (!set) return;
    for (const sub of set) {
      if (sub.gapFrom !== undefined) continue;
      if (sub.pendingBytes + chunk.data.length > this.subscriberLimitBytes && sub.pending.length > 0 && sub.isReady()) {
        // A window's worth of output before its end (a fast run): a subscriber that can take it gets it now.
        const batch: LogBatch = { runId, chunks: sub.pending };
        sub.pending = [];
        sub.pendingBytes = 0;
        sub.listener(batch);
      }
      if (sub.pendingBytes + chunk.data.length > this.subscriberLimitBytes && sub.pending.length > 0) {
        // Too far behind: drop what it has pending and let it read from the store instead.
        sub.gapFrom = sub.pending[0]?.seq ?? chunk.seq;
        sub.pending = [];
        sub.pendingBytes = 0;
        continue;
      }
      sub.pending.push(chunk);
      sub.pendingBytes += chunk.data.length;
    }
    // At most one batch per batchMs, but a line after a quiet spell goes out on the next turn
    // of the event loop instead of waiting out a whole window (live latency at low rates).
    this.liveTimer ??= setTimeout(() => this.deliver(), Math.max(0, this.lastDeliverAt + this.batchMs - performance.now()));
  }

  /** Delivers a pending live batch now instead of at the end of its window (a CLI about to exit). */
  deliverNow(): void {
    if (!this.liveTimer) return;
    clearTimeout(this.liveTimer);
    this.deliver();
  }

  private deliver(): void {
    this.liveTimer = undefined;
    this.lastDeliverAt = performance.now();
    let waiting = false;
    for (const [runId, set] of this.subscribers) {
      for (const sub of set) {
        if (!sub.pending.length && sub.gapFrom === undefined) continue;
        if (!sub.isReady()) {
          waiting = true;
          continue;
        }
        const batch: LogBatch = { runId, chunks: sub.pending };
        if (sub.gapFrom !== undefined) {
          // Make sure what the subscriber will read is in the store.
          this.flush();
          batch.gapFrom = sub.gapFrom;
          batch.chunks = [];
        }
        sub.pending = [];
        sub.pendingBytes = 0;
        sub.gapFrom = undefined;
        sub.listener(batch);
      }
    }
    if (waiting) this.liveTimer = setTimeout(() => this.deliver(), this.batchMs);
  }

  /** Chunks of a run from a sequence number on, in order (after storing what is buffered). */
  read(runId: number, fromSeq = 1, limit = 1000): LogChunk[] {
    this.flush();
    return (
      this.db.prepare('select seq, stream, ts, bytes from log_chunks where run_id = ? and seq >= ? order by seq limit ?').all(runId, fromSeq, limit) as {
        seq: number;
        stream: LogChunk['stream'];
        ts: number;
        bytes: Buffer;
      }[]
    ).map((r) => ({ seq: r.seq, stream: r.stream, ts: r.ts, data: r.bytes }));
  }

  /** The last chunks of a run holding at least `bytes` bytes (or all of it), in order: "tail first". */
  tail(runId: number, bytes = 64 * 1024): LogChunk[] {
    this.flush();
    const rows = this.db.prepare('select seq, stream, ts, bytes from log_chunks where run_id = ? order by seq desc').iterate(runId) as IterableIterator<{
      seq: number;
      stream: LogChunk['stream'];
      ts: number;
      bytes: Buffer;
    }>;
    const out: LogChunk[] = [];
    let total = 0;
    for (const r of rows) {
      out.push({ seq: r.seq, stream: r.stream, ts: r.ts, data: r.bytes });
      total += r.bytes.length;
      if (total >= bytes) break;
    }
    return out.reverse();
  }

  /** The whole log of a run, chunk by chunk, without loading it all at once. */
  *download(runId: number): Generator<LogChunk> {
    this.flush();
    let from = 1;
    for (;;) {
      const page = this.read(runId, from, 500);
      if (page.length === 0) return;
      yield* page;
      from = page[page.length - 1]!.seq + 1;
    }
  }

  /** Applies a retention policy; returns how many runs' logs were deleted. */
  prune(policy: RetentionPolicy, now = this.clock()): number {
    this.flush();
    const doomed = new Set<number>();
    const finished = this.db
      .prepare("select r.id, r.finished_at, (select coalesce(sum(length(bytes)), 0) from log_chunks c where c.run_id = r.id) as size from runs r where r.finished_at is not null and exists (select 1 from log_chunks c where c.run_id = r.id) order by r.finished_at desc, r.id desc")
      .all() as { id: number; finished_at: number; size: number }[];
    if (policy.maxAgeDays !== undefined) {
      const cutoff = now - policy.maxAgeDays * 86_400_000;
      for (const r of finished) if (r.finished_at < cutoff) doomed.add(r.id);
    }
    if (policy.maxRuns !== undefined) for (const r of finished.slice(policy.maxRuns)) doomed.add(r.id);
    if (policy.maxTotalBytes !== undefined) {
      let total = 0;
      for (const r of finished) {
        if (doomed.has(r.id)) continue;
        total += r.size;
        if (total > policy.maxTotalBytes) doomed.add(r.id);
      }
    }
    const del = this.db.prepare('delete from log_chunks where run_id = ?');
    this.db.transaction(() => {
      for (const id of doomed) del.run(id);
    }).immediate();
    return doomed.size;
  }

  /**
   * Runs `prune` now and then every `intervalMs` with the policy `getPolicy` returns, and
   * `alsoPrune` (the audit log's retention) on the same clock.
   */
  startRetention(getPolicy: () => RetentionPolicy, intervalMs = 3_600_000, alsoPrune?: () => void): void {
    const run = () => {
      try {
        this.prune(getPolicy());
        alsoPrune?.();
      } catch (e) {
        process.stderr.write(`cronium: log retention failed: ${(e as Error).message}\n`);
      }
    };
    run();
    this.retentionTimer = setInterval(run, intervalMs);
    this.retentionTimer.unref();
  }

  /** Stores what is buffered and stops the timers. */
  close(): void {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
    this.flush();
  }
}
