// The chart and runner-health aggregations (core/stats) and the time filters of jobs.list,
// through the dispatcher, over a real store filled with known rows.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../../electron/core/core';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

const ctx = { door: 'cli' as const };
const DAY = 86_400_000;

function open(t: TestContext): Core {
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  return core;
}

/** Inserts a job with one run per [host, status, totalMs, extra] and returns its id. */
function job(
  core: Core,
  o: { at: number; status: string; schedule?: number; mode?: string; durationMs?: number; runs: { host: string; status: string; totalMs?: number; mode?: string; modeReason?: string; helper?: string; errorCode?: string }[] },
): number {
  const db = core.store.sqlite;
  const id = db
    .prepare(`insert into jobs (kind, schedule_id, interpreter, script_body, target, mode, status, requested_by, created_at, started_at, finished_at) values (?, ?, 'bash', 'true', '{}', ?, ?, 'cli', ?, ?, ?)`)
    .run(o.schedule ? 'schedule' : 'adhoc', o.schedule ?? null, o.mode ?? 'auto', o.status, o.at, o.at, o.durationMs === undefined ? null : o.at + o.durationMs).lastInsertRowid as number;
  for (const r of o.runs) {
    const hostId = db.prepare('select id from hosts where name = ?').pluck().get(r.host) ?? null;
    const final = !['queued', 'running'].includes(r.status);
    db.prepare(
      `insert into runs (job_id, host_id, host_name, status, queued_at, started_at, finished_at, t_total_ms, mode, mode_reason, helper_transport, error_code) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(id, hostId, r.host, r.status, o.at, o.at, final ? o.at + (r.totalMs ?? 100) : null, r.totalMs ?? null, r.mode ?? null, r.modeReason ?? null, r.helper ?? null, r.errorCode ?? null);
  }
  return id;
}

async function withHosts(core: Core, ...names: string[]): Promise<void> {
  for (const name of names) await call(core.dispatch, 'hosts.add', { name, address: '127.0.0.1' }, ctx);
}

test('stats.hostSuccess: counts by status per host, cancelled runs left out of the rate, a window', async (t) => {
  const core = open(t);
  await withHosts(core, 'a', 'b');
  const now = Date.now();
  job(core, { at: now - 1000, status: 'partial', runs: [{ host: 'a', status: 'succeeded', totalMs: 100 }, { host: 'b', status: 'failed' }] });
  job(core, { at: now - 900, status: 'succeeded', runs: [{ host: 'a', status: 'succeeded', totalMs: 300 }] });
  job(core, { at: now - 800, status: 'cancelled', runs: [{ host: 'a', status: 'cancelled' }, { host: 'b', status: 'timed_out' }] });
  job(core, { at: now - 700, status: 'running', runs: [{ host: 'b', status: 'running' }] });
  // Outside the default 30-day window.
  job(core, { at: now - 40 * DAY, status: 'failed', runs: [{ host: 'a', status: 'failed' }] });

  const r = await call(core.dispatch, 'stats.hostSuccess', {}, ctx);
  assert.deepEqual(
    r.hosts.map((h) => [h.host, h.total, h.succeeded, h.failed, h.timedOut, h.cancelled, h.rate, h.avgMs]),
    [
      ['a', 3, 2, 0, 0, 1, 1, 200],
      ['b', 2, 0, 1, 1, 0, 0, null],
    ],
  );
  const all = await call(core.dispatch, 'stats.hostSuccess', { since: 0, host: 'a' }, ctx);
  assert.deepEqual(all.hosts.map((h) => [h.host, h.total, h.rate]), [['a', 4, 2 / 3]]);
});

test('stats.scheduleDurations: the jobs a schedule fired, oldest first, with their durations', async (t) => {
  const core = open(t);
  await withHosts(core, 'a');
  await call(core.dispatch, 'schedules.add', { name: 'nightly', cron: '0 3 * * *', hosts: ['a'], script: 'true' }, ctx);
  await call(core.dispatch, 'schedules.add', { name: 'other', cron: '0 4 * * *', hosts: ['a'], script: 'true' }, ctx);
  const ids = core.store.sqlite.prepare('select id, name from schedules').all() as { id: number; name: string }[];
  const nightly = ids.find((s) => s.name === 'nightly')!.id;
  const other = ids.find((s) => s.name === 'other')!.id;
  const now = Date.now();
  const j1 = job(core, { at: now - 3000, status: 'succeeded', schedule: nightly, durationMs: 1200, runs: [{ host: 'a', status: 'succeeded' }] });
  job(core, { at: now - 2500, status: 'succeeded', schedule: other, durationMs: 5, runs: [{ host: 'a', status: 'succeeded' }] });
  const j2 = job(core, { at: now - 2000, status: 'failed', schedule: nightly, durationMs: 800, runs: [{ host: 'a', status: 'failed' }] });
  const j3 = job(core, { at: now - 1000, status: 'running', schedule: nightly, runs: [{ host: 'a', status: 'running' }] });

  const r = await call(core.dispatch, 'stats.scheduleDurations', { name: 'nightly' }, ctx);
  assert.deepEqual(
    r.points.map((p) => [p.jobId, p.durationMs, p.status, p.runs, p.succeeded]),
    [
      [j1, 1200, 'succeeded', 1, 1],
      [j2, 800, 'failed', 1, 0],
      [j3, null, 'running', 1, 0],
    ],
  );
  const limited = await call(core.dispatch, 'stats.scheduleDurations', { name: 'nightly', limit: 2 }, ctx);
  assert.deepEqual(limited.points.map((p) => p.jobId), [j2, j3], 'the newest, still oldest first');
  await assert.rejects(call(core.dispatch, 'stats.scheduleDurations', { name: 'nope' }, ctx), (e) => e instanceof CroniumError && e.code === 'NOT_FOUND');
});

test('runner.health: deployments, cache hits, integrity and signature failures, tunnel failures and direct fallbacks per day', async (t) => {
  const core = open(t);
  await withHosts(core, 'a', 'b');
  const db = core.store.sqlite;
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  const yesterday = today - DAY;
  const hostA = db.prepare("select id from hosts where name = 'a'").pluck().get() as number;
  const dep = db.prepare(`insert into runner_deployments (host_id, version, target, path, sha256, status, error, created_at, updated_at) values (?, '1.0.0', 'linux-amd64', '/x', 'ff', ?, ?, ?, ?)`);
  dep.run(hostA, 'ready', null, yesterday + 10, yesterday + 10);
  dep.run(hostA, 'failed', 'RUNNER_DEPLOY_FAILED: no location', yesterday + 20, yesterday + 20);
  dep.run(hostA, 'removed', null, today + 1, today + 1);
  const audit = db.prepare(`insert into audit_log (ts, actor, action, target, detail) values (?, 'cli', ?, 'a', null)`);
  audit.run(yesterday + 30, 'runner.deploy');
  audit.run(today + 2, 'runner.deploy');
  for (let i = 0; i < 6; i++) audit.run(today + 3 + i, 'runner.cache-hit');
  audit.run(today + 10, 'runner.integrity-failed');
  audit.run(today + 11, 'host.add');
  // Too old for a 2-day window.
  audit.run(today - 5 * DAY, 'runner.cache-hit');
  job(core, {
    at: today + 100,
    status: 'partial',
    runs: [
      { host: 'a', status: 'succeeded', mode: 'runner', helper: 'tunnel' },
      { host: 'b', status: 'succeeded', mode: 'direct', modeReason: 'no writable, executable cache location' },
      { host: 'a', status: 'failed', mode: 'runner', helper: 'in-band', errorCode: 'PAYLOAD_REJECTED' },
    ],
  });
  // Direct because the job asked for it: not a fallback.
  job(core, { at: today + 200, status: 'succeeded', mode: 'direct', runs: [{ host: 'b', status: 'succeeded', mode: 'direct', modeReason: null as unknown as string }] });

  const h = await call(core.dispatch, 'runner.health', { days: 2 }, ctx);
  assert.equal(h.since, yesterday);
  assert.deepEqual(h.days.map((d) => d.day), [yesterday, today]);
  const [y, d] = h.days;
  assert.deepEqual([y!.deploys, y!.deployFailures, y!.uploads, y!.cacheHits], [1, 1, 1, 0]);
  assert.deepEqual(
    [d!.deploys, d!.deployFailures, d!.uploads, d!.cacheHits, d!.integrityFailures, d!.signatureFailures, d!.tunnelFailures, d!.directFallbacks, d!.runnerRuns],
    [1, 0, 1, 6, 1, 1, 1, 1, 2],
  );
  assert.equal(h.totals.deploySuccessRate, 2 / 3);
  assert.equal(h.totals.cacheHitRate, 6 / 8);
  const empty = await call(core.dispatch, 'runner.health', undefined, ctx);
  assert.equal(empty.days.length, 14);
});

test('jobs.list: since and until bound the creation time, host filters by inventory id and by a removed host’s name', async (t) => {
  const core = open(t);
  await withHosts(core, 'a', 'b', 'gone');
  const now = Date.now();
  const old = job(core, { at: now - 10 * DAY, status: 'succeeded', runs: [{ host: 'a', status: 'succeeded' }] });
  const mid = job(core, { at: now - 2 * DAY, status: 'failed', runs: [{ host: 'b', status: 'failed' }, { host: 'gone', status: 'succeeded' }] });
  const recent = job(core, { at: now - 1000, status: 'succeeded', runs: [{ host: 'a', status: 'succeeded' }] });
  const list = async (args: Record<string, unknown>) => (await call(core.dispatch, 'jobs.list', args, ctx)).map((j) => j.id);
  assert.deepEqual(await list({}), [recent, mid, old]);
  assert.deepEqual(await list({ since: now - 3 * DAY }), [recent, mid]);
  assert.deepEqual(await list({ until: now - 3 * DAY }), [old]);
  assert.deepEqual(await list({ since: now - 3 * DAY, until: now - DAY }), [mid]);
  assert.deepEqual(await list({ host: 'a' }), [recent, old]);
  assert.deepEqual(await list({ host: 'a', since: now - DAY }), [recent]);
  assert.deepEqual(await list({ host: 'a', status: 'failed' }), []);
  await call(core.dispatch, 'hosts.remove', { name: 'gone' }, ctx);
  assert.deepEqual(await list({ host: 'gone' }), [mid], 'a removed host is found by the name its runs keep');
  assert.deepEqual(await list({ host: 'never' }), []);
  await assert.rejects(call(core.dispatch, 'jobs.list', { since: -1 }, ctx), (e) => e instanceof CroniumError && e.code === 'INVALID_INPUT');
});
