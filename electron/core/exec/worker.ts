/**
 * The worker: claims runs from the queue and executes them. Guards these invariants:
 * - concurrency: the queue enforces the global and per-host limits across every worker
 *   of the data dir; the worker adds each job's own limit (claimed runs beyond it wait,
 *   their leases heartbeated, for a slot of their job);
 * - leases: every held run's lease is extended every `heartbeatMs`; a run whose lease was
 *   lost (another process recovered it) is stopped;
 * - every run ends through `queue.complete`, with what the executor said, after its
 *   log writer was closed; its phase timings, mode and output are stored on the run;
 * - cancel: `cancelJob` stops this worker's runs of the job; runs held by another process
 *   see the job's cancel request (a `settings` row, see requestCancel) at their next heartbeat;
 * - at start-up and then periodically, `queue.recover()` resolves runs whose lease expired.
 * Fan-out: runs of one job go to their hosts independently; an unreachable host fails
 * its run (CONNECT_FAILED, retryable by the queue's policy) without holding the others.
 */
import { outsideCaller } from '../accounts/caller';
import { sql } from 'drizzle-orm';
import { asBool, asJson, type DataStore } from '../db/store';
import type { EventBus } from '../events/event-bus';
import { isDiskFull } from '../db/disk-full';
import type { LogService, LogWriter } from '../logs/log-service';
import type { ClaimedRun, Queue } from '../queue/job-queue';
import type { Executor } from './executor';
import type { Interpreter } from './prelude';
import type { Elevation } from './elevation';
import type { PushSpec } from './push';
import type { ExecMode, ExecOutcome } from './types';
import { maskSecretsInValue } from '../logs/secret-masker';

/** Options of a worker. */
export interface WorkerOptions {
  store: DataStore;
  queue: Queue;
  logs: LogService;
  events: EventBus;
  executor: Executor;
  /** Lease owner, e.g. `serve:<pid>`. */
  owner: string;
  /** Only runs of this job (the CLI's `run`); default: any. */
  jobId?: number;
  /** With jobId: the runs of the follow-up jobs that job's runs fire (its whole chain) too. */
  followups?: boolean;
  globalLimit?: number;
  perHostLimit?: number;
  /** Read at every claim, so the limits follow a setting while the worker runs (wins over globalLimit / perHostLimit). */
  limits?: () => { globalLimit: number; perHostLimit: number };
  /** The output limit of a run (execution.maxOutputBytes), read per run; without it the runner's default (256 MiB). */
  maxOutputBytes?: () => number;
  leaseMs?: number;
  heartbeatMs?: number;
  pollMs?: number;
  /** TERM → KILL grace of a stopped script. */
  graceMs?: number;
  /** Secret values to mask in a run's output (the secret masking hook: the secret variables its host sees). */
  secrets?: (job: JobRow, run: ClaimedRun) => Promise<readonly string[]>;
  /** Where a push job's file is (the data dir's blob store). */
  blobPath?: (sha256: string) => string | Promise<string>;
  /** How an elevated job's run becomes root on its host, or why it cannot (the run then fails ELEVATION_FAILED). */
  elevation?: (hostName: string) => Promise<{ elevation: Elevation } | { error: string; hint: string }>;
  /**
   * Called after the commit that made runs final (their completion here, or recovery marking
   * them lost): follow-ups fire then; what a crash in between leaves unfired, `recovered`'s sweep
   * fires (followups.ts). Must not reject.
   */
  finalized?: (runIds: number[]) => Promise<void>;
  /** Called at every recovery pass, after expired leases were resolved (e.g. follow-ups a crash left unfired). Must not reject. */
  recovered?: () => Promise<void>;
  /** Called after a run ended (tests, notifications). */
  onRunEnd?: (run: ClaimedRun, outcome: ExecOutcome) => void;
  /** Attempts to reattach a detached run whose channel was lost, before it is failed (default 8). */
  reattachAttempts?: number;
}

/** The job fields a run needs. */
export interface JobRow {
  id: number;
  interpreter: Interpreter;
  script_body: string;
  mode: ExecMode;
  timeout_ms: number | null;
  concurrency: number | null;
  env: unknown;
  input: unknown;
  status: string;
  elevated: unknown;
  push: unknown;
  files: unknown;
  schedule_id: number | null;
  /** The saved script it runs (null: a command): only a saved script's runs can have follow-ups. */
  script_id: number | null;
}

