/** `cronium jobs list | show ID | logs ID [--follow] | cancel ID | compare ID | diff RUN | rerun ID`. */
import type { Command } from 'commander';
import type { JobView } from '../../shared/api';
import { fieldError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, table } from '../output';
import { executeJob } from './run';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The normalisation flags shared by compare, diff and rerun. */
interface CompareFlags {
  ignore: string[];
  ignoreHost?: boolean;
  stderr?: boolean;
}
const compareArgs = (o: CompareFlags) => ({ ignore: o.ignore, ignoreHost: o.ignoreHost === true, stream: o.stderr ? 'all' : 'stdout' });
function withCompareFlags(c: Command): Command {
  return c
    .option('--ignore <regex>', 'remove what this JavaScript regular expression matches from each line before comparing (repeatable), e.g. a time: "\\d\\d:\\d\\d:\\d\\d"', collect, [])
    .option('--ignore-host', "replace each host's own name in its output with {host}")
    .option('--stderr', 'compare stdout and stderr (default: stdout only)');
}


const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);

function runId(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw fieldError('runId', `"${text}" is not a run id`, 'run ids are in: cronium jobs show JOB_ID');
  return Number(text);
}

function jobId(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw fieldError('id', `"${text}" is not a job id`);
  return Number(text);
}

/**
 * A point in time for `--since` / `--until`: an age (`90s`, `30m`, `12h`, `7d`: that long
 * ago) or an ISO 8601 date or date-time (`2026-11-28`, `2026-11-28T09:00:00Z`).
 */
export function parseWhen(text: string, field: string, now = Date.now()): number {
  const age = /^(\d{1,9})(s|m|h|d)$/.exec(text.trim());
  if (age) return now - Number(age[1]) * ({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const)[age[2] as 's' | 'm' | 'h' | 'd'];
  const at = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim()) ? Date.parse(text.trim()) : Number.NaN;
  if (Number.isNaN(at) || at < 0) throw fieldError(field, `"${text}" is not a time`, 'give an age such as 30m, 12h or 7d, or an ISO date such as 2026-11-28 or 2026-11-28T09:00:00Z');
  return at;
}

