/**
 * Jobs as the API sees them: `jobs.run` (validate, resolve hosts, enqueue), list, get with
 * runs, cancel, and run logs. Workers of this process register here, so that a run
 * enqueued or cancelled through the API reaches them at once; workers of other processes
 * see cancels at their next heartbeat (see requestCancel).
 */
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import type { JobComparison, JobPushArgs, JobRunArgs, JobSummary, JobTreeNode, JobView, RunView } from '../../shared/api';
import { CroniumError, fieldError, hintFor } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { BlobStore } from '../blobs/blob-store';
import type { HostService } from '../hosts/host-service';
import type { LogService } from '../logs/log-service';
import type { JobQueue, NewJob } from '../queue/job-queue';
import { OutputCompare, type CompareOptions } from './compare';
import { validateEnv } from './prelude';
import { requestCancel, type Worker } from './worker';

/** What jobs.push takes. */
type PushArgs = z.output<typeof JobPushArgs>;

type RunArgs = z.output<typeof JobRunArgs>;
type Door = 'cli' | 'desktop' | 'headless';

interface JobRowFull {
  id: number;
  kind: 'adhoc' | 'schedule' | 'followup';
  status: z.output<typeof JobSummary>['status'];
  interpreter: 'bash' | 'sh' | 'python3' | 'node';
  mode: 'auto' | 'runner' | 'direct';
  schedule_name: string | null;
  requested_by: string;
  timeout_ms: number | null;
  concurrency: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  script_body: string;
  parent_job_id: number | null;
  script_name: string | null;
  trigger_run_id: number | null;
  trigger_on: 'success' | 'failure' | 'always' | 'condition' | null;
}

interface RunRow {
  id: number;
  job_id: number;
  host_name: string;
  status: z.output<typeof RunView>['status'];
  attempt: number;
  exit_code: number | null;
  signal: string | null;
  mode: 'runner' | 'direct' | null;
  mode_reason: string | null;
  runner_version: string | null;
  error_code: string | null;
  error_message: string | null;
  error_hint: string | null;
  output: string | null;
  condition: number | null;
  helper_transport: 'tunnel' | 'in-band' | 'none' | null;
  transport: 'builtin' | 'openssh' | null;
  t_connect_ms: number | null;
  t_deploy_ms: number | null;
  t_start_ms: number | null;
  t_exec_ms: number | null;
  t_total_ms: number | null;
  queued_at: number;
  started_at: number | null;
  finished_at: number | null;
}

/** The job API over the queue and the logs. */
export class ExecService {
  private readonly db: Database.Database;
  private readonly workers = new Set<Worker>();
  private readonly outputs: OutputCompare;

  constructor(
    private readonly deps: { db: Database.Database; queue: JobQueue; logs: LogService; hosts: HostService; audit: AuditLog; blobs: BlobStore },
  ) {
    this.db = deps.db;
    this.outputs = new OutputCompare({ db: deps.db, logs: deps.logs });
  }

  /** A job's finished runs grouped by exit code and (normalised) output, largest group first. */
  compare(jobId: number, opts: CompareOptions): JobComparison {
    return this.outputs.compare(jobId, opts);
  }

  /** A unified diff of a run's output against another run (default: the largest group it is not in). */
  diff(runId: number, against: number | undefined, opts: CompareOptions) {
    return this.outputs.diff(runId, against, opts);
  }

  /** Re-runs a job on the hosts given, or on the hosts outside its largest output group. */
  rerunJob(args: { id: number; hosts?: string[] | undefined; differing: boolean } & CompareOptions, door: Door): { jobId: number; runIds: number[] } {
    if (args.differing && args.hosts?.length) throw fieldError('hosts', 'give hosts or --differing, not both');
    const hosts = args.differing ? this.outputs.differing(args.id, args) : (args.hosts ?? (this.db.prepare('select host_name from runs where job_id = ? order by id').pluck().all(args.id) as string[]));
    if (args.differing && hosts.length === 0) throw new CroniumError('CONFLICT', `every finished run of job ${args.id} gave the same output: no host differs`, 'compare it with: cronium jobs compare ' + String(args.id));
    return this.rerun(args.id, hosts, door);
  }

  /** Lets a worker of this process hear about new and cancelled jobs at once. */
  attach(worker: Worker): () => void {
    this.workers.add(worker);
    return () => this.workers.delete(worker);
  }

