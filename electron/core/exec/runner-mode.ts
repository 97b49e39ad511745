/**
 * Runner mode: the script runs under `cronium-runner` on the host (runner/README.md).
 *
 * One run: on the run's pooled connection, deploy-or-verify the runner (a cache hit is the
 * per-run integrity check; a tampered binary is recorded by the deployer and replaced, and the
 * run goes on with the verified one), sign a payload for that host's runner host id, start
 * `<binary> run --key … --host-id … --state-dir …` with the envelope as the first line of its
 * stdin (which then stays open: closing it means the channel is gone), and turn the frames on
 * its stdout into the run's log (with the runner's own seq, so a reattach never duplicates)
 * and its outcome. A reattach (`req.reattach`) runs `<binary> attach <runId> --from <seq>`.
 *
 * Invariants:
 * - nothing secret is on a command line: the payload (script, env, input) goes on stdin;
 * - `req.secrets` go in the payload's `mask` (those within its bounds), so the runner masks them
 *   before framing: no secret reaches the host's spool or a frame, even split across writes;
 * - log chunks carry the runner's seq and go through `sinks.log` exactly once (the log writer
 *   ignores duplicates); Cronium's own messages are held back until the run ended, so they
 *   never take a seq the runner will use (a reattach resumes at the last stored seq + 1);
 * - malformed frames are recorded (INVALID_INPUT) and never crash the app;
 * - a detached run whose channel was lost is handed back (`outcome.reattach`), never failed.
 */
import { performance } from 'node:perf_hooks';
import { isCroniumError } from '../../shared/errors';
import { describeElevationFailure, type Elevation } from './elevation';
import { RUNNER_LIMITS, RUNNER_PROTOCOL, RUNNER_PROTOCOLS_ACCEPTED, runnerMask, type ExitFrame, type RunPayload, type RunnerFrame } from '../../shared/runner-protocol';
import { isDirectFallback, type DeployResult, type RunnerDeployer } from '../runner/deploy';
import { hostIdFile, STAT_COMMAND, usableStatRecord } from '../runner/deploy-scripts';
import { encodeControl, newNonce, type InstallationKeys } from '../runner/payload';
import type { DecodedFrame, FrameSink } from '../runner/frames';
import { execLink, ResidentRunners, ResidentSession, type CheckOutput, type OpenLink, type ReadCheckLine, type RunLink } from './resident';
import { sha256Command } from '../diagnostics/remote-probe';
import type { HelperSession } from '../helper-api/runtime';
import type { SshConnection } from '../ssh/types';
import type { ExecOutcome, ExecRequest, ExecSinks, RunnerFallback, RunnerMode, RunnerTimes } from './types';

/** What runner mode needs from the core. */
export interface RunnerModeDeps {
  deployer: RunnerDeployer;
  keys: InstallationKeys;
  /** A run is considered disconnected when no frame arrived for this long (the runner heartbeats every 5 s). */
  silenceMs?: number;
  /** Whether runs may take a resident runner (docs/runner.md, "Resident runners"); default yes. */
  resident?: () => boolean;
  /** The per-run check of the cached binary (execution setting runnerCheck; default stat). */
  check?: () => RunnerCheck;
  /** Runtime helpers: a session (token + transport) per run attempt; without it helpers answer HELPER_UNAVAILABLE. */
  helpers?: { begin(conn: SshConnection, run: { runId: number; jobId: number; hostId: number }, expiresAt: number): Promise<HelperSession> };
}

/** Quotes a word for a POSIX shell. */
export function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The runner's id of a run: unique per installation, run and attempt (replay protection is per id). */
export function runnerRunId(keyId: string, runId: number, attempt: number, retry = 0): string {
  return `c${keyId.slice(0, 10)}-r${runId}-a${attempt}${retry ? `-p${retry}` : ''}`;
}

/** The command line of a run (`run`, one payload) or a resident runner (`serve`) of the deployed binary: its pinned key and host id beside it. */
export function runnerCommand(d: Pick<DeployResult, 'path' | 'hostId' | 'stateDir'>, what: 'run' | 'serve'): string {
  const dir = d.path.slice(0, d.path.lastIndexOf('/'));
  return `${sq(d.path)} ${what} --key ${sq(`${dir}/installation.pub`)} --host-id ${sq(`${dir}/${hostIdFile(d.hostId)}`)} --state-dir ${sq(d.stateDir)} --protocol ${RUNNER_PROTOCOL}`;
}

