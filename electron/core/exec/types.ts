/** The executor's interfaces: what a run needs, how it ends, and the seam for runner mode. */
import type { SshConnection } from '../ssh/types';
import type { Interpreter } from './prelude';

/** Execution modes a job may ask for. */
export type ExecMode = 'auto' | 'runner' | 'direct';

/** One run to execute on one host. */
export interface ExecRequest {
  runId: number;
  jobId: number;
  host: string;
  interpreter: Interpreter;
  script: string;
  env?: Record<string, string>;
  /** The job's input (JSON value), given to the script on stdin. */
  input?: unknown;
  mode: ExecMode;
  /** The script's own budget, from its start (default: none). */
  timeoutMs?: number;
  /** Connect and start budget, before the script runs (default 30 s). */
  setupTimeoutMs?: number;
  /** TERM → KILL grace of the script's process group on timeout and cancel (default 5 s). */
  graceMs?: number;
}

/** Where a run's output goes as it arrives; a returned promise pauses the run's output (backpressure). */
export interface ExecSinks {
  stdout(chunk: Buffer): void | Promise<void>;
  stderr(chunk: Buffer): void | Promise<void>;
  /** Messages of Cronium itself about the run (mode fallback, kill, ...). */
  system(message: string): void;
  /** The script started on the host (the run leaves setup). */
  started?(): void;
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
  /** A connection-class failure before the script started: safe to retry. */
  retryable: boolean;
  mode: 'runner' | 'direct' | null;
  modeReason: string | null;
  runnerVersion: string | null;
  /** The script's output value (`@@cronium:output` in direct mode); undefined when none. */
  output?: unknown;
  timings: ExecTimings;
}

/**
 * The seam for runner mode (the runner issue): the executor asks `available` in `auto`
 * mode and falls back to direct mode with its reason; `runner` mode requires it.
 */
export interface RunnerMode {
  available(conn: SshConnection, signal: AbortSignal): Promise<{ ok: true } | { ok: false; reason: string }>;
  execute(conn: SshConnection, req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal, connectMs: number): Promise<ExecOutcome>;
}
