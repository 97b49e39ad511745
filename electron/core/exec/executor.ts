/**
 * The executor: runs one run on one host and says how it ended. It resolves the host,
 * connects through the shared pool within the setup budget, picks the mode and hands over
 * to it. Modes: `direct` (direct.ts), `runner` (through the RunnerMode seam, when one is
 * plugged in), `auto` (runner where the seam says it can, else direct, recording why).
 * Never throws for a run's failure: every end is an ExecOutcome.
 */
import { PROMPT_WAIT_MS } from '../ssh/prompt-broker';
import { performance } from 'node:perf_hooks';
import { isCroniumError } from '../../shared/errors';
import type { SshConnection, SshPool, SshTarget } from '../ssh/types';
import { runDirect } from './direct';
import { runPush } from './push';
import type { ExecOutcome, ExecRequest, ExecSinks, RunnerMode } from './types';

/** Why `auto` runs in direct mode when no runner mode is plugged in. */
export const NO_RUNNER_REASON = 'runner mode is not configured in this process';

/** What the executor needs. */
export interface ExecutorOptions {
  pool: SshPool;
  resolve: (host: string) => Promise<SshTarget>;
  /** Runner mode, when available; without it `auto` is direct and `runner` fails. */
  runner?: RunnerMode;
  /** Default setup budget (connect + start). */
  setupTimeoutMs?: number;
}

const CONNECTION_CODES = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT']);

/** Runs requests. */
export class Executor {
  constructor(private readonly opts: ExecutorOptions) {}

  /** Closes what runner mode keeps idle on hosts between runs (resident runners and their channels). */
  closeIdle(): void {
    this.opts.runner?.closeIdle?.();
  }

  async execute(req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal): Promise<ExecOutcome> {
    const seen: { transport?: 'builtin' | 'openssh' } = {};
    const out = await this.#execute(req, sinks, cancel, seen);
    return seen.transport ? { ...out, transport: seen.transport } : out;
  }

  async #execute(req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal, seen: { transport?: 'builtin' | 'openssh' }): Promise<ExecOutcome> {
    const t0 = performance.now();
    const setupBudget = req.setupTimeoutMs ?? this.opts.setupTimeoutMs ?? 30_000;
    let setupDeadline = t0 + setupBudget;
    const fail = (status: ExecOutcome['status'], code: string | null, message: string, retryable: boolean, connectMs: number | null = null, hint?: string): ExecOutcome => ({
      status,
      exitCode: null,
      signal: null,
      errorCode: code,
      errorMessage: message,
      ...(hint ? { errorHint: hint } : {}),
      retryable,
      mode: null,
      modeReason: null,
      runnerVersion: null,
      timings: { connect: connectMs === null ? null : Math.round(connectMs), deploy: null, start: null, exec: null, total: Math.round(performance.now() - t0) },
    });
    let target: SshTarget;
    try {
      target = await this.opts.resolve(req.host);
      // A scheduled run has nobody to answer a host's question: it fails at once rather than wait.
      if (req.unattended) target = { ...target, unattended: true, jumps: target.jumps.map((j) => ({ ...j, unattended: true })) };
    } catch (e) {
      return isCroniumError(e) ? fail('failed', e.code, e.message, false, null, e.hint) : fail('failed', 'INTERNAL', (e as Error).message, false);
    }
    if (cancel.aborted) return fail('cancelled', null, 'cancelled before it started', false);
    const connecting = new AbortController();
    let timedOut = false;
    // Where a person may be asked a question (a one-time code), connecting may take their time too;
    // the pool's own connect and handshake limits still stop a host that does not answer.
    const timer = setTimeout(() => {
      timedOut = true;
      connecting.abort(new Error('setup budget exhausted'));
    }, target.unattended ? setupBudget : setupBudget + PROMPT_WAIT_MS);
    const onCancel = () => connecting.abort(new Error('cancelled'));
    cancel.addEventListener('abort', onCancel, { once: true });
    let conn: SshConnection;
    try {
      conn = await this.opts.pool.connect(target, connecting.signal);
    } catch (e) {
      if (cancel.aborted) return fail('cancelled', null, 'cancelled while connecting', false);
      if (timedOut) return fail('failed', 'CONNECT_TIMEOUT', `could not connect to ${req.host} within the setup budget of ${setupBudget} ms`, true);
      const code = isCroniumError(e) ? e.code : 'CONNECT_FAILED';
      // The pool's own hint names this host and what to do (e.g. the exact fingerprint to trust).
      return fail('failed', code, (e as Error).message, CONNECTION_CODES.has(code), null, isCroniumError(e) ? e.hint : undefined);
    } finally {
      clearTimeout(timer);
      cancel.removeEventListener('abort', onCancel);
    }
    seen.transport = target.transport ?? 'builtin';
    const connectMs = performance.now() - t0;
    // Time spent answering a question is not the host's: what is left of the budget starts now.
    if (connectMs > setupBudget / 2) setupDeadline = performance.now() + setupBudget / 2;
    if (req.push) return runPush(conn, req, req.push, sinks, cancel, { t0, connectMs });
    // A saved script's files go first; the script runs only when every one is in place.
    for (const file of req.reattach ? [] : (req.files ?? [])) {
      const pushed = await runPush(conn, req, file, sinks, cancel, { t0, connectMs });
      if (pushed.status !== 'succeeded') return { ...pushed, output: undefined, errorMessage: `file ${file.name} (to ${file.to}): ${pushed.errorMessage ?? pushed.status}; the script did not run` };
    }
    let modeReason: string | null = null;
    if (req.mode === 'runner' || req.mode === 'auto' || req.reattach) {
      const runner = this.opts.runner;
      if (runner) {
        const out = await runner.execute(conn, req, sinks, cancel, { t0, connectMs, setupDeadline });
        if (!('fallback' in out)) return out;
        if (req.mode === 'runner' || req.reattach) {
          const o = fail('failed', out.code ?? 'RUNNER_DEPLOY_FAILED', out.fallback, false, connectMs, out.hint);
          return { ...o, mode: 'runner' };
        }
        modeReason = out.fallback;
      } else {
        if (req.mode === 'runner' || req.reattach) return fail('failed', 'NOT_IMPLEMENTED', 'runner mode is not available in this process; use --mode direct or auto', false, connectMs);
        modeReason = NO_RUNNER_REASON;
      }
      sinks.system(`direct mode: ${modeReason}`);
    }
    return runDirect(conn, req, sinks, cancel, { t0, connectMs, setupDeadline, modeReason });
  }
}