  /** Queues a job; returns its id and its runs' ids. */
  run(args: RunArgs, door: Door): { jobId: number; runIds: number[] } {
    validateEnv(args.env);
    // A saved script: its body and interpreter, and its id (so its follow-ups fire).
    const saved =
      args.scriptName === undefined
        ? undefined
        : (this.db.prepare('select id, interpreter, body, elevated, files from scripts where name = ?').get(args.scriptName) as { id: number; interpreter: RunArgs['interpreter']; body: string; elevated: number; files: string | null } | undefined);
    if (args.scriptName !== undefined && !saved) {
      throw new CroniumError('NOT_FOUND', `no saved script named "${args.scriptName}"`, 'list them with: cronium scripts list', { fields: [{ field: 'scriptName', message: 'no such script' }] });
    }
    if (args.command !== undefined && args.interpreter !== 'bash' && args.interpreter !== 'sh') {
      throw fieldError('interpreter', 'a command runs in a shell (bash or sh): use a script for python3 or node');
    }
    const hosts = this.targetHosts(args);
    const job: NewJob = {
      kind: 'adhoc',
      requestedBy: door,
      interpreter: saved?.interpreter ?? args.interpreter,
      scriptBody: saved?.body ?? args.command ?? args.script!,
      ...(saved ? { scriptId: saved.id } : {}),
      mode: args.mode ?? 'auto',
      hosts,
      target: args.tag ? { tags: [args.tag] } : { hosts: hosts.map((h) => h.name) },
      ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
      ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
      ...(Object.keys(args.env).length ? { env: args.env } : {}),
      ...(args.input !== undefined ? { input: args.input } : {}),
      maxAttempts: args.retries + 1,
      varScope: args.globalVars ? 'global' : 'host',
      secretNames: args.secrets,
      elevated: args.elevated === true || saved?.elevated === 1,
      files: saved?.files ?? null,
    };
    // One transaction: no worker (of any process) can claim a run before it is marked detached.
    const jobId = this.db
      .transaction(() => {
        const id = this.deps.queue.enqueue(job);
        if (args.detach) this.db.prepare('update runs set detached = 1 where job_id = ?').run(id);
        return id;
      })
      .immediate();
    const runIds = this.db.prepare('select id from runs where job_id = ? order by id').pluck().all(jobId) as number[];
    this.deps.audit.recordSync('job.run', String(jobId), { hosts: hosts.map((h) => h.name), mode: args.mode, interpreter: job.interpreter, ...(job.elevated ? { elevated: true } : {}), ...(args.scriptName !== undefined ? { script: args.scriptName } : {}), ...(args.detach ? { detach: true } : {}) });
    for (const w of this.workers) w.poke();
    return { jobId, runIds };
  }

  /** The hosts a job names: by names (each must exist) or every host with a tag. */
  private targetHosts(args: { hosts?: string[] | undefined; tag?: string | undefined }): { id: number; name: string }[] {
    let hosts: { id: number; name: string }[];
    if (args.tag) {
      hosts = this.deps.hosts.list({ tag: args.tag }).map((h) => ({ id: h.id, name: h.name }));
      if (hosts.length === 0) throw fieldError('tag', `no host has the tag "${args.tag}"`, 'see the tags with: cronium hosts list');
    } else {
      const names = [...new Set(args.hosts ?? [])];
      hosts = names.map((n) => {
        try {
          const h = this.deps.hosts.get(n);
          return { id: h.id, name: h.name };
        } catch {
          throw fieldError('hosts', `no host named "${n}"`, 'add it with: cronium hosts add');
        }
      });
    }
    return hosts;
  }

