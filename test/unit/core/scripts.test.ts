// Saved scripts and follow-ups over a real core and SQLite file, with a fake executor: save and
// remove (NOT_FOUND, CONFLICT naming the users), loop refusal (self, direct, indirect; nothing
// saved), which outcome fires which follow-up, the output as the follow-up's input, targets (same
// host, hosts, tag), jobs.tree, exactly once (two stores on one file, repeated and concurrent
// firing), recovery of follow-ups a crash left unfired, the depth guard, and cancel down the chain.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../electron/core/core';
import { openStore } from '../../../electron/core/db/database';
import type { Executor } from '../../../electron/core/exec/executor';
import type { ExecOutcome, ExecRequest } from '../../../electron/core/exec/types';
import { requestCancel, Worker } from '../../../electron/core/exec/worker';
import { AuditLog } from '../../../electron/core/audit/audit-log';
import { JobQueue, sqliteQueue } from '../../../electron/core/queue/job-queue';
import { Scheduler } from '../../../electron/core/scheduler/scheduler';
import { FollowupService, followupMatches } from '../../../electron/core/scripts/followups';
import { MAX_OUTPUT_BYTES, setRunCondition, setRunOutput } from '../../../electron/core/scripts/runs';
import { findCycle } from '../../../electron/core/scripts/script-service';
import type { JobTreeNode } from '../../../electron/shared/api';
import { tempDir } from '../../helpers/temp';

const ctx = { door: 'cli' as const };

/** What the fake executor saw of each run. */
interface Seen {
  host: string;
  input: unknown;
  jobId: number;
}

/**
 * A fake executor driven by the script body: `status=failed|timed_out`, `output=<json>`,
 * `condition=true|false` (set through the helper API's function), `sleep=<ms>` (cancellable).
 */
function fakeExecutor(core: Core, seen: Map<number, Seen>): Executor {
  return {
    execute: async (req: ExecRequest, _sinks: unknown, cancel: AbortSignal): Promise<ExecOutcome> => {
      seen.set(req.runId, { host: req.host, input: req.input, jobId: req.jobId });
      const directives = new Map(req.script.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
      if (directives.has('condition')) await setRunCondition(core.store.data, req.runId, directives.get('condition') === 'true');
      if (directives.has('helper-output')) await setRunOutput(core.store.data, req.runId, JSON.parse(directives.get('helper-output')!));
      if (directives.has('sleep')) {
        await new Promise<void>((r) => {
          const timer = setTimeout(r, Number(directives.get('sleep')));
          cancel.addEventListener('abort', () => (clearTimeout(timer), r()), { once: true });
        });
      }
      const status = (cancel.aborted ? 'cancelled' : (directives.get('status') ?? 'succeeded')) as ExecOutcome['status'];
      return {
        status,
        exitCode: status === 'succeeded' ? 0 : 1,
        signal: null,
        errorCode: null,
        errorMessage: null,
        retryable: false,
        mode: 'direct',
        modeReason: null,
        runnerVersion: null,
        ...(directives.has('output') ? { output: JSON.parse(directives.get('output')!) as unknown } : {}),
        timings: { connect: 1, deploy: null, start: 1, exec: 1, total: 3 },
      };
    },
  } as unknown as Executor;
}

function setup(t: TestContext) {
  const dir = tempDir(t);
  const core = openCore({ dataDir: dir, door: 'cli' });
  const seen = new Map<number, Seen>();
  const workers: Worker[] = [];
  t.after(async () => {
    for (const w of workers) await w.stop();
    core.close();
  });
  /** Runs everything queued (follow-ups included) with a worker that has the core's hooks, until nothing is left. */
  const drain = async (extra: Partial<ConstructorParameters<typeof Worker>[0]> = {}) => {
    const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: fakeExecutor(core, seen), owner: `w${workers.length}`, pollMs: 10, ...core.runHooks, ...extra });
    workers.push(worker);
    worker.start();
    const deadline = Date.now() + 10_000;
    while ((core.store.sqlite.prepare("select count(*) from jobs where status in ('queued', 'running')").pluck().get() as number) > 0) {
      if (Date.now() > deadline) throw new Error('jobs did not end');
      await new Promise((r) => setTimeout(r, 10));
    }
    await worker.stop();
  };
  const save = (name: string, body: string, followups: unknown[] = []) => call(core.dispatch, 'scripts.save', { name, body, followups }, ctx);
  const run = (scriptName: string, hosts = ['web1']) => call(core.dispatch, 'jobs.run', { hosts, scriptName, mode: 'direct' }, ctx);
  const children = (jobId: number) => core.store.sqlite.prepare('select id, trigger_on as "on", trigger_run_id as runId, script_id from jobs where parent_job_id = ? order by id').all(jobId) as { id: number; on: string; runId: number }[];
  return { core, dir, seen, drain, save, run, children };
}

