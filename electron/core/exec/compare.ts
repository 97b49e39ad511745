/**
 * Output compared across the hosts of a job: runs grouped by exit code and by a SHA-256 of their
 * output (normalised as the user asks: patterns removed, the run's own host name replaced),
 * largest group first; a diff of one run against another; the hosts that differ from the largest
 * group. Logs are read from the store chunk by chunk and hashed as they go, so a job of 1,000
 * hosts never holds more than one run's line in memory; only a diff reads two outputs, each
 * bounded.
 */
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTwoFilesPatch } from 'diff';
import type { JobComparison, RunDiff } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { LogService } from '../logs/log-service';
import type { DataStore } from '../db/store';

/** How outputs are read and normalised before they are compared. */
export interface CompareOptions {
  /** JavaScript regular expressions; every match is removed from each line before hashing. */
  ignore: string[];
  /** Replace each run's own host name in its output with `{host}`. */
  ignoreHost: boolean;
  /** stdout only (default), or stdout and stderr in the order they were written. */
  stream: 'stdout' | 'all';
}

type CompareGroup = JobComparison['groups'][number];
type RunStatus = CompareGroup['status'];

/** Lines longer than this are hashed as they are: patterns apply to lines up to this length. */
export const MAX_NORMALISED_LINE = 64 * 1024;
const SAMPLE_BYTES = 2048;
/** Each side of a diff is read up to this many bytes. */
export const MAX_DIFF_BYTES = 1024 * 1024;
const FINAL = new Set<RunStatus>(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
const PAGE = 512;
const NEWLINE = Buffer.from('\n');

/** Compiles the user's patterns, naming the one that does not compile. */
function compile(ignore: string[]): RegExp[] {
  return ignore.map((p, i) => {
    try {
      return new RegExp(p, 'g');
    } catch (e) {
      throw fieldError(`ignore.${i}`, `"${p}" is not a regular expression: ${(e as Error).message}`, 'patterns are JavaScript regular expressions, e.g. "\\d{2}:\\d{2}:\\d{2}" for times');
    }
  });
}

/** Hashes an output as its chunks arrive, normalising line by line when asked. */
class OutputDigest {
  private readonly hash = createHash('sha256');
  private carry: Buffer[] = [];
  private carryBytes = 0;
  bytes = 0;
  lines = 0;
  private readonly sample: Buffer[] = [];
  private sampleBytes = 0;
  sampleTruncated = false;

  constructor(private readonly normalise: ((line: string) => string) | null) {}

  /** Inside a line longer than MAX_NORMALISED_LINE: its bytes go to the hash as they are. */
  private longLine = false;

  push(data: Buffer): void {
    if (!this.normalise) return this.emit(data);
    let from = 0;
    while (from < data.length) {
      const nl = data.indexOf(10, from);
      const end = nl === -1 ? data.length : nl;
      const piece = data.subarray(from, end);
      from = nl === -1 ? data.length : nl + 1;
      if (this.longLine) {
        this.emit(piece);
        if (nl !== -1) {
          this.emit(NEWLINE);
          this.longLine = false;
        }
        continue;
      }
      this.carry.push(piece);
      this.carryBytes += piece.length;
      if (nl !== -1) this.line(true);
      else if (this.carryBytes > MAX_NORMALISED_LINE) {
        // Patterns are for lines, not for megabytes: a longer line is hashed as it is, whatever
        // its chunks, and never held whole.
        this.emit(Buffer.concat(this.carry));
        this.carry = [];
        this.carryBytes = 0;
        this.longLine = true;
      }
    }
  }

  private line(newline: boolean): void {
    const raw = Buffer.concat(this.carry);
    this.carry = [];
    this.carryBytes = 0;
    if (raw.length > MAX_NORMALISED_LINE) {
      this.emit(raw);
      if (newline) this.emit(NEWLINE);
      return;
    }
    const text = this.normalise!(raw.toString('utf8'));
    this.emit(Buffer.from(newline ? `${text}\n` : text, 'utf8'));
  }

  private emit(data: Buffer): void {
    if (data.length === 0) return;
    this.hash.update(data);
    this.bytes += data.length;
    for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) this.lines++;
    if (this.sampleBytes < SAMPLE_BYTES) {
      const take = data.subarray(0, SAMPLE_BYTES - this.sampleBytes);
      this.sample.push(take);
      this.sampleBytes += take.length;
      if (take.length < data.length) this.sampleTruncated = true;
    } else this.sampleTruncated = true;
  }

  end(): { outputHash: string; sample: string } {
    if (this.carryBytes > 0) this.line(false);
    if (this.bytes > 0 && this.lines === 0) this.lines = 1;
    return { outputHash: this.hash.digest('hex'), sample: Buffer.concat(this.sample).toString('utf8') };
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The compare and diff API over a job's stored runs. */
export class OutputCompare {
  constructor(private readonly deps: { store: DataStore; logs: LogService }) {}

  private async runsOf(jobId: number): Promise<{ id: number; host_name: string; status: RunStatus; exit_code: number | null }[]> {
    const s = this.deps.store;
    if ((await s.rows(sql`select 1 as one from jobs where id = ${jobId}`)).length === 0) throw new CroniumError('NOT_FOUND', `no job ${jobId}`, 'list jobs with: cronium jobs list');
    return (await s.rows<{ id: number; host_name: string; status: RunStatus; exit_code: number | null }>(sql`select id, host_name, status, exit_code from runs where job_id = ${jobId} order by id`)).map((r) => ({ ...r, id: Number(r.id) }));
  }

  /** Streams one run's output (as selected) through `sink`, stopping when it returns false. */
  private async read(runId: number, stream: CompareOptions['stream'], sink: (data: Buffer) => boolean | void): Promise<void> {
    let from = 1;
    for (;;) {
      const chunks = await this.deps.logs.read(runId, from, PAGE);
      for (const c of chunks) {
        if (c.stream === 'system' || (stream === 'stdout' && c.stream !== 'stdout')) continue;
        if (sink(c.data) === false) return;
      }
      if (chunks.length < PAGE) return;
      from = chunks[chunks.length - 1]!.seq + 1;
    }
  }

  private normaliser(patterns: RegExp[], host: string | null): ((line: string) => string) | null {
    const hostRe = host ? new RegExp(escapeRegExp(host), 'g') : null;
    if (patterns.length === 0 && !hostRe) return null;
    return (line) => {
      let out = hostRe ? line.replace(hostRe, '{host}') : line;
      for (const re of patterns) out = out.replace(re, '');
      return out;
    };
  }

  private async digest(runId: number, host: string, patterns: RegExp[], opts: CompareOptions): Promise<ReturnType<OutputDigest['end']> & { bytes: number; lines: number; sampleTruncated: boolean }> {
    const d = new OutputDigest(this.normaliser(patterns, opts.ignoreHost ? host : null));
    await this.read(runId, opts.stream, (data) => d.push(data));
    const end = d.end();
    return { ...end, bytes: d.bytes, lines: d.lines, sampleTruncated: d.sampleTruncated };
  }

  /** Groups a job's finished runs by exit code (or status, without one) and normalised output. */
  async compare(jobId: number, opts: CompareOptions): Promise<JobComparison> {
    const patterns = compile(opts.ignore);
    const runs = await this.runsOf(jobId);
    const groups = new Map<string, CompareGroup>();
    let pending = 0;
    for (const r of runs) {
      if (!FINAL.has(r.status)) {
        pending++;
        continue;
      }
      const d = await this.digest(r.id, r.host_name, patterns, opts);
      const key = `${r.exit_code ?? r.status}\0${d.outputHash}`;
      let g = groups.get(key);
      if (!g) {
        g = { exitCode: r.exit_code, status: r.status, outputHash: d.outputHash, bytes: d.bytes, lines: d.lines, runs: [], sample: d.sample, sampleTruncated: d.sampleTruncated };
        groups.set(key, g);
      }
      g.runs.push({ runId: r.id, host: r.host_name });
    }
    const sorted = [...groups.values()].sort((a, b) => b.runs.length - a.runs.length || a.runs[0]!.runId - b.runs[0]!.runId);
    return { jobId, stream: opts.stream, ignore: opts.ignore, ignoreHost: opts.ignoreHost, pending, groups: sorted };
  }

  /** The hosts whose runs are not in the largest group. */
  async differing(jobId: number, opts: CompareOptions): Promise<string[]> {
    const c = await this.compare(jobId, opts);
    return c.groups.slice(1).flatMap((g) => g.runs.map((r) => r.host));
  }

  /** Reads a run's normalised output for a diff, up to MAX_DIFF_BYTES. */
  private async text(runId: number, host: string, patterns: RegExp[], opts: CompareOptions): Promise<{ text: string; truncated: boolean }> {
    const normalise = this.normaliser(patterns, opts.ignoreHost ? host : null);
    const parts: Buffer[] = [];
    let bytes = 0;
    let truncated = false;
    await this.read(runId, opts.stream, (data) => {
      const take = data.subarray(0, MAX_DIFF_BYTES - bytes);
      parts.push(take);
      bytes += take.length;
      if (take.length < data.length) {
        truncated = true;
        return false;
      }
      return true;
    });
    const raw = Buffer.concat(parts).toString('utf8');
    if (!normalise) return { text: raw, truncated };
    return { text: raw.split('\n').map((l) => (Buffer.byteLength(l) > MAX_NORMALISED_LINE ? l : normalise(l))).join('\n'), truncated };
  }

  /**
   * A unified diff of one run's output against another's: by default, against the first run of
   * the largest group the run is not in (or of the largest group, for a run in a smaller one).
   */
  async diff(runId: number, against: number | undefined, opts: CompareOptions): Promise<RunDiff> {
    const patterns = compile(opts.ignore);
    const s = this.deps.store;
    const [run] = await s.rows<{ id: number; job_id: number; host_name: string }>(sql`select id, job_id, host_name from runs where id = ${runId}`);
    if (!run) throw new CroniumError('NOT_FOUND', `no run ${runId}`, 'see a job\'s runs with: cronium jobs show ID');
    let other: { id: number; host_name: string } | undefined;
    if (against !== undefined) {
      [other] = await s.rows<{ id: number; host_name: string }>(sql`select id, host_name from runs where id = ${against}`);
      if (!other) throw new CroniumError('NOT_FOUND', `no run ${against}`, 'name a run of the same job, or leave it out to diff against the largest group');
    } else {
      const c = await this.compare(Number(run.job_id), opts);
      const base = c.groups.find((g) => !g.runs.some((r) => r.runId === runId));
      if (!base) throw new CroniumError('CONFLICT', `every finished run of job ${run.job_id} is in the same group as run ${runId}: nothing differs`, 'compare the job first: cronium jobs compare ID');
      other = { id: base.runs[0]!.runId, host_name: base.runs[0]!.host };
    }
    const a = await this.text(Number(other.id), other.host_name, patterns, opts);
    const b = await this.text(Number(run.id), run.host_name, patterns, opts);
    const identical = a.text === b.text;
    const diff = identical ? '' : createTwoFilesPatch(`${other.host_name} (run ${other.id})`, `${run.host_name} (run ${run.id})`, a.text, b.text, '', '', { context: 3 });
    return { runId: Number(run.id), host: run.host_name, against: Number(other.id), againstHost: other.host_name, identical, diff, truncated: a.truncated || b.truncated };
  }
}
