/** Output comparison over a real SQLite store: normalisation, chunk boundaries, long lines, streams, memory. */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { openStore, type Store } from '../../../../electron/core/db/database';
import { MAX_NORMALISED_LINE, OutputCompare } from '../../../../electron/core/exec/compare';
import { LogService } from '../../../../electron/core/logs/log-service';
import { JobQueue, sqliteQueue } from '../../../../electron/core/queue/job-queue';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

/** A job over `outputs.length` hosts, each run finished with its exit code and its chunks stored. */
async function job(t: TestContext, outputs: { host: string; exit: number; chunks: [('stdout' | 'stderr'), string][] }[]): Promise<{ store: Store; compare: OutputCompare; jobId: number; runIds: number[] }> {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const hosts = outputs.map((o) => ({ id: Number(store.sqlite.prepare("insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)").run(o.host).lastInsertRowid), name: o.host }));
  const queue = sqliteQueue(store, new JobQueue(store));
  const logs = new LogService(store);
  const jobId = await queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'bash', scriptBody: 'true', mode: 'auto', hosts });
  const claimed = await queue.claim({ owner: 'w', limit: 1000, leaseMs: 30_000, perHostLimit: 10, globalLimit: 10_000 });
  for (const [i, o] of outputs.entries()) {
    const run = claimed[i]!;
    await queue.start(run.runId, 'w');
    const w = await logs.openWriter(run.runId);
    for (const [stream, text] of o.chunks) w.write(stream, Buffer.from(text));
    await logs.flush();
    await queue.complete(run.runId, 'w', { status: o.exit === 0 ? 'succeeded' : 'failed', exitCode: o.exit });
  }
  return { store, compare: new OutputCompare({ store: store.data, logs }), jobId, runIds: claimed.map((c) => c.runId) };
}

const opts = { ignore: [] as string[], ignoreHost: false, stream: 'stdout' as const };
const hostsOf = (c: Awaited<ReturnType<OutputCompare['compare']>>) => c.groups.map((g) => g.runs.map((r) => r.host));

test('the same output split at different chunk boundaries is one group; normalising patterns apply per line across chunks', async (t) => {
  const { compare, jobId } = await job(t, [
    { host: 'a', exit: 0, chunks: [['stdout', 'at 10:00:01 ok\nat 10:00:02 done\n']] },
    { host: 'b', exit: 0, chunks: [['stdout', 'at 11:'], ['stdout', '59:59 ok\nat 12:00:0'], ['stdout', '0 done\n']] },
    { host: 'c', exit: 0, chunks: [['stdout', 'at 10:00:01 FAIL\nat 10:00:02 done\n']] },
  ]);
  assert.equal((await compare.compare(jobId, opts)).groups.length, 3, 'raw: all differ');
  const c = await compare.compare(jobId, { ...opts, ignore: ['\\d\\d:\\d\\d:\\d\\d'] });
  assert.deepEqual(hostsOf(c), [['a', 'b'], ['c']]);
  assert.equal(c.groups[0]!.sample, 'at  ok\nat  done\n');
  assert.equal(c.groups[0]!.lines, 2);
});

test('exit codes split groups with the same output; stderr only counts with stream=all', async (t) => {
  const { compare, jobId } = await job(t, [
    { host: 'a', exit: 0, chunks: [['stdout', 'x\n'], ['stderr', 'warn 1\n']] },
    { host: 'b', exit: 0, chunks: [['stdout', 'x\n'], ['stderr', 'warn 2\n']] },
    { host: 'c', exit: 1, chunks: [['stdout', 'x\n']] },
  ]);
  const c = await compare.compare(jobId, opts);
  assert.deepEqual(hostsOf(c), [['a', 'b'], ['c']]);
  assert.deepEqual(c.groups.map((g) => g.exitCode), [0, 1]);
  assert.deepEqual(hostsOf(await compare.compare(jobId, { ...opts, stream: 'all' })), [['a'], ['b'], ['c']]);
});