async function addHosts(core: Core, names: string[], tags: string[] = []) {
  for (const name of names) await call(core.dispatch, 'hosts.add', { name, address: '127.0.0.1', useAgent: false, tags }, ctx);
}

test('findCycle finds self, direct and indirect cycles and nothing in a DAG', () => {
  assert.deepEqual(findCycle(new Map([[1, [1]]])), [1, 1]);
  assert.deepEqual(findCycle(new Map([[1, [2]], [2, [1]]])), [1, 2, 1]);
  assert.deepEqual(findCycle(new Map([[1, [2]], [2, [3]], [3, [4]], [4, [2]]])), [2, 3, 4, 2]);
  assert.equal(findCycle(new Map([[1, [2, 3]], [2, [4]], [3, [4]], [4, []]])), undefined, 'a diamond is not a loop');
});

test('followupMatches: which final status fires which follow-up', () => {
  const table: [string, boolean | null, string[]][] = [
    ['succeeded', null, ['success', 'always']],
    ['failed', null, ['failure', 'always']],
    ['timed_out', null, ['failure', 'always']],
    ['lost', null, ['failure', 'always']],
    ['cancelled', true, []],
    ['succeeded', true, ['success', 'always', 'condition']],
    ['failed', false, ['failure', 'always']],
  ];
  for (const [status, condition, expected] of table) {
    assert.deepEqual((['success', 'failure', 'always', 'condition'] as const).filter((on) => followupMatches(on, status, condition)), expected, `${status}/${condition}`);
  }
});

