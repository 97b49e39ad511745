/**
 * Run logs: chunks stored with their sequence numbers as they arrive, a live feed
 * batched at about 16 ms, reading back (from a sequence, or the tail), and retention.
 * Guards these invariants:
 * - nothing is lost or stored twice: (run, seq) is the key and re-sent chunks (a
 *   reattached runner replaying from a sequence) are ignored; flushes run one at a time, in
 *   order, so a later chunk is never stored before an earlier one;
 * - memory stays bounded whatever the output rate: storing starts once `flushBytes` wait, and
 *   a writer past the high-water mark waits on drain() until what it buffered is stored, so a
 *   fast producer is slowed to the store's speed instead of growing a queue;
 * - a slow live subscriber never holds chunks in memory: when it falls behind, it is
 *   told where the gap starts and reads the rest from the store (no loss); one that can take
 *   more gets a window's batch early when it reaches the limit, instead of a gap;
 * - secret values are masked before anything is stored or streamed.
 * On SQLite rows are stored with prepared statements in one transaction per flush (at once, when
 * no bytes go to files), and a run's output beyond its first `inlineBytes` goes to the run's own
 * append-only file (log-files.ts) with one positioned write per flush by the thread pool, its rows
 * keeping only the offset and length: storing a byte through SQLite's pages and WAL cost the app
 * more than receiving it. On PostgreSQL (a team server, where every server must read every log)
 * by one multi-row insert at a time.
 */
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { type CroniumError } from '../../shared/errors';
import { sql } from 'drizzle-orm';
import type { Store } from '../db/database';
import type { DataStore } from '../db/store';
import { dataDirFull, isDiskFull } from '../db/disk-full';
import { LogFiles, type FileHandle, type Span } from './log-files';
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
  /** Bytes buffered for the store before writers wait for them to be stored. */
  highWaterBytes?: number;
  /** Bytes buffered before a flush starts (while none is in flight). */
  flushBytes?: number;
  /** Bytes a live subscriber may have pending before it is switched to catch-up. */
  subscriberLimitBytes?: number;
  /** SQLite: bytes of a run kept in the store's rows before the rest goes to the run's output file. */
  inlineBytes?: number;
  /** SQLite: the directory of output files (default: `logs` next to the database). */
  filesDir?: string;
  clock?: () => number;
}

/** The bytes of a row whose chunk is in its run's file. */
const EMPTY = Buffer.alloc(0);