interface InFlight {
  run: ClaimedRun;
  abort: AbortController;
  /** Aborted when the worker stops: a detached run is left running on its host (and reattached later). */
  leave: AbortController;
  detached: boolean;
  done: Promise<void>;
}

/** Failures to reach a host that a reattach attempt retries (with backoff) rather than ending the run. */
const REACH_FAILURES = new Set(['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'CONNECTION_LOST']);

/** Backoff between reattach attempts of a detached run whose channel was lost. */
export function reattachDelayMs(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, attempt - 1));
}

const CANCEL_KEY = (jobId: number) => `job.cancel:${jobId}`;

/** Records a cancel request that workers of other processes pick up at their next heartbeat. */
export async function requestCancel(store: DataStore, jobId: number, now = Date.now()): Promise<void> {
  const { settings } = store.schema;
  await store.db.insert(settings).values({ key: CANCEL_KEY(jobId), value: now, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value: now, updatedAt: now } });
}

/** Claims and executes runs. */
export class Worker {
  private readonly inFlight = new Map<number, InFlight>();
  /** Claimed runs of a job waiting for a slot of the job's own concurrency limit. */
  private readonly jobActive = new Map<number, number>();
  private readonly jobWaiters = new Map<number, (() => void)[]>();
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private recoverTimer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly o: Required<Pick<WorkerOptions, 'globalLimit' | 'perHostLimit' | 'leaseMs' | 'heartbeatMs' | 'pollMs' | 'graceMs'>>;

  constructor(private readonly opts: WorkerOptions) {
    this.o = {
      globalLimit: opts.globalLimit ?? 32,
      perHostLimit: opts.perHostLimit ?? 4,
      leaseMs: opts.leaseMs ?? 30_000,
      heartbeatMs: opts.heartbeatMs ?? 1_000,
      pollMs: opts.pollMs ?? 250,
      graceMs: opts.graceMs ?? 5_000,
    };
  }

  /** Recovers expired runs, then polls the queue; recovery repeats while it runs. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.recover();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.o.heartbeatMs);
    // A process that died a moment ago still holds unexpired leases at our start-up: keep
    // resolving them as they expire, or its runs would stay `running` for ever.
    this.recoverTimer = setInterval(() => this.recover(), Math.max(250, Math.min(5_000, this.o.leaseMs / 2)));
    this.recoverTimer.unref();
    this.poke();
  }

  /** Resolves expired leases (re-queue, reattach detached runs, mark the rest lost). */
  private recover(): void {
    if (this.recovering) return;
    this.recovering = (async () => {
      try {
        const { lost, reattach } = await this.opts.queue.recover();
        if (lost.length) await this.opts.finalized?.(lost);
        for (const r of reattach) await this.reattachRun(r.runId, r.deadOwner);
        await this.opts.recovered?.();
      } catch (e) {
        process.stderr.write(`cronium: lease recovery failed: ${(e as Error).message}\n`);
      } finally {
        this.recovering = undefined;
      }
    })();
  }
  private recovering: Promise<void> | undefined;

  /**
   * Claims now (call after enqueueing in this process); one claim at a time, another right after
   * when asked meanwhile. What it starts runs outside the caller that poked it (a team server's
   * person): the runs it claims are anyone's, and what they record must not name the poker.
   */
  poke(): void {
    outsideCaller(() => this.pokeNow());
  }

  private pokeNow(): void {
    if (!this.running) return;
    clearTimeout(this.pollTimer);
    if (this.claiming) {
      this.pokeAgain = true;
      return;
    }
    this.claiming = this.claim()
      .catch((e: unknown) => {
        process.stderr.write(`cronium: worker claim failed: ${(e as Error).message}\n`);
      })
      .finally(() => {
        this.claiming = undefined;
        if (!this.running) return;
        if (this.pokeAgain) {
          this.pokeAgain = false;
          this.pokeNow();
        } else {
          this.pollTimer = setTimeout(() => this.poke(), this.o.pollMs);
        }
      });
  }
  private claiming: Promise<void> | undefined;
  private pokeAgain = false;

  /** Runs held now. */
  get active(): number {
    return this.inFlight.size;
  }

