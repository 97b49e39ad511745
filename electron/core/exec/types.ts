/** The executor's interfaces: what a run needs, how it ends, and the seam for runner mode. */
import type { SshConnection } from '../ssh/types';
import type { Elevation } from './elevation';
import type { PushSpec } from './push';
import type { Interpreter } from './prelude';

/** Execution modes a job may ask for. */
export type ExecMode = 'auto' | 'runner' | 'direct';

/** One run to execute on one host. */
export interface ExecRequest {
  runId: number;
  /** Nobody started it by hand (a schedule fired it): a host asking a question fails AUTH_INTERACTIVE_REQUIRED at once. */
  unattended?: boolean;
  jobId: number;
  host: string;
  /** The host's id in the store (runner mode: helper tokens are bound to it). */
  hostId?: number;
  interpreter: Interpreter;
  script: string;
  env?: Record<string, string>;
  /** The job's input (JSON value), given to the script on stdin. */
  input?: unknown;
  /**
   * Secret values to mask in the run's output (the ones the log writer masks too). Runner mode
   * also has the runner mask them before framing (the payload's `mask`), so they never reach the
   * host's spool or a frame, even split across writes.
   */
  secrets?: readonly string[];
  mode: ExecMode;
  /** The script's own budget, from its start (default: none). */
  timeoutMs?: number;
  /** Connect and start budget, before the script runs (default 30 s). */
  setupTimeoutMs?: number;
  /** TERM → KILL grace of the script's process group on timeout and cancel (default 5 s). */
  graceMs?: number;
  /** The run's attempt (runner mode: part of the runner's run id). */
  attempt?: number;
  /** Runner mode: the run survives the connection (`cronium-runner` detached run). */
  detach?: boolean;
  /** Runner mode: cut the output at this many bytes. */
  maxOutputBytes?: number;
  /** Runner mode: attach to a detached run already started, from this seq on. */
  reattach?: { fromSeq: number };
  /**
   * Run the script as root (elevation.ts). The password, if any, must be in `secrets` as well
   * (the worker adds it), so it is masked everywhere.
   */
  elevation?: Elevation;
  /** A push job's run: send this file instead of running a script (push.ts). */
  push?: PushSpec;
  /** Files the script needs: pushed (push.ts) before it runs; a failure ends the run before the script. */
  files?: PushSpec[];
  /** Aborted when the app leaves the run without cancelling it (a detached run goes on on the host). */
  leave?: AbortSignal;
}

/** Where a run's output goes as it arrives; a returned promise pauses the run's output (backpressure). */
export interface ExecSinks {
  stdout(chunk: Buffer): void | Promise<void>;
  stderr(chunk: Buffer): void | Promise<void>;
  /** Messages of Cronium itself about the run (mode fallback, kill, ...). */
  system(message: string): void;
  /** The script started on the host (the run leaves setup). */
  started?(): void;
  /** Runner mode: a chunk with the runner's own seq (stored exactly once); without it, stdout/stderr. */
  log?(chunk: { seq: number; stream: 'stdout' | 'stderr'; ts: number; data: Buffer }): void | Promise<void>;
  /** Runner mode: the runner is alive (heartbeat frame; seq = the last it sent). */
  heartbeat?(seq: number): void;
}

/** Phase timings of a run, in ms; null for a phase it did not reach or does not have. */
export interface ExecTimings {
  connect: number | null;
  deploy: number | null;
  start: number | null;
  exec: number | null;
  total: number;
}

/** How a run ended, with everything stored on the run. */
export interface ExecOutcome {
  status: 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
  exitCode: number | null;
  signal: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** What to do about the error when the failure knows more than its code's default hint (e.g. the fingerprint to trust). */
  errorHint?: string | null;
  /** A connection-class failure before the script started: safe to retry. */
  retryable: boolean;
  mode: 'runner' | 'direct' | null;
  modeReason: string | null;
  runnerVersion: string | null;
  /** The script's output value (`@@cronium:output` in direct mode); undefined when none (runner mode: the helper API stores it during the run). */
  output?: unknown;
  /** The SSH client the run went through (set once connected). */
  transport?: 'builtin' | 'openssh';
  /** Runner mode: how the script's helpers reached the app. */
  helperTransport?: 'tunnel' | 'in-band' | 'none';
  timings: ExecTimings;
  /** Runner mode: how the runner stopped the script's group, when it had to. */
  killedWith?: 'TERM' | 'KILL' | null;
  /** Runner mode: how limits were enforced. */
  limiter?: string;
  /** A detached run whose channel was lost (or left): it goes on on the host; attach again. */
  reattach?: boolean;
}

/** The executor's clock of a run, for runner mode. */
export interface RunnerTimes {
  t0: number;
  connectMs: number;
  setupDeadline: number;
}

/** The runner cannot work on this host (no executable cache location, ...): `auto` runs direct, recording why. */
export interface RunnerFallback {
  fallback: string;
  /** What to do, when runner mode was required and this ends the run. */
  hint?: string;
  /** The error code when runner mode was required (default RUNNER_DEPLOY_FAILED). */
  code?: string;
}

/**
 * The seam for runner mode (runner-mode.ts): deploy-or-verify, then run; `{ fallback }` when
 * the runner cannot work on the host (auto mode runs direct, runner mode fails RUNNER_DEPLOY_FAILED).
 */
export interface RunnerMode {
  execute(conn: SshConnection, req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal, t: RunnerTimes): Promise<ExecOutcome | RunnerFallback>;
  /** Closes what waits idle on hosts between runs (resident runners). */
  closeIdle?(): void;
}
