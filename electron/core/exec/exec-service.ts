/**
 * Jobs as the API sees them: `jobs.run` (validate, resolve hosts, enqueue), list, get with
 * runs, cancel, and run logs. Workers of this process register here, so that a run
 * enqueued or cancelled through the API reaches them at once; workers of other processes
 * see cancels at their next heartbeat (see requestCancel).
 */
import { requester } from '../accounts/caller';
import { sql, type SQL } from 'drizzle-orm';
import type { z } from 'zod';
import type { JobComparison, JobPushArgs, JobRunArgs, JobSummary, JobTreeNode, JobView, RunView } from '../../shared/api';
import { CroniumError, fieldError, hintFor } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { BlobStore } from '../blobs/blob-store';
import type { HostService } from '../hosts/host-service';
import type { LogService } from '../logs/log-service';
import type { NewJob, Queue } from '../queue/job-queue';
import { asBool, asJson, type DataStore } from '../db/store';
import type { CompareOptions, OutputCompare } from './compare';
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
  requested_by_person: string | null;
  fire_at: number | null;
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
  output: unknown;
  condition: unknown;
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
  private readonly store: DataStore;
  private readonly workers = new Set<Worker>();
  private readonly outputs: OutputCompare;

  constructor(
    private readonly deps: { store: DataStore; queue: Queue; logs: LogService; hosts: HostService; audit: AuditLog; blobs: BlobStore; compare: OutputCompare },
  ) {
    this.store = deps.store;
    this.outputs = deps.compare;
  }

  /** The ids of a job's runs, in order. */
  private async runIds(jobId: number): Promise<number[]> {
    return (await this.store.rows<{ id: number }>(sql`select id from runs where job_id = ${jobId} order by id`)).map((r) => Number(r.id));
  }

  /** A job's finished runs grouped by exit code and (normalised) output, largest group first. */
  compare(jobId: number, opts: CompareOptions): Promise<JobComparison> {
    return this.outputs.compare(jobId, opts);
  }

  /** A unified diff of a run's output against another run (default: the largest group it is not in). */
  diff(runId: number, against: number | undefined, opts: CompareOptions) {
    return this.outputs.diff(runId, against, opts);
  }

  /** Re-runs a job on the hosts given, or on the hosts outside its largest output group. */
  async rerunJob(args: { id: number; hosts?: string[] | undefined; differing: boolean } & CompareOptions, door: Door): Promise<{ jobId: number; runIds: number[] }> {
    if (args.differing && args.hosts?.length) throw fieldError('hosts', 'give hosts or --differing, not both');
    const hosts = args.differing ? await this.outputs.differing(args.id, args) : (args.hosts ?? (await this.store.rows<{ h: string }>(sql`select host_name as h from runs where job_id = ${args.id} order by id`)).map((r) => r.h));
    if (args.differing && hosts.length === 0) throw new CroniumError('CONFLICT', `every finished run of job ${args.id} gave the same output: no host differs`, 'compare it with: cronium jobs compare ' + String(args.id));
    return this.rerun(args.id, hosts, door);
  }

  /** Lets a worker of this process hear about new and cancelled jobs at once. */
  attach(worker: Worker): () => void {
    this.workers.add(worker);
    return () => this.workers.delete(worker);
  }

  /** Queues a job; returns its id and its runs' ids. */
  async run(args: RunArgs, door: Door): Promise<{ jobId: number; runIds: number[] }> {
    validateEnv(args.env);
    // A saved script: its body and interpreter, and its id (so its follow-ups fire).
    const saved =
      args.scriptName === undefined
        ? undefined
        : (await this.store.rows<{ id: number; interpreter: RunArgs['interpreter']; body: string; elevated: unknown; files: unknown }>(sql`select id, interpreter, body, elevated, files from scripts where name = ${args.scriptName}`))[0];
    if (args.scriptName !== undefined && !saved) {
      throw new CroniumError('NOT_FOUND', `no saved script named "${args.scriptName}"`, 'list them with: cronium scripts list', { fields: [{ field: 'scriptName', message: 'no such script' }] });
    }
    if (args.command !== undefined && args.interpreter !== 'bash' && args.interpreter !== 'sh') {
      throw fieldError('interpreter', 'a command runs in a shell (bash or sh): use a script for python3 or node');
    }
    const hosts = await this.targetHosts(args);
    const job: NewJob = {
      kind: 'adhoc',
      requestedBy: door,
      ...requester(),
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
      elevated: args.elevated === true || asBool(saved?.elevated) === true,
      files: filesText(saved?.files),
      // Set as the runs are queued: no worker (of any process or server) can claim one before.
      ...(args.detach ? { detached: true } : {}),
    };
    const jobId = await this.deps.queue.enqueue(job);
    const runIds = await this.runIds(jobId);
    await this.deps.audit.record('job.run', String(jobId), { hosts: hosts.map((h) => h.name), mode: args.mode, interpreter: job.interpreter, ...(job.elevated ? { elevated: true } : {}), ...(args.scriptName !== undefined ? { script: args.scriptName } : {}), ...(args.detach ? { detach: true } : {}) });
    for (const w of this.workers) w.poke();
    return { jobId, runIds };
  }

  /** The hosts a job names: by names (each must exist) or every host with a tag. */
  private async targetHosts(args: { hosts?: string[] | undefined; tag?: string | undefined }): Promise<{ id: number; name: string }[]> {
    if (args.tag) {
      const hosts = (await this.deps.hosts.list({ tag: args.tag })).map((h) => ({ id: h.id, name: h.name }));
      if (hosts.length === 0) throw fieldError('tag', `no host has the tag "${args.tag}"`, 'see the tags with: cronium hosts list');
      return hosts;
    }
    const names = [...new Set(args.hosts ?? [])];
    const found = new Map((await this.store.rows<{ id: number; name: string }>(sql`select id, name from hosts where name in ${names.length ? names : ['']}`)).map((h) => [h.name, Number(h.id)]));
    return names.map((n) => {
      const id = found.get(n);
      if (id === undefined) throw fieldError('hosts', `no host named "${n}"`, 'add it with: cronium hosts add');
      return { id, name: n };
    });
  }

  /**
   * Queues a push job: the file at `path` (on this machine) to `to` on every host, one run per
   * host (push.ts). The file's bytes are kept as blobs/<sha256> in the data dir, so that any
   * worker can send them and a re-run sends the same bytes.
   */
  async push(args: PushArgs, door: Door): Promise<{ jobId: number; runIds: number[] }> {
    // The hosts first: a bad name is refused before a large file is copied.
    const hosts = await this.targetHosts(args);
    const { name, sha256, size } = await this.deps.blobs.add(args.path);
    const to = args.to.endsWith('/') ? `${args.to}${name}` : args.to;
    const mode = args.mode ?? 0o644;
    const push = { name, sha256, size, to, mode, ...(args.owner ? { owner: args.owner } : {}) };
    const job: NewJob = {
      kind: 'push',
      requestedBy: door,
      ...requester(),
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
    const jobId = await this.deps.queue.enqueue(job);
    const runIds = await this.runIds(jobId);
    await this.deps.audit.record('job.push', String(jobId), { hosts: hosts.map((h) => h.name), file: name, sha256, bytes: size, to, ...(args.elevated ? { elevated: true } : {}) });
    for (const w of this.workers) w.poke();
    return { jobId, runIds };
  }

  /**
   * Runs a finished job's script again, as it ran (script, interpreter, mode, timeout, env,
   * input, helper scopes), on some of its hosts: a new ad-hoc job.
   */
  async rerun(jobId: number, hostNames: string[], door: Door): Promise<{ jobId: number; runIds: number[] }> {
    const [j] = await this.store.rows<{ interpreter: NewJob['interpreter']; script_body: string; script_id: number | null; mode: NewJob['mode']; timeout_ms: number | null; concurrency: number | null; env: unknown; input: unknown; max_attempts: number; retry_script_failures: unknown; var_scope: 'host' | 'global'; secret_names: unknown; elevated: unknown; kind: NewJob['kind']; push: unknown; files: unknown }>(sql`select * from jobs where id = ${jobId}`);
    if (!j) throw new CroniumError('NOT_FOUND', `no job ${jobId}`, 'list jobs with: cronium jobs list');
    const ran = new Set((await this.store.rows<{ h: string }>(sql`select host_name as h from runs where job_id = ${jobId}`)).map((r) => r.h));
    const names = [...new Set(hostNames)];
    if (names.length === 0) throw fieldError('hosts', 'no host to run on', 'name hosts of the job, or use --differing after a compare that found differences');
    for (const n of names) if (!ran.has(n)) throw fieldError('hosts', `job ${jobId} did not run on "${n}"`, 'a re-run takes hosts of the job it repeats');
    const found = new Map((await this.store.rows<{ id: number; name: string }>(sql`select id, name from hosts where name in ${names}`)).map((h) => [h.name, Number(h.id)]));
    const hosts = names.map((n) => {
      const id = found.get(n);
      if (id === undefined) throw fieldError('hosts', `"${n}" is no longer in the inventory`, 'add it again with: cronium hosts add');
      return { id, name: n };
    });
    const push = asJson<NonNullable<NewJob['push']>>(j.push);
    const env = asJson<Record<string, string>>(j.env);
    const input = asJson<unknown>(j.input);
    const secretNames = asJson<string[]>(j.secret_names);
    const job: NewJob = {
      kind: j.kind === 'push' ? 'push' : 'adhoc',
      ...(push !== null ? { push } : {}),
      files: filesText(j.files),
      requestedBy: door,
      ...requester(),
      interpreter: j.interpreter,
      scriptBody: j.script_body,
      ...(j.script_id !== null ? { scriptId: j.script_id } : {}),
      mode: j.mode,
      hosts,
      target: { hosts: hosts.map((h) => h.name) },
      ...(j.timeout_ms !== null ? { timeoutMs: Number(j.timeout_ms) } : {}),
      ...(j.concurrency !== null ? { concurrency: Number(j.concurrency) } : {}),
      ...(env !== null ? { env } : {}),
      ...(j.input !== null ? { input } : {}),
      maxAttempts: Number(j.max_attempts),
      retryScriptFailures: asBool(j.retry_script_failures) === true,
      varScope: j.var_scope,
      secretNames: secretNames ?? [],
      elevated: asBool(j.elevated) === true,
    };
    const id = await this.deps.queue.enqueue(job);
    const runIds = await this.runIds(id);
    await this.deps.audit.record('job.rerun', String(id), { of: jobId, hosts: hosts.map((h) => h.name) });
    for (const w of this.workers) w.poke();
    return { jobId: id, runIds };
  }

  /** The hosts a schedule's target names now (unknown names are skipped), for the scheduler. */
  async resolveTargets(target: { hosts?: string[]; tags?: string[] }): Promise<{ id: number; name: string }[]> {
    const out = new Map<string, number>();
    // Names removed since the schedule was made are skipped: nothing to run there.
    if (target.hosts?.length) for (const h of await this.store.rows<{ id: number; name: string }>(sql`select id, name from hosts where name in ${target.hosts}`)) out.set(h.name, Number(h.id));
    // In the order of the names given, then by tag.
    const ordered = new Map<string, number>();
    for (const n of target.hosts ?? []) if (out.has(n)) ordered.set(n, out.get(n)!);
    for (const tag of target.tags ?? []) for (const h of await this.deps.hosts.list({ tag })) ordered.set(h.name, h.id);
    return [...ordered].map(([name, id]) => ({ id, name }));
  }

  /** Jobs, newest first. */
  async list(filter: { status?: string | undefined; host?: string | undefined; schedule?: string | undefined; since?: number | undefined; until?: number | undefined; limit: number }): Promise<z.output<typeof JobSummary>[]> {
    const where: SQL[] = [];
    if (filter.status) where.push(sql`j.status = ${filter.status}`);
    if (filter.host) {
      // A host of the inventory: its runs by host id (runs_host_finished_idx), a few rows to probe
      // instead of a scan of every job. A removed host's runs keep only its name.
      const [host] = await this.store.rows<{ id: number }>(sql`select id from hosts where name = ${filter.host}`);
      where.push(host ? sql`j.id in (select r.job_id from runs r where r.host_id = ${host.id})` : sql`j.id in (select r.job_id from runs r where r.host_id is null and r.host_name = ${filter.host})`);
    }
    if (filter.schedule) where.push(sql`s.name = ${filter.schedule}`);
    // Job ids grow with created_at, and jobs_created_idx bounds the window.
    if (filter.since !== undefined) where.push(sql`j.created_at >= ${filter.since}`);
    if (filter.until !== undefined) where.push(sql`j.created_at < ${filter.until}`);
    const rows = await this.store.rows<JobRowFull>(
      sql`select j.*, s.name as schedule_name, sc.name as script_name from jobs j left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``} order by j.id desc limit ${filter.limit}`,
    );
    return this.summaries(rows);
  }

  /** One job with its runs. */
  async get(id: number): Promise<z.output<typeof JobView>> {
    const [row] = await this.store.rows<JobRowFull>(sql`select j.*, s.name as schedule_name, sc.name as script_name from jobs j left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id where j.id = ${id}`);
    if (!row) throw new CroniumError('NOT_FOUND', `no job ${id}`, 'list them with: cronium jobs list');
    const runs = (await this.store.rows<RunRow>(sql`select * from runs where job_id = ${id} order by id`)).map(toRunView);
    return { ...(await this.summaries([row]))[0]!, script: row.script_body, runs };
  }

  /**
   * Cancels a job: queued runs end, running ones are stopped by their workers. The follow-up
   * jobs its runs fired that have not ended are cancelled with it, down the chain, and its
   * runs still going fire no more (see followups.ts).
   */
  async cancel(id: number): Promise<{ id: number; status: z.output<typeof JobSummary>['status']; stopping: number[] }> {
    await this.get(id);
    let stopping: number[] = [];
    for (const jobId of [id, ...(await this.openDescendants(id))]) {
      const s = await this.deps.queue.cancel(jobId);
      // The request also stops the job's runs still going from firing follow-ups.
      if (s.length) {
        await requestCancel(this.store, jobId);
        for (const w of this.workers) w.cancelJob(jobId);
      }
      if (jobId === id) stopping = s;
    }
    await this.deps.audit.record('job.cancel', String(id));
    const [row] = await this.store.rows<{ status: z.output<typeof JobSummary>['status'] }>(sql`select status from jobs where id = ${id}`);
    return { id, status: row!.status, stopping };
  }

  /** The unfinished follow-up jobs below a job, parents first. */
  private async openDescendants(id: number): Promise<number[]> {
    const rows = await this.store.rows<{ id: number }>(
      sql`with recursive t(id, d) as (select id, 0 from jobs where parent_job_id = ${id} union all select j.id, t.d + 1 from jobs j join t on j.parent_job_id = t.id where t.d < 100)
         select t.id as id from t join jobs j on j.id = t.id where j.status in ('queued', 'running') order by t.d, t.id`,
    );
    return rows.map((r) => Number(r.id));
  }

  /** The chain a job belongs to, from its root: each job with the follow-up jobs its runs fired. */
  async tree(id: number): Promise<JobTreeNode> {
    await this.get(id);
    const [root] = await this.store.rows<{ id: number }>(
      sql`with recursive up(id, parent, d) as (select id, parent_job_id, 0 from jobs where id = ${id}
           union all select j.id, j.parent_job_id, up.d + 1 from jobs j join up on j.id = up.parent where up.d < 100)
         select id from up order by d desc limit 1`,
    );
    const rootId = Number(root!.id);
    const rows = await this.store.rows<JobRowFull & { trigger_host: string | null }>(
      sql`with recursive t(id, d) as (select cast(${rootId} as bigint), 0 union all select j.id, t.d + 1 from jobs j join t on j.parent_job_id = t.id where t.d < 100)
         select j.*, s.name as schedule_name, sc.name as script_name, r.host_name as trigger_host from t join jobs j on j.id = t.id
           left join schedules s on s.id = j.schedule_id left join scripts sc on sc.id = j.script_id left join runs r on r.id = j.trigger_run_id
         order by t.d, j.id`,
    );
    const summaries = await this.summaries(rows);
    const nodes = new Map<number, JobTreeNode>();
    rows.forEach((r, i) => {
      const node: JobTreeNode = {
        job: summaries[i]!,
        trigger: r.trigger_on !== null && r.trigger_run_id !== null ? { on: r.trigger_on, runId: Number(r.trigger_run_id), host: r.trigger_host ?? '' } : null,
        children: [],
      };
      nodes.set(Number(r.id), node);
      if (Number(r.id) !== rootId && r.parent_job_id !== null) nodes.get(Number(r.parent_job_id))?.children.push(node);
    });
    return nodes.get(rootId)!;
  }

  /** A run's log chunks (base64). */
  async logs(args: { runId: number; fromSeq?: number; tail?: number; limit: number }) {
    const [run] = await this.store.rows<{ status: RunRow['status'] }>(sql`select status from runs where id = ${args.runId}`);
    if (!run) throw new CroniumError('NOT_FOUND', `no run ${args.runId}`);
    const chunks = args.tail !== undefined ? await this.deps.logs.tail(args.runId, args.tail) : await this.deps.logs.read(args.runId, args.fromSeq ?? 1, args.limit);
    return {
      runId: args.runId,
      status: run.status,
      chunks: chunks.map((c) => ({ seq: c.seq, stream: c.stream, ts: c.ts, data: c.data.toString('base64') })),
      lastSeq: await this.deps.logs.lastStoredSeq(args.runId),
    };
  }

  /** Summaries of job rows: their runs' counts and hosts in two queries for the whole page. */
  private async summaries(rows: JobRowFull[]): Promise<z.output<typeof JobSummary>[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => Number(r.id));
    const counts = new Map<number, Record<string, number>>();
    for (const c of await this.store.rows<{ job_id: number; status: string; n: number }>(sql`select job_id, status, count(*) as n from runs where job_id in ${ids} group by job_id, status`)) {
      const m = counts.get(Number(c.job_id)) ?? counts.set(Number(c.job_id), {}).get(Number(c.job_id))!;
      m[c.status] = Number(c.n);
    }
    const hosts = new Map<number, string[]>();
    for (const h of await this.store.rows<{ job_id: number; host_name: string }>(sql`select job_id, host_name from runs where job_id in ${ids} order by id`)) {
      (hosts.get(Number(h.job_id)) ?? hosts.set(Number(h.job_id), []).get(Number(h.job_id))!).push(h.host_name);
    }
    return rows.map((r) => this.summary(r, counts.get(Number(r.id)) ?? {}, hosts.get(Number(r.id)) ?? []));
  }

  private summary(r: JobRowFull, counts: Record<string, number>, hosts: string[]): z.output<typeof JobSummary> {
    return {
      id: r.id,
      kind: r.kind,
      status: r.status,
      interpreter: r.interpreter,
      mode: r.mode,
      schedule: r.schedule_name,
      requestedBy: r.requested_by,
      requestedByPerson: r.requested_by_person,
      fireAt: r.fire_at === null ? null : Number(r.fire_at),
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
    output: asJson<unknown>(r.output),
    condition: asBool(r.condition),
    helperTransport: r.helper_transport,
    transport: r.transport,
    timings: { connect: r.t_connect_ms, deploy: r.t_deploy_ms, start: r.t_start_ms, exec: r.t_exec_ms, total: r.t_total_ms },
    queuedAt: r.queued_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** A job's files as the queue takes them (JSON text): SQLite keeps the text, PostgreSQL hands back the parsed value. */
function filesText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}