test('save, get, list and remove; unknown follow-up scripts and hosts are NOT_FOUND; remove names its users', async (t) => {
  const { core, save } = setup(t);
  await addHosts(core, ['web1']);
  await save('notify', 'echo notify');
  const s = await save('backup', 'echo backup', [{ on: 'success', script: 'notify' }, { on: 'failure', script: 'notify', hosts: ['web1'] }]);
  assert.equal(s.interpreter, 'bash');
  assert.deepEqual(s.followups, [{ on: 'success', script: 'notify' }, { on: 'failure', script: 'notify', hosts: ['web1'] }]);
  assert.deepEqual((await call(core.dispatch, 'scripts.list', {}, ctx)).map((x) => x.name), ['backup', 'notify']);
  await assert.rejects(save('x', 'true', [{ on: 'success', script: 'nosuch' }]), (e: { code: string; message: string }) => e.code === 'NOT_FOUND' && /nosuch/.test(e.message));
  await assert.rejects(save('x', 'true', [{ on: 'success', script: 'notify', hosts: ['nohost'] }]), { code: 'NOT_FOUND' });
  await assert.rejects(save('x', 'true', [{ on: 'success', script: 'notify', hosts: ['web1'], tag: 'web' }]), { code: 'INVALID_INPUT' });
  await assert.rejects(save('x', 'true', [{ on: 'sometimes', script: 'notify' }]), { code: 'INVALID_INPUT' });
  await assert.rejects(call(core.dispatch, 'scripts.save', { name: 'bad:name', body: 'true' }, ctx), { code: 'INVALID_INPUT' });
  await assert.rejects(call(core.dispatch, 'scripts.get', { name: 'x' }, ctx), { code: 'NOT_FOUND' }, 'a refused save stores nothing');

  // A schedule's own script is internal: not listed.
  await call(core.dispatch, 'schedules.add', { name: 'inline', cron: '0 3 * * *', hosts: ['web1'], script: 'true' }, ctx);
  await call(core.dispatch, 'schedules.add', { name: 'nightly', cron: '0 3 * * *', hosts: ['web1'], scriptName: 'notify' }, ctx);
  assert.deepEqual((await call(core.dispatch, 'scripts.list', {}, ctx)).map((x) => x.name), ['backup', 'notify']);
  assert.equal((await call(core.dispatch, 'schedules.get', { name: 'nightly' }, ctx)).scriptName, 'notify');
  assert.equal((await call(core.dispatch, 'schedules.get', { name: 'inline' }, ctx)).scriptName, null);
  await assert.rejects(call(core.dispatch, 'schedules.add', { name: 'both', cron: '0 3 * * *', hosts: ['web1'], script: 'true', scriptName: 'notify' }, ctx), { code: 'INVALID_INPUT' });
  await assert.rejects(call(core.dispatch, 'schedules.add', { name: 'ghost', cron: '0 3 * * *', hosts: ['web1'], scriptName: 'ghost' }, ctx), { code: 'NOT_FOUND' });

  await assert.rejects(call(core.dispatch, 'scripts.remove', { name: 'notify' }, ctx), (e: { code: string; message: string }) => e.code === 'CONFLICT' && /schedule nightly/.test(e.message) && /follow-ups of backup/.test(e.message));
  await call(core.dispatch, 'schedules.remove', { name: 'nightly' }, ctx);
  await assert.rejects(call(core.dispatch, 'scripts.remove', { name: 'notify' }, ctx), (e: { code: string; message: string }) => e.code === 'CONFLICT' && !/schedule/.test(e.message));
  assert.deepEqual(await call(core.dispatch, 'scripts.remove', { name: 'backup' }, ctx), { removed: true });
  assert.deepEqual(await call(core.dispatch, 'scripts.remove', { name: 'notify' }, ctx), { removed: true });
  await assert.rejects(call(core.dispatch, 'scripts.remove', { name: 'notify' }, ctx), { code: 'NOT_FOUND' });
});

test('loops are refused with FOLLOWUP_LOOP naming the cycle (self, direct, indirect), and nothing changes', async (t) => {
  const { core, save } = setup(t);
  await assert.rejects(save('self', 'true', [{ on: 'always', script: 'self' }]), (e: { code: string; message: string; hint?: string }) => e.code === 'FOLLOWUP_LOOP' && e.message.includes('self -> self') && !!e.hint);
  await assert.rejects(call(core.dispatch, 'scripts.get', { name: 'self' }, ctx), { code: 'NOT_FOUND' }, 'a new script refused for a loop is not saved');
  await save('a', 'echo a');
  await save('b', 'echo b', [{ on: 'success', script: 'a' }]);
  await assert.rejects(save('a', 'echo a2', [{ on: 'failure', script: 'b' }]), (e: { code: string; message: string }) => e.code === 'FOLLOWUP_LOOP' && e.message.includes('a -> b -> a'));
  const a = await call(core.dispatch, 'scripts.get', { name: 'a' }, ctx);
  assert.equal(a.body, 'echo a', 'the refused save changed nothing');
  assert.deepEqual(a.followups, []);
  await save('c', 'echo c', [{ on: 'condition', script: 'b' }]);
  await save('d', 'echo d', [{ on: 'always', script: 'c' }]);
  // a -> d -> c -> b -> a
  await assert.rejects(save('a', 'echo a', [{ on: 'success', script: 'd' }]), (e: { code: string; message: string }) => e.code === 'FOLLOWUP_LOOP' && e.message.includes('a -> d -> c -> b -> a'));
  // A diamond is fine.
  await save('e', 'echo e', [{ on: 'success', script: 'a' }, { on: 'failure', script: 'b' }]);
});