const CHECK_FAILED = 'CRONIUM-RUNNER-CHECK-FAILED';
const STAT_LINE = 'CRONIUM-RUNNER-STAT ';

/** Reads the check's marker lines (checkedCommand) from the text before the runner's first frame. */
export const readCheckLine: ReadCheckLine = (text, into) => {
  if (text.startsWith(CHECK_FAILED)) into.checkFailed = text.slice(CHECK_FAILED.length).trim() || 'unreadable';
  else if (text.startsWith(STAT_LINE)) into.statLines.push(text.slice(STAT_LINE.length).trim());
};

/** How the per-run check of the cached binary is done (execution setting `runnerCheck`). */
export type RunnerCheck = 'stat' | 'hash';

/**
 * `run` behind the per-run check of the cached binary, in one round trip: the runner starts only
 * when the check passes; otherwise a marker line and status 97.
 *
 * - `hash` (strict): the binary's SHA-256 with the host's fastest tool, chosen at deploy.
 * - `stat` (default): when the binary, its version dir and the cache root stat exactly as they did
 *   when the binary last hashed right on this host (`record`), the run starts without hashing;
 *   otherwise the binary is hashed, and on a match the stat taken before hashing is printed
 *   (`CRONIUM-RUNNER-STAT` lines) for the app to record. Why a change cannot escape: any write to
 *   the file moves its mtime and ctime, a `touch` back moves its ctime, which no unprivileged call
 *   can set, a replacement changes the inode (and ctime), a chmod or chown changes mode, owner and
 *   ctime, and an entry added, removed or renamed in the version dir or the cache root moves that
 *   directory's times; owner and mode of both directories are part of the record. Records without
 *   nanoseconds are never used (BusyBox's stat: every run hashes).
 */
export function checkedCommand(d: Pick<DeployResult, 'path' | 'sha256' | 'shaTool'>, run: string, check: RunnerCheck = 'hash', record?: string): string {
  const script = [`p=${sq(d.path)}`];
  if (check === 'stat') {
    script.push(`s=$(${STAT_COMMAND})`);
    if (record !== undefined && usableStatRecord(record)) script.push(`if [ "$s" = ${sq(record)} ]; then exec ${run}; fi`);
  }
  script.push(
    // No awk here (unlike sha256_of): one process less on every run; the shell cuts the hash.
    `h=$( (${sha256Command(d.shaTool, '"$p"')}) 2>/dev/null )`,
    'h=${h%% *}',
    `if [ "$h" = ${sq(d.sha256)} ]; then ${check === 'stat' ? `printf '${STAT_LINE}%s\\n' $s; ` : ''}exec ${run}; fi`,
    `echo "${CHECK_FAILED} $h"`,
    'exit 97',
  );
  return `sh -c ${sq(script.join('\n'))}`;
}

/** Runner mode, plugged into the executor. */
export class RunnerExecutor implements RunnerMode {
  /** Per host: the runner this process verified last, with its stat record once the per-run check printed one (checkedCommand). */
  readonly #known = new Map<string, DeployResult>();
  /** Resident runners (`serve`) per connection, and the host binaries that cannot serve. */
  readonly #residents = new ResidentRunners();
  readonly #noResident = new Set<string>();
  /** Connections a run went through: a resident runner opens on a connection's second run, so a one-off run (a fan-out, the CLI) costs no more than one channel. */
  readonly #ranOn = new WeakSet<SshConnection>();

  constructor(private readonly deps: RunnerModeDeps) {}

