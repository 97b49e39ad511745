/**
 * Resident runners: one `cronium-runner serve` per SSH channel, running the runs of its pooled
 * connection one after another (runner/README.md, "serve").
 *
 * A session opens with the same check a run has (`checkedCommand`: the stat record, else the hash)
 * and then `exec`s `serve`, which writes a `ready` frame whenever it can take an envelope. A run
 * writes its envelope and reads hello … exit from the same stream; the `ready` frame after it
 * carries the status of the run's process and ends the run. Before every run the runner process
 * compares the running binary's inode and its two directories' stat with the record serve took
 * when the check passed (RUNNER_CHANGED when any differs), so the check still happens per run,
 * without a fork of `stat` and a Go start.
 *
 * Invariants:
 * - one run at a time per session; a run's writes (helper replies, cancel) are dropped once its
 *   ready frame arrived, so nothing of a finished run reaches the next envelope's reader;
 * - a session that misbehaves (a frame outside a run, a malformed stream, RUNNER_CHANGED, a run
 *   stopped by closing) is closed and never reused;
 * - idle sessions are few (`maxIdle` per connection) and short-lived (`idleMs`): each holds one of
 *   the connection's session slots (MaxSessions), and gives it back as soon as a command of the
 *   connection waits for one (`onSessionWanted`); connections without that take no resident.
 */
import { FrameDecoder, type DecodedFrame, type FrameSink } from '../runner/frames';
import type { ExecExit, ExecStreamHandle, SshConnection } from '../ssh/types';

/** What a run needs of its channel: the per-run exec's handle, or its turn on a resident session. */
export interface RunLink {
  write(data: string): void;
  endStdin(): void;
  close(): void;
  /** Per-run: the channel closed. Resident: the ready frame after the run (or the session's end). */
  readonly done: Promise<ExecExit>;
  /** Frames the run saw. */
  readonly frames: number;
  /** The stream ended: reports a partial frame (per-run decoder; a session reports its own). */
  end(): Promise<void>;
}

/** Opens a run's link, feeding its frames to `sink` and its stderr to `onStderr`. */
export type OpenLink = (sink: FrameSink, onStderr: (chunk: Buffer) => void, signal: AbortSignal) => Promise<RunLink>;

/** The per-run way: one exec channel, its own decoder. */
export function execLink(conn: SshConnection, command: string, stdin: string): OpenLink {
  return async (sink, onStderr, signal) => {
    const decoder = new FrameDecoder(sink);
    const h = await conn.execStream(command, { signal, stdin, keepStdinOpen: true, onStdout: (c) => decoder.push(c), onStderr });
    return {
      write: (d) => void h.write(d),
      endStdin: () => h.endStdin(),
      close: () => h.close(),
      done: h.done,
      get frames() {
        return decoder.frames;
      },
      end: () => decoder.end(),
    };
  };
}

interface Turn {
  sink: FrameSink;
  onStderr: (chunk: Buffer) => void;
  frames: number;
  resolve(exit: ExecExit): void;
  reject(e: Error): void;
}

/** What the host's check printed before the runner started (checkedCommand's marker lines). */
export interface CheckOutput {
  /** The check refused the binary: the hash it found (or 'unreadable'). */
  checkFailed?: string;
  /** The stat record the check printed after hashing right, a line each. */
  statLines: string[];
}

/** Reads one line of text before the first frame into `into` (anything else is a login shell's noise). */
export type ReadCheckLine = (line: string, into: CheckOutput) => void;

/** What opening a session gave. */
export type SessionOpen =
  | { session: ResidentSession; statLines: string[] }
  /** The check refused the binary (its marker line): the caller re-verifies it. */
  | { checkFailed: string }
  /**
   * No session: the host's runner did not serve (an old binary, a non-Linux host, …), or, when
   * `transient`, the channel could not be had or was lost (the connection, a session limit).
   */
  | { unsupported: string; transient?: true };

/** One `serve` process on one channel. */
export class ResidentSession {
  #handle: ExecStreamHandle | undefined;
  #turn: Turn | undefined;
  #dead = false;
  #ready: (() => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #unwanted: (() => void) | undefined;
  readonly #decoder: FrameDecoder;
  readonly #check: CheckOutput = { statLines: [] };
  readonly #stderr: Buffer[] = [];

