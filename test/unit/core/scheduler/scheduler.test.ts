import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { openCore, type Core } from '../../../../electron/core/core';
import { ScheduleService } from '../../../../electron/core/scheduler/schedule-service';
import { Scheduler } from '../../../../electron/core/scheduler/scheduler';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

const T0 = Date.parse('2026-06-01T12:00:00Z');

async function setup(t: TestContext) {
  const core: Core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  await core.hosts.add({ name: 'h1', address: '127.0.0.1', port: 22, useAgent: true, tags: ['web'] } as Parameters<Core['hosts']['add']>[0]);
  let now = T0;
  const clock = () => now;
  const queue = core.queue;
  const schedules = new ScheduleService(core.store.data, core.audit, clock);
  const resolveTargets = async (target: { hosts?: string[]; tags?: string[] }) =>
    (await core.hosts.list({})).filter((h) => target.hosts?.includes(h.name) || h.tags.some((tag) => target.tags?.includes(tag))).map((h) => ({ id: h.id, name: h.name }));
  const make = (owner: string) => new Scheduler({ store: core.store.data, queue, resolveTargets, owner, clock, leaseMs: 10_000 });
  return { core, queue, schedules, make, set: (ms: number) => (now = ms) };
}

const script = { interpreter: 'bash' as const, body: 'echo hi' };
const jobsOf = (core: Core) => core.store.sqlite.prepare('select id, status, schedule_id from jobs order by id').all() as { id: number; status: string }[];

test('schedules are validated, listed with their next runs, paused and resumed', async (t) => {
  const { schedules } = await setup(t);
  const s = await schedules.add({ name: 'backup', cron: '0 3 * * *', tz: 'Europe/Berlin', script, target: { tags: ['web'] } });
  assert.equal(s.description, 'At 03:00');
  assert.equal(s.nextRuns.length, 5);
  assert.equal(new Date(s.nextRuns[0]!).toISOString(), '2026-06-02T01:00:00.000Z');
  await assert.rejects(async () => await schedules.add({ name: 'backup', cron: '* * * * *', tz: 'UTC', script, target: { hosts: ['h1'] } }), (e: unknown) => e instanceof CroniumError && e.code === 'ALREADY_EXISTS');
  await assert.rejects(async () => await schedules.add({ name: 'x', cron: 'nope', tz: 'UTC', script, target: { hosts: ['h1'] } }), /invalid cron/);
  await assert.rejects(async () => await schedules.add({ name: 'x', cron: '* * * * *', tz: 'UTC', script, target: {} }), /invalid target/);
  assert.equal((await schedules.pause('backup')).paused, true);
  assert.deepEqual((await schedules.pause('backup')).nextRuns, []);
  assert.equal((await schedules.resume('backup')).paused, false);
  await schedules.remove('backup');
  assert.deepEqual(await schedules.list(), []);
});