  /**
   * Queues a push job: the file at `path` (on this machine) to `to` on every host, one run per
   * host (push.ts). The file's bytes are kept as blobs/<sha256> in the data dir, so that any
   * worker can send them and a re-run sends the same bytes.
   */
  async push(args: PushArgs, door: Door): Promise<{ jobId: number; runIds: number[] }> {
    // The hosts first: a bad name is refused before a large file is copied.
    const hosts = this.targetHosts(args);
    const { name, sha256, size } = await this.deps.blobs.add(args.path);
    const to = args.to.endsWith('/') ? `${args.to}${name}` : args.to;
    const mode = args.mode ?? 0o644;
    const push = { name, sha256, size, to, mode, ...(args.owner ? { owner: args.owner } : {}) };
    const job: NewJob = {
      kind: 'push',
      requestedBy: door,
      interpreter: 'sh',
      scriptBody: `# cronium push ${name} (${size} bytes, sha256 ${sha256}) to ${to}, mode ${mode.toString(8)}${args.owner ? `, owner ${args.owner}` : ''}\n`,
      mode: 'direct',
      hosts,
      target: args.tag ? { tags: [args.tag] } : { hosts: hosts.map((h) => h.name) },
      ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
      maxAttempts: args.retries + 1,
      elevated: args.elevated === true,
      push,
    };
    const jobId = this.deps.queue.enqueue(job);
    const runIds = this.db.prepare('select id from runs where job_id = ? order by id').pluck().all(jobId) as number[];
    this.deps.audit.recordSync('job.push', String(jobId), { hosts: hosts.map((h) => h.name), file: name, sha256, bytes: size, to, ...(args.elevated ? { elevated: true } : {}) });
    for (const w of this.workers) w.poke();
    return { jobId, runIds };
  }

  /**
   * Runs a finished job's script again, as it ran (script, interpreter, mode, timeout, env,
   * input, helper scopes), on some of its hosts: a new ad-hoc job.
   */
  rerun(jobId: number, hostNames: string[], door: Door): { jobId: number; runIds: number[] } {
    const j = this.db.prepare('select * from jobs where id = ?').get(jobId) as
      | { interpreter: NewJob['interpreter']; script_body: string; script_id: number | null; mode: NewJob['mode']; timeout_ms: number | null; concurrency: number | null; env: string | null; input: string | null; max_attempts: number; retry_script_failures: number; var_scope: 'host' | 'global'; secret_names: string | null; elevated: number; kind: NewJob['kind']; push: string | null; files: string | null }
      | undefined;
    if (!j) throw new CroniumError('NOT_FOUND', `no job ${jobId}`, 'list jobs with: cronium jobs list');
    const ran = new Set(this.db.prepare('select host_name from runs where job_id = ?').pluck().all(jobId) as string[]);
    const names = [...new Set(hostNames)];
    if (names.length === 0) throw fieldError('hosts', 'no host to run on', 'name hosts of the job, or use --differing after a compare that found differences');
    const hosts = names.map((n) => {
      if (!ran.has(n)) throw fieldError('hosts', `job ${jobId} did not run on "${n}"`, 'a re-run takes hosts of the job it repeats');
      try {
        const h = this.deps.hosts.get(n);
        return { id: h.id, name: h.name };
      } catch {
        throw fieldError('hosts', `"${n}" is no longer in the inventory`, 'add it again with: cronium hosts add');
      }
    });
    const job: NewJob = {
      kind: j.kind === 'push' ? 'push' : 'adhoc',
      ...(j.push !== null ? { push: JSON.parse(j.push) as NonNullable<NewJob['push']> } : {}),
      files: j.files,
      requestedBy: door,
      interpreter: j.interpreter,
      scriptBody: j.script_body,
      ...(j.script_id !== null ? { scriptId: j.script_id } : {}),
      mode: j.mode,
      hosts,
      target: { hosts: hosts.map((h) => h.name) },
      ...(j.timeout_ms !== null ? { timeoutMs: j.timeout_ms } : {}),
      ...(j.concurrency !== null ? { concurrency: j.concurrency } : {}),
      ...(j.env !== null ? { env: JSON.parse(j.env) as Record<string, string> } : {}),
      ...(j.input !== null ? { input: JSON.parse(j.input) as unknown } : {}),
      maxAttempts: j.max_attempts,
      retryScriptFailures: j.retry_script_failures === 1,
      varScope: j.var_scope,
      secretNames: j.secret_names !== null ? (JSON.parse(j.secret_names) as string[]) : [],
      elevated: j.elevated === 1,
    };
    const id = this.deps.queue.enqueue(job);
    const runIds = this.db.prepare('select id from runs where job_id = ? order by id').pluck().all(id) as number[];
    this.deps.audit.recordSync('job.rerun', String(id), { of: jobId, hosts: hosts.map((h) => h.name) });
    for (const w of this.workers) w.poke();
    return { jobId: id, runIds };
  }

