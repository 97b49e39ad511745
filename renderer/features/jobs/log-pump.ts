/**
 * LogPump: feeds a run's log chunks into a terminal, in order and exactly once.
 *
 * Invariants: chunks are written in seq order and never twice (a chunk at or below the
 * last written seq is dropped, so the tail read and live events may overlap freely);
 * a hole in the sequence is filled by reading the store (`fill`) before anything after
 * it is written; at most one write is outstanding at a time and the next one waits
 * for the terminal's write callback (backpressure), with everything that arrived
 * meanwhile batched into one write of at most `maxBatchBytes`. A chunk that finds no write
 * outstanding is written at once: waiting for an animation frame as well cost a frame of
 * latency (browser p50 34 → 18 ms in test/bench/live.ts) and bought nothing, since xterm
 * draws once per frame anyway and the frame rate at 10 MB/s stays at 60 fps.
 *
 * Keeping up: a run may print faster than a terminal can draw (xterm parses some tens of MB/s).
 * The app sends a view at most a few MB/s per run and says what it left out (`skipped` ranges
 * with their sizes: LiveLogFeed); the pump counts those without reading them. When more than
 * `maxBacklogBytes` still wait to be written, the oldest output waiting goes too: the newest is
 * what a live view is for, and the end of a run's output is always shown. A dim line says how
 * much was left out where it was ("the whole log is stored": the Full log dialog and the CLI
 * read it from the store). Under load the terminal is written about ten times a second, not every
 * frame. So the view stays live, its memory bounded and the page at full frame rate
 * (test/bench/live.ts: 50 MB/s), and Cronium's own (system) lines are always shown.
 */

/** A chunk of log as the contract carries it (data is base64). */
export interface LogChunk {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  ts: number;
  data: string;
}

/** Output the app left out of the live feed: chunks `from`..`to`, `bytes` in all (stored). */
export interface LogSkip {
  from: number;
  to: number;
  bytes: number;
}

/** What the pump writes to: xterm's `write(data, callback)`. */
export interface LogSink {
  write(data: Uint8Array, callback: () => void): void;
}

/** Knobs of the pump. */
export interface LogPumpOptions {
  /** Reads chunks from seq `from` (in order, possibly fewer than asked); an empty list means none yet. */
  fill: (from: number) => Promise<LogChunk[]>;
  /** Largest single write. */
  maxBatchBytes?: number;
  /** Output waiting to be written beyond which chunks are left out (counted, and said so). */
  maxBacklogBytes?: number;
  /**
   * Under load (more than `paceBytes` waiting), at most one write of `paceBytes` per `paceMs`,
   * on an animation frame: the terminal then parses and redraws about ten times a second instead
   * of every frame (a redraw of a scrolling screen is the page's dearest work), so the page
   * keeps its frame rate; below it every write goes at once (latency). Defaults 256 KiB, 100 ms.
   */
  paceBytes?: number;
  paceMs?: number;
  /** Calls back at an animation frame at least `ms` from now (setTimeout, then requestAnimationFrame; tests pass their own). */
  nextFrame?: (cb: () => void, ms: number) => void;
}

const SYSTEM_ON = new TextEncoder().encode('\x1b[2;3m');
const STYLE_OFF = new TextEncoder().encode('\x1b[0m');

