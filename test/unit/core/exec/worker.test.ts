// The worker over a real queue and log store, with a fake executor: job concurrency, fan-out
// where one slow host holds nobody, live events, outcomes stored on the run, and cancel
// (in-process, and from another process through the cancel request row).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { openStore } from '../../../../electron/core/db/database';
import { EventBus } from '../../../../electron/core/events/event-bus';
import type { Executor } from '../../../../electron/core/exec/executor';
import type { ExecOutcome, ExecRequest, ExecSinks } from '../../../../electron/core/exec/types';
import { requestCancel, Worker } from '../../../../electron/core/exec/worker';
import { currentCaller, withCaller } from '../../../../electron/core/accounts/caller';
import { LogService } from '../../../../electron/core/logs/log-service';
import { JobQueue, sqliteQueue } from '../../../../electron/core/queue/job-queue';
import { tempDir } from '../../../helpers/temp';
import { until } from '../../../helpers/workspace';

const ok = (extra: Partial<ExecOutcome> = {}): ExecOutcome => ({
  status: 'succeeded',
  exitCode: 0,
  signal: null,
  errorCode: null,
  errorMessage: null,
  retryable: false,
  mode: 'direct',
  modeReason: 'runner mode not available yet',
  runnerVersion: null,
  output: { n: 1 },
  timings: { connect: 1, deploy: null, start: 2, exec: 3, total: 6 },
  ...extra,
});

type Fake = (req: ExecRequest, sinks: ExecSinks, cancel: AbortSignal) => Promise<ExecOutcome>;

async function setup(t: TestContext, fake: Fake, hosts = ['a', 'b', 'c', 'd'], job: { concurrency?: number } = {}, secrets: readonly string[] = []) {
  const store = openStore(tempDir(t));
  const queue = sqliteQueue(store, new JobQueue(store));
  const logs = new LogService(store, { batchMs: 5 });
  const events = new EventBus();
  const executor = { execute: fake } as unknown as Executor;
  const rows = hosts.map((name) => ({ name, id: Number(store.sqlite.prepare(`insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)`).run(name).lastInsertRowid) }));
  const jobId = await queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'sh', scriptBody: 'true', mode: 'auto', hosts: rows, maxAttempts: 1, ...job });
  const worker = new Worker({ store: store.data, queue, logs, events, executor, owner: 'w1', pollMs: 20, heartbeatMs: 30, ...(secrets.length ? { secrets: async () => secrets } : {}) });
  t.after(async () => {
    await worker.stop();
    await logs.close();
    store.close();
  });
  const jobStatus = () => store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
  const done = async () => {
    const deadline = Date.now() + 5000;
    while (['queued', 'running'].includes(jobStatus())) {
      if (Date.now() > deadline) throw new Error('job did not end');
      await new Promise((r) => setTimeout(r, 10));
    }
    await worker.idle();
  };
  return { store, queue, logs, events, worker, jobId, jobStatus, done };
}

test('job concurrency holds, a slow host holds nobody, outcomes and logs are stored, events flow', async (t) => {
  let active = 0;
  let peak = 0;
  const ended: string[] = [];
  const s = await setup(
    t,
    async (req, sinks) => {
      active++;
      peak = Math.max(peak, active);
      await sinks.stdout(Buffer.from(`hi from ${req.host}\n`));
      await new Promise((r) => setTimeout(r, req.host === 'a' ? 400 : 30));
      active--;
      ended.push(req.host);
      return req.host === 'd' ? ok({ status: 'failed', exitCode: 3, output: undefined }) : ok();
    },
    ['a', 'b', 'c', 'd'],
    { concurrency: 2 },
  );
  const statuses: string[] = [];
  const logs: string[] = [];
  s.events.on('run.status', (e) => statuses.push(`${e.host}:${e.status}${e.jobStatus ? `:${e.jobStatus}` : ''}`));
  s.events.on('run.log', (e) => logs.push(...e.chunks.map((c) => Buffer.from(c.data, 'base64').toString())));
  s.worker.start();
  await s.done();
  assert.equal(peak, 2);
  assert.deepEqual(ended.slice(0, 3).sort(), ['b', 'c', 'd'], 'the slow host a did not hold the others');
  assert.equal(s.jobStatus(), 'partial');
  const rows = s.store.sqlite.prepare('select host_name, status, exit_code, mode, mode_reason, output, t_connect_ms, t_total_ms, last_seq from runs order by id').all() as Record<string, unknown>[];
  assert.deepEqual(rows.map((r) => [r.host_name, r.status, r.exit_code]), [['a', 'succeeded', 0], ['b', 'succeeded', 0], ['c', 'succeeded', 0], ['d', 'failed', 3]]);
  assert.equal(rows[0]!.mode_reason, 'runner mode not available yet');
  assert.equal(rows[0]!.output, '{"n":1}');
  assert.equal(rows[3]!.output, null);
  assert.equal(rows[0]!.t_total_ms, 6);
  assert.ok((rows[0]!.last_seq as number) >= 1);
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(logs.includes('hi from a\n'), logs.join('|'));
  assert.ok(statuses.includes('a:running'));
  assert.equal(statuses.filter((x) => x.endsWith(':partial')).length, 1, statuses.join(' '));
});