/** A stored row: the chunk's bytes, or (file_len set) its place in the run's output file. */
type Row = { seq: number; stream: LogChunk['stream']; ts: number; bytes: Buffer; file_off: number | null; file_len: number | null };

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
  /** SQLite's raw handle (the synchronous fast path); undefined on PostgreSQL. */
  private readonly db: Database.Database | undefined;
  #maxSeq: Database.Statement | undefined;
  private readonly insert: Database.Statement | undefined;
  private readonly store: DataStore;
  /** PostgreSQL: the insert in flight (one at a time, in order). */
  private storing: Promise<void> | undefined;
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
  private readonly flushBytes: number;
  private readonly subscriberLimitBytes: number;
  private readonly clock: () => number;
  /** SQLite: the output files, and the bytes of each run written so far in its rows. */
  private readonly files: LogFiles | undefined;
  private readonly inlined = new Map<number, number>();
  private readonly inlineBytes: number;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(store: Store | DataStore, options: LogServiceOptions = {}) {
    if ('sqlite' in store) {
      this.db = store.sqlite;
      this.store = store.data;
      this.insert = this.db.prepare('insert or ignore into log_chunks (run_id, seq, stream, ts, bytes, file_off, file_len) values (?, ?, ?, ?, ?, ?, ?)');
      this.files = new LogFiles(options.filesDir ?? join(dirname(store.path), 'logs'));
    } else {
      this.store = store;
    }
    this.batchMs = options.batchMs ?? 16;
    this.highWaterBytes = options.highWaterBytes ?? 4 * 1024 * 1024;
    this.flushBytes = Math.min(options.flushBytes ?? 1024 * 1024, this.highWaterBytes);
    this.subscriberLimitBytes = options.subscriberLimitBytes ?? 1024 * 1024;
    this.clock = options.clock ?? Date.now;
    this.inlineBytes = options.inlineBytes ?? 256 * 1024;
  }

  /** A writer for one run, after what is stored of it; `secrets` are masked in everything it writes. */
  async openWriter(runId: number, secrets: readonly string[] = []): Promise<LogWriter> {
    return this.writer(runId, secrets, await this.lastStoredSeq(runId));
  }

  /** A writer for one run whose output is stored up to `startSeq`. */
  writer(runId: number, secrets: readonly string[], startSeq: number): LogWriter {
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
        // A chunk sent again (a reattached runner replays from a sequence): stored before this
        // writer, or already taken by it. (The store ignores a duplicate key anyway.)
        if (chunk.seq <= startSeq || (chunk.seq <= seq && this.isBuffered(runId, chunk.seq))) return this.bufferedBytes < this.highWaterBytes;
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
        await this.flush();
        this.files?.close(runId);
        this.inlined.delete(runId);
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

  private isBuffered(runId: number, seq: number): boolean {
    return this.buffer.some((c) => c.runId === runId && c.seq === seq);
  }

  /** The highest stored sequence number of a run (0 when none). */
  async lastStoredSeq(runId: number): Promise<number> {
    const db = this.db;
    // Asked once per run (openWriter): prepared once.
    if (db) return this.store.exclusive(() => ((this.#maxSeq ??= db.prepare('select max(seq) from log_chunks where run_id = ?').pluck()).get(runId) as number | null) ?? 0);
    const [row] = await this.store.rows<{ m: number | null }>(sql`select max(seq) as m from log_chunks where run_id = ${runId}`);
    return Number(row?.m ?? 0);
  }

  /**
   * A flush now at the high-water mark (writers wait for it), or when `flushBytes` wait and no flush
   * is in flight (storing them overlaps with receiving more: a writer is held up only when storing
   * falls a whole high-water mark behind), else within 50 ms.
   */
  private scheduleFlush(): void {
    if (this.bufferedBytes >= this.highWaterBytes || (!this.storing && this.bufferedBytes >= this.flushBytes)) {
      this.flushReporting();
      return;
    }
    this.flushTimer ??= setTimeout(() => this.flushReporting(), 50);
  }

  /** flush() from a timer or a writer: a failure is reported (the rows stay buffered for the next). */
  private flushReporting(): void {
    this.flush().catch((e: unknown) => {
      process.stderr.write(`cronium: storing log output failed: ${(e as Error).message}\n`);
      for (const w of this.drainWaiters.splice(0)) w.reject(e as Error);
      this.flushTimer ??= setTimeout(() => this.flushReporting(), 1000);
    });
  }

  /**
   * Writes everything buffered, one flush at a time and in order (a later chunk is never stored
   * before an earlier one: a reattach resumes after the last stored sequence). On SQLite rows are
   * stored in one transaction, at once when no bytes go to files; bytes for files are written off
   * the main thread first. On PostgreSQL by one insert after the one in flight. Never rejects on a
   * full disk (the rows wait); another failure rejects and the rows wait for the next flush.
   */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const db = this.db;
    if (!db) return this.flushPg();
    while (this.storing) await this.storing;
    const next = this.takeFlush();
    if (!next) return;
    const { rows, bytes, done } = next;
    const files = this.toFiles(rows);
    try {
      // Each run's bytes past its inline share go to its file first (at the end its index covers, by
      // the thread pool: copying a fast run's output into the page cache is most of storing it),
      // then every row is indexed in one transaction; the files' ends move once it committed.
      const spans = new Map<LogChunk, Span>();
      const ends: { h: FileHandle; end: number }[] = [];
      const written = files.size === 0 ? [] : await Promise.allSettled(
        [...files].map(async ([runId, chunks]) => {
          const h = this.files!.handle(runId, () => (db.prepare('select max(file_off + file_len) from log_chunks where run_id = ? and file_len is not null').pluck().get(runId) as number | null) ?? 0);
          const placed = await this.files!.write(h, chunks.map((c) => c.data));
          chunks.forEach((c, i) => spans.set(c, placed[i]!));
          const last = placed[placed.length - 1]!;
          ends.push({ h, end: last.off + last.len });
        }),
      );
      const failed = written.find((w) => w.status === 'rejected');
      if (failed) {
        this.storeFailed(rows, failed.reason);
        throw failed.reason;
      }
      // Rows alone are stored at once when no transaction of the store is open (so a fast producer
      // is held to the store's speed), else right after it: they must not join someone else's transaction.
      await this.store.exclusive(() => this.storeSqlite(db, rows, bytes, spans, ends));
    } catch (e) {
      if (!isDiskFull(e)) throw e;
    } finally {
      done();
    }
    if (this.buffer.length) this.scheduleFlush();
  }

  /** Indexes (and stores the inline bytes of) `rows` in one transaction; a failure puts them back first in line. */
  private storeSqlite(db: Database.Database, rows: (LogChunk & { runId: number })[], bytes: number, spans: ReadonlyMap<LogChunk, Span>, ends: readonly { h: FileHandle; end: number }[]): void {
    try {
      db.transaction(() => {
        for (const c of rows) {
          const span = spans.get(c);
          if (span) this.insert!.run(c.runId, c.seq, c.stream, c.ts, EMPTY, span.off, span.len);
          else this.insert!.run(c.runId, c.seq, c.stream, c.ts, c.data, null, null);
        }
      }).immediate();
    } catch (e) {
      this.storeFailed(rows, e);
      if (isDiskFull(e)) return;
      throw e;
    }
    for (const { h, end } of ends) this.files!.commit(h, end);
    this.bufferedBytes = Math.max(0, this.bufferedBytes - bytes);
    this.full = undefined;
    if (this.buffer.length === 0) for (const w of this.drainWaiters.splice(0)) w.resolve();
  }

  /**
   * Rows that could not be stored go back first in line. On a full disk nothing is lost yet: they
   * wait in memory (writers are refused, so no more come) and are stored when space returns; every
   * waiting writer learns why now.
   */
  private storeFailed(rows: (LogChunk & { runId: number })[], e: unknown): void {
    this.buffer.unshift(...rows);
    if (!isDiskFull(e)) return;
    this.diskFull(e);
    this.flushTimer ??= setTimeout(() => this.flushReporting(), 1000);
  }

  /**
   * The data dir's disk is full (found here, or by another write of the store such as a run's end):
   * writers are refused and learn why, and the onFull listeners are told once.
   */
  diskFull(e: unknown): void {
    const first = !this.full;
    this.full = dataDirFull(e);
    for (const w of this.drainWaiters.splice(0)) w.reject(this.full);
    if (first) for (const l of this.fullListeners) l(this.full);
  }

  /**
   * The rows of this flush that go to their run's file, by run: a run's first `inlineBytes` stay in
   * rows, and from the first chunk past them on everything goes to its file.
   */
  private toFiles(rows: readonly (LogChunk & { runId: number })[]): Map<number, (LogChunk & { runId: number })[]> {
    const byRun = new Map<number, (LogChunk & { runId: number })[]>();
    for (const c of rows) {
      const toFile = byRun.get(c.runId);
      if (toFile) {
        toFile.push(c);
        continue;
      }
      const inline = (this.inlined.get(c.runId) ?? 0) + c.data.length;
      if (!this.files!.isOpen(c.runId) && inline <= this.inlineBytes) this.inlined.set(c.runId, inline);
      else byRun.set(c.runId, [c]);
    }
    return byRun;
  }

  /**
   * With no flush in flight: takes everything buffered as the next one (`done` ends it), at once (a
   * writer at the high-water mark is stored before its write returns); undefined when nothing waits
   * to be stored (the drain waiters are told, and a full disk found elsewhere by diskFull holds no
   * writer back any more).
   */
  private takeFlush(): { rows: (LogChunk & { runId: number })[]; bytes: number; done: () => void } | undefined {
    if (this.buffer.length === 0) {
      this.full = undefined;
      for (const w of this.drainWaiters.splice(0)) w.resolve();
      return undefined;
    }
    const rows = this.buffer.splice(0);
    let finish!: () => void;
    this.storing = new Promise<void>((r) => (finish = r));
    return {
      rows,
      bytes: rows.reduce((n, c) => n + c.data.length, 0),
      done: () => {
        this.storing = undefined;
        finish();
      },
    };
  }

  private async flushPg(): Promise<void> {
    while (this.storing) await this.storing;
    const next = this.takeFlush();
    if (!next) return;
    const { rows, bytes, done } = next;
    const { logChunks } = this.store.schema;
    try {
      // Under PostgreSQL's 65,535 parameters per statement: 5 per row.
      for (let i = 0; i < rows.length; i += 10_000) {
        await this.store.db
          .insert(logChunks)
          .values(rows.slice(i, i + 10_000).map((c) => ({ runId: c.runId, seq: c.seq, stream: c.stream, ts: c.ts, bytes: c.data })))
          .onConflictDoNothing();
      }
      this.bufferedBytes = Math.max(0, this.bufferedBytes - bytes);
    } catch (e) {
      // The rows wait for the next flush, in order; the writers waiting learn why.
      this.buffer.unshift(...rows);
      for (const w of this.drainWaiters.splice(0)) w.reject(e as Error);
      this.flushTimer ??= setTimeout(() => this.flushReporting(), 1000);
      return;
    } finally {
      done();
    }
    if (this.bufferedBytes === 0 || this.buffer.length === 0) for (const w of this.drainWaiters.splice(0)) w.resolve();
    else this.scheduleFlush();
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
          // What the subscriber will read is stored first (read() flushes before it reads too).
          this.flushReporting();
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
  async read(runId: number, fromSeq = 1, limit = 1000): Promise<LogChunk[]> {
    await this.flush();
    const db = this.db;
    const rows = db
      ? await this.store.exclusive(() => db.prepare('select seq, stream, ts, bytes, file_off, file_len from log_chunks where run_id = ? and seq >= ? order by seq limit ?').all(runId, fromSeq, limit) as Row[])
      : await this.store.rows<Row>(sql`select seq, stream, ts, bytes, file_off, file_len from log_chunks where run_id = ${runId} and seq >= ${fromSeq} order by seq limit ${limit}`);
    return this.chunks(runId, rows);
  }

  /** Rows as chunks, the bytes of those in the run's file read from it. */
  private async chunks(runId: number, rows: readonly Row[]): Promise<LogChunk[]> {
    const inFile = rows.filter((r) => r.file_len !== null && r.file_len !== undefined);
    const read = this.files && inFile.length ? await this.files.read(runId, inFile.map((r) => ({ off: Number(r.file_off), len: Number(r.file_len) }))) : [];
    const fromFile = new Map(inFile.map((r, i) => [r, read[i] ?? EMPTY]));
    return rows.map((r) => ({ seq: Number(r.seq), stream: r.stream, ts: Number(r.ts), data: fromFile.get(r) ?? r.bytes }));
  }

  /** The last chunks of a run holding at least `bytes` bytes (or all of it), in order: "tail first". */
  async tail(runId: number, bytes = 64 * 1024): Promise<LogChunk[]> {
    await this.flush();
    const out: Row[] = [];
    let total = 0;
    // Newest first, a page at a time, until the bytes are there.
    for (let before = Number.MAX_SAFE_INTEGER; total < bytes; ) {
      const db = this.db;
      const page = db
        ? await this.store.exclusive(() => db.prepare('select seq, stream, ts, bytes, file_off, file_len from log_chunks where run_id = ? and seq < ? order by seq desc limit 64').all(runId, before) as Row[])
        : await this.store.rows<Row>(sql`select seq, stream, ts, bytes, file_off, file_len from log_chunks where run_id = ${runId} and seq < ${before} order by seq desc limit 64`);
      if (page.length === 0) break;
      for (const r of page) {
        out.push(r);
        total += r.file_len ?? r.bytes.length;
        if (total >= bytes) break;
      }
      before = Number(page[page.length - 1]!.seq);
    }
    return this.chunks(runId, out.reverse());
  }

  /** The whole log of a run, chunk by chunk, without loading it all at once. */
  async *download(runId: number): AsyncGenerator<LogChunk> {
    let from = 1;
    for (;;) {
      const page = await this.read(runId, from, 500);
      if (page.length === 0) return;
      yield* page;
      from = page[page.length - 1]!.seq + 1;
    }
  }

  /** Applies a retention policy; returns how many runs' logs were deleted. */
  async prune(policy: RetentionPolicy, now = this.clock()): Promise<number> {
    await this.flush();
    const doomed = new Set<number>();
    const finished = (
      await this.store.rows<{ id: number; finished_at: number; size: number }>(
        sql`select r.id, r.finished_at, (select coalesce(sum(length(bytes) + coalesce(file_len, 0)), 0) from log_chunks c where c.run_id = r.id) as size from runs r where r.finished_at is not null and exists (select 1 from log_chunks c where c.run_id = r.id) order by r.finished_at desc, r.id desc`,
      )
    ).map((r) => ({ id: Number(r.id), finished_at: Number(r.finished_at), size: Number(r.size) }));
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
    const ids = [...doomed];
    for (let i = 0; i < ids.length; i += 500) await this.store.exec(sql`delete from log_chunks where run_id in ${ids.slice(i, i + 500)}`);
    if (this.files) {
      this.files.remove(ids);
      // Files no row points into: a run whose rows went another way, a crash before a file's first index.
      await this.files.sweep(async () => new Set((await this.store.rows<{ run_id: number }>(sql`select distinct run_id from log_chunks where file_len is not null`)).map((r) => Number(r.run_id))));
    }
    return doomed.size;
  }

  /**
   * Runs `prune` now and then every `intervalMs` with the policy `getPolicy` returns, and
   * `alsoPrune` (the audit log's retention) on the same clock.
   */
  startRetention(getPolicy: () => RetentionPolicy, intervalMs = 3_600_000, alsoPrune?: () => Promise<unknown>): void {
    const run = async () => {
      try {
        await this.prune(getPolicy());
        await alsoPrune?.();
      } catch (e) {
        process.stderr.write(`cronium: log retention failed: ${(e as Error).message}\n`);
      }
    };
    void run();
    this.retentionTimer = setInterval(() => void run(), intervalMs);
    this.retentionTimer.unref();
  }

  /** Stores what is buffered and stops the timers (on SQLite, before it returns). */
  close(): Promise<void> {
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
    return this.flush()
      .catch((e: unknown) => {
        process.stderr.write(`cronium: storing the last log output failed: ${(e as Error).message}\n`);
      })
      .finally(() => this.files?.closeAll());
  }
}