test('outcomes fire the matching follow-ups with the output as input, on the same host, named hosts or a tag; jobs.tree shows the chain', async (t) => {
  const { core, seen, drain, save, run, children } = setup(t);
  await addHosts(core, ['web1']);
  await addHosts(core, ['db1', 'db2'], ['db']);
  await save('on-success', 'echo s');
  await save('on-failure', 'echo f');
  await save('on-always', 'echo a');
  await save('on-condition', 'echo c');
  const all = [
    { on: 'success', script: 'on-success' },
    { on: 'failure', script: 'on-failure', hosts: ['db1'] },
    { on: 'always', script: 'on-always', tag: 'db' },
    { on: 'condition', script: 'on-condition' },
  ];
  await save('ok', 'output={"answer":42}', all);
  await save('bad', 'status=failed', all);
  await save('cond', 'condition=true\noutput=[1,2]', all);
  await save('timeout', 'status=timed_out\ncondition=false', all);

  const okJob = await run('ok');
  await drain();
  const okKids = children(okJob.jobId);
  assert.deepEqual(okKids.map((k) => k.on), ['success', 'always']);
  for (const k of okKids) assert.equal(k.runId, okJob.runIds[0]);
  const okTree = await call(core.dispatch, 'jobs.tree', { id: okKids[0]!.id }, ctx);
  assert.equal(okTree.job.id, okJob.jobId, 'the tree starts at the root of the chain');
  assert.equal(okTree.job.scriptName, 'ok');
  assert.equal(okTree.trigger, null);
  assert.deepEqual(okTree.children.map((c: JobTreeNode) => [c.job.scriptName, c.trigger?.on, c.trigger?.host, c.job.parentJobId, c.job.kind, c.job.requestedBy]), [
    ['on-success', 'success', 'web1', okJob.jobId, 'followup', 'followup'],
    ['on-always', 'always', 'web1', okJob.jobId, 'followup', 'followup'],
  ]);
  const successRun = (await call(core.dispatch, 'jobs.get', { id: okKids[0]!.id }, ctx)).runs[0]!;
  assert.equal(successRun.host, 'web1', 'neither hosts nor tag: the same host');
  assert.deepEqual(seen.get(successRun.id)?.input, { answer: 42 }, 'the output became the input');
  assert.deepEqual((await call(core.dispatch, 'jobs.get', { id: okKids[1]!.id }, ctx)).runs.map((r) => r.host), ['db1', 'db2'], 'a tag: its hosts when it fired');

  const badJob = await run('bad');
  await drain();
  assert.deepEqual(children(badJob.jobId).map((k) => k.on), ['failure', 'always']);
  const failureRun = (await call(core.dispatch, 'jobs.get', { id: children(badJob.jobId)[0]!.id }, ctx)).runs[0]!;
  assert.equal(failureRun.host, 'db1');
  assert.equal(seen.get(failureRun.id)?.input, undefined, 'no output: no input');

  const condJob = await run('cond');
  await drain();
  assert.deepEqual(children(condJob.jobId).map((k) => k.on), ['success', 'always', 'condition']);
  const condView = await call(core.dispatch, 'jobs.get', { id: condJob.jobId }, ctx);
  assert.equal(condView.runs[0]!.condition, true);
  assert.deepEqual(seen.get((await call(core.dispatch, 'jobs.get', { id: children(condJob.jobId)[2]!.id }, ctx)).runs[0]!.id)?.input, [1, 2]);

  const toJob = await run('timeout');
  await drain();
  assert.deepEqual(children(toJob.jobId).map((k) => k.on), ['failure', 'always'], 'timed out is a failure; condition false fires nothing');

  // A job of a plain script (no saved script) fires nothing; jobs carry their script's name.
  const plain = await call(core.dispatch, 'jobs.run', { hosts: ['web1'], command: 'true', mode: 'direct' }, ctx);
  await drain();
  assert.deepEqual(children(plain.jobId), []);
  const list = await call(core.dispatch, 'jobs.list', { limit: 100 }, ctx);
  assert.equal(list.find((j) => j.id === plain.jobId)?.scriptName, null);
  assert.equal(list.find((j) => j.id === okKids[0]!.id)?.parentJobId, okJob.jobId);
});