test('cancel: in-process and through the cancel request of another process', async (t) => {
  for (const how of ['local', 'remote'] as const) {
    const s = await setup(t, (_req, _sinks, cancel) => new Promise((resolve) => cancel.addEventListener('abort', () => resolve(ok({ status: 'cancelled', exitCode: null, signal: 'TERM' })), { once: true })), ['a', 'b']);
    s.worker.start();
    const deadline = Date.now() + 3000;
    while (s.worker.active < 2) {
      if (Date.now() > deadline) throw new Error('runs did not start');
      await new Promise((r) => setTimeout(r, 10));
    }
    const inFlight = await s.queue.cancel(s.jobId);
    assert.equal(inFlight.length, 2);
    if (how === 'local') s.worker.cancelJob(s.jobId);
    else await requestCancel(s.store.data, s.jobId);
    await s.done();
    assert.equal(s.jobStatus(), 'cancelled', how);
    assert.equal(s.store.sqlite.prepare("select count(*) from settings where key like 'job.cancel:%'").pluck().get(), 0, 'the cancel request is removed when the job ends');
  }
});

test('a connection failure is retried by the queue when the job allows it', async (t) => {
  let calls = 0;
  const s = await setup(t, async () => (++calls === 1 ? ok({ status: 'failed', exitCode: null, errorCode: 'CONNECT_FAILED', errorMessage: 'refused', retryable: true, mode: null }) : ok()), ['a']);
  s.store.sqlite.prepare('update jobs set max_attempts = 2').run();
  s.worker.start();
  // The retry waits for its backoff (about 2 s): pull it forward.
  const deadline = Date.now() + 3000;
  while (calls < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  s.store.sqlite.prepare("update runs set not_before = 0 where status = 'queued'").run();
  await s.done();
  assert.equal(calls, 2);
  assert.equal(s.jobStatus(), 'succeeded');
});

test('a run\'s output (direct mode\'s, stored at its end) is masked like its log', async (t) => {
  const s = await setup(t, async (_req, sinks) => {
    await sinks.stdout(Buffer.from('pw is hunter2-pw\n'));
    return ok({ output: { pw: 'hunter2-pw', nested: ['x hunter2-pw y'] } });
  }, ['a'], {}, ['hunter2-pw']);
  s.worker.start();
  await s.done();
  const row = s.store.sqlite.prepare('select output from runs').get() as { output: string };
  assert.deepEqual(JSON.parse(row.output), { pw: '***', nested: ['x *** y'] });
});

test("what a person's poke starts is attributed to no one (a team server's worker runs anyone's jobs)", async (t) => {
  const seen: (string | undefined)[] = [];
  const s = await setup(t, async () => {
    seen.push(currentCaller()?.principal?.name);
    return ok();
  }, ['a', 'b']);
  s.worker.start();
  await s.done();
  // The worker is idle; a person's call queues a job and pokes it (as jobs.run does).
  const hosts = s.store.sqlite.prepare('select id, name from hosts').all() as { id: number; name: string }[];
  const olga = { id: 1, name: 'olga', role: 'operator' as const, grants: { hosts: [], tags: [] } };
  const jobId = await withCaller({ principal: olga }, async () => {
    const id = await s.queue.enqueue({ kind: 'adhoc', requestedBy: 'headless', interpreter: 'sh', scriptBody: 'true', mode: 'auto', hosts, maxAttempts: 1 });
    s.worker.poke();
    return id;
  });
  await until('the second job to end', () => s.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) === 'succeeded');
  assert.equal(seen.length, 4);
  assert.deepEqual(seen, [undefined, undefined, undefined, undefined], 'no run executes as the person who poked the worker');
});
