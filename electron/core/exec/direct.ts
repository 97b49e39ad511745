/**
 * Direct mode: the script runs through `sh -s` on the host, fed by the prelude
 * (prelude.ts) on stdin, which stays open for the whole run. Cancel and timeout send TERM
 * to the remote shell (SSH signal request) and EOF on its stdin: either makes the
 * prelude kill the script's whole process group (TERM, grace, KILL). If the server ignores
 * both, the channel is closed after the grace, which is EOF too.
 *
 * Exit statuses: a script killed by a signal shows as 128+N to the shell; the common fatal
 * signals (HUP INT QUIT ILL ABRT BUS FPE KILL SEGV PIPE ALRM TERM) are reported as the signal,
 * with a null exit code. A script that itself exits with such a number (e.g. `exit 137`) is
 * reported as killed: the shell cannot tell them apart (the runner can).
 */
import { performance } from 'node:perf_hooks';
import type { SshConnection } from '../ssh/types';
import { describeElevationFailure, ElevationGate, elevationMarkers } from './elevation';
import { StdoutFilter } from './output-filter';
import { buildPrelude, INTERPRETER_MISSING_STATUS } from './prelude';
import type { ExecOutcome, ExecRequest, ExecSinks } from './types';
import { RUNNER_LIMITS } from '../../shared/runner-protocol';

/** The only command direct mode ever puts on a remote command line. */
export const DIRECT_COMMAND = 'sh -s';

const SIGNALS: Record<number, string> = { 1: 'HUP', 2: 'INT', 3: 'QUIT', 4: 'ILL', 6: 'ABRT', 7: 'BUS', 8: 'FPE', 9: 'KILL', 11: 'SEGV', 13: 'PIPE', 14: 'ALRM', 15: 'TERM' };

/** Why a run is being stopped. */
type StopReason = 'timeout' | 'cancel' | 'setup' | 'output-limit';