  /** The hosts a schedule's target names now (unknown names are skipped), for the scheduler. */
  resolveTargets(target: { hosts?: string[]; tags?: string[] }): { id: number; name: string }[] {
    const out = new Map<string, number>();
    for (const name of target.hosts ?? []) {
      try {
        const h = this.deps.hosts.get(name);
        out.set(h.name, h.id);
      } catch {
        // Removed since the schedule was made: nothing to run there.
      }
    }
    for (const tag of target.tags ?? []) for (const h of this.deps.hosts.list({ tag })) out.set(h.name, h.id);
    return [...out].map(([name, id]) => ({ id, name }));
  }

  /** Jobs, newest first. */
  list(filter: { status?: string | undefined; host?: string | undefined; schedule?: string | undefined; since?: number | undefined; until?: number | undefined; limit: number }): z.output<typeof JobSummary>[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status) {
      where.push('j.status = ?');
      params.push(filter.status);
    }
    if (filter.host) {
      // A host of the inventory: its runs by host id (runs_host_finished_idx), a few rows to probe
      // instead of a scan of every job. A removed host's runs keep only its name.
      const hostId = this.db.prepare('select id from hosts where name = ?').pluck().get(filter.host) as number | undefined;
      if (hostId !== undefined) {
        where.push('j.id in (select r.job_id from runs r where r.host_id = ?)');
        params.push(hostId);
      } else {
        where.push('j.id in (select r.job_id from runs r where r.host_id is null and r.host_name = ?)');
        params.push(filter.host);
      }
    }
    if (filter.schedule) {
      where.push('s.name = ?');
      params.push(filter.schedule);
    }
    // Job ids grow with created_at, and jobs_created_idx bounds the window.
    if (filter.since !== undefined) {
      where.push('j.created_at >= ?');
      params.push(filter.since);
    }
    if (filter.until !== undefined) {
      where.push('j.created_at < ?');
      params.push(filter.until);
    }
    const rows = this.db
      .prepare(`select j.*, s.name as schedule_name, sc.name as script_name from jobs j left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id ${where.length ? `where ${where.join(' and ')}` : ''} order by j.id desc limit ?`)
      .all(...params, filter.limit) as JobRowFull[];
    return rows.map((r) => this.summary(r));
  }

  /** One job with its runs. */
  get(id: number): z.output<typeof JobView> {
    const row = this.db.prepare('select j.*, s.name as schedule_name, sc.name as script_name from jobs j left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id where j.id = ?').get(id) as JobRowFull | undefined;
    if (!row) throw new CroniumError('NOT_FOUND', `no job ${id}`, 'list them with: cronium jobs list');
    const runs = (this.db.prepare('select * from runs where job_id = ? order by id').all(id) as RunRow[]).map(toRunView);
    return { ...this.summary(row), script: row.script_body, runs };
  }

  /**
   * Cancels a job: queued runs end, running ones are stopped by their workers. The follow-up
   * jobs its runs fired that have not ended are cancelled with it, down the chain, and its
   * runs still going fire no more (see followups.ts).
   */
  cancel(id: number): { id: number; status: z.output<typeof JobSummary>['status']; stopping: number[] } {
    this.get(id);
    let stopping: number[] = [];
    for (const jobId of [id, ...this.openDescendants(id)]) {
      const s = this.deps.queue.cancel(jobId);
      // The request also stops the job's runs still going from firing follow-ups.
      if (s.length) {
        requestCancel(this.db, jobId);
        for (const w of this.workers) w.cancelJob(jobId);
      }
      if (jobId === id) stopping = s;
    }
    this.deps.audit.recordSync('job.cancel', String(id));
    const status = this.db.prepare('select status from jobs where id = ?').pluck().get(id) as z.output<typeof JobSummary>['status'];
    return { id, status, stopping };
  }

  /** The unfinished follow-up jobs below a job, parents first. */
  private openDescendants(id: number): number[] {
    return this.db
      .prepare(
        `with recursive t(id, d) as (select id, 0 from jobs where parent_job_id = ? union all select j.id, t.d + 1 from jobs j join t on j.parent_job_id = t.id where t.d < 100)
         select t.id from t join jobs j on j.id = t.id where j.status in ('queued', 'running') order by t.d, t.id`,
      )
      .pluck()
      .all(id) as number[];
  }

  /** The chain a job belongs to, from its root: each job with the follow-up jobs its runs fired. */
  tree(id: number): JobTreeNode {
    this.get(id);
    const rootId = this.db
      .prepare(
        `with recursive up(id, parent, d) as (select id, parent_job_id, 0 from jobs where id = ?
           union all select j.id, j.parent_job_id, up.d + 1 from jobs j join up on j.id = up.parent where up.d < 100)
         select id from up order by d desc limit 1`,
      )
      .pluck()
      .get(id) as number;
    const rows = this.db
      .prepare(
        `with recursive t(id, d) as (select ?, 0 union all select j.id, t.d + 1 from jobs j join t on j.parent_job_id = t.id where t.d < 100)
         select j.*, s.name as schedule_name, sc.name as script_name, r.host_name as trigger_host from t join jobs j on j.id = t.id
           left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id left join runs r on r.id = j.trigger_run_id
         order by t.d, j.id`,
      )
      .all(rootId) as (JobRowFull & { trigger_host: string | null })[];
    const nodes = new Map<number, JobTreeNode>();
    for (const r of rows) {
      const node: JobTreeNode = {
        job: this.summary(r),
        trigger: r.trigger_on !== null && r.trigger_run_id !== null ? { on: r.trigger_on, runId: r.trigger_run_id, host: r.trigger_host ?? '' } : null,
        children: [],
      };
      nodes.set(r.id, node);
      if (r.id !== rootId && r.parent_job_id !== null) nodes.get(r.parent_job_id)?.children.push(node);
    }
    return nodes.get(rootId)!;
  }

  /** A run's log chunks (base64). */
  logs(args: { runId: number; fromSeq?: number; tail?: number; limit: number }) {
    const run = this.db.prepare('select status from runs where id = ?').get(args.runId) as { status: RunRow['status'] } | undefined;
    if (!run) throw new CroniumError('NOT_FOUND', `no run ${args.runId}`);
    const chunks = args.tail !== undefined ? this.deps.logs.tail(args.runId, args.tail) : this.deps.logs.read(args.runId, args.fromSeq ?? 1, args.limit);
    return {
      runId: args.runId,
      status: run.status,
      chunks: chunks.map((c) => ({ seq: c.seq, stream: c.stream, ts: c.ts, data: c.data.toString('base64') })),
      lastSeq: this.deps.logs.lastStoredSeq(args.runId),
    };
  }

  private summary(r: JobRowFull): z.output<typeof JobSummary> {
    const counts: Record<string, number> = {};
    for (const c of this.db.prepare('select status, count(*) as n from runs where job_id = ? group by status').all(r.id) as { status: string; n: number }[]) counts[c.status] = c.n;
    const hosts = this.db.prepare('select host_name from runs where job_id = ? order by id').pluck().all(r.id) as string[];
    return {
      id: r.id,
      kind: r.kind,
      status: r.status,
      interpreter: r.interpreter,
      mode: r.mode,
      schedule: r.schedule_name,
      requestedBy: r.requested_by,
      timeoutMs: r.timeout_ms,
      concurrency: r.concurrency,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      counts,
      hosts,
      parentJobId: r.parent_job_id,
      // A schedule's own script (`schedule:<name>`) is not a saved script.
      scriptName: r.script_name !== null && !r.script_name.includes(':') ? r.script_name : null,
    };
  }
}

function toRunView(r: RunRow): z.output<typeof RunView> {
  return {
    id: r.id,
    jobId: r.job_id,
    host: r.host_name,
    status: r.status,
    attempt: r.attempt,
    exitCode: r.exit_code,
    signal: r.signal,
    mode: r.mode,
    modeReason: r.mode_reason,
    runnerVersion: r.runner_version,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    errorHint: r.error_code === null ? null : (r.error_hint ?? hintFor(r.error_code, { host: r.host_name }) ?? null),
    output: r.output === null ? null : (JSON.parse(r.output) as unknown),
    condition: r.condition === null ? null : r.condition === 1,
    helperTransport: r.helper_transport,
    transport: r.transport,
    timings: { connect: r.t_connect_ms, deploy: r.t_deploy_ms, start: r.t_start_ms, exec: r.t_exec_ms, total: r.t_total_ms },
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}
