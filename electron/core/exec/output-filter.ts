/**
 * Filters a direct-mode run's stdout:
 * - before the prelude's start marker, stdout is the login shell's noise (a chatty
 *   ~/.bashrc) and the prelude's own markers: it is held (bounded) and dropped, the markers
 *   are reported;
 * - after it, lines `@@cronium:output <json>` are the script's output (issue 6: direct mode
 *   offers input and output only): they are taken out of the log and reported; everything
 *   else passes through as it arrives. Only a partial line that may still become such a
 *   line is held back, so streaming stays live.
 */
import { jsonTooDeep } from '../../shared/json-bounded';

const OUTPUT_MARK = Buffer.from('@@cronium:output ');
/** Where a marker line can start after the first: a newline, then the marker's first bytes. */
const NL_MARK = Buffer.from('\n@@');
/** An output line longer than this is logged as plain output instead of held. */
export const MAX_OUTPUT_BYTES = 1024 * 1024;
const MAX_PRESTART_BYTES = 256 * 1024;

/** What the filter reports. */
export interface FilterEvents {
  /** A prelude marker: `started <pid>`, `error <CODE> <message>`. */
  onMarker(what: string): void;
  /** A parsed `@@cronium:output` value. */
  onOutput(value: unknown): void;
}

/** Stateful filter of one run's stdout. */
export class StdoutFilter {
  private started = false;
  private pre: Buffer = Buffer.alloc(0);
  private held: Buffer | null = null;
  private lineStart = true;
  private readonly prefix: string;

  constructor(
    nonce: string,
    private readonly events: FilterEvents,
  ) {
    this.prefix = `@@cronium:${nonce}:`;
  }

  /** Whether the start marker was seen. */
  get hasStarted(): boolean {
    return this.started;
  }

  /** Takes a chunk; returns what belongs in the log (possibly empty). */
  push(chunk: Buffer): Buffer {
    if (this.started) return this.filter(chunk);
    this.pre = this.pre.length ? Buffer.concat([this.pre, chunk]) : chunk;
    for (;;) {
      const text = this.pre.toString('latin1');
      const at = text.indexOf(this.prefix);
      if (at < 0) break;
      const nl = text.indexOf('\n', at);
      if (nl < 0) break;
      const what = Buffer.from(text.slice(at + this.prefix.length, nl), 'latin1').toString('utf8');
      this.pre = this.pre.subarray(nl + 1);
      this.events.onMarker(what);
      if (what.startsWith('started')) {
        this.started = true;
        const rest = this.pre;
        this.pre = Buffer.alloc(0);
        return rest.length ? this.filter(rest) : rest;
      }
    }
    if (this.pre.length > MAX_PRESTART_BYTES) this.pre = Buffer.from(this.pre.subarray(this.pre.length - 4096));
    return Buffer.alloc(0);
  }

  /** At the end: what is still held back (an unterminated line), for the log. */
  end(): Buffer {
    const held = this.held;
    this.held = null;
    if (!held) return Buffer.alloc(0);
    return this.takeOutput(held) ? Buffer.alloc(0) : held;
  }

  private takeOutput(line: Buffer): boolean {
    if (line.length < OUTPUT_MARK.length || !line.subarray(0, OUTPUT_MARK.length).equals(OUTPUT_MARK)) return false;
    const json = line.subarray(OUTPUT_MARK.length).toString('utf8').replace(/\r?\n$/, '');
    try {
      if (jsonTooDeep(json)) return false; // logged as a plain line, never stored as the run's output
      this.events.onOutput(JSON.parse(json));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * After the start marker: passes the chunk through, taking out `@@cronium:output` lines. It
   * looks only where such a line can start (the chunk's start after a newline, then each "\n@@"
   * Buffer.indexOf finds), so plain output costs one native search per chunk and no copy.
   */
  private filter(chunk: Buffer): Buffer {
    const data = this.held ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = null;
    const keep: Buffer[] = [];
    let from = 0;
    let cand = this.lineStart ? 0 : -1;
    let pos = 0;
    for (;;) {
      if (cand < 0) {
        const k = data.indexOf(NL_MARK, pos);
        if (k < 0) break;
        cand = k + 1;
      }
      if (data.length - cand < OUTPUT_MARK.length) break;
      if (data.compare(OUTPUT_MARK, 0, OUTPUT_MARK.length, cand, cand + OUTPUT_MARK.length) !== 0) {
        pos = cand;
        cand = -1;
        continue;
      }
      const nl = data.indexOf(10, cand);
      if (nl < 0) {
        if (data.length - cand <= MAX_OUTPUT_BYTES) {
          // Maybe the run's output, still being written: held until its newline.
          keep.push(data.subarray(from, cand));
          this.held = Buffer.from(data.subarray(cand));
          from = data.length;
        }
        break;
      }
      if (this.takeOutput(data.subarray(cand, nl + 1))) {
        keep.push(data.subarray(from, cand));
        from = nl + 1;
      }
      pos = nl;
      cand = -1;
    }
    if (!this.held && from < data.length) {
      // The last line may be the start of a marker line cut by the chunk: held until it can tell.
      const lastNl = data.lastIndexOf(10);
      // from > 0 is always just after a newline (an output line taken out ends there).
      const start = lastNl + 1 > from ? lastNl + 1 : from > 0 || this.lineStart ? from : -1;
      const tail = start >= 0 ? data.length - start : 0;
      if (tail > 0 && tail < OUTPUT_MARK.length && data.compare(OUTPUT_MARK, 0, tail, start, data.length) === 0) {
        keep.push(data.subarray(from, start));
        this.held = Buffer.from(data.subarray(start));
        from = data.length;
      }
    }
    if (from < data.length) keep.push(from === 0 ? data : data.subarray(from));
    if (this.held) this.lineStart = true;
    else if (data.length > 0) this.lineStart = data[data.length - 1] === 10;
    return keep.length === 1 ? keep[0]! : Buffer.concat(keep);
  }
}
