/**
 * How an exec's output reaches its callbacks (ExecStreamOptions.onStdout / onStderr), for both
 * transports. A callback may return a promise: while any is pending, both streams are paused, so
 * the transport stops reading and the remote writer blocks (memory stays bounded whatever the
 * output rate). `idle()` resolves once no callback is pending: an exec's `done` waits for it, so
 * a caller that acts on `done` (a frame decoder's end, say) never runs beside the last chunk's
 * callback. Without that wait a stream whose last chunk was read just before it ended let
 * `done` settle while that chunk's frames were still being handed on.
 */
export interface Deliveries {
  /** A 'data' listener that hands each chunk to fn (nothing when fn is undefined). */
  deliver(fn: ((chunk: Buffer) => void | Promise<void>) | undefined): (chunk: Buffer) => void;
  /** Resolves once no callback's promise is pending (at once when none is). */
  idle(): Promise<void>;
}

/** Deliveries over two streams: `pause` and `resume` hold and release both. */
export function deliveries(pause: () => void, resume: () => void): Deliveries {
  let pending = 0;
  let waiters: (() => void)[] = [];
  const settled = () => {
    if (--pending > 0) return;
    resume();
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };
  return {
    deliver: (fn) => (chunk) => {
      if (!fn) return;
      let r: void | Promise<void>;
      try {
        r = fn(chunk);
      } catch {
        // A callback that throws loses its chunk, never the exec.
        return;
      }
      if (r && typeof (r as Promise<void>).then === 'function') {
        if (pending++ === 0) pause();
        (r as Promise<void>).then(settled, settled);
      }
    },
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
  };
}
