/**
 * The runner's stdout as frames, in either protocol (runner/README.md, "Wire format"):
 * 3, newline-delimited JSON with base64 log data, and 4, length-prefixed binary frames
 * whose log bodies are the output bytes themselves. Twin of runner/internal/protocol
 * (binary.go); test/fixtures/runner/frames-v4.hex holds vectors both sides verify.
 *
 * A stream may start with text that is not the runner's (a noisy login shell, the per-run
 * check's marker line): whole lines before the first frame are handed to `onText`. The first
 * frame decides the protocol: a line starting with `{` is protocol 3 (and a JSON error line
 * may come before a protocol 4 hello: a runner refusing its arguments), a line starting with
 * the magic byte 0xC5 switches to binary frames for the rest of the stream.
 *
 * Invariants:
 * - every frame is parsed strictly (the header's fields and bounds, then the JSON body through
 *   the zod schemas): a malformed one is reported through `onMalformed` once per cause and
 *   never reaches `onFrame`; a binary stream cannot be resynchronised, so decoding stops there;
 * - a log frame's data is a Buffer: a view into the chunk it arrived in when it lies within one
 *   (no copy), else one concatenation; never a string;
 * - `push` awaits what `onFrame` returns (the log sink's backpressure), frame by frame.
 */
import { CroniumError } from '../../shared/errors';
import { RUNNER_LIMITS, MAX_SEQ, type ControlFrame, type RunnerFrame, type LogFrame } from '../../shared/runner-protocol';
import { logBytes, parseFrame } from './payload';

/** First byte of every protocol 4 frame (never `{`). */
export const FRAME_MAGIC = 0xc5;
/** Size of a protocol 4 frame header. */
export const FRAME_HEADER_LEN = 24;
/** Timestamps above this are refused (milliseconds; as Go's MaxTs). */
export const MAX_TS = 2 ** 53 - 1;

const TYPE_CODES = { hello: 1, log: 2, heartbeat: 3, exit: 4, error: 5, helper: 6, 'helper-reply': 7, cancel: 8, ready: 9 } as const;
type WireType = keyof typeof TYPE_CODES;
const TYPE_NAMES: (WireType | undefined)[] = [undefined, 'hello', 'log', 'heartbeat', 'exit', 'error', 'helper', 'helper-reply', 'cancel', 'ready'];

/** A log frame with its data decoded. */
export interface LogChunk {
  type: 'log';
  seq: number;
  stream: 'stdout' | 'stderr';
  ts: number;
  data: Buffer;
}
/** A frame as the decoder hands it on: log data as bytes, every other frame as the schema has it. */
export type DecodedFrame = Exclude<RunnerFrame, LogFrame> | LogChunk;

/** A frame header as read. */
export interface FrameHeader {
  type: WireType;
  stream: 'stdout' | 'stderr' | null;
  length: number;
  seq: number;
  ts: number;
}

const maxBody = (t: WireType): number => (t === 'log' ? RUNNER_LIMITS.maxLogData : t === 'heartbeat' ? 0 : RUNNER_LIMITS.maxFrameBytes);
const bad = (message: string): CroniumError => new CroniumError('INVALID_INPUT', `runner frame: ${message}`, 'the runner and the app may speak different protocols; redeploy the runner');

/** Reads and checks a protocol 4 header (the first 24 bytes of `b`). */
export function decodeHeader(b: Uint8Array): FrameHeader {
  if (b.length < FRAME_HEADER_LEN) throw bad(`header of ${b.length} bytes`);
  if (b[0] !== FRAME_MAGIC) throw bad(`does not start with 0xC5 (0x${b[0]!.toString(16).padStart(2, '0')})`);
  const type = TYPE_NAMES[b[1]!];
  if (!type) throw bad(`unknown type ${b[1]}`);
  let stream: FrameHeader['stream'] = null;
  if (type === 'log' && (b[2] === 1 || b[2] === 2)) stream = b[2] === 1 ? 'stdout' : 'stderr';
  else if (type === 'log' || b[2] !== 0) throw bad(`${type} frame with stream ${b[2]}`);
  if (b[3] !== 0) throw bad(`${type} frame with reserved flags ${b[3]}`);
  const view = new DataView(b.buffer, b.byteOffset, FRAME_HEADER_LEN);
  const length = view.getUint32(4);
  if (length > maxBody(type)) throw bad(`${type} frame with a body of ${length} bytes, limit ${maxBody(type)}`);
  const seq = view.getBigUint64(8);
  const ts = view.getBigUint64(16);
  if (seq > BigInt(MAX_SEQ) || ts > BigInt(MAX_TS)) throw bad(`${type} frame with seq or ts out of range`);
  const h: FrameHeader = { type, stream, length, seq: Number(seq), ts: Number(ts) };
  const hasSeq = type === 'log' || type === 'heartbeat' || type === 'exit';
  const hasTs = type === 'log' || type === 'heartbeat';
  if ((!hasSeq && h.seq !== 0) || (!hasTs && h.ts !== 0)) throw bad(`${type} frame: seq and ts must be 0`);
  if ((type === 'log' || type === 'exit') && h.seq < 1) throw bad(`${type} frame: seq must be at least 1`);
  return h;
}

