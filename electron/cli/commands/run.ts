/**
 * `cronium run`: queues a job and runs it in this process (a worker that takes only this
 * job's runs), streaming output live, prefixed `host | ` when several hosts run.
 * Exit code: one host → the script's exit code (128+N for a signal); several → 0 when all
 * succeeded, 1 otherwise; 124 timeout and 255 could not start (one host); 130 cancelled
 * (Ctrl-C cancels the job and kills the scripts' process groups on the hosts).
 * `--json`: one JSON object per host and line on stdout (output is not streamed then).
 * `--script-name`: a saved script; the follow-up jobs its runs fire run here too (their
 * output prefixed `host | `, with --json one more line per follow-up run, after the job's
 * own, with parentJobId and trigger). The exit code stays the job's own.
 */
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type Database from 'better-sqlite3';
import type { EventName, EventPayload, JobTreeNode, JobView } from '../../shared/api';
import { connectApp, useAppSetting, type AppClient } from '../app-client';
import { CroniumError, fieldError } from '../../shared/errors';
import { loadCore, type CliContext } from '../context';
import { formatError, reportError, say } from '../output';
import { jsonTooDeep, MAX_JSON_DEPTH } from '../../shared/json-bounded';
import { ownerName } from '../../core/queue/owner';
import { isDiskFull } from '../../core/db/disk-full';

/** The exit code when the data dir's disk is full (as for any Cronium error). */
const exitCodeForFull = 1;

const collect = (value: string, previous: string[] = []) => [...previous, value];
const SIGNAL_NUMBERS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };

/** Parses `30s`, `5m`, `1h`, `500ms` or plain seconds into ms. */
export function parseDuration(text: string, field = 'timeout'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw fieldError(field, `"${text}" is not a duration`, 'e.g. 30s, 5m, 1h, 500ms');
  const n = Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (!Number.isFinite(n) || n < 1 || n > 7 * 86_400_000) throw fieldError(field, `"${text}" must be between 1 ms and 7 days`);
  return Math.round(n);
}

/** Parses repeated `K=V`. */
export function parseEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw fieldError('env', `"${p}" is not K=V`);
    const name = p.slice(0, i);
    if (name === '__proto__') throw fieldError('env', 'the name __proto__ is not accepted');
    env[name] = p.slice(i + 1);
  }
  return env;
}