  async execute(conn: SshConnection, req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal, t: RunnerTimes): Promise<ExecOutcome | RunnerFallback> {
    const deferred: string[] = [];
    const tDeploy0 = performance.now();
    const setupAbort = AbortSignal.any([cancel, AbortSignal.timeout(Math.max(1, Math.round(t.setupDeadline - performance.now())))]);
    // Fast path: a binary this process verified or deployed before is checked on the host in the
    // run's own round trip (the run starts only when it passes): by its stat record when one was
    // recorded and the setting allows, else by its hash; a failed check falls back to a full
    // deploy-or-verify, which records it and replaces the binary.
    // A fresh process starts from the store's record of the last verified deploy (one round trip, not a full check).
    let known = req.reattach ? undefined : this.#known.get(req.host);
    if (!known && !req.reattach && this.deps.deployer.known) {
      known = await this.deps.deployer.known(req.host);
      if (known) this.#known.set(req.host, known);
    }
    let fast = known !== undefined;
    let deployed: DeployResult;
    const fullDeploy = async (): Promise<DeployResult | ExecOutcome | RunnerFallback> => {
      try {
        const d = await this.deps.deployer.deploy(req.host, { conn, signal: setupAbort });
        this.#known.set(req.host, d);
        if (d.integrityFailure) deferred.push(`RUNNER_INTEGRITY_FAILED: ${d.integrityFailure} (replaced with a verified binary before the run)`);
        return d;
      } catch (e) {
        this.#known.delete(req.host);
        if (isDirectFallback(e)) return { fallback: e.message, hint: e.hint };
        const ms = performance.now() - tDeploy0;
        if (cancel.aborted) return this.#end(t, ms, null, null, deferred, sinks, { status: 'cancelled', errorMessage: 'cancelled while the runner was checked' });
        const code = isCroniumError(e) ? e.code : setupAbort.aborted ? 'CONNECT_TIMEOUT' : 'RUNNER_DEPLOY_FAILED';
        const retryable = code === 'CONNECT_FAILED' || code === 'CONNECT_TIMEOUT' || (isCroniumError(e) && e.details?.reason === 'upload-failed');
        return this.#end(t, ms, null, null, deferred, sinks, { status: 'failed', errorCode: code, errorMessage: (e as Error).message, ...(isCroniumError(e) ? { errorHint: e.hint } : {}), retryable });
      }
    };
    if (known) deployed = known;
    else {
      const d = await fullDeploy();
      if (!('path' in d)) return d;
      deployed = d;
    }
    let deployMs = fast ? 0 : performance.now() - tDeploy0;
    const keyId = this.deps.keys.keyId();
    if (req.reattach) {
      const state = deployed.stateDir;
      const id = runnerRunId(keyId, req.runId, req.attempt ?? 1);
      const command = `${sq(deployed.path)} attach ${sq(id)} --from ${Math.max(1, Math.floor(req.reattach.fromSeq))} --state-dir ${sq(state)} --protocol ${RUNNER_PROTOCOL}`;
      const out = await this.#stream(execLink(conn, command, ''), req, sinks, cancel, t, deployMs, deployed, deferred);
      return 'checkFailed' in out ? this.#end(t, deployMs, null, deployed.version, deferred, sinks, { status: 'failed', errorCode: 'INTERNAL', errorMessage: 'unexpected check marker on attach' }) : out;
    }
    for (let retry = 0; ; retry++) {
      const id = runnerRunId(keyId, req.runId, req.attempt ?? 1, retry);
      const graceMs = req.graceMs ?? 5000;
      const setupBudget = Math.max(1000, t.setupDeadline - t.t0);
      const iat = Date.now();
      // Plus the clock skew the runner allows: a host whose clock runs ahead still accepts it.
      const life = setupBudget + (req.timeoutMs ?? 0) + graceMs + 60_000 + RUNNER_LIMITS.clockSkewMs;
      const exp = iat + Math.round(Math.min(RUNNER_LIMITS.maxLifetimeMs, life));
      let session: HelperSession | undefined;
      if (this.deps.helpers && req.hostId !== undefined) {
        try {
          session = await this.deps.helpers.begin(conn, { runId: req.runId, jobId: req.jobId, hostId: req.hostId }, helperTokenExpiry(iat, setupBudget, req.timeoutMs, graceMs));
          // Said once per host (the run's helper transport is recorded either way: jobs show, run --json).
          if (session.fallbackReason && session.fallbackNew) deferred.push(`helpers went in-band over the runner's channel: ${session.fallbackReason}`);
        } catch (e) {
          deferred.push(`helpers are unavailable for this run: ${(e as Error).message}`);
        }
      }
      // Masked at the source too (the log writer masks again): what does not fit the bounds is left to the app.
      const mask = runnerMask(req.secrets ?? []);
      const payload: RunPayload = {
        jobId: `j${req.jobId}`,
        runId: id,
        hostId: deployed.hostId,
        nonce: newNonce(),
        iat,
        exp,
        interpreter: req.interpreter,
        script: req.script,
        env: req.env ?? {},
        ...(req.input !== undefined ? { input: req.input as RunPayload['input'] } : {}),
        limits: {
          timeoutMs: Math.round(Math.min(RUNNER_LIMITS.maxTimeoutMs, req.timeoutMs ?? RUNNER_LIMITS.maxTimeoutMs)),
          graceMs: Math.round(Math.min(RUNNER_LIMITS.maxGraceMs, graceMs)),
          maxOutputBytes: req.maxOutputBytes ?? RUNNER_LIMITS.defaultMaxOutputBytes,
        },
        detach: req.detach === true,
        pty: false,
        helper: session?.settings ?? { transport: 'none' },
        ...(mask.length > 0 ? { mask } : {}),
        ...(req.elevation ? { elevation: payloadElevation(req.elevation) } : {}),
      };
      let envelope: string;
      try {
        envelope = this.deps.keys.sign(payload);
      } catch (e) {
        session?.end();
        return this.#end(t, deployMs, null, deployed.version, deferred, sinks, { status: 'failed', errorCode: isCroniumError(e) ? e.code : 'INTERNAL', errorMessage: (e as Error).message, ...(isCroniumError(e) ? { errorHint: e.hint } : {}) });
      }
      const run = runnerCommand(deployed, 'run');
      const check = this.deps.check?.() ?? 'stat';
      const command = fast ? checkedCommand(deployed, run, check, deployed.statRecord) : run;
      let out: ExecOutcome | RunnerFallback | { checkFailed: string } | undefined;
      // A verified binary on a Linux host, per-run check by stat: the run takes a resident runner of
      // this connection (opened behind the same check), else the per-run exec.
      let resident: ResidentSession | undefined;
      const residentKey = `${req.host}\n${deployed.path}`;
      const reused = this.#ranOn.has(conn);
      this.#ranOn.add(conn);
      if (fast && check === 'stat' && (this.deps.resident?.() ?? true) && conn.onSessionWanted && !req.detach && /^linux-/.test(String(deployed.target)) && !this.#noResident.has(residentKey)) {
        resident = this.#residents.take(conn, residentKey);
        if (!resident && reused) {
          const serve = runnerCommand(deployed, 'serve');
          const opened = await new ResidentSession(conn, residentKey, readCheckLine).open(checkedCommand(deployed, serve, check, deployed.statRecord), setupAbort);
          if ('session' in opened) {
            resident = opened.session;
            await this.#recordStat(req.host, deployed, opened.statLines);
          } else if ('checkFailed' in opened) out = opened;
          // A binary that would not serve runs per run from now on; a lost channel only this time.
          else if (!opened.transient) this.#noResident.add(residentKey);
        }
      }
      try {
        out ??= await this.#stream(resident ? resident.begin(envelope) : execLink(conn, command, envelope), req, sinks, cancel, t, deployMs, deployed, deferred, session);
      } finally {
        session?.end();
        if (resident) this.#residents.give(resident);
      }
      if ('status' in out) out.helperTransport = session?.transport ?? 'none';
      if ('checkFailed' in out) {
        // The cached binary changed since it was verified: the full check records and replaces it.
        fast = false;
        this.#known.delete(req.host);
        const t1 = performance.now();
        const d = await fullDeploy();
        if (!('path' in d)) return d;
        deployed = d;
        deployMs = performance.now() - t1;
        continue;
      }
      if ('fallback' in out) {
        deferred.length = 0;
        return out;
      }
      if (fast && out.errorCode === 'PAYLOAD_REJECTED' && /\((unknown-key|wrong-host)\)/.test(out.errorMessage ?? '') && !cancel.aborted) {
        // The fast path checks the binary only: a pinned key or host id changed on the host is
        // repaired by the full check (which re-pins them), then the run is tried once more.
        const d = await fullDeploy();
        if (!('path' in d)) return out;
        deployed = d;
        fast = false;
        continue;
      }
      if (out.errorCode === 'RUNNER_PROTOCOL' && retry === 0 && !cancel.aborted) {
        // The runner speaks another protocol: redeploy (verify) once and try again.
        const d = await fullDeploy();
        if (!('path' in d)) return out;
        deployed = d;
        fast = false;
        continue;
      }
      return out;
    }
  }