/** The dim line that marks where output was left out to keep up. */
export function skippedNotice(bytes: number): Uint8Array {
  const size = bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(bytes < 10_240 ? 1 : 0)} KB` : `${bytes} bytes`;
  return new TextEncoder().encode(`\r\n\x1b[0;2m[${size} of output not shown here, to keep up; the whole log is stored: Full log]\x1b[0m\r\n`);
}

/** Decodes base64 into bytes. */
export function decodeBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A part waiting to be written: output (may be left out when behind), a system line (never), or a notice of what was left out. */
interface QueuedPart {
  data: Uint8Array;
  kind: 'output' | 'system' | 'notice';
  /** For a notice: the bytes it counts. */
  skipped?: number;
}

/** Orders, de-duplicates, gap-fills and batches a run's chunks into a sink. */
export class LogPump {
  /** The last seq handed to the sink. */
  lastSeq = 0;
  /** Bytes written so far. */
  bytesWritten = 0;
  /** Output bytes left out to keep up (they are in the store). */
  bytesSkipped = 0;
  private readonly maxBacklog: number;
  /** Chunks and skipped ranges that arrived ahead of lastSeq + 1, by their first seq. */
  private readonly pending = new Map<number, LogChunk | LogSkip>();
  private queue: QueuedPart[] = [];
  private queuedBytes = 0;
  private writing = false;
  private filling = false;
  private disposed = false;
  private readonly maxBatch: number;
  private readonly pace: number;
  private readonly nextFrame: (cb: () => void, ms: number) => void;
  private readonly paceMs: number;
  private framePending = false;

  constructor(
    private readonly sink: LogSink,
    private readonly opts: LogPumpOptions,
  ) {
    this.maxBatch = opts.maxBatchBytes ?? 256 * 1024;
    this.maxBacklog = opts.maxBacklogBytes ?? 1024 * 1024;
    this.pace = opts.paceBytes ?? 256 * 1024;
    this.paceMs = opts.paceMs ?? 100;
    this.nextFrame =
      opts.nextFrame ??
      ((cb, ms) =>
        setTimeout(() => {
          if (typeof requestAnimationFrame === 'function') requestAnimationFrame(() => cb());
          else cb();
        }, ms));

  }

  /** Starts after `seq` (e.g. when the first chunks were skipped on purpose: tail first). */
  startAfter(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  /**
   * Takes chunks from a read or an event, in any order. `skipped`: ranges the live feed left out
   * (counted, not read); `gapFrom`: the live feed did not send chunks from there (read from the
   * store unless `skipped` covers them).
   */
  push(chunks: readonly LogChunk[], gapFrom?: number, skipped?: readonly LogSkip[]): void {
    if (this.disposed) return;
    for (const s of skipped ?? []) if (s.to > this.lastSeq && s.to >= s.from) this.pending.set(Math.max(s.from, this.lastSeq + 1), { ...s, from: Math.max(s.from, this.lastSeq + 1) });
    for (const c of chunks) if (c.seq > this.lastSeq) this.pending.set(c.seq, c);
    this.drain();
    if (gapFrom !== undefined && gapFrom > this.lastSeq) void this.fillFrom(this.lastSeq + 1);
  }

  /** Stops writing; later pushes and callbacks are ignored. */
  dispose(): void {
    this.disposed = true;
    this.pending.clear();
    this.queue = [];
  }

  /** Moves the contiguous chunks after lastSeq into the write queue; asks the store for a hole. */
  private drain(): void {
    let moved = false;
    for (;;) {
      const next = this.pending.get(this.lastSeq + 1);
      if (!next) break;
      this.pending.delete(this.lastSeq + 1);
      moved = true;
      if ('to' in next) {
        // Left out by the app to keep up: counted and marked here; anything that came for those seqs is dropped.
        if (this.pending.size < next.to - this.lastSeq) {
          for (const seq of [...this.pending.keys()]) if (seq <= next.to) this.pending.delete(seq);
        } else for (let seq = this.lastSeq + 2; seq <= next.to; seq++) this.pending.delete(seq);
        this.lastSeq = next.to;
        this.markSkipped(this.queue.length, next.bytes);
        continue;
      }
      this.lastSeq = next.seq;
      const bytes = decodeBase64(next.data);
      if (next.stream === 'system') this.enqueue({ data: concat([SYSTEM_ON, bytes, STYLE_OFF]), kind: 'system' });
      else this.enqueue({ data: bytes, kind: 'output' });
    }
    this.trimBacklog();
    if (this.pending.size > 0) void this.fillFrom(this.lastSeq + 1);
    if (moved) this.kick();
  }

  /** More than maxBacklog waits: the oldest output waiting goes (the newest is what a view is for), marked where it was. */
  private trimBacklog(): void {
    let from = 0;
    while (this.queuedBytes > this.maxBacklog) {
      while (from < this.queue.length && this.queue[from]!.kind !== 'output') from++;
      if (from >= this.queue.length) return;
      const [dropped] = this.queue.splice(from, 1);
      this.queuedBytes -= dropped!.data.length;
      this.markSkipped(from, dropped!.data.length);
    }
  }

  /** Counts `bytes` left out at queue position `at`: a notice there (or right before it) says how much. */
  private markSkipped(at: number, bytes: number): void {
    this.bytesSkipped += bytes;
    const near = [this.queue[at - 1], this.queue[at]].find((q) => q?.kind === 'notice');
    if (near) {
      near.skipped! += bytes;
      const data = skippedNotice(near.skipped!);
      this.queuedBytes += data.length - near.data.length;
      near.data = data;
      return;
    }
    const notice: QueuedPart = { data: skippedNotice(bytes), kind: 'notice', skipped: bytes };
    this.queue.splice(at, 0, notice);
    this.queuedBytes += notice.data.length;
  }

  private async fillFrom(from: number): Promise<void> {
    if (this.filling || this.disposed) return;
    this.filling = true;
    try {
      const chunks = await this.opts.fill(from);
      if (this.disposed) return;
      for (const c of chunks) if (c.seq > this.lastSeq) this.pending.set(c.seq, c);
    } catch (e) {
      console.warn('cronium: could not read a log gap', e);
      return;
    } finally {
      this.filling = false;
    }
    const before = this.lastSeq;
    this.drain();
    // Still a hole though the store had more: keep reading (the store returns pages).
    if (this.lastSeq > before && this.pending.size > 0) void this.fillFrom(this.lastSeq + 1);
  }

  private enqueue(part: QueuedPart): void {
    this.queue.push(part);
    this.queuedBytes += part.data.length;
  }

  private kick(): void {
    if (this.writing || this.framePending) return;
    if (this.queuedBytes > this.pace) {
      // Behind: one paced write per paceMs.
      this.framePending = true;
      this.nextFrame(() => {
        this.framePending = false;
        this.flush(this.pace);
      }, this.paceMs);
      return;
    }
    this.flush(this.maxBatch);
  }

  private flush(limit: number): void {
    if (this.disposed || this.writing || this.queue.length === 0) return;
    let size = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || size + this.queue[n]!.data.length <= limit)) size += this.queue[n++]!.data.length;
    const parts = this.queue.splice(0, n);
    this.queuedBytes -= size;
    const data = concat(parts.map((p) => p.data));
    this.writing = true;
    this.bytesWritten += size;
    this.sink.write(data, () => {
      this.writing = false;
      if (!this.disposed) this.kick();
    });
  }
}

/** One buffer of the parts, in order. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