  /** Resolves when nothing is in flight. */
  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops this worker's runs of a job (the queue's cancel is the caller's). */
  cancelJob(jobId: number): number {
    let n = 0;
    for (const f of this.inFlight.values()) {
      if (f.run.jobId === jobId && !f.abort.signal.aborted) {
        f.abort.abort(new Error('cancelled'));
        n++;
      }
    }
    return n;
  }

  /** Stops claiming; cancels what runs (their scripts are killed) and waits for them to end. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    clearInterval(this.recoverTimer);
    // A claim or recovery under way ends first: what it takes is then stopped with the rest.
    await this.claiming;
    await this.recovering;
    for (const f of this.inFlight.values()) {
      // A detached run goes on on its host: leave it (its lease expires; the next worker reattaches).
      if (f.detached) f.leave.abort(new Error('the worker stopped'));
      else f.abort.abort(new Error('the worker stopped'));
    }
    await Promise.all([...this.inFlight.values()].map((f) => f.done));
  }

  private async claim(): Promise<void> {
    const { globalLimit, perHostLimit } = this.limits();
    const free = globalLimit - this.inFlight.size;
    if (free <= 0) return;
    const claimed = await this.opts.queue.claim({
      owner: this.opts.owner,
      limit: free,
      leaseMs: this.o.leaseMs,
      // Only one job's runs (the CLI's own): its limit is this worker's, not the data dir's.
      ...(this.opts.jobId !== undefined ? { jobId: this.opts.jobId, withFollowups: this.opts.followups === true, perHostLimit: this.o.perHostLimit, globalLimit: Number.MAX_SAFE_INTEGER } : { perHostLimit, globalLimit }),
    });
    if (!this.running && claimed.length) {
      // Stopped while claiming: give them back at once rather than when their leases expire.
      for (const run of claimed) await this.opts.queue.heartbeat(this.opts.owner, [run.runId], -this.o.leaseMs);
      return;
    }
    for (const run of claimed) this.launch(run);
  }

  /** The limits in force: the live ones when given (a failing read keeps the fixed ones). */
  private limits(): { globalLimit: number; perHostLimit: number } {
    if (!this.opts.limits) return this.o;
    try {
      return this.opts.limits();
    } catch {
      return this.o;
    }
  }

  private heartbeat(): void {
    const ids = [...this.inFlight.keys()];
    if (ids.length === 0 || this.beating) return;
    this.beating = true;
    void (async () => {
      try {
        const lost = await this.opts.queue.heartbeat(this.opts.owner, ids, this.o.leaseMs);
        for (const id of lost) this.inFlight.get(id)?.abort.abort(new Error('lease lost'));
        const jobs = [...new Set([...this.inFlight.values()].map((f) => f.run.jobId))];
        const keys = jobs.map(CANCEL_KEY);
        if (keys.length) {
          const rows = await this.opts.store.rows<{ key: string }>(sql`select key from settings where key in ${keys}`);
          for (const { key } of rows) this.cancelJob(Number(key.slice(key.indexOf(':') + 1)));
        }
      } catch (e) {
        process.stderr.write(`cronium: worker heartbeat failed: ${(e as Error).message}\n`);
      } finally {
        this.beating = false;
      }
    })();
  }
  private beating = false;

  private async jobSlot(jobId: number, limit: number, signal: AbortSignal): Promise<void> {
    while ((this.jobActive.get(jobId) ?? 0) >= limit && !signal.aborted) {
      await new Promise<void>((r) => {
        const list = this.jobWaiters.get(jobId) ?? this.jobWaiters.set(jobId, []).get(jobId)!;
        list.push(r);
        signal.addEventListener('abort', () => r(), { once: true });
      });
    }
    this.jobActive.set(jobId, (this.jobActive.get(jobId) ?? 0) + 1);
  }

  private releaseJobSlot(jobId: number): void {
    const n = (this.jobActive.get(jobId) ?? 1) - 1;
    if (n <= 0) this.jobActive.delete(jobId);
    else this.jobActive.set(jobId, n);
    const w = this.jobWaiters.get(jobId)?.shift();
    if (w) w();
    if (this.jobWaiters.get(jobId)?.length === 0) this.jobWaiters.delete(jobId);
  }

