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
 * When more than `maxBacklogBytes` wait to be written, further output chunks are not decoded or
 * written but counted, and one dim line says how much was left out where it was ("the whole log
 * is stored": the Full log dialog and the CLI read it from the store). So the view stays live,
 * its memory bounded and the page at full frame rate (test/bench/live.ts: 50 MB/s), and
 * Cronium's own (system) lines are always shown.
 */

/** A chunk of log as the contract carries it (data is base64). */
export interface LogChunk {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  ts: number;
  data: string;
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
   * Under load (more than `paceBytes` waiting), at most one write of `paceBytes` per animation
   * frame, so parsing output never takes the frames the page needs to stay at full rate; below
   * it every write goes at once (latency). Default 64 KiB.
   */
  paceBytes?: number;
  /** Calls back at the next animation frame (requestAnimationFrame; tests pass their own). */
  nextFrame?: (cb: () => void) => void;
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

/** Orders, de-duplicates, gap-fills and batches a run's chunks into a sink. */
export class LogPump {
  /** The last seq handed to the sink. */
  lastSeq = 0;
  /** Bytes written so far. */
  bytesWritten = 0;
  /** Output bytes left out to keep up (they are in the store). */
  bytesSkipped = 0;
  private skippedSinceNotice = 0;
  private readonly maxBacklog: number;
  private readonly pending = new Map<number, LogChunk>();
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private writing = false;
  private filling = false;
  private disposed = false;
  private readonly maxBatch: number;
  private readonly pace: number;
  private readonly nextFrame: (cb: () => void) => void;
  private framePending = false;

  constructor(
    private readonly sink: LogSink,
    private readonly opts: LogPumpOptions,
  ) {
    this.maxBatch = opts.maxBatchBytes ?? 256 * 1024;
    this.maxBacklog = opts.maxBacklogBytes ?? 2 * 1024 * 1024;
    this.pace = opts.paceBytes ?? 64 * 1024;
    this.nextFrame = opts.nextFrame ?? ((cb) => (typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16)));

  }

  /** Starts after `seq` (e.g. when the first chunks were skipped on purpose: tail first). */
  startAfter(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  /** Takes chunks from a read or an event, in any order. `gapFrom`: the live feed dropped chunks from there. */
  push(chunks: readonly LogChunk[], gapFrom?: number): void {
    if (this.disposed) return;
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
      this.pending.delete(next.seq);
      this.lastSeq = next.seq;
      if (next.stream !== 'system' && this.queuedBytes > this.maxBacklog) {
        // Behind by more than the backlog: leave this chunk out (not even decoded), and say so later.
        const n = Math.floor((next.data.length * 3) / 4) - (next.data.endsWith('==') ? 2 : next.data.endsWith('=') ? 1 : 0);
        this.bytesSkipped += n;
        this.skippedSinceNotice += n;
        continue;
      }
      if (this.skippedSinceNotice > 0) {
        this.enqueue(skippedNotice(this.skippedSinceNotice));
        this.skippedSinceNotice = 0;
      }
      const bytes = decodeBase64(next.data);
      if (next.stream === 'system') this.enqueue(SYSTEM_ON, bytes, STYLE_OFF);
      else this.enqueue(bytes);
      moved = true;
    }
    if (this.pending.size > 0) void this.fillFrom(this.lastSeq + 1);
    if (moved) this.kick();
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

  private enqueue(...parts: Uint8Array[]): void {
    for (const p of parts) {
      this.queue.push(p);
      this.queuedBytes += p.length;
    }
  }

  private kick(): void {
    if (this.writing || this.framePending) return;
    if (this.queuedBytes > this.pace) {
      // Behind: one paced write per frame.
      this.framePending = true;
      this.nextFrame(() => {
        this.framePending = false;
        this.flush(this.pace);
      });
      return;
    }
    this.flush(this.maxBatch);
  }

  private flush(limit: number): void {
    if (this.disposed || this.writing || this.queue.length === 0) return;
    let size = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || size + this.queue[n]!.length <= limit)) size += this.queue[n++]!.length;
    const parts = this.queue.splice(0, n);
    this.queuedBytes -= size;
    const data = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      data.set(p, off);
      off += p.length;
    }
    this.writing = true;
    this.bytesWritten += size;
    this.sink.write(data, () => {
      this.writing = false;
      if (this.disposed) return;
      // Caught up after leaving output out, and nothing more came: say so now.
      if (this.queue.length === 0 && this.skippedSinceNotice > 0) {
        this.enqueue(skippedNotice(this.skippedSinceNotice));
        this.skippedSinceNotice = 0;
      }
      this.kick();
    });
  }
}