/** Decodes one whole protocol 4 frame (header and body). */
export function decodeBinaryFrame(h: FrameHeader, body: Buffer): DecodedFrame {
  if (h.type === 'log') return { type: 'log', seq: h.seq, stream: h.stream!, ts: h.ts, data: body };
  if (h.type === 'heartbeat') return { type: 'heartbeat', seq: h.seq, ts: h.ts };
  if (h.type === 'cancel' || h.type === 'helper-reply') throw bad(`${h.type} is a control frame, not the runner's`);
  const f = parseFrame(body.toString('utf8'));
  if (f.type !== h.type) throw bad(`${h.type} frame carries a ${f.type} body`);
  if (f.type === 'exit' && f.seq !== h.seq) throw bad(`exit frame: header seq ${h.seq}, body seq ${f.seq}`);
  if (f.type === 'hello' && f.protocol !== 4) throw bad(`a binary hello frame naming protocol ${f.protocol}`);
  return f as Exclude<RunnerFrame, LogFrame>;
}

/** Decodes a whole buffer of protocol 4 frames (a spool read back, a test's capture); an incomplete last frame is refused. */
export function decodeFrameStream(b: Buffer): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  while (b.length > 0) {
    const h = decodeHeader(b);
    if (b.length < FRAME_HEADER_LEN + h.length) throw bad(`the buffer ends inside a ${h.type} frame`);
    out.push(decodeBinaryFrame(h, b.subarray(FRAME_HEADER_LEN, FRAME_HEADER_LEN + h.length)));
    b = b.subarray(FRAME_HEADER_LEN + h.length);
  }
  return out;
}

/** Encodes a frame in protocol 4 (fixtures, tests, and a runner stand-in; the app itself only decodes). */
export function encodeBinaryFrame(f: RunnerFrame | ControlFrame | LogChunk): Buffer {
  let body: Buffer;
  let stream = 0;
  let seq = 0;
  let ts = 0;
  if (f.type === 'log') {
    body = Buffer.isBuffer(f.data) ? f.data : logBytes(f.data);
    stream = f.stream === 'stdout' ? 1 : 2;
    seq = f.seq;
    ts = f.ts;
  } else if (f.type === 'heartbeat') {
    body = Buffer.alloc(0);
    seq = f.seq;
    ts = f.ts;
  } else {
    body = Buffer.from(JSON.stringify(f), 'utf8');
    if (f.type === 'exit') seq = f.seq;
  }
  const h = Buffer.alloc(FRAME_HEADER_LEN);
  h[0] = FRAME_MAGIC;
  h[1] = TYPE_CODES[f.type];
  h[2] = stream;
  h.writeUInt32BE(body.length, 4);
  h.writeBigUInt64BE(BigInt(seq), 8);
  h.writeBigUInt64BE(BigInt(ts), 16);
  return Buffer.concat([h, body]);
}

/** What the decoder calls. */
export interface FrameSink {
  onFrame(frame: DecodedFrame): void | Promise<void>;
  /** A whole line before the first frame: not the runner's (a login shell's noise, the check's marker). */
  onText?(line: string): void;
  /** A frame that failed to parse; the first message per stream is what a caller keeps. */
  onMalformed(message: string): void;
}

/** Turns the runner's stdout chunks into frames, either protocol. */
export class FrameDecoder {
  /** 3 or 4 once the first frame said; undefined before. */
  protocol: 3 | 4 | undefined;
  /** Frames decoded so far. */
  frames = 0;
  #chunks: Buffer[] = [];
  #offset = 0;
  #available = 0;
  #binary = false;
  #dead = false;
  /** Protocol 3 / preamble: an oversized line is dropped up to its newline. */
  #skipping = false;

  constructor(private readonly sink: FrameSink) {}