test('a due schedule fires once into the queue, even when ticked twice or by two schedulers', async (t) => {
  const { core, schedules, make, set } = await setup(t);
  await schedules.add({ name: 'tick', cron: '* * * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, overlapPolicy: 'parallel' });
  const a = make('a');
  const b = make('b');
  set(T0 + 1000);
  const fired = await a.tick();
  assert.deepEqual(fired.map((f) => f.outcome), ['fired']);
  assert.deepEqual(await a.tick(), [], 'nothing is due twice');
  set(T0 + 2000);
  assert.deepEqual(await b.tick(), [], 'b does not hold the lease while a does');
  assert.equal((await a.tick()).length, 1);
  assert.equal(jobsOf(core).length, 2);
  // a stops (releases its lease): b takes over at once.
  await a.stop();
  set(T0 + 3000);
  assert.equal((await b.tick()).length, 1);
  assert.equal(jobsOf(core).length, 3);
});

test('a crashed scheduler\'s lease is taken over only once it expires', async (t) => {
  const { schedules, make, set } = await setup(t);
  await schedules.add({ name: 's', cron: '* * * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, overlapPolicy: 'parallel' });
  const a = make('a');
  const b = make('b');
  set(T0 + 1000);
  assert.equal((await a.tick()).length, 1);
  set(T0 + 5000);
  assert.equal(await b.acquire(), false);
  set(T0 + 12_000);
  assert.equal(await b.acquire(), true, 'a did not renew within its lease');
});

test('overlap policies: skip drops, queue holds then fires once, parallel fires', async (t) => {
  const { core, schedules, make, set } = await setup(t);
  for (const overlapPolicy of ['skip', 'queue', 'parallel'] as const) {
    await schedules.add({ name: overlapPolicy, cron: '* * * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, overlapPolicy });
  }
  const s = make('a');
  set(T0 + 1000);
  assert.deepEqual((await s.tick()).map((f) => `${f.name}:${f.outcome}`).sort(), ['parallel:fired', 'queue:fired', 'skip:fired']);
  set(T0 + 2000);
  assert.deepEqual((await s.tick()).map((f) => `${f.name}:${f.outcome}`).sort(), ['parallel:fired', 'queue:held-overlap', 'skip:skipped-overlap']);
  set(T0 + 3000);
  assert.deepEqual((await s.tick()).map((f) => `${f.name}:${f.outcome}`).sort(), ['parallel:fired', 'queue:held-overlap', 'skip:skipped-overlap']);
  // The queue schedule's job ends: its held fire goes out, once.
  const queueJob = core.store.sqlite.prepare("select j.id from jobs j join schedules s on s.id = j.schedule_id where s.name = 'queue'").pluck().get() as number;
  core.store.sqlite.prepare("update jobs set status = 'succeeded', finished_at = ? where id = ?").run(T0 + 3500, queueJob);
  core.store.sqlite.prepare("update runs set status = 'succeeded' where job_id = ?").run(queueJob);
  set(T0 + 3600);
  const after = (await s.tick()).filter((f) => f.name === 'queue');
  assert.deepEqual(after.map((f) => f.outcome), ['fired']);
});

test('catch-up after downtime: skip waits for the next fire, run-once fires once', async (t) => {
  const { core, schedules, make, set } = await setup(t);
  await schedules.add({ name: 'skipper', cron: '*/5 * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, catchupPolicy: 'skip' });
  await schedules.add({ name: 'once', cron: '*/5 * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, catchupPolicy: 'run-once' });
  const s = make('a');
  // The app was closed for an hour: 12 fires were missed.
  set(T0 + 60 * 60_000 + 1000);
  const r = await s.tick();
  assert.deepEqual(r.map((f) => `${f.name}:${f.outcome}`).sort(), ['once:fired', 'skipper:skipped-missed']);
  assert.equal(jobsOf(core).length, 1);
  assert.equal((await s.tick()).length, 0, 'run-once fired once for all the missed fires');
  const next = (await schedules.get('skipper')).nextRuns[0]!;
  assert.equal(new Date(next).toISOString(), '2026-06-01T13:05:00.000Z');
});

test('a paused schedule never fires; a schedule with no matching hosts fires nothing', async (t) => {
  const { core, schedules, make, set } = await setup(t);
  await schedules.add({ name: 'p', cron: '* * * * * *', tz: 'UTC', script, target: { hosts: ['h1'] } });
  await schedules.add({ name: 'nobody', cron: '* * * * * *', tz: 'UTC', script, target: { tags: ['none'] } });
  await schedules.pause('p');
  const s = make('a');
  set(T0 + 1000);
  assert.deepEqual((await s.tick()).map((f) => `${f.name}:${f.outcome}`), ['nobody:no-hosts']);
  assert.equal(jobsOf(core).length, 0);
});

test('a tick late by a few seconds (within the grace) fires each due second once, in order; past the grace the catch-up policy decides', async (t) => {
  const { core, schedules, make, set } = await setup(t);
  await schedules.add({ name: 'sec', cron: '* * * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, overlapPolicy: 'parallel' });
  const a = make('a');
  set(T0 + 1000);
  assert.equal((await a.tick()).length, 1);
  // Nobody ticked for 3 seconds (another scheduler took over, a busy moment): 3 due times wait.
  set(T0 + 4000);
  const dues: number[] = [];
  for (let i = 0; i < 5; i++) for (const f of await a.tick()) dues.push(f.dueAt);
  assert.deepEqual(dues, [T0 + 2000, T0 + 3000, T0 + 4000], 'each second once, in order, none skipped');
  assert.equal(jobsOf(core).length, 4);
  // Past the grace (60 s): one catch-up decision, not 70 fires.
  set(T0 + 74_000);
  const after: number[] = [];
  for (let i = 0; i < 5; i++) for (const f of await a.tick()) after.push(f.dueAt);
  assert.equal(after.length, 1, JSON.stringify(after));
});