/** Reads a script file ('-' is stdin). */
export function readScript(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw fieldError('script', `cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Prefixes complete lines with `host | `; keeps partial lines per host and stream. */
class Prefixer {
  private readonly partial = new Map<string, string>();
  constructor(private readonly on: boolean) {}
  write(host: string, stream: 'stdout' | 'stderr', text: string): void {
    const out = stream === 'stdout' ? process.stdout : process.stderr;
    if (!this.on) {
      out.write(text);
      return;
    }
    const key = `${host}\0${stream}`;
    const lines = ((this.partial.get(key) ?? '') + text).split('\n');
    this.partial.set(key, lines.pop()!);
    if (lines.length) out.write(lines.map((l) => `${host} | ${l}\n`).join(''));
  }
  flush(): void {
    for (const [key, rest] of this.partial) {
      if (!rest) continue;
      const [host, stream] = key.split('\0') as [string, string];
      (stream === 'stdout' ? process.stdout : process.stderr).write(`${host} | ${rest}\n`);
    }
    this.partial.clear();
  }
}

/** The `run --json` object of one run. */
export function runJson(run: JobView['runs'][number]) {
  return {
    host: run.host,
    jobId: run.jobId,
    runId: run.id,
    status: run.status,
    exitCode: run.exitCode,
    signal: run.signal,
    mode: run.mode,
    modeReason: run.modeReason,
    transport: run.transport,
    runnerVersion: run.runnerVersion,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage ?? '', ...(run.errorHint ? { hint: run.errorHint } : {}) } : null,
    output: run.output,
    timings: { connect: run.timings.connect, deploy: run.timings.deploy, start: run.timings.start, exec: run.timings.exec, total: run.timings.total },
  };
}

/** Whether a system log line is the one the worker writes when a run ends with an error (`error[CODE]: …`). */
export function isRunErrorLine(text: string): boolean {
  return RUN_ERROR_LINE.test(text);
}
const RUN_ERROR_LINE = /^error\[[A-Z_]+\]: /;

/** Prints a run's error once, with its hint; prefixed with the host when several hosts ran. */
export function printRunError(run: Pick<JobView['runs'][number], 'host' | 'errorCode' | 'errorMessage' | 'errorHint'>, withHost: boolean): void {
  if (!run.errorCode) return;
  process.stderr.write(formatError({ code: run.errorCode, message: run.errorMessage ?? '', hint: run.errorHint }, withHost ? run.host : undefined));
}

/** The exit code of a finished job, by the CLI contract. */
export function exitCodeOf(job: JobView): number {
  if (job.status === 'cancelled' || job.runs.some((r) => r.status === 'cancelled')) return 130;
  if (job.runs.length === 1) {
    const r = job.runs[0]!;
    if (r.status === 'succeeded') return 0;
    if (r.status === 'timed_out') return 124;
    if (r.errorCode) return 255;
    if (r.exitCode !== null) return r.exitCode;
    if (r.signal) return 128 + (SIGNAL_NUMBERS[r.signal] ?? 0);
    return 1;
  }
  return job.runs.every((r) => r.status === 'succeeded') ? 0 : 1;
}

interface RunFlags {
  host: string[];
  tag?: string;
  script?: string;
  command?: string;
  interpreter: string;
  mode?: string;
  timeout?: string;
  concurrency?: string;
  env: string[];
  input?: string;
  detach?: boolean;
  sudo?: boolean;
  scriptName?: string;
  secret: string[];
  globalVars?: boolean;
}

/**
 * The jobs of one chain: a job and the follow-up jobs below it. Membership is learnt as
 * jobs show up (a follow-up job is always created after its parent).
 */
class FollowupChain {
  private readonly ids: Set<number>;
  constructor(
    private readonly db: Database.Database,
    private readonly root: number,
    private readonly onJoin: (jobId: number) => void,
  ) {
    this.ids = new Set([root]);
  }

  get size(): number {
    return this.ids.size;
  }

  /** Whether a job belongs to the chain. */
  has(jobId: number): boolean {
    if (this.ids.has(jobId)) return true;
    const parent = this.db.prepare('select parent_job_id from jobs where id = ?').pluck().get(jobId) as number | null | undefined;
    if (parent === null || parent === undefined || !this.has(parent)) return false;
    this.ids.add(jobId);
    this.onJoin(jobId);
    return true;
  }

  /** Jobs of the chain not yet ended (learning the new ones). */
  open(): number {
    const rows = this.db
      .prepare(
        `with recursive t(id, d) as (select ?, 0 union all select j.id, t.d + 1 from jobs j join t on j.parent_job_id = t.id where t.d < 100)
         select j.id, j.status from t join jobs j on j.id = t.id`,
      )
      .all(this.root) as { id: number; status: string }[];
    for (const r of rows) this.has(r.id);
    return rows.filter((r) => r.status === 'queued' || r.status === 'running').length;
  }
}

/** The follow-up jobs of a chain (root excluded), parents first, with what fired each. */
async function followupJobs(ctx: CliContext, rootId: number): Promise<{ job: JobView; parentJobId: number | null; trigger: JobTreeNode['trigger'] }[]> {
  const out: { job: JobView; parentJobId: number | null; trigger: JobTreeNode['trigger'] }[] = [];
  const queue: JobTreeNode[] = [...(await ctx.call('jobs.tree', { id: rootId })).children];
  while (queue.length) {
    const n = queue.shift()!;
    out.push({ job: await ctx.call('jobs.get', { id: n.job.id }), parentJobId: n.job.parentJobId, trigger: n.trigger });
    queue.push(...n.children);
  }
  return out;
}

/**
 * Prints how a finished job went, as `run` reports it (a JSON line per run with --json, else the
 * runs' errors with their hints and, for several hosts, the job's counts), then its follow-up
 * jobs; and sets the exit code.
 */
function reportJob(ctx: CliContext, job: JobView, followups: { job: JobView; parentJobId: number | null; trigger: JobTreeNode['trigger'] }[]): void {
  const several = job.runs.length > 1;
  if (ctx.json) {
    for (const r of job.runs) process.stdout.write(`${JSON.stringify(runJson(r))}\n`);
    // Follow-up runs after the job's own, each saying which run fired it.
    for (const f of followups) for (const r of f.job.runs) process.stdout.write(`${JSON.stringify({ ...runJson(r), parentJobId: f.parentJobId, trigger: f.trigger })}\n`);
  } else {
    for (const r of job.runs) if (r.errorCode) printRunError(r, several);
    if (several) say(`job ${job.id}: ${job.status} (${Object.entries(job.counts).map(([k, v]) => `${v} ${k}`).join(', ')})`);
    for (const f of followups) {
      say(`follow-up job ${f.job.id} (${f.job.scriptName ?? 'script'}, on ${f.trigger?.on ?? '?'} of ${f.trigger?.host ?? '?'}): ${f.job.status}`);
      for (const r of f.job.runs) if (r.errorCode) printRunError(r, true);
    }
  }
  if (!job.runs.length) throw new CroniumError('INTERNAL', `job ${job.id} has no runs`);
  ctx.exitCode = exitCodeOf(job);
}

/** A chunk as the printer takes it: base64 from the app's API or the store's pages, bytes from this process's own runs. */
type LogChunk = Omit<EventPayload<'run.log'>['chunks'][number], 'data'> & { data: string | Buffer };
/** A live batch: the API's run.log event, or this process's own (events.onRunLog). */
type LiveBatch = { runId: number; host: string; chunks: LogChunk[]; gapFrom?: number };

/**
 * Prints runs' logs in order, each chunk once, with nothing lost: live batches arrive from the
 * log service, which drops what a slow subscriber has pending and says so (`gapFrom`); the
 * missing chunks are then read back from the store (runs.logs) before the live ones go on. At
 * the end, `finish` prints whatever came after the last live batch.
 */
class LogPrinter {
  readonly #last = new Map<number, number>();
  readonly #hosts = new Map<number, string>();
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly read: (runId: number, fromSeq: number) => Promise<LogChunk[]>,
    private readonly emit: (host: string, chunk: LogChunk) => void,
  ) {}

  push(e: LiveBatch): void {
    this.#hosts.set(e.runId, e.host);
    this.#chain = this.#chain.then(() => this.#handle(e)).catch(() => undefined);
  }

  async #handle(e: LiveBatch): Promise<void> {
    const firstLive = e.chunks[0]?.seq;
    if (e.gapFrom !== undefined || (firstLive !== undefined && firstLive > (this.#last.get(e.runId) ?? 0) + 1)) {
      await this.#catchUp(e.runId, firstLive !== undefined ? firstLive - 1 : Number.MAX_SAFE_INTEGER);
    }
    for (const c of e.chunks) this.#print(e.runId, c);
  }

  #print(runId: number, c: LogChunk): void {
    if (c.seq <= (this.#last.get(runId) ?? 0)) return;
    this.emit(this.#hosts.get(runId) ?? '', c);
    this.#last.set(runId, c.seq);
  }

  /** Prints the stored chunks after the last printed one, up to `upTo`. */
  async #catchUp(runId: number, upTo: number): Promise<void> {
    for (;;) {
      const from = (this.#last.get(runId) ?? 0) + 1;
      if (from > upTo) return;
      const page = await this.read(runId, from);
      for (const c of page) if (c.seq <= upTo) this.#print(runId, c);
      if (page.length === 0 || page[page.length - 1]!.seq >= upTo) return;
    }
  }

  /** Waits for what is queued, then prints each run's rest from the store. */
  async finish(runs: { id: number; host: string }[]): Promise<void> {
    await this.#chain;
    for (const r of runs) {
      this.#hosts.set(r.id, r.host);
      await this.#catchUp(r.id, Number.MAX_SAFE_INTEGER);
    }
  }
}

/**
 * A run through the running app: the app executes it, this process streams its log from the
 * app's events and prints the outcome as a run of its own would. Follow-up jobs run in the app.
 */
async function runThroughApp(app: AppClient, start: StartJob, ctx: CliContext): Promise<void> {
  let jobId: number | undefined;
  let prefix = new Prefixer(false);
  let finished: () => void = () => undefined;
  const done = new Promise<void>((r) => (finished = r));
  const early: [EventName, unknown][] = [];
  const printer = new LogPrinter(
    async (runId, fromSeq) => (await app.call('runs.logs', { runId, fromSeq, limit: 10_000 })).chunks,
    (host, c) => printChunk(prefix, host, c),
  );
  const handle = (event: EventName, payload: unknown) => {
    if (event === 'run.log') {
      const e = payload as EventPayload<'run.log'>;
      if (e.jobId !== jobId || ctx.json) return;
      printer.push(e);
    } else if (event === 'run.status') {
      const e = payload as EventPayload<'run.status'>;
      if (e.jobId === jobId && e.jobStatus) finished();
    }
  };
  const poll = setInterval(() => {
    if (jobId === undefined) return;
    app.call('jobs.get', { id: jobId }).then(
      (j) => {
        if (j.status !== 'queued' && j.status !== 'running') finished();
      },
      () => finished(),
    );
  }, 500);
  const onSigint = () => {
    if (jobId === undefined) process.exit(130);
    say(`cronium: cancelling job ${jobId} in the app`);
    app.call('jobs.cancel', { id: jobId }).catch(() => process.exit(130));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    app.subscribe(['run.log', 'run.status'], (event, payload) => (jobId === undefined ? early.push([event, payload]) : handle(event, payload)));
    const started = await app.call(start.method, start.args);
    jobId = started.jobId;
    prefix = new Prefixer(started.runIds.length > 1);
    for (const [event, payload] of early.splice(0)) handle(event, payload);
    await done;
    const job = await app.call('jobs.get', { id: jobId });
    if (!ctx.json) await printer.finish(job.runs.map((r) => ({ id: r.id, host: r.host })));
    prefix.flush();
    reportJob(ctx, job, []);
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    app.close();
  }
}

/** Prints one log chunk under its host's prefix; the run's final error line is printed once, with its hint, at the end. */
function printChunk(prefix: Prefixer, host: string, c: LogChunk): void {
  const text = (typeof c.data === 'string' ? Buffer.from(c.data, 'base64') : c.data).toString('utf8');
  if (c.stream === 'system' && isRunErrorLine(text)) return;
  prefix.write(host, c.stream === 'stdout' ? 'stdout' : 'stderr', c.stream === 'system' ? `cronium: ${text}` : text);
}

/** The call that queues a job: a new one (`jobs.run`) or a re-run of an earlier one (`jobs.rerun`). */
export interface StartJob {
  method: 'jobs.run' | 'jobs.rerun' | 'jobs.push';
  args: Record<string, unknown>;
}

/**
 * Queues a job and runs it to the end, streaming its output: through the running app when there
 * is one, else in this process (its follow-ups too); then prints the outcome and sets the exit code.
 */
export async function executeJob(ctx: CliContext, start: StartJob, concurrency?: number): Promise<void> {
  // When the app (or `cronium serve`) runs on this data dir, the run goes through it: its warm
  // connections, its one worker (CRONIUM_USE_APP=never runs here; always requires the app).
  // With --server, the team server runs it (as the signed-in person) and this process follows it.
  if (ctx.server !== undefined) return runThroughApp(await ctx.remote(), start, ctx);
  const useApp = useAppSetting();
  const app = useApp === 'never' ? undefined : await connectApp(ctx.dataDir);
  if (!app && useApp === 'always') throw new CroniumError('APP_NOT_RUNNING', `no Cronium app serves ${ctx.dataDir}`);
  if (app) return runThroughApp(app, start, ctx);
  await loadCore();
  const core = ctx.open();
  const { jobId, runIds } = await ctx.call(start.method, start.args);
  const several = runIds.length > 1;
  const prefix = new Prefixer(several);
  // The follow-up jobs that this job's runs fire run here too (the job's chain), their output prefixed.
  const chain = new FollowupChain(core.store.sqlite, jobId, (id) => {
    if (!ctx.json) say(`cronium: follow-up job ${id} queued`);
  });
  const followupPrefix = new Prefixer(true);
  const read = async (runId: number, fromSeq: number) => (await ctx.call('runs.logs', { runId, fromSeq, limit: 10_000 })).chunks;
  const printer = new LogPrinter(read, (host, c) => printChunk(prefix, host, c));
  const followupPrinter = new LogPrinter(read, (host, c) => printChunk(followupPrefix, host, c));
  const offs: (() => void)[] = [];
  // The data dir's disk filled up: nothing more can be recorded, so stop here with the reason
  // (the runner stops a script whose channel closes; the next start marks these runs lost).
  offs.push(
    core.logs.onFull((e) => {
      reportError(e, ctx.json);
      process.exit(exitCodeForFull);
    }),
  );
  if (!ctx.json) {
    offs.push(
      // This process's own runs: their output as bytes (no base64 on the way to the terminal).
      core.events.onRunLog((e) => {
        if (!chain.has(e.jobId)) return;
        (e.jobId === jobId ? printer : followupPrinter).push(e);
      }),
    );
  }
  let finished: () => void = () => undefined;
  const done = new Promise<void>((r) => (finished = r));
  offs.push(
    core.events.on('run.status', (e) => {
      if (e.jobStatus && chain.has(e.jobId) && chain.open() === 0) finished();
    }),
  );
  const { Worker } = await import('../../core/exec/worker');
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: ownerName('cli'), jobId, followups: true, ...core.runHooks, globalLimit: Math.max(1, Math.min(runIds.length, concurrency ?? 64)), perHostLimit: core.settings.execution().perHostConcurrency, maxOutputBytes: () => core.settings.execution().maxOutputBytes });
  const detach = core.jobs.attach(worker);
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      say(`cronium: cancelling job ${jobId} (Ctrl-C again to quit at once)`);
      core.jobs.cancel(jobId).catch((e: unknown) => {
        // The job may have ended meanwhile; if the store cannot take the cancel, quit now.
        if (isDiskFull(e)) process.exit(130);
      });
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  // The job may also end without a final event (e.g. every run cancelled before it started).
  const poll = setInterval(() => {
    if (chain.open() === 0) finished();
  }, 500);
  try {
    worker.start();
    await done;
    await worker.idle();
  } finally {
    clearInterval(poll);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await worker.stop();
    detach();
    // The last live batch, which would go out ~16 ms after the last write: now.
    core.logs.deliverNow();
    offs.forEach((off) => off());
  }
  const job = await ctx.call('jobs.get', { id: jobId });
  if (!ctx.json) {
    // What came after the last live batch (or was dropped from a slow one), from the store.
    await printer.finish(job.runs.map((r) => ({ id: r.id, host: r.host })));
    await followupPrinter.finish([]);
  }
  prefix.flush();
  followupPrefix.flush();
  const followups = chain.size > 1 ? await followupJobs(ctx, jobId) : [];
  reportJob(ctx, job, followups);
}

/** Registers `run`. */
export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command('run')
    .description('run a script or command on hosts, streaming its output')
    .option('--host <name>', 'a host (repeatable)', collect, [])
    .option('--tag <tag>', 'every host with this tag')
    .option('--script <file>', "script file to run ('-': stdin)")
    .option('--command <str>', 'command to run (in the remote shell)')
    .option('--script-name <name>', 'a saved script (cronium scripts): its interpreter, and its follow-ups run too, in this process')
    .option('--interpreter <name>', 'bash | sh | python3 | node', 'bash')
    .option('--mode <mode>', 'auto | runner | direct (default: the execution.defaultMode setting, auto unless changed)')
    .option('--timeout <duration>', 'the script\'s timeout, e.g. 30s, 5m')
    .option('--concurrency <n>', 'hosts at once')
    .option('--env <K=V>', 'environment variable (repeatable; sent on stdin, never on a command line)', collect, [])
    .option('--secret <name>', 'a secret variable the script may read with get-var (repeatable; others are refused to it)', collect, [])
    .option('--global-vars', 'set-var writes global variables (shared by all hosts) instead of the host\'s own')
    .option('--input <json>', 'JSON input for the script (its stdin)')
    .option('--detach', 'runner mode: the script survives the connection (reattached after a restart)')
    .option('--sudo', "run the script as root, by each host's elevation setting (cronium hosts set NAME --elevation sudo|sudo-password|doas)")
    .action(async (o: RunFlags) => {
      let input: unknown;
      if (o.input !== undefined) {
        if (jsonTooDeep(o.input)) throw fieldError('input', `nests deeper than ${MAX_JSON_DEPTH} levels`);
        try {
          input = JSON.parse(o.input);
        } catch (e) {
          throw fieldError('input', `is not JSON: ${(e as Error).message}`);
        }
      }
      if (o.concurrency !== undefined && !/^\d+$/.test(o.concurrency)) throw fieldError('concurrency', `"${o.concurrency}" is not a whole number`);
      const args = {
        ...(o.host.length ? { hosts: o.host } : {}),
        ...(o.tag ? { tag: o.tag } : {}),
        ...(o.script !== undefined ? { script: readScript(o.script) } : {}),
        ...(o.command !== undefined ? { command: o.command } : {}),
        ...(o.scriptName !== undefined ? { scriptName: o.scriptName } : {}),
        interpreter: o.interpreter,
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
        ...(o.timeout !== undefined ? { timeoutMs: parseDuration(o.timeout) } : {}),
        ...(o.concurrency !== undefined ? { concurrency: Number(o.concurrency) } : {}),
        env: parseEnv(o.env),
        ...(input !== undefined ? { input } : {}),
        ...(o.detach ? { detach: true } : {}),
        ...(o.secret.length ? { secrets: o.secret } : {}),
        ...(o.globalVars ? { globalVars: true } : {}),
        ...(o.sudo ? { elevated: true } : {}),
      };
      await executeJob(ctx, { method: 'jobs.run', args }, args.concurrency);
    });
}

/** Registers `push`: one file to many hosts, verified and atomic, as a job like any run. */
export function registerPush(program: Command, ctx: CliContext): void {
  program
    .command('push')
    .description('send a file to hosts: written atomically (temp + rename), SHA-256 verified on each host, skipped where it is already there')
    .argument('<file>', 'the file to send')
    .requiredOption('--to <path>', 'absolute path on the hosts ("/etc/app/" puts it in that directory under its own name; {host} becomes each host\'s name)')
    .option('--host <name>', 'a host (repeatable)', collect, [])
    .option('--tag <tag>', 'every host with this tag')
    .option('--mode <octal>', 'permission bits on the hosts', '0644')
    .option('--owner <user[:group]>', 'owner on the hosts (needs --sudo, unless it is the SSH user)')
    .option('--sudo', "write it as root, by each host's elevation setting")
    .option('--concurrency <n>', 'hosts at once')
    .option('--retries <n>', 'retries of connection failures', '0')
    .action(async (file: string, o: { to: string; host: string[]; tag?: string; mode: string; owner?: string; sudo?: boolean; concurrency?: string; retries: string }) => {
      if (!/^0?[0-7]{3,4}$/.test(o.mode)) throw fieldError('mode', `"${o.mode}" is not an octal mode like 0644 or 755`);
      if (o.concurrency !== undefined && !/^\d+$/.test(o.concurrency)) throw fieldError('concurrency', `"${o.concurrency}" is not a whole number`);
      if (!/^\d+$/.test(o.retries)) throw fieldError('retries', `"${o.retries}" is not a whole number`);
      const args = {
        path: resolve(file),
        ...(o.host.length ? { hosts: o.host } : {}),
        ...(o.tag ? { tag: o.tag } : {}),
        to: o.to,
        mode: parseInt(o.mode, 8),
        ...(o.owner ? { owner: o.owner } : {}),
        ...(o.sudo ? { elevated: true } : {}),
        ...(o.concurrency !== undefined ? { concurrency: Number(o.concurrency) } : {}),
        retries: Number(o.retries),
      };
      await executeJob(ctx, { method: 'jobs.push', args }, args.concurrency);
    });
}