test('a run with several hosts fires per run, and each follow-up fires exactly once however often firing is attempted, from two stores at once', async (t) => {
  const { core, dir, drain, save, run } = setup(t);
  await addHosts(core, ['web1', 'web2', 'web3']);
  await save('next', 'echo next');
  await save('first', 'echo first', [{ on: 'success', script: 'next' }]);
  const job = await run('first', ['web1', 'web2', 'web3']);
  await drain();
  const count = () => core.store.sqlite.prepare("select count(*) from jobs where kind = 'followup'").pluck().get() as number;
  assert.equal(count(), 3, 'one follow-up job per run');
  // Forget that they fired (as if the marker were lost) and fire again from two processes' stores: the unique index holds.
  core.store.sqlite.prepare('update runs set followups_at = null where job_id = ?').run(job.jobId);
  const other = openStore(dir);
  t.after(() => other.close());
  const otherFollowups = new FollowupService({ store: other.data, queue: sqliteQueue(other, new JobQueue(other)), audit: new AuditLog(other.data, 'cli') });
  const fired = [...(await core.followups.sweep()), ...(await otherFollowups.sweep()), ...(await core.followups.fire(job.runIds)), ...(await otherFollowups.fire(job.runIds))];
  assert.deepEqual(fired, [], 'nothing fired twice');
  assert.equal(count(), 3);
  assert.equal((core.store.sqlite.prepare('select count(*) from jobs where trigger_run_id in (select id from runs where job_id = ?)').pluck().get(job.jobId) as number), 3);
});