/** Runs one request on an open connection in direct mode. */
export async function runDirect(
  conn: SshConnection,
  req: ExecRequest,
  sinks: ExecSinks,
  cancel: AbortSignal,
  t: { t0: number; connectMs: number; setupDeadline: number; modeReason: string | null },
): Promise<ExecOutcome> {
  const graceMs = req.graceMs ?? 5000;
  const markers = req.elevation ? elevationMarkers() : undefined;
  const gate = req.elevation && markers ? new ElevationGate(markers.marker, markers.prompt, req.elevation.password) : undefined;
  const prelude = buildPrelude({
    ...(req.elevation && markers ? { elevation: { ...req.elevation, ...markers } } : {}),
    interpreter: req.interpreter,
    script: req.script,
    ...(req.input !== undefined ? { input: JSON.stringify(req.input) } : {}),
    ...(req.env ? { env: req.env } : {}),
    graceSeconds: graceMs / 1000,
  });
  let marker: { code: string; message: string } | undefined;
  let output: unknown;
  let hasOutput = false;
  let startedAt: number | undefined;
  let onStarted: () => void = () => undefined;
  const startedP = new Promise<void>((r) => (onStarted = r));
  const filter = new StdoutFilter(prelude.nonce, {
    onMarker: (what) => {
      if (what.startsWith('started')) {
        startedAt = performance.now();
        sinks.started?.();
        onStarted();
      } else if (what.startsWith('error ')) {
        const [, code = 'INTERNAL', ...rest] = what.split(' ');
        marker = { code, message: rest.join(' ') };
      }
    },
    onOutput: (v) => {
      output = v;
      hasOutput = true;
    },
  });
  const base = (): Pick<ExecOutcome, 'mode' | 'modeReason' | 'runnerVersion' | 'timings'> & { output?: unknown } => {
    const now = performance.now();
    return {
      mode: 'direct',
      modeReason: t.modeReason,
      runnerVersion: null,
      ...(hasOutput ? { output } : {}),
      timings: {
        connect: Math.round(t.connectMs),
        deploy: null,
        start: startedAt !== undefined ? Math.round(startedAt - t.t0 - t.connectMs) : null,
        exec: startedAt !== undefined ? Math.round(now - startedAt) : null,
        total: Math.round(now - t.t0),
      },
    };
  };

  // The output limit, as the runner keeps it: cut at exactly that many bytes, then stop the script.
  const maxOutput = req.maxOutputBytes ?? RUNNER_LIMITS.defaultMaxOutputBytes;
  let outputBytes = 0;
  /** A byte beyond the limit came (output exactly at the limit is fine). */
  let over = false;
  let onLimit: () => void = () => undefined;
  const limit = (out: Buffer): Buffer => {
    if (out.length === 0) return out;
    if (outputBytes >= maxOutput) {
      over = true;
      onLimit();
      return out.subarray(0, 0);
    }
    outputBytes += out.length;
    if (outputBytes <= maxOutput) return out;
    const keep = out.length - (outputBytes - maxOutput);
    outputBytes = maxOutput;
    over = true;
    onLimit();
    return out.subarray(0, keep);
  };

  // Opening the session may wait for a slot: cancel and the setup budget apply to that wait.
  const opening = new AbortController();
  const setupLeft = () => Math.max(0, t.setupDeadline - performance.now());
  let stopReason: StopReason | undefined;
  const openTimer = setTimeout(() => {
    stopReason = 'setup';
    opening.abort(new Error('setup budget exhausted'));
  }, setupLeft());
  const onCancelOpening = () => {
    stopReason = 'cancel';
    opening.abort(new Error('cancelled'));
  };
  cancel.addEventListener('abort', onCancelOpening, { once: true });
  if (cancel.aborted) onCancelOpening();
  let handle;
  try {
    handle = await conn.execStream(DIRECT_COMMAND, {
      signal: opening.signal,
      stdin: prelude.text,
      keepStdinOpen: true,
      onStdout: (chunk) => {
        const out = limit(filter.push(chunk));
        return out.length ? sinks.stdout(out) : undefined;
      },
      onStderr: (chunk) => {
        // Before the wrapper's marker, stderr is sudo's (lecture, prompt, refusal): not the log's.
        const out = limit(gate ? gate.push(chunk) : chunk);
        return out.length ? sinks.stderr(out) : undefined;
      },
    });
  } catch (e) {
    clearTimeout(openTimer);
    cancel.removeEventListener('abort', onCancelOpening);
    if (stopReason === 'cancel') return { ...base(), status: 'cancelled', exitCode: null, signal: null, errorCode: null, errorMessage: 'cancelled before the script started', retryable: false };
    if (stopReason === 'setup') return { ...base(), status: 'failed', exitCode: null, signal: null, errorCode: 'CONNECT_TIMEOUT', errorMessage: 'no session could be opened on the host within the setup budget', retryable: true };
    const err = e as { code?: string; message?: string; hint?: string };
    return { ...base(), status: 'failed', exitCode: null, signal: null, errorCode: err.code ?? 'CONNECT_FAILED', errorMessage: err.message ?? String(e), ...(err.hint ? { errorHint: err.hint } : {}), retryable: true };
  }
  clearTimeout(openTimer);
  cancel.removeEventListener('abort', onCancelOpening);
  // From here on the handle is ours: the opening signal is never aborted again.
  const h = handle;
  let killTimer: NodeJS.Timeout | undefined;
  const stop = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    sinks.system(
      reason === 'timeout'
        ? `timeout: stopping the script's process group (TERM, then KILL after ${graceMs} ms)`
        : reason === 'cancel'
          ? `cancelled: stopping the script's process group (TERM, then KILL after ${graceMs} ms)`
          : reason === 'output-limit'
            ? `the script wrote more than its output limit of ${maxOutput} bytes: the output was cut there; stopping the script's process group (TERM, then KILL after ${graceMs} ms)`
            : 'the script did not start within the setup budget',
    );
    h.signal('TERM');
    h.endStdin();
    killTimer = setTimeout(() => h.close(), graceMs + 3000);
    killTimer.unref();
  };
  onLimit = () => stop('output-limit');
  if (over) onLimit();
  const onCancel = () => stop('cancel');
  cancel.addEventListener('abort', onCancel, { once: true });
  if (cancel.aborted) onCancel();
  const setupTimer = setTimeout(() => {
    if (startedAt === undefined) stop('setup');
  }, setupLeft());
  let scriptTimer: NodeJS.Timeout | undefined;
  void startedP.then(() => {
    clearTimeout(setupTimer);
    if (req.timeoutMs !== undefined && !stopReason) scriptTimer = setTimeout(() => stop('timeout'), req.timeoutMs);
  });
  let exit;
  try {
    exit = await h.done;
  } catch (e) {
    const err = e as { code?: string; message?: string; hint?: string };
    exit = undefined;
    if (!stopReason) {
      // The script had started: the connection dropping under it is not a failure to connect.
      if (startedAt !== undefined && (err as { details?: { reason?: string } }).details?.reason === 'lost') {
        return { ...base(), status: 'failed', exitCode: null, signal: null, errorCode: 'CONNECTION_LOST', errorMessage: `${err.message ?? String(e)}; the script's end is unknown (a direct-mode script ends at its next write)`, retryable: false };
      }
      return { ...base(), status: 'failed', exitCode: null, signal: null, errorCode: err.code ?? 'CONNECT_FAILED', errorMessage: err.message ?? String(e), ...(err.hint ? { errorHint: err.hint } : {}), retryable: startedAt === undefined };
    }
  } finally {
    clearTimeout(setupTimer);
    clearTimeout(scriptTimer);
    clearTimeout(killTimer);
    cancel.removeEventListener('abort', onCancel);
    onStarted();
  }
  const tail = filter.end();
  if (tail.length) await sinks.stdout(tail);
  if (stopReason === 'cancel') return { ...base(), status: 'cancelled', exitCode: null, signal: 'TERM', errorCode: null, errorMessage: 'cancelled', retryable: false };
  if (stopReason === 'timeout') return { ...base(), status: 'timed_out', exitCode: null, signal: 'TERM', errorCode: null, errorMessage: `the script ran longer than its timeout of ${req.timeoutMs} ms`, retryable: false };
  if (stopReason === 'setup') return { ...base(), status: 'failed', exitCode: null, signal: null, errorCode: 'CONNECT_TIMEOUT', errorMessage: 'the script did not start within the setup budget', retryable: false };
  if (stopReason === 'output-limit') return { ...base(), status: 'failed', exitCode: null, signal: 'TERM', errorCode: 'OUTPUT_LIMIT', errorMessage: `the script wrote more than its output limit of ${maxOutput} bytes; the output was cut there and the script stopped`, retryable: false };
  if (marker) {
    return { ...base(), status: 'failed', exitCode: exit?.code ?? null, signal: null, errorCode: marker.code, errorMessage: marker.message, retryable: false };
  }
  if (startedAt === undefined) {
    const why = exit?.code === INTERPRETER_MISSING_STATUS ? 'the remote shell could not run the prelude (no POSIX sh?)' : `the remote shell ended (status ${exit?.code ?? exit?.signal}) before the script started`;
    return { ...base(), status: 'failed', exitCode: exit?.code ?? null, signal: exit?.signal ?? null, errorCode: 'INTERNAL', errorMessage: why, retryable: false };
  }
  if (gate && !gate.started && req.elevation) {
    const d = describeElevationFailure(req.elevation.method, req.host, gate.detail());
    return { ...base(), status: 'failed', exitCode: exit?.code ?? null, signal: null, errorCode: 'ELEVATION_FAILED', errorMessage: d.message, errorHint: d.hint, retryable: false };
  }
  let code = exit?.code ?? null;
  let signal = exit?.signal ?? null;
  if (code !== null && code > 128 && SIGNALS[code - 128]) {
    signal = SIGNALS[code - 128]!;
    code = null;
  }
  const ok = code === 0 && signal === null;
  return {
    ...base(),
    status: ok ? 'succeeded' : 'failed',
    exitCode: code,
    signal,
    errorCode: null,
    errorMessage: ok ? null : signal ? `the script was killed by SIG${signal}` : `the script exited with status ${code}`,
    retryable: false,
  };
}