  /** Takes over a detached run handed back by recovery (its lease expired, or held by `deadOwner`) and attaches to it on its host. */
  private async reattachRun(runId: number, deadOwner: string | null): Promise<void> {
    if (this.inFlight.has(runId) || !this.running) return;
    const store = this.opts.store;
    const now = Date.now();
    const [row] = await store.rows<{ id: number; job_id: number; host_id: number | null; host_name: string; attempt: number }>(
      sql`select id, job_id, host_id, host_name, attempt from runs where id = ${runId} and status = 'running' and detached = ${store.dialect === 'postgres' ? sql`true` : sql`1`}`,
    );
    if (!row || (this.opts.jobId !== undefined && Number(row.job_id) !== this.opts.jobId)) return;
    const leaseExpiresAt = now + this.o.leaseMs;
    // Compare-and-swap: the lease expired, or it is still held by the owner recovery found dead.
    const took = await store.exec(
      sql`update runs set lease_owner = ${this.opts.owner}, lease_expires_at = ${leaseExpiresAt}, heartbeat_at = ${now} where id = ${runId} and status = 'running' and (lease_expires_at is null or lease_expires_at < ${now} or lease_owner = ${this.opts.owner} or lease_owner = ${deadOwner})`,
    );
    if (took !== 1 || this.inFlight.has(runId)) return;
    this.launch({ runId: Number(row.id), jobId: Number(row.job_id), hostId: row.host_id === null ? null : Number(row.host_id), hostName: row.host_name, attempt: Number(row.attempt), leaseExpiresAt, detached: true }, true);
  }

  private launch(run: ClaimedRun, reattach = false): void {
    const abort = new AbortController();
    const f: InFlight = { run, abort, leave: new AbortController(), detached: run.detached === true, done: Promise.resolve() };
    this.inFlight.set(run.runId, f);
    f.done = this.execute(run, abort.signal, f, reattach)
      .catch((e: Error) => {
        // A full disk is no bug: told like the log's own (the run is marked lost at the next start).
        if (isDiskFull(e)) this.opts.logs.diskFull(e);
        else process.stderr.write(`cronium: run ${run.runId} failed internally: ${e.stack ?? e.message}\n`);
      })
      .finally(() => {
        this.inFlight.delete(run.runId);
        if (this.inFlight.size === 0) for (const w of this.idleWaiters.splice(0)) w();
        if (this.running) setImmediate(() => this.poke());
      });
  }

  private emitStatus(run: ClaimedRun, status: string, extra: Record<string, unknown> = {}): void {
    this.opts.events.emit('run.status', { runId: run.runId, jobId: run.jobId, host: run.hostName, status, ...extra } as never);
  }