const when = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** Registers `jobs`. */
export function registerJobs(program: Command, ctx: CliContext): void {
  const jobs = program.command('jobs').description('jobs and their runs');
  jobs
    .command('list')
    .description('list jobs, newest first')
    .option('--status <status>', 'queued | running | succeeded | failed | partial | cancelled')
    .option('--host <name>', 'only jobs that ran on this host')
    .option('--schedule <name>', 'only jobs of this schedule')
    .option('--since <when>', 'only jobs created since then: an age (30m, 12h, 7d) or an ISO date/time')
    .option('--until <when>', 'only jobs created before then: an age (30m, 12h, 7d) or an ISO date/time')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { status?: string; host?: string; schedule?: string; since?: string; until?: string; limit: string }) => {
      if (!/^\d+$/.test(o.limit)) throw fieldError('limit', `"${o.limit}" is not a whole number`);
      const list = await ctx.call('jobs.list', {
        ...(o.status ? { status: o.status } : {}),
        ...(o.host ? { host: o.host } : {}),
        ...(o.schedule ? { schedule: o.schedule } : {}),
        ...(o.since !== undefined ? { since: parseWhen(o.since, 'since') } : {}),
        ...(o.until !== undefined ? { until: parseWhen(o.until, 'until') } : {}),
        limit: Number(o.limit),
      });
      if (ctx.json) return printJson(list);
      process.stdout.write(
        `${table(
          ['ID', 'STATUS', 'KIND', 'HOSTS', 'CREATED', 'RUNS'],
          list.map((j) => [String(j.id), j.status, j.schedule ? `schedule:${j.schedule}` : j.kind, j.hosts.length > 3 ? `${j.hosts.slice(0, 3).join(',')},+${j.hosts.length - 3}` : j.hosts.join(','), when(j.createdAt), Object.entries(j.counts).map(([k, v]) => `${v} ${k}`).join(', ')]),
        )}\n`,
      );
    });
  jobs
    .command('show')
    .description('show a job and its runs')
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      const job = await ctx.call('jobs.get', { id: jobId(id) });
      if (ctx.json) return printJson(job);
      process.stdout.write(`job ${job.id}: ${job.status} (${job.schedule ? `schedule ${job.schedule}` : job.kind}, ${job.interpreter}, mode ${job.mode}, created ${when(job.createdAt)})\n`);
      process.stdout.write(
        `${table(
          ['RUN', 'HOST', 'STATUS', 'EXIT', 'MODE', 'CONNECT', 'EXEC', 'TOTAL', 'ERROR'],
          job.runs.map((r) => [
            String(r.id),
            r.host,
            r.status,
            r.exitCode !== null ? String(r.exitCode) : r.signal ? `SIG${r.signal}` : '-',
            r.mode ?? '-',
            r.timings.connect !== null ? `${r.timings.connect}ms` : '-',
            r.timings.exec !== null ? `${r.timings.exec}ms` : '-',
            r.timings.total !== null ? `${r.timings.total}ms` : '-',
            r.errorCode ? `${r.errorCode}: ${r.errorMessage ?? ''}` : r.modeReason ? `(${r.modeReason})` : '',
          ]),
        )}\n`,
      );
      // What to do about each failed run, under the table (the ERROR column keeps one line per run).
      for (const r of job.runs) if (r.errorCode && r.errorHint) process.stdout.write(`run ${r.id} (${r.host}) hint: ${r.errorHint}\n`);
    });
  jobs
    .command('logs')
    .description('print the logs of a job (prefixed by host when it has several runs)')
    .argument('<id>', 'job id')
    .option('--follow', 'keep printing as output arrives, until the job ends')
    .action(async (id: string, o: { follow?: boolean }) => {
      let job: JobView = await ctx.call('jobs.get', { id: jobId(id) });
      const several = job.runs.length > 1;
      const next = new Map<number, number>(job.runs.map((r) => [r.id, 1]));
      const partial = new Map<string, string>();
      const emit = (host: string, stream: string, text: string) => {
        const out = stream === 'stdout' ? process.stdout : process.stderr;
        if (!several) return void out.write(text);
        const key = `${host}\0${stream}`;
        const lines = ((partial.get(key) ?? '') + text).split('\n');
        partial.set(key, lines.pop()!);
        if (lines.length) out.write(lines.map((l) => `${host} | ${l}\n`).join(''));
      };
      for (;;) {
        for (const r of job.runs) {
          for (;;) {
            const page = await ctx.call('runs.logs', { runId: r.id, fromSeq: next.get(r.id)!, limit: 1000 });
            for (const c of page.chunks) {
              if (ctx.json) process.stdout.write(`${JSON.stringify({ host: r.host, runId: r.id, ...c })}\n`);
              else emit(r.host, c.stream, c.stream === 'system' ? `cronium: ${Buffer.from(c.data, 'base64').toString('utf8')}` : Buffer.from(c.data, 'base64').toString('utf8'));
              next.set(r.id, c.seq + 1);
            }
            if (page.chunks.length < 1000) break;
          }
        }
        if (!o.follow || job.runs.every((r) => TERMINAL.has(r.status))) break;
        await new Promise((res) => setTimeout(res, 200));
        job = await ctx.call('jobs.get', { id: job.id });
        for (const r of job.runs) if (!next.has(r.id)) next.set(r.id, 1);
      }
      for (const [key, rest] of partial) if (rest) (key.endsWith('stdout') ? process.stdout : process.stderr).write(`${key.split('\0')[0]} | ${rest}\n`);
    });
  withCompareFlags(
    jobs
      .command('compare')
      .description('group the hosts of a finished job by exit code and output, largest group first')
      .argument('<id>', 'job id'),
  ).action(async (id: string, o: CompareFlags) => {
    const c = await ctx.call('jobs.compare', { id: jobId(id), ...compareArgs(o) });
    if (ctx.json) return printJson(c);
    const finished = c.groups.reduce((n, g) => n + g.runs.length, 0);
    process.stdout.write(`job ${c.jobId}: ${finished} finished run${finished === 1 ? '' : 's'} in ${c.groups.length} group${c.groups.length === 1 ? '' : 's'}${c.pending ? `, ${c.pending} still running` : ''}\n`);
    c.groups.forEach((g, i) => {
      const exit = g.exitCode !== null ? `exit ${g.exitCode}` : g.status;
      const hosts = g.runs.map((r) => r.host);
      process.stdout.write(`\n#${i + 1}  ${g.runs.length} host${g.runs.length === 1 ? '' : 's'}, ${exit}, ${g.lines} line${g.lines === 1 ? '' : 's'}, sha256 ${g.outputHash.slice(0, 12)}: ${hosts.length > 8 ? `${hosts.slice(0, 8).join(', ')}, +${hosts.length - 8}` : hosts.join(', ')}\n`);
      const sample = g.sample.split('\n').slice(0, 5);
      for (const line of sample) if (line) process.stdout.write(`    | ${line}\n`);
      if (g.sampleTruncated || g.sample.split('\n').length > 6) process.stdout.write('    | ...\n');
    });
    if (c.groups.length > 1) process.stdout.write(`\nsee how a host differs: cronium jobs diff RUN_ID; run again where it differs: cronium jobs rerun ${c.jobId} --differing\n`);
  });
  withCompareFlags(
    jobs
      .command('diff')
      .description("a unified diff of a run's output against another run (default: the largest group it is not in)")
      .argument('<run>', 'run id (from cronium jobs show or compare --json)')
      .option('--against <run>', 'the run to diff against'),
  ).action(async (run: string, o: CompareFlags & { against?: string }) => {
    const d = await ctx.call('jobs.diff', { runId: runId(run), ...(o.against !== undefined ? { against: runId(o.against) } : {}), ...compareArgs(o) });
    if (ctx.json) return printJson(d);
    if (d.identical) process.stdout.write(`run ${d.runId} (${d.host}) and run ${d.against} (${d.againstHost}) have the same output\n`);
    else process.stdout.write(d.diff);
    if (d.truncated) process.stderr.write('cronium: each side was read up to 1 MiB\n');
  });
  withCompareFlags(
    jobs
      .command('rerun')
      .description("run a job's script again, as it ran, on some of its hosts, streaming its output")
      .argument('<id>', 'job id')
      .option('--host <name>', 'a host of that job (repeatable; default: all of them)', collect, [])
      .option('--differing', 'the hosts outside its largest output group (see compare)'),
  ).action(async (id: string, o: CompareFlags & { host: string[]; differing?: boolean }) => {
    await executeJob(ctx, { method: 'jobs.rerun', args: { id: jobId(id), ...(o.host.length ? { hosts: o.host } : {}), differing: o.differing === true, ...compareArgs(o) } });
  });
  jobs
    .command('cancel')
    .description('cancel a job: queued runs end, running scripts are killed on their hosts')
    .argument('<id>', 'job id')
    .action(async (id: string) => {
      const r = await ctx.call('jobs.cancel', { id: jobId(id) });
      if (ctx.json) return printJson(r);
      process.stdout.write(`job ${r.id}: ${r.status}${r.stopping.length ? ` (stopping ${r.stopping.length} running run${r.stopping.length > 1 ? 's' : ''})` : ''}\n`);
    });
}