  /** Feeds a chunk of stdout; resolves once every whole frame in it was handed on. */
  async push(chunk: Buffer): Promise<void> {
    if (this.#dead || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#available += chunk.length;
    for (;;) {
      const r = this.#binary ? this.#nextBinary() : this.#nextLine(false);
      if (r === undefined) break;
      if (r !== null) await r;
      if (this.#dead) return;
    }
  }

  /** The stream ended: a last unterminated line (protocol 3) is decoded; a partial binary frame is malformed. */
  async end(): Promise<void> {
    if (this.#dead || this.#available === 0) return;
    if (this.#binary) {
      this.sink.onMalformed(`the stream ended inside a frame (${this.#available} bytes left)`);
      return;
    }
    const r = this.#nextLine(true);
    if (r) await r;
  }

  /** Next binary frame: undefined when incomplete, null when it was handled synchronously. */
  #nextBinary(): Promise<void> | null | undefined {
    if (this.#available < FRAME_HEADER_LEN) return undefined;
    let h: FrameHeader;
    try {
      h = decodeHeader(this.#peek(FRAME_HEADER_LEN));
    } catch (e) {
      return this.#fatal((e as Error).message);
    }
    if (this.#available < FRAME_HEADER_LEN + h.length) return undefined;
    this.#skip(FRAME_HEADER_LEN);
    const body = this.#take(h.length);
    let frame: DecodedFrame;
    try {
      frame = decodeBinaryFrame(h, body);
    } catch (e) {
      return this.#fatal((e as Error).message);
    }
    this.frames++;
    return this.sink.onFrame(frame) ?? null;
  }

  /** Next line (preamble, or protocol 3): undefined when no whole line is buffered. */
  #nextLine(atEnd: boolean): Promise<void> | null | undefined {
    if (this.#available === 0) return undefined;
    const first = this.#chunks[0]![this.#offset]!;
    if (this.protocol === undefined && first === FRAME_MAGIC) {
      this.#binary = true;
      this.protocol = 4;
      return null;
    }
    const nl = this.#indexOfNewline();
    if (nl < 0) {
      if (atEnd) return this.#line(this.#take(this.#available));
      if (this.#available > RUNNER_LIMITS.maxFrameBytes + 1) {
        this.sink.onMalformed(`runner frame longer than ${RUNNER_LIMITS.maxFrameBytes} bytes`);
        this.#skipping = true;
        this.#take(this.#available);
      }
      return undefined;
    }
    const line = this.#take(nl);
    this.#skip(1);
    if (this.#skipping) {
      this.#skipping = false;
      return null;
    }
    return this.#line(line);
  }

  #line(line: Buffer): Promise<void> | null {
    if (line.length === 0) return null;
    if (line[0] !== 0x7b) {
      if (this.protocol === undefined) this.sink.onText?.(line.toString('utf8'));
      else this.sink.onMalformed('a protocol 3 line that is not a JSON frame');
      return null;
    }
    let frame: RunnerFrame;
    try {
      frame = parseFrame(line.toString('utf8'));
    } catch (e) {
      this.sink.onMalformed((e as Error).message);
      return null;
    }
    if (frame.type === 'hello') {
      if (frame.protocol > 3) {
        this.sink.onMalformed(`a JSON hello frame naming protocol ${frame.protocol}`);
        return null;
      }
      this.protocol = 3;
    }
    this.frames++;
    if (frame.type !== 'log') return this.sink.onFrame(frame) ?? null;
    let data: Buffer;
    try {
      data = logBytes(frame.data);
    } catch (e) {
      this.sink.onMalformed((e as Error).message);
      return null;
    }
    return this.sink.onFrame({ type: 'log', seq: frame.seq, stream: frame.stream, ts: frame.ts, data }) ?? null;
  }

  #fatal(message: string): null {
    this.sink.onMalformed(message);
    this.#dead = true;
    this.#chunks = [];
    this.#available = 0;
    return null;
  }

  #indexOfNewline(): number {
    let before = 0;
    for (let i = 0; i < this.#chunks.length; i++) {
      const c = this.#chunks[i]!;
      const from = i === 0 ? this.#offset : 0;
      const at = c.indexOf(0x0a, from);
      if (at >= 0) return before + at - from;
      before += c.length - from;
    }
    return -1;
  }

  /** The next n bytes without consuming them (a view when they lie in one chunk). */
  #peek(n: number): Buffer {
    const c = this.#chunks[0]!;
    if (c.length - this.#offset >= n) return c.subarray(this.#offset, this.#offset + n);
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    for (let i = 0; got < n; i++) {
      const ch = this.#chunks[i]!;
      const from = i === 0 ? this.#offset : 0;
      got += ch.copy(out, got, from, Math.min(ch.length, from + n - got));
    }
    return out;
  }

  /** Consumes n bytes: a view into the chunk when they lie in one, else one copy. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const c = this.#chunks[0]!;
    let out: Buffer;
    if (c.length - this.#offset >= n) out = c.subarray(this.#offset, this.#offset + n);
    else out = this.#peek(n);
    this.#skip(n);
    return out;
  }

  #skip(n: number): void {
    this.#available -= n;
    while (n > 0) {
      const c = this.#chunks[0]!;
      const left = c.length - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#offset = 0;
    }
    if (this.#chunks.length > 0 && this.#offset === this.#chunks[0]!.length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}