test('a crash between a run\'s end and its follow-ups: recovery fires them, once', async (t) => {
  const { core, drain, save, run, children } = setup(t);
  await addHosts(core, ['web1']);
  await save('next', 'echo next');
  await save('first', 'echo first', [{ on: 'success', script: 'next' }]);
  const job = await run('first');
  // A worker without the hook ends the run (an older build, or the process died right after).
  await drain({ finalized: async () => undefined, recovered: async () => undefined });
  assert.deepEqual(children(job.jobId), [], 'nothing fired yet');
  assert.equal(core.store.sqlite.prepare('select followups_at from runs where id = ?').pluck().get(job.runIds[0]!), null);
  // The next worker's recovery pass finds it.
  await drain({ recovered: core.runHooks.recovered });
  const deadline = Date.now() + 5000;
  while (children(job.jobId).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await drain();
  assert.equal(children(job.jobId).length, 1);
  assert.equal((await call(core.dispatch, 'jobs.get', { id: children(job.jobId)[0]!.id }, ctx)).status, 'succeeded', 'the recovered follow-up ran');
  await core.followups.sweep();
  assert.equal(children(job.jobId).length, 1, 'and only once');

  // A run lost by a dead process (lease expired) counts as failed: its failure follow-up fires in recovery.
  await save('lost-one', 'echo x', [{ on: 'failure', script: 'next' }]);
  const lost = await run('lost-one');
  core.store.sqlite.prepare("update runs set status = 'running', lease_owner = 'dead', lease_expires_at = 1, started_at = 1 where id = ?").run(lost.runIds[0]!);
  core.store.sqlite.prepare("update jobs set status = 'running' where id = ?").run(lost.jobId);
  await drain();
  assert.equal((await call(core.dispatch, 'jobs.get', { id: lost.jobId }, ctx)).runs[0]!.status, 'lost');
  assert.deepEqual(children(lost.jobId).map((k) => k.on), ['failure']);
});

test('the depth guard stops a chain at run time, and cancelling a job cancels its queued follow-ups', async (t) => {
  const { core, drain, save, run, children } = setup(t);
  await addHosts(core, ['web1']);
  // A chain of 4 scripts with a guard of 2 follow-up levels: s0 -> s1 -> s2 (s3 refused at run time).
  await save('s3', 'echo 3');
  await save('s2', 'echo 2', [{ on: 'success', script: 's3' }]);
  await save('s1', 'echo 1', [{ on: 'success', script: 's2' }]);
  await save('s0', 'echo 0', [{ on: 'success', script: 's1' }]);
  const guarded = new FollowupService({ store: core.store.data, queue: core.queue, audit: core.audit, maxDepth: 2 });
  const job = await run('s0');
  await drain({
    finalized: async (ids) => {
      await guarded.fire(ids);
    },
    recovered: async () => undefined,
  });
  const tree = await call(core.dispatch, 'jobs.tree', { id: job.jobId }, ctx);
  const depth = (n: JobTreeNode): number => 1 + Math.max(0, ...n.children.map(depth));
  assert.equal(depth(tree), 3, 'root + 2 follow-up levels');
  assert.equal(core.store.sqlite.prepare("select count(*) from audit_log where action = 'followup.depth'").pluck().get(), 1);

  // Cancel: the follow-up that fired and waits in the queue is cancelled with its parent.
  await save('slow-next', 'echo n');
  await save('quick', 'echo q', [{ on: 'success', script: 'slow-next' }]);
  const q = await run('quick');
  // Run only the parent (a worker of that job alone), so the follow-up stays queued.
  await drainJob(core, q.jobId);
  const kids = children(q.jobId);
  assert.equal(kids.length, 1);
  assert.equal((await call(core.dispatch, 'jobs.get', { id: kids[0]!.id }, ctx)).status, 'queued');
  await call(core.dispatch, 'jobs.cancel', { id: q.jobId }, ctx);
  assert.equal((await call(core.dispatch, 'jobs.get', { id: kids[0]!.id }, ctx)).status, 'cancelled');

  // A job cancelled while its runs go on fires nothing more.
  await save('fan', 'sleep=300', [{ on: 'success', script: 'slow-next' }]);
  const fan = await run('fan');
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: fakeExecutor(core, new Map()), owner: 'w-cancel', jobId: fan.jobId, pollMs: 10, ...core.runHooks });
  worker.start();
  const detach = core.jobs.attach(worker);
  while (core.store.sqlite.prepare('select status from runs where id = ?').pluck().get(fan.runIds[0]!) !== 'running') await new Promise((r) => setTimeout(r, 5));
  await call(core.dispatch, 'jobs.cancel', { id: fan.jobId }, ctx);
  await worker.idle();
  await worker.stop();
  detach();
  assert.equal((await call(core.dispatch, 'jobs.get', { id: fan.jobId }, ctx)).status, 'cancelled');
  assert.deepEqual(children(fan.jobId), []);

  // A run that still succeeds after its job's cancel was requested (a race) fires nothing.
  await save('racer', 'echo r', [{ on: 'success', script: 'slow-next' }]);
  const racer = await run('racer');
  await requestCancel(core.store.data, racer.jobId);
  await drainJob(core, racer.jobId, { heartbeatMs: 60_000 });
  assert.equal((await call(core.dispatch, 'jobs.get', { id: racer.jobId }, ctx)).runs[0]!.status, 'succeeded');
  assert.deepEqual(children(racer.jobId), []);
});

