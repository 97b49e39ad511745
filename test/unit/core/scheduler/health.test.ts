// Schedule health with the clock injected (sleep/wake gaps, a DST change) on a real SQLite store,
// and a real HTTP server on 127.0.0.1 as the webhook receiver: missed fires (app closed, host
// unreachable), late jobs, failing streaks, recovery; each a transition with its event, a
// desktop event, and webhook deliveries retried with backoff until the receiver takes them.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../../electron/core/core';
import type { EventPayload } from '../../../../electron/shared/api';
import { AlertDispatcher, MAX_ATTEMPTS } from '../../../../electron/core/scheduler/alerts';
import { Scheduler } from '../../../../electron/core/scheduler/scheduler';
import { ScheduleService } from '../../../../electron/core/scheduler/schedule-service';
import { tempDir } from '../../../helpers/temp';

const ctx = { door: 'cli' as const };
const script = { interpreter: 'bash' as const, body: 'echo hi' };

/** A loopback receiver: answers each request with the next status of `plan` (then 200), keeps the bodies. */
async function receiver(t: TestContext, plan: number[] = []) {
  const got: { path: string; body: unknown; status: number }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => {
      const status = plan.shift() ?? 200;
      got.push({ path: req.url ?? '', body: JSON.parse(data), status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got };
}

async function setup(t: TestContext, start: number) {
  const core: Core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  await core.hosts.add({ name: 'h1', address: '127.0.0.1', port: 22, useAgent: true, tags: [] } as Parameters<Core['hosts']['add']>[0]);
  let now = start;
  const clock = () => now;
  const schedules = new ScheduleService(core.store.data, core.audit, clock);
  const scheduler = new Scheduler({ store: core.store.data, queue: core.queue, owner: 'test', clock, leaseMs: 3_600_000, health: core.health, resolveTargets: async () => [{ id: 1, name: 'h1' }] });
  const alerts = new AlertDispatcher(core.store.data, core.secrets, { clock });
  const seen: EventPayload<'schedule.health'>[] = [];
  t.after(core.events.on('schedule.health', (p) => seen.push(p)));
  /** Finishes a job's runs as a worker would (claimed, started, completed) at the clock's time. */
  const finish = async (jobId: number, status: 'succeeded' | 'failed', errorCode: string | null = null) => {
    const runs = core.store.sqlite.prepare("select id from runs where job_id = ? and status in ('queued', 'running')").pluck().all(jobId) as number[];
    core.store.sqlite.prepare("update runs set status = 'claimed', lease_owner = 'w', lease_expires_at = ? where job_id = ? and status = 'queued'").run(now + 60_000, jobId);
    for (const id of runs) {
      await core.queue.start(id, 'w', now);
      await core.queue.complete(id, 'w', { status, exitCode: status === 'succeeded' ? 0 : errorCode ? null : 1, errorCode, ...(errorCode ? { errorMessage: 'refused' } : {}) }, now);
    }
  };
  const startJob = async (jobId: number) => {
    const runs = core.store.sqlite.prepare("select id from runs where job_id = ? and status = 'queued'").pluck().all(jobId) as number[];
    core.store.sqlite.prepare("update runs set status = 'claimed', lease_owner = 'w', lease_expires_at = ? where job_id = ?").run(now + 3_600_000, jobId);
    for (const id of runs) await core.queue.start(id, 'w', now);
  };
  const health = async (name: string) => (await call(core.dispatch, 'schedules.health', {}, ctx)).find((h) => h.name === name)!;
  const events = (name: string) => call(core.dispatch, 'schedules.events', { name }, ctx);
  return { core, schedules, scheduler, alerts, seen, finish, startJob, health, events, set: (ms: number) => (now = ms), now: () => now };
}

test('a sleep over fires is one missed event (counting the fires cron names, none in a DST gap), alerted by webhook and desktop; the next success recovers', async (t) => {
  // Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29: an hourly 02:30 fire does not exist that day.
  const start = Date.parse('2026-03-28T23:00:00Z');
  const x = await setup(t, start);
  const rx = await receiver(t);
  await x.schedules.add({ name: 'hourly', cron: '30 * * * *', tz: 'Europe/Berlin', script, target: { hosts: ['h1'] }, catchupPolicy: 'run-once' });
  await call(x.core.dispatch, 'schedules.set', { name: 'hourly', graceMs: 120_000, addWebhook: { url: `${rx.url}/hook?token=s3cret` } }, ctx);
  // Asleep from 00:00 to 05:10 local time (22:00..03:10Z): fires at 00:30, 01:30, 03:30, 04:30 local; 02:30 never exists.
  x.set(Date.parse('2026-03-29T03:10:00Z'));
  const fired = await x.scheduler.tick();
  assert.deepEqual(fired.map((f) => f.outcome), ['fired'], 'run-once: one job for the whole gap');
  let h = await x.health('hourly');
  assert.equal(h.health, 'missed');
  assert.match(h.reason!, /^4 fires from 2026-03-28T23:30:00\.000Z did not happen: no scheduler was running/);
  assert.match(h.reason!, /catch-up runs it once now/);
  assert.deepEqual(x.seen.map((e) => e.kind), ['missed']);
  assert.equal(await x.alerts.deliverDue(), 1);
  assert.equal(rx.got.length, 1);
  assert.equal(rx.got[0]!.path, '/hook?token=s3cret');
  assert.deepEqual(Object.keys(rx.got[0]!.body as object), ['source', 'event', 'schedule', 'reason', 'at', 'fireAt', 'jobId']);
  assert.equal((rx.got[0]!.body as { event: string }).event, 'missed');
  // The webhook's URL is a secret: masked in the view, sealed in the store.
  assert.deepEqual(h.webhooks.map((w) => w.url), [`${rx.url}/***`]);
  assert.ok(!x.core.store.sqlite.prepare('select url_sealed from webhooks').pluck().get()!.toString().includes('s3cret'));
  // The catch-up job succeeds: recovered, alerted.
  await x.finish(fired[0]!.jobId!, 'succeeded');
  x.set(x.now() + 10_000);
  await x.scheduler.tick();
  h = await x.health('hourly');
  assert.equal(h.health, 'ok');
  assert.deepEqual(h.streak, { status: 'succeeded', count: 1 });
  assert.deepEqual((await x.events('hourly')).map((e) => e.kind), ['recovered', 'missed']);
  assert.equal(await x.alerts.deliverDue(), 1);
  assert.equal((rx.got[1]!.body as { event: string }).event, 'recovered');
});

test('a job running past its expected duration plus grace is late (once), failing after N failures, a host unreachable is missed; Slack bodies', async (t) => {
  const start = Date.parse('2026-06-01T12:00:00Z');
  const x = await setup(t, start);
  const rx = await receiver(t);
  await x.schedules.add({ name: 'job', cron: '*/5 * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, overlapPolicy: 'parallel' });
  await call(x.core.dispatch, 'schedules.set', { name: 'job', graceMs: 60_000, expectedMs: 120_000, failingAfter: 2, addWebhook: { url: `${rx.url}/slack`, format: 'slack' } }, ctx);
  const fire = async (at: number) => {
    x.set(at);
    const r = await x.scheduler.tick();
    assert.equal(r[0]?.outcome, 'fired', JSON.stringify(r));
    return r[0]!.jobId!;
  };
  // Late: started at 12:05, expected 2 min + 1 min grace: late after 12:08, once.
  const j1 = await fire(Date.parse('2026-06-01T12:05:00Z'));
  await x.startJob(j1);
  await x.scheduler.tick(Date.parse('2026-06-01T12:07:59Z'));
  assert.equal((await x.health('job')).health, 'ok');
  x.set(Date.parse('2026-06-01T12:08:30Z'));
  await x.core.health.sweep(x.now());
  await x.core.health.sweep(x.now() + 10_000);
  assert.equal((await x.health('job')).health, 'late');
  assert.deepEqual((await x.events('job')).map((e) => e.kind), ['late'], 'late once per job');
  await x.finish(j1, 'failed');
  // Two failures in a row: failing (the late job was the first).
  const j2 = await fire(Date.parse('2026-06-01T12:10:00Z'));
  await x.finish(j2, 'failed');
  await x.core.health.sweep(x.now());
  let h = await x.health('job');
  assert.equal(h.health, 'failing');
  assert.match(h.reason!, /its last 2 jobs failed/);
  assert.deepEqual(h.streak, { status: 'failed', count: 2 });
  // The host unreachable: missed, not a script failure.
  const j3 = await fire(Date.parse('2026-06-01T12:15:00Z'));
  await x.finish(j3, 'failed', 'CONNECT_FAILED');
  await x.core.health.sweep(x.now());
  h = await x.health('job');
  assert.equal(h.health, 'missed');
  assert.match(h.reason!, /reached none of its hosts \(h1 CONNECT_FAILED\)/);
  const j4 = await fire(Date.parse('2026-06-01T12:20:00Z'));
  await x.finish(j4, 'succeeded');
  await x.core.health.sweep(x.now());
  assert.equal((await x.health('job')).health, 'ok');
  assert.deepEqual((await x.events('job')).map((e) => e.kind), ['recovered', 'missed', 'failing', 'late']);
  assert.equal(await x.alerts.deliverDue(), 4);
  const texts = rx.got.map((g) => (g.body as { text: string }).text);
  assert.match(texts[0]!, /^:red_circle: Cronium: schedule \*job\* late: job \d+ has run 210 s, longer than expected \(120 s\) plus the grace of 60 s$/);
  assert.match(texts[3]!, /^:large_green_circle: Cronium: schedule \*job\* recovered/);
});

test('deliveries are retried with backoff until the receiver takes them, given up after the last attempt; the test alert answers per webhook', async (t) => {
  const start = Date.parse('2026-06-01T12:00:00Z');
  const x = await setup(t, start);
  const flaky = await receiver(t, [500, 503]);
  const dead = await receiver(t, Array(MAX_ATTEMPTS).fill(500));
  await x.schedules.add({ name: 's', cron: '0 * * * *', tz: 'UTC', script, target: { hosts: ['h1'] } });
  await call(x.core.dispatch, 'schedules.set', { name: 's', addWebhook: { url: `${flaky.url}/a` } }, ctx);
  await call(x.core.dispatch, 'schedules.set', { name: 's', addWebhook: { url: `${dead.url}/b` } }, ctx);
  await x.core.health.record(1, 'failing', 'made up for the test', x.now());
  assert.equal(await x.alerts.deliverDue(), 2);
  assert.equal(await x.alerts.deliverDue(), 0, 'not again before the backoff');
  const times: number[] = [];
  for (let i = 0; i < 12; i++) {
    x.set(x.now() + 3_600_000);
    times.push(await x.alerts.deliverDue());
  }
  assert.deepEqual([flaky.got.length, dead.got.length], [3, MAX_ATTEMPTS], 'the flaky one on its third try; the dead one every attempt');
  const h = await call(x.core.dispatch, 'schedules.health', {}, ctx);
  assert.deepEqual(h[0]!.webhooks.map((w) => [w.lastDelivery?.status, w.lastDelivery?.attempts, w.lastDelivery?.error]), [
    ['delivered', 3, null],
    ['failed', MAX_ATTEMPTS, 'HTTP 500'],
  ]);
  // The test button: one POST per webhook, now, with the result.
  const r = await call(x.core.dispatch, 'schedules.testAlert', { name: 's' }, ctx);
  assert.deepEqual(r.results.map((y) => [y.ok, y.status ?? y.error]), [[true, 200], [true, 200]]);
  assert.equal((flaky.got.at(-1)!.body as { event: string }).event, 'test');
  assert.equal((await x.health('s')).health, 'failing', 'a test changes no health');
  // Bad input: not a URL, another scheme, an unknown webhook.
  await assert.rejects(call(x.core.dispatch, 'schedules.set', { name: 's', addWebhook: { url: 'file:///etc/passwd' } }, ctx), /must be an http:\/\/ or https:\/\/ URL/);
  await assert.rejects(call(x.core.dispatch, 'schedules.set', { name: 's', removeWebhook: 99 }, ctx), /has no webhook 99/);
});

test('an elevated schedule fires elevated jobs', async (t) => {
  const x = await setup(t, Date.parse('2026-06-01T12:00:00Z'));
  await x.schedules.add({ name: 'root', cron: '* * * * *', tz: 'UTC', script, target: { hosts: ['h1'] }, elevated: true });
  x.set(Date.parse('2026-06-01T12:01:00Z'));
  const [f] = await x.scheduler.tick();
  assert.equal(x.core.store.sqlite.prepare('select elevated from jobs where id = ?').pluck().get(f!.jobId), 1);
});