  async #stream(
    open: OpenLink,
    req: ExecRequest,
    sinks: ExecSinks,
    cancel: AbortSignal,
    t: RunnerTimes,
    deployMs: number,
    deployed: DeployResult,
    deferred: string[],
    session?: HelperSession,
  ): Promise<ExecOutcome | RunnerFallback | { checkFailed: string }> {
    const graceMs = req.graceMs ?? 5000;
    const silenceMs = this.deps.silenceMs ?? 20_000;
    let hello: Extract<RunnerFrame, { type: 'hello' }> | undefined;
    let exit: ExitFrame | undefined;
    let errorFrame: Extract<RunnerFrame, { type: 'error' }> | undefined;
    let malformed: string | undefined;
    let startedAt: number | undefined;
    let lastFrameAt = performance.now();
    let stopReason: 'cancel' | 'setup' | 'silence' | 'protocol' | 'leave' | 'watchdog' | undefined;
    let handle: RunLink | undefined;
    const stderrTail: Buffer[] = [];
    let stderrBytes = 0;

    const onFrame = (frame: DecodedFrame): void | Promise<void> => {
      lastFrameAt = performance.now();
      switch (frame.type) {
        case 'hello':
          hello = frame;
          if (!RUNNER_PROTOCOLS_ACCEPTED.includes(frame.protocol)) {
            stopReason = 'protocol';
            handle?.close();
            return;
          }
          if (frame.helperExposed && session) {
            // The runner found the tunnel's port listening beyond loopback before the script started.
            deferred.push(`helpers went in-band over the runner's channel: ${session.exposed(frame.helperExposed)}`);
          }
          if (startedAt === undefined) {
            startedAt = performance.now();
            sinks.started?.();
          }
          return;
        case 'log':
          if (sinks.log) return sinks.log({ seq: frame.seq, stream: frame.stream, ts: frame.ts, data: frame.data });
          return frame.stream === 'stdout' ? sinks.stdout(frame.data) : sinks.stderr(frame.data);
        case 'heartbeat':
          sinks.heartbeat?.(frame.seq);
          return;
        case 'exit':
          exit = frame;
          return;
        case 'error':
          errorFrame ??= frame;
          return;
        case 'helper': {
          // An in-band helper call: answered asynchronously, so a slow call never holds up the log.
          const reply = session
            ? session.answer(frame)
            : Promise.resolve({ type: 'helper-reply' as const, id: frame.id, status: 503, body: { error: { code: 'HELPER_UNAVAILABLE', message: 'this run has no helper channel' } } });
          void reply.then((r) => handle?.write(encodeControl(r)));
          return;
        }
      }
    };
    const check: CheckOutput = { statLines: [] };
    const sink: FrameSink = {
      onFrame,
      // A noisy login shell may print before the runner starts: text before the first frame is its, not the runner's.
      onText: (text) => readCheckLine(text, check),
      onMalformed: (message) => {
        malformed ??= message;
        lastFrameAt = performance.now();
      },
    };

    const opening = new AbortController();
    const onCancelOpening = () => opening.abort(new Error('cancelled'));
    cancel.addEventListener('abort', onCancelOpening, { once: true });
    const openTimer = setTimeout(() => {
      stopReason = 'setup';
      opening.abort(new Error('setup budget exhausted'));
    }, Math.max(0, t.setupDeadline - performance.now()));
    try {
      handle = await open(
        sink,
        (c) => {
          if (stderrBytes < 16_384) {
            stderrTail.push(c);
            stderrBytes += c.length;
          }
        },
        opening.signal,
      );
    } catch (e) {
      clearTimeout(openTimer);
      cancel.removeEventListener('abort', onCancelOpening);
      if (cancel.aborted) return this.#end(t, deployMs, null, deployed.version, deferred, sinks, { status: 'cancelled', errorMessage: 'cancelled before the script started' });
      if (req.detach && req.reattach) return this.#reattachLater(t, deployMs, deployed.version, `the attach channel could not be opened: ${(e as Error).message}`);
      const err = e as { code?: string; message?: string };
      return this.#end(t, deployMs, null, deployed.version, deferred, sinks, {
        status: 'failed',
        errorCode: stopReason === 'setup' ? 'CONNECT_TIMEOUT' : (err.code ?? 'CONNECT_FAILED'),
        errorMessage: stopReason === 'setup' ? 'no session could be opened on the host within the setup budget' : (err.message ?? String(e)),
        retryable: true,
      });
    }
    clearTimeout(openTimer);
    cancel.removeEventListener('abort', onCancelOpening);
    const h = handle;

    let closeTimer: NodeJS.Timeout | undefined;
    const stop = (why: NonNullable<typeof stopReason>) => {
      if (stopReason && why !== 'leave') return;
      stopReason = why;
      if (why === 'cancel' || why === 'watchdog') {
        deferred.push(
          why === 'cancel'
            ? `cancelled: the runner stops the script's process group (TERM, then KILL after ${graceMs} ms)`
            : 'the script outlived its timeout without the runner stopping it: cancelling',
        );
        h.write(encodeControl({ type: 'cancel' }));
        closeTimer = setTimeout(() => h.close(), graceMs + 5000);
        closeTimer.unref();
      } else {
        h.close();
      }
    };
    const onCancel = () => stop('cancel');
    cancel.addEventListener('abort', onCancel, { once: true });
    if (cancel.aborted) onCancel();
    const onLeave = () => {
      stopReason = 'leave';
      h.endStdin();
      h.close();
    };
    req.leave?.addEventListener('abort', onLeave, { once: true });
    const setupTimer = req.reattach
      ? undefined
      : setTimeout(() => {
          if (startedAt === undefined && !exit && !errorFrame) stop('setup');
        }, Math.max(0, t.setupDeadline - performance.now()));
    const watchdogAt = req.timeoutMs !== undefined && !req.reattach ? req.timeoutMs + graceMs + 15_000 : undefined;
    const ticker = setInterval(() => {
      const now = performance.now();
      if (!exit && !errorFrame && now - lastFrameAt > silenceMs && startedAt !== undefined) stop('silence');
      if (watchdogAt !== undefined && startedAt !== undefined && !exit && now - startedAt > watchdogAt) stop('watchdog');
    }, 1000);
    ticker.unref();

    let lost: string | undefined;
    let status: { code: number | null; signal: string | null } | undefined;
    try {
      status = await h.done;
    } catch (e) {
      lost = (e as Error).message;
    } finally {
      clearTimeout(setupTimer);
      clearTimeout(closeTimer);
      clearInterval(ticker);
      cancel.removeEventListener('abort', onCancel);
      req.leave?.removeEventListener('abort', onLeave);
    }
    await h.end();
    const framesSeen = h.frames;
    // The binary hashed right and the check printed its stat record: the next runs compare that instead.
    if (framesSeen > 0) await this.#recordStat(req.host, deployed, check.statLines);
    const version = hello?.version ?? deployed.version;
    const stderrText = Buffer.concat(stderrTail).toString('utf8').trim().split('\n').slice(-3).join(' / ').slice(0, 500);
    if (malformed) deferred.push(`the runner wrote a malformed frame (INVALID_INPUT): ${malformed}`);

    if (check.checkFailed !== undefined && framesSeen === 0) return { checkFailed: check.checkFailed };
    // A resident runner found its binary changed since its channel verified it: as a failed check.
    if (errorFrame?.code === 'RUNNER_CHANGED') return { checkFailed: errorFrame.message };
    if (exit) return this.#fromExit(exit, t, deployMs, startedAt, version, deferred, sinks, malformed, req);
    if (stopReason === 'protocol') {
      return this.#end(t, deployMs, startedAt, version, deferred, sinks, {
        status: 'failed',
        errorCode: 'RUNNER_PROTOCOL',
        errorMessage: `the runner on ${req.host} speaks protocol ${hello?.protocol}, this app ${RUNNER_PROTOCOLS_ACCEPTED.join(' or ')}; redeploy it (cronium runner deploy ${req.host})`,
      });
    }
    if (errorFrame) {
      const code = errorFrame.code;
      const message = code === 'PAYLOAD_REJECTED' ? `the runner refused the payload (${errorFrame.reason}): ${errorFrame.message}` : errorFrame.message;
      if (req.reattach && code === 'NOT_FOUND') {
        return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'failed', errorCode: 'DISCONNECTED', errorMessage: `the detached run is gone from the host: ${message}` });
      }
      return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'failed', errorCode: code, errorMessage: message, exitCode: startedAt === undefined ? 255 : null });
    }
    if (stopReason === 'leave' && req.detach) return this.#reattachLater(t, deployMs, version, 'the worker stopped; the detached run goes on on the host');
    if (stopReason === 'cancel' || (cancel.aborted && stopReason !== 'leave')) {
      if (req.detach && lost) return this.#reattachLater(t, deployMs, version, `connection lost while cancelling: ${lost}`);
      return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'cancelled', errorMessage: 'cancelled (the runner sent no exit frame)' });
    }
    if (req.detach && (lost || stopReason === 'silence' || startedAt !== undefined)) {
      return this.#reattachLater(t, deployMs, version, lost ?? (stopReason === 'silence' ? 'no frame from the runner for too long' : 'the channel closed before the exit frame'));
    }
    if (stopReason === 'setup') {
      return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'failed', errorCode: 'CONNECT_TIMEOUT', errorMessage: 'the runner did not start the script within the setup budget', retryable: false });
    }
    if (malformed && !lost) return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'failed', errorCode: 'INVALID_INPUT', errorMessage: `the runner wrote a malformed frame: ${malformed}` });
    if (req.mode === 'auto' && !req.reattach && framesSeen === 0 && !lost && !stopReason && !cancel.aborted) {
      // Not one frame: the runner could not even start the run (e.g. an old binary); the script never ran.
      return { fallback: `the runner on ${req.host} could not start the run (status ${status?.code ?? status?.signal ?? '?'}${stderrText ? `: ${stderrText}` : ''})` };
    }
    const why = lost ?? (stopReason === 'silence' ? 'no frame from the runner for too long' : `the runner ended (status ${status?.code ?? status?.signal ?? '?'}) without an exit frame${stderrText ? `: ${stderrText}` : ''}`);
    const code = lost || stopReason === 'silence' ? (startedAt !== undefined ? 'CONNECTION_LOST' : 'DISCONNECTED') : 'INTERNAL';
    return this.#end(t, deployMs, startedAt, version, deferred, sinks, { status: 'failed', errorCode: code, errorMessage: why, retryable: startedAt === undefined && lost !== undefined });
  }

  /** The check hashed the binary right and printed its stat record: the next checks compare that instead. */
  async #recordStat(host: string, deployed: DeployResult, statLines: string[]): Promise<void> {
    if (statLines.length !== 3) return;
    const record = statLines.join('\n');
    const k = this.#known.get(host);
    if (k && k.path === deployed.path) this.#known.set(host, { ...k, statRecord: record });
    if (usableStatRecord(record)) await this.deps.deployer.recordStat?.(host, deployed.path, record);
  }

  /** Closes the idle resident runners (shutdown, tests). */
  closeIdle(): void {
    this.#residents.closeAll();
  }

  #fromExit(exit: ExitFrame, t: RunnerTimes, deployMs: number, startedAt: number | undefined, version: string, deferred: string[], sinks: ExecSinks, malformed: string | undefined, req: ExecRequest): ExecOutcome {
    const killed = exit.killedWith ? ` (stopped with ${exit.killedWith})` : '';
    const base = { exitCode: exit.code, signal: exit.signal, killedWith: exit.killedWith, limiter: exit.limiter };
    const end = (o: Partial<ExecOutcome> & Pick<ExecOutcome, 'status'>) => this.#end(t, deployMs, startedAt, version, deferred, sinks, { ...base, ...o });
    if (exit.killedWith) deferred.push(`the runner stopped the script's process group with ${exit.killedWith}`);
    switch (exit.reason) {
      case 'timeout':
        return end({ status: 'timed_out', errorMessage: `the script ran longer than its timeout${killed}` });
      case 'cancelled':
        return end({ status: 'cancelled', errorMessage: `cancelled${killed}` });
      case 'output-limit':
        return end({ status: 'failed', errorCode: 'OUTPUT_LIMIT', errorMessage: `the script wrote more than its output limit; the output was cut there and the script stopped${killed}` });
      case 'spool-full':
        return end({ status: 'failed', errorCode: 'HOST_DISK_FULL', errorMessage: `the host ran out of disk space for the run's log (the runner's state dir); the output was cut at the last line it could keep and the script stopped${killed}` });
      case 'elevation-failed': {
        const d = describeElevationFailure(req.elevation?.method ?? 'sudo', req.host, exit.detail ?? '');
        return end({ status: 'failed', errorCode: 'ELEVATION_FAILED', errorMessage: d.message, errorHint: d.hint });
      }
      case 'disconnected':
        return end({ status: 'failed', errorCode: 'CONNECTION_LOST', errorMessage: `the connection to the runner was lost; the runner stopped the script${killed}` });
      case 'exited':
        break;
    }
    if (malformed) return end({ status: 'failed', errorCode: 'INVALID_INPUT', errorMessage: `the runner wrote a malformed frame: ${malformed}` });
    const ok = exit.code === 0 && exit.signal === null;
    const sig = exit.signal ? exit.signal.replace(/^SIG/, '') : null;
    return end({
      status: ok ? 'succeeded' : 'failed',
      signal: sig,
      errorMessage: ok ? null : sig ? `the script was killed by SIG${sig}` : `the script exited with status ${exit.code}`,
    });
  }

  #reattachLater(t: RunnerTimes, deployMs: number, version: string, why: string): ExecOutcome {
    const now = performance.now();
    return {
      status: 'failed',
      exitCode: null,
      signal: null,
      errorCode: 'DISCONNECTED',
      errorMessage: why,
      retryable: false,
      mode: 'runner',
      modeReason: null,
      runnerVersion: version,
      reattach: true,
      timings: { connect: Math.round(t.connectMs), deploy: Math.round(deployMs), start: null, exec: null, total: Math.round(now - t.t0) },
    };
  }

  #end(
    t: RunnerTimes,
    deployMs: number,
    startedAt: number | undefined | null,
    version: string | null,
    deferred: string[],
    sinks: ExecSinks,
    o: Partial<ExecOutcome> & Pick<ExecOutcome, 'status'>,
  ): ExecOutcome {
    for (const m of deferred.splice(0)) sinks.system(m);
    const now = performance.now();
    const started = startedAt ?? undefined;
    return {
      exitCode: null,
      signal: null,
      errorCode: null,
      errorMessage: null,
      retryable: false,
      mode: 'runner',
      modeReason: null,
      runnerVersion: version,
      ...o,
      timings: {
        connect: Math.round(t.connectMs),
        deploy: Math.round(deployMs),
        start: started !== undefined ? Math.round(started - t.t0 - t.connectMs - deployMs) : null,
        exec: started !== undefined ? Math.round(now - started) : null,
        total: Math.round(now - t.t0),
      },
    };
  }
}

/**
 * When a run's helper token expires: after its setup budget, its timeout and the grace period,
 * plus a minute. The payload's own expiry bounds only when the run may START; a run without a
 * timeout may call helpers for as long as the longest timeout allowed (7 days). The token is
 * revoked when the run ends, whichever comes first.
 */
export function helperTokenExpiry(iat: number, setupBudgetMs: number, timeoutMs: number | undefined, graceMs: number): number {
  return iat + setupBudgetMs + (timeoutMs ?? RUNNER_LIMITS.maxTimeoutMs) + graceMs + 60_000;
}

/** The payload's elevation: a password for sudo (optional) and su (required), none for doas. */
function payloadElevation(e: Elevation): NonNullable<RunPayload['elevation']> {
  if (e.method === 'su') return { method: 'su', password: e.password ?? '' };
  if (e.method === 'sudo' && e.password) return { method: 'sudo', password: e.password };
  return e.method === 'doas' ? { method: 'doas' } : { method: 'sudo' };
}