  private async execute(run: ClaimedRun, cancel: AbortSignal, f: InFlight, reattach: boolean): Promise<void> {
    const { store, queue, logs, owner } = this.opts;
    const [job] = await store.rows<JobRow>(sql`select id, interpreter, script_body, mode, timeout_ms, concurrency, env, input, status, elevated, push, files, schedule_id, script_id from jobs where id = ${run.jobId}`);
    if (!job) return;
    // Only a saved script's runs can have follow-ups (finish).
    const followups = job.script_id !== null;
    const env = asJson<Record<string, string>>(job.env) ?? undefined;
    const input = asJson<unknown>(job.input);
    const push = asJson<Omit<PushSpec, 'blob'>>(job.push);
    const files = asJson<Omit<PushSpec, 'blob'>[]>(job.files);
    const el = asBool(job.elevated) ? ((await this.opts.elevation?.(run.hostName)) ?? { error: 'this process cannot elevate runs', hint: 'run it from the app, serve or the CLI' }) : undefined;
    const elevation = el && 'elevation' in el ? el.elevation : undefined;
    const baseSecrets = (await this.opts.secrets?.(job, run)) ?? [];
    // The sudo password is masked like any secret: in the runner, in the log writer, in outputs.
    const secrets = elevation?.password ? [...baseSecrets, elevation.password] : baseSecrets;
    const limit = job.concurrency === null ? Number.POSITIVE_INFINITY : Number(job.concurrency);
    await this.jobSlot(run.jobId, limit, cancel);
    let writer: LogWriter | undefined;
    let unsubscribe: () => void = () => undefined;
    try {
      if (cancel.aborted) {
        await this.finish(run, { status: 'cancelled', exitCode: null, signal: null, errorCode: null, errorMessage: 'cancelled before it started', retryable: false, mode: null, modeReason: null, runnerVersion: null, timings: { connect: null, deploy: null, start: null, exec: null, total: 0 } }, secrets, followups);
        return;
      }
      if (!reattach && !(await queue.start(run.runId, owner))) return;
      this.emitStatus(run, 'running');
      if (el && 'error' in el) {
        await this.finish(run, { status: 'failed', exitCode: null, signal: null, errorCode: 'ELEVATION_FAILED', errorMessage: el.error, errorHint: el.hint, retryable: false, mode: null, modeReason: null, runnerVersion: null, timings: { connect: null, deploy: null, start: null, exec: null, total: 0 } }, secrets, followups);
        return;
      }
      writer = await logs.openWriter(run.runId, secrets);
      const w = writer;
      unsubscribe = logs.subscribe(run.runId, (batch) => {
        // As bytes: a door's live feed encodes only what it sends its client (events.emitRunLog).
        this.opts.events.emitRunLog({
          runId: batch.runId,
          jobId: run.jobId,
          host: run.hostName,
          chunks: batch.chunks,
          ...(batch.gapFrom !== undefined ? { gapFrom: batch.gapFrom } : {}),
        });
      });
      const sink = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void | Promise<void> => (w.write(stream, chunk) ? undefined : w.drain());
      // The job's files, where this server has them (a team server fetches them from the team's database first).
      const blobOf = async (sha: string) => (this.opts.blobPath ? await this.opts.blobPath(sha) : sha);
      let pushResolved: PushSpec | undefined;
      let filesResolved: PushSpec[] | undefined;
      try {
        if (push !== null) pushResolved = pushSpec(push, run.hostName, await blobOf(push.sha256));
        if (files !== null) filesResolved = await Promise.all(files.map(async (f) => pushSpec(f, run.hostName, await blobOf(f.sha256))));
      } catch (e) {
        const message = `a file of this job cannot be had on this server: ${(e as Error).message}`;
        await this.finish(run, { status: 'failed', exitCode: null, signal: null, errorCode: 'PUSH_FAILED', errorMessage: message, retryable: false, mode: null, modeReason: null, runnerVersion: null, timings: { connect: null, deploy: null, start: null, exec: null, total: 0 } }, secrets, followups);
        return;
      }
      const req = {
        runId: run.runId,
        jobId: run.jobId,
        ...(job.schedule_id !== null ? { unattended: true } : {}),
        host: run.hostName,
        ...(run.hostId !== null ? { hostId: run.hostId } : {}),
        interpreter: job.interpreter,
        script: job.script_body,
        ...(env ? { env } : {}),
        ...(job.input !== null ? { input } : {}),
        ...(secrets.length > 0 ? { secrets } : {}),
        ...(elevation ? { elevation } : {}),
        ...(pushResolved ? { push: pushResolved } : {}),
        ...(filesResolved ? { files: filesResolved } : {}),
        mode: job.mode,
        ...(this.opts.maxOutputBytes ? { maxOutputBytes: this.opts.maxOutputBytes() } : {}),
        ...(job.timeout_ms !== null ? { timeoutMs: Number(job.timeout_ms) } : {}),
        graceMs: this.o.graceMs,
        attempt: run.attempt,
        detach: f.detached,
        leave: f.leave.signal,
      };
      const sinks = {
        stdout: sink('stdout'),
        stderr: sink('stderr'),
        system: (m: string) => void w.write('system', Buffer.from(`${m}\n`)),
        log: (c: { seq: number; stream: 'stdout' | 'stderr'; ts: number; data: Buffer }) => (w.append(c) ? undefined : w.drain()),
      };
      let outcome = reattach ? undefined : await this.opts.executor.execute(req, sinks, cancel);
      // A detached run whose channel was lost goes on on its host: attach again, with backoff.
      const maxAttempts = this.opts.reattachAttempts ?? 8;
      const notes: string[] = [];
      for (let attempt = reattach ? 0 : 1; (!outcome || outcome.reattach) && !f.leave.signal.aborted; attempt++) {
        if (attempt > maxAttempts) {
          outcome = { ...outcome!, reattach: false, errorMessage: `${outcome!.errorMessage ?? 'disconnected'}; gave up reattaching after ${maxAttempts} attempts` };
          break;
        }
        if (attempt > 0) {
          // Noted after the run: a message now would take a seq the runner is going to use.
          if (outcome?.errorMessage) notes.push(`reattached after: ${outcome.errorMessage}`);
          await new Promise<void>((r) => {
            const timer = setTimeout(r, cancel.aborted ? 0 : reattachDelayMs(attempt));
            const wake = () => {
              clearTimeout(timer);
              r();
            };
            cancel.addEventListener('abort', wake, { once: true });
            f.leave.signal.addEventListener('abort', wake, { once: true });
          });
          if (f.leave.signal.aborted) break;
        }
        await w.drain();
        outcome = await this.opts.executor.execute({ ...req, mode: 'runner', reattach: { fromSeq: w.lastSeq + 1 } }, sinks, cancel);
        // The host could not be reached to attach (sshd restarting, the network down): the run
        // goes on there, so this is another attempt, not the run's end.
        if (outcome.status === 'failed' && !cancel.aborted && REACH_FAILURES.has(outcome.errorCode ?? '')) outcome = { ...outcome, reattach: true };
      }
      if (!outcome || outcome.reattach) {
        // Left running on its host: the lease expires and the next worker reattaches.
        await w.close();
        return;
      }
      for (const n of notes) w.write('system', Buffer.from(`${n}\n`));
      if (outcome.errorMessage && outcome.status !== 'succeeded' && outcome.errorCode) w.write('system', Buffer.from(`error[${outcome.errorCode}]: ${outcome.errorMessage}\n`));
      await w.close();
      await this.finish(run, outcome, secrets, followups);
    } finally {
      this.releaseJobSlot(run.jobId);
      // Let the last live batch go out before unsubscribing.
      setTimeout(unsubscribe, 50).unref();
    }
  }