test('a schedule of a saved script fires jobs that carry the script, so its follow-ups fire', async (t) => {
  const { core, drain, save, children } = setup(t);
  await addHosts(core, ['web1']);
  await save('after', 'echo after');
  await save('nightly-body', 'echo nightly', [{ on: 'success', script: 'after' }]);
  await call(core.dispatch, 'schedules.add', { name: 'every-second', cron: '* * * * * *', hosts: ['web1'], scriptName: 'nightly-body', mode: 'direct' }, ctx);
  const scheduler = new Scheduler({ store: core.store.data, queue: core.queue, owner: 'sched-test', resolveTargets: (tg) => core.jobs.resolveTargets(tg) });
  const fired = await scheduler.tick(Date.now() + 2000);
  const jobId = fired.find((f) => f.outcome === 'fired')?.jobId;
  assert.ok(jobId, `the schedule did not fire: ${JSON.stringify(fired)}`);
  await drain();
  assert.equal((await call(core.dispatch, 'jobs.get', { id: jobId }, ctx)).scriptName, 'nightly-body');
  assert.deepEqual(children(jobId).map((k) => k.on), ['success']);
  // jobs.run: exactly one of script, command and scriptName.
  await assert.rejects(call(core.dispatch, 'jobs.run', { hosts: ['web1'], scriptName: 'after', command: 'true' }, ctx), { code: 'INVALID_INPUT' });
  await assert.rejects(call(core.dispatch, 'jobs.run', { hosts: ['web1'], scriptName: 'nosuch' }, ctx), { code: 'NOT_FOUND' });
});

/** Runs only one job's runs (like `cronium run` without its chain). */
async function drainJob(core: Core, jobId: number, extra: { heartbeatMs?: number } = {}): Promise<void> {
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: fakeExecutor(core, new Map()), owner: `only-${jobId}`, jobId, pollMs: 10, ...core.runHooks, ...extra });
  worker.start();
  while (['queued', 'running'].includes(core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string)) await new Promise((r) => setTimeout(r, 10));
  await worker.idle();
  await worker.stop();
}

test('setRunOutput and setRunCondition (the helper API\'s): stored on the run, kept at its end, passed on to follow-ups', async (t) => {
  const { core, seen, drain, save, run, children } = setup(t);
  await addHosts(core, ['web1']);
  await save('next', 'echo next');
  await save('helper', 'helper-output={"from":"helper"}\ncondition=true', [{ on: 'condition', script: 'next' }]);
  const job = await run('helper');
  await drain();
  const r = (await call(core.dispatch, 'jobs.get', { id: job.jobId }, ctx)).runs[0]!;
  assert.deepEqual(r.output, { from: 'helper' }, 'an output set while the run was live is kept when the run ends without one');
  assert.equal(r.condition, true);
  const kid = children(job.jobId)[0]!;
  assert.deepEqual(seen.get((await call(core.dispatch, 'jobs.get', { id: kid.id }, ctx)).runs[0]!.id)?.input, { from: 'helper' });
  await assert.rejects(setRunOutput(core.store.data, 999_999, 1), { code: 'NOT_FOUND' });
  await assert.rejects(setRunCondition(core.store.data, 999_999, true), { code: 'NOT_FOUND' });
  await assert.rejects(setRunOutput(core.store.data, r.id, 'x'.repeat(MAX_OUTPUT_BYTES)), { code: 'INVALID_INPUT' });
  await setRunOutput(core.store.data, r.id, null);
  assert.equal((await call(core.dispatch, 'jobs.get', { id: job.jobId }, ctx)).runs[0]!.output, null);
});

test('a step of a chain runs as root when its own script is marked so: the follow-up job is elevated, the parent not', async (t) => {
  const { core, drain, save, run, children } = setup(t);
  await addHosts(core, ['web1']);
  await call(core.dispatch, 'scripts.save', { name: 'as-root', body: 'echo r', followups: [], elevated: true }, ctx);
  await save('plain', 'echo p', [{ on: 'success', script: 'as-root' }]);
  const job = await run('plain');
  await drain();
  const [kid] = children(job.jobId);
  const elevated = (id: number) => core.store.sqlite.prepare('select elevated from jobs where id = ?').pluck().get(id);
  assert.equal(elevated(job.jobId), 0);
  assert.equal(elevated(kid!.id), 1);
});