test('ignoreHost replaces each run\'s own host name, and only its own', async (t) => {
  const { compare, jobId } = await job(t, [
    { host: 'web-1', exit: 0, chunks: [['stdout', 'I am web-1\n']] },
    { host: 'web-2', exit: 0, chunks: [['stdout', 'I am web-2\n']] },
    { host: 'web-3', exit: 0, chunks: [['stdout', 'I am web-1\n']] },
  ]);
  const c = await compare.compare(jobId, { ...opts, ignoreHost: true });
  assert.deepEqual(hostsOf(c), [['web-1', 'web-2'], ['web-3']]);
  assert.equal(c.groups[0]!.sample, 'I am {host}\n');
});

test('a line longer than the normalisation limit is hashed as it is, without holding it whole', async (t) => {
  const long = 'y'.repeat(MAX_NORMALISED_LINE * 3);
  const { compare, jobId } = await job(t, [
    { host: 'a', exit: 0, chunks: [['stdout', `${long}\n12:00:00\n`]] },
    { host: 'b', exit: 0, chunks: [['stdout', long.slice(0, 1000)], ['stdout', `${long.slice(1000)}\n13:00:00\n`]] },
  ]);
  const c = await compare.compare(jobId, { ...opts, ignore: ['\\d\\d:\\d\\d:\\d\\d'] });
  assert.deepEqual(hostsOf(c), [['a', 'b']], 'the same long line hashes the same whatever its chunks; the short lines after it are still normalised');
  const other = await job(t, [
    { host: 'a', exit: 0, chunks: [['stdout', `${long}12:00:00\n`]] },
    { host: 'b', exit: 0, chunks: [['stdout', `${long}13:00:00\n`]] },
  ]);
  assert.equal((await other.compare.compare(other.jobId, { ...opts, ignore: ['\\d\\d:\\d\\d:\\d\\d'] })).groups.length, 2, 'patterns do not apply inside a line over the limit');
  assert.equal(c.groups[0]!.sampleTruncated, true);
});

test('diff: against the largest group by default, identical runs say so, bad input is coded', async (t) => {
  const { compare, jobId, runIds } = await job(t, [
    { host: 'a', exit: 0, chunks: [['stdout', 'one\ntwo\nthree\n']] },
    { host: 'b', exit: 0, chunks: [['stdout', 'one\ntwo\nthree\n']] },
    { host: 'c', exit: 0, chunks: [['stdout', 'one\nTWO\nthree\n']] },
  ]);
  const d = await compare.diff(runIds[2]!, undefined, opts);
  assert.equal(d.against, runIds[0]);
  assert.match(d.diff, /^-two$/m);
  assert.match(d.diff, /^\+TWO$/m);
  assert.equal((await compare.diff(runIds[1]!, runIds[0]!, opts)).identical, true);
  assert.equal((await compare.diff(runIds[0]!, undefined, opts)).against, runIds[2], 'a run of the largest group is diffed against the next group');
  const code = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      return 'none';
    } catch (e) {
      assert.ok(e instanceof CroniumError);
      assert.ok(e.hint, `${e.code} has a hint`);
      return e.code;
    }
  };
  assert.equal(await code(() => compare.compare(jobId, { ...opts, ignore: ['[a-'] })), 'INVALID_INPUT');
  assert.equal(await code(() => compare.compare(jobId + 100, opts)), 'NOT_FOUND');
  assert.equal(await code(() => compare.diff(999_999, undefined, opts)), 'NOT_FOUND');
  assert.deepEqual(await compare.differing(jobId, opts), ['c']);
});

test('a thousand hosts: grouped by streaming, memory bounded', async (t) => {
  const outputs = Array.from({ length: 1000 }, (_, i) => ({
    host: `h${i}`,
    exit: 0,
    chunks: [['stdout', `${'line of output\n'.repeat(5000)}${i % 97 === 0 ? 'odd\n' : 'even\n'}`]] as [('stdout' | 'stderr'), string][],
  }));
  const { compare, jobId } = await job(t, outputs);
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const c = await compare.compare(jobId, opts);
  const grew = process.memoryUsage().heapUsed - before;
  assert.deepEqual(c.groups.map((g) => g.runs.length), [989, 11]);
  // 1,000 outputs of 75 KB: 75 MB if they were all held; the groups keep a 2 KB sample each.
  assert.ok(grew < 24 * 1024 * 1024, `heap grew ${Math.round(grew / 1024 / 1024)} MB`);
});