  /**
   * Records a run's end. `followups` false (a command, not a saved script: nothing can follow it)
   * settles its follow-ups in the same statement, instead of a transaction of the follow-up
   * service per run.
   */
  private async finish(run: ClaimedRun, outcome: ExecOutcome, secrets: readonly string[], followups = true): Promise<void> {
    const store = this.opts.store;
    let result: { retried: boolean; jobStatus?: string };
    try {
      const output = outcome.output === undefined ? null : JSON.stringify(maskSecretsInValue(outcome.output, secrets));
      await store.exec(
        sql`update runs set mode = ${outcome.mode}, mode_reason = ${outcome.modeReason}, runner_version = ${outcome.runnerVersion}, output = coalesce(${store.dialect === 'postgres' ? sql`${output}::jsonb` : sql`${output}`}, output), helper_transport = ${outcome.helperTransport ?? null}, transport = coalesce(${outcome.transport ?? null}, transport),
          t_connect_ms = ${outcome.timings.connect}, t_deploy_ms = ${outcome.timings.deploy}, t_start_ms = ${outcome.timings.start}, t_exec_ms = ${outcome.timings.exec}, t_total_ms = ${outcome.timings.total},
          last_seq = (select coalesce(max(seq), 0) from log_chunks where run_id = ${run.runId})${followups ? sql`` : sql`, followups_at = coalesce(followups_at, ${Date.now()})`} where id = ${run.runId}`,
      );
      result = await this.opts.queue.complete(run.runId, this.opts.owner, {
        status: outcome.status,
        exitCode: outcome.exitCode,
        signal: outcome.signal,
        errorCode: outcome.errorCode,
        errorMessage: outcome.errorMessage,
        errorHint: outcome.errorHint ?? null,
        retryable: outcome.retryable,
      });
    } catch (e) {
      process.stderr.write(`cronium: could not record the end of run ${run.runId}: ${(e as Error).message}\n`);
      return;
    }
    if (!result.retried && followups) await this.opts.finalized?.([run.runId]);
    if (result.jobStatus) await store.exec(sql`delete from settings where key = ${CANCEL_KEY(run.jobId)}`).catch(() => 0);
    this.emitStatus(run, result.retried ? 'queued' : outcome.status, {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      errorCode: outcome.errorCode,
      ...(result.jobStatus ? { jobStatus: result.jobStatus } : {}),
    });
    this.opts.onRunEnd?.(run, outcome);
  }
}

/** A push job's file for one run: its blob, and `{host}` in the target path as the run's host name. */
function pushSpec(p: Omit<PushSpec, 'blob'>, host: string, blob: string): PushSpec {
  return { ...p, to: p.to.split('{host}').join(host), blob };
}