  constructor(
    readonly conn: SshConnection,
    readonly key: string,
    readCheckLine: ReadCheckLine,
  ) {
    this.#decoder = new FrameDecoder({
      onFrame: (f) => this.#onFrame(f),
      onText: (text) => readCheckLine(text, this.#check),
      onMalformed: (message) => {
        this.#turn?.sink.onMalformed(message);
        this.close();
      },
    });
  }

  get alive(): boolean {
    return !this.#dead && this.conn.alive;
  }

  /** Starts `command` (the check, then `exec … serve`); resolves once serve said ready, or how it failed. */
  async open(command: string, signal: AbortSignal): Promise<SessionOpen> {
    const ready = new Promise<void>((r) => (this.#ready = r));
    // The caller's signal bounds the opening only: an exec's signal would close the channel for good.
    const opening = new AbortController();
    const onAbort = () => opening.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    let handle: ExecStreamHandle;
    try {
      handle = await this.conn.execStream(command, {
        signal: opening.signal,
        keepStdinOpen: true,
        onStdout: (c) => this.#decoder.push(c),
        onStderr: (c) => {
          if (this.#turn) this.#turn.onStderr(c);
          else if (this.#stderr.length < 16) this.#stderr.push(c);
        },
      });
    } catch (e) {
      signal.removeEventListener('abort', onAbort);
      this.#dead = true;
      return { unsupported: (e as Error).message, transient: true };
    }
    this.#handle = handle;
    let lost = false;
    const ended = handle.done.then(
      (s) => `status ${s.code ?? s.signal ?? '?'}`,
      (e: Error) => {
        lost = true;
        return e.message;
      },
    );
    void ended.then(async () => {
      await this.#decoder.end();
      this.#dead = true;
      clearTimeout(this.#idleTimer);
      const t = this.#turn;
      this.#turn = undefined;
      // The channel ended inside a run: the run ends as a per-run exec whose channel closed.
      if (t) void handle.done.then(t.resolve, t.reject);
    });
    const first = await Promise.race([ready.then(() => undefined), ended]);
    signal.removeEventListener('abort', onAbort);
    if (first === undefined && !this.#dead) return { session: this, statLines: this.#check.statLines };
    this.close();
    if (this.#check.checkFailed !== undefined) return { checkFailed: this.#check.checkFailed };
    const stderr = Buffer.concat(this.#stderr).toString('utf8').trim().split('\n').slice(-2).join(' / ').slice(0, 300);
    return { unsupported: `${first ?? 'closed'}${stderr ? `: ${stderr}` : ''}`, ...(lost || signal.aborted ? { transient: true as const } : {}) };
  }

  /** Hands the session to one run: writes its envelope; the link's done settles at the next ready frame. */
  begin(envelope: string): OpenLink {
    return async (sink, onStderr) => {
      const h = this.#handle;
      if (!h || !this.alive || this.#turn) throw new Error('the resident runner is not ready');
      clearTimeout(this.#idleTimer);
      this.#unwanted?.();
      this.#unwanted = undefined;
      let turn!: Turn;
      const done = new Promise<ExecExit>((resolve, reject) => (turn = { sink, onStderr, frames: 0, resolve, reject }));
      done.catch(() => undefined);
      this.#turn = turn;
      h.write(envelope);
      const mine = () => this.#turn === turn;
      return {
        write: (d) => void (mine() && h.write(d)),
        endStdin: () => mine() && this.close(),
        close: () => mine() && this.close(),
        done,
        get frames() {
          return turn.frames;
        },
        end: async () => {},
      };
    };
  }

  /** Waits idle for the next run; closed after `ms` without one, or as soon as a command of the connection waits for a session slot. */
  idle(ms: number, onClose: () => void): void {
    clearTimeout(this.#idleTimer);
    const end = () => {
      this.close();
      onClose();
    };
    this.#idleTimer = setTimeout(end, ms);
    this.#idleTimer.unref();
    this.#unwanted?.();
    this.#unwanted = this.conn.onSessionWanted?.(() => {
      if (!this.#turn) end();
    });
  }

  close(): void {
    this.#dead = true;
    clearTimeout(this.#idleTimer);
    this.#unwanted?.();
    this.#unwanted = undefined;
    this.#handle?.close();
  }

  #onFrame(f: DecodedFrame): void | Promise<void> {
    if (f.type === 'ready') {
      const t = this.#turn;
      if (this.#ready) {
        const r = this.#ready;
        this.#ready = undefined;
        if (t) return this.#misbehaved('a first ready frame during a run');
        r();
        return;
      }
      if (!t) return this.#misbehaved('a ready frame outside a run');
      this.#turn = undefined;
      t.resolve({ code: f.code, signal: f.signal ? f.signal.replace(/^SIG/, '') : null });
      return;
    }
    const t = this.#turn;
    if (!t) return this.#misbehaved(`a ${f.type} frame outside a run`);
    t.frames++;
    if (f.type === 'error' && f.code === 'RUNNER_CHANGED') this.#dead = true;
    return t.sink.onFrame(f);
  }

  #misbehaved(what: string): void {
    this.#turn?.sink.onMalformed(`the resident runner wrote ${what}`);
    this.close();
  }
}

/** Resident sessions per connection and runner binary. */
export class ResidentRunners {
  readonly #idle = new Map<string, ResidentSession[]>();

  constructor(private readonly opts: { maxIdle?: number; idleMs?: number } = {}) {}

  /** An idle session of this connection and binary, alive, or undefined. */
  take(conn: SshConnection, key: string): ResidentSession | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const s = list.pop()!;
      if (s.alive && s.conn === conn) return s;
      s.close();
    }
    return undefined;
  }

  /** Gives a session back after a run: kept idle when it is reusable and there is room, else closed. */
  give(s: ResidentSession): void {
    if (!s.alive) return s.close();
    const list = this.#idle.get(s.key) ?? [];
    const live = list.filter((x) => x.alive && x.conn === s.conn);
    if (live.length >= (this.opts.maxIdle ?? 2)) return s.close();
    live.push(s);
    this.#idle.set(s.key, live);
    s.idle(this.opts.idleMs ?? 30_000, () => {
      const l = this.#idle.get(s.key);
      if (l) this.#idle.set(s.key, l.filter((x) => x !== s));
    });
  }

  /** Closes every idle session (shutdown, tests). */
  closeAll(): void {
    for (const list of this.#idle.values()) for (const s of list) s.close();
    this.#idle.clear();
  }

  /** Idle sessions kept (tests, diagnostics). */
  get idleCount(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.filter((s) => s.alive).length;
    return n;
  }
}
