/** hosts.update (fields, secrets, tags, rename, jump loops) and the computed list fields (reachability, OS, runner, last run). */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../../electron/core/core';
import type { EventPayload } from '../../../../electron/shared/api';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

const ctx = { door: 'cli' as const };

function open(t: TestContext): Core {
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  return core;
}

async function rejects(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CroniumError, String(e));
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return;
  }
  assert.fail(`expected ${code}`);
}

test('update changes fields, clears them with null, and announces the change', async (t) => {
  const core = open(t);
  const seen: EventPayload<'hosts.changed'>[] = [];
  core.events.on('hosts.changed', (p) => seen.push(p));
  await call(core.dispatch, 'hosts.add', { name: 'web1', address: '10.0.0.1', user: 'deploy', group: 'eu', tags: ['prod'] }, ctx);
  const h = await call(core.dispatch, 'hosts.update', { name: 'web1', address: '10.0.0.2', port: 2200, user: null, group: null, useAgent: false }, ctx);
  assert.equal(h.address, '10.0.0.2');
  assert.equal(h.port, 2200);
  assert.equal(h.user, null);
  assert.equal(h.group, null);
  assert.equal(h.useAgent, false);
  assert.deepEqual(h.tags, ['prod'], 'untouched fields stay');
  assert.deepEqual(seen.at(-1), { change: 'updated', name: 'web1' });
  await rejects(call(core.dispatch, 'hosts.update', { name: 'web1', port: 70000 }, ctx), 'INVALID_INPUT', /port/);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'nope', port: 22 }, ctx), 'NOT_FOUND');
});

test('passwords are set and cleared, sealed, and never in the audit log', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'db1', address: '10.0.0.3' }, ctx);
  let h = await call(core.dispatch, 'hosts.update', { name: 'db1', password: 's3cret-pw' }, ctx);
  assert.equal(h.hasPassword, true);
  assert.equal(await core.hosts.password('db1'), 's3cret-pw');
  assert.equal((await call(core.dispatch, 'hosts.update', { name: 'db1', password: 'other-pw' }, ctx)).hasPassword, true);
  assert.equal(await core.hosts.password('db1'), 'other-pw');
  h = await call(core.dispatch, 'hosts.update', { name: 'db1', password: null }, ctx);
  assert.equal(h.hasPassword, false);
  assert.equal(await core.hosts.password('db1'), undefined);
  const audit = JSON.stringify(core.store.sqlite.prepare("select * from audit_log where action = 'host.update'").all());
  assert.ok(!audit.includes('s3cret-pw') && !audit.includes('other-pw'), audit);
  assert.match(audit, /password/);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'db1', passphrase: 'pp' }, ctx), 'INVALID_INPUT', /identity file/);
});

test('tags are replaced, added and removed', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'a', address: '10.0.0.1', tags: ['x', 'y'] }, ctx);
  assert.deepEqual((await call(core.dispatch, 'hosts.update', { name: 'a', addTags: ['z', 'x'] }, ctx)).tags, ['x', 'y', 'z']);
  assert.deepEqual((await call(core.dispatch, 'hosts.update', { name: 'a', removeTags: ['y', 'absent'] }, ctx)).tags, ['x', 'z']);
  assert.deepEqual((await call(core.dispatch, 'hosts.update', { name: 'a', tags: ['only'] }, ctx)).tags, ['only']);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'a', addTags: ['bad tag'] }, ctx), 'INVALID_INPUT');
});

test('a rename keeps the host, follows in schedules, and refuses a taken name', async (t) => {
  const core = open(t);
  const seen: EventPayload<'hosts.changed'>[] = [];
  core.events.on('hosts.changed', (p) => seen.push(p));
  const before = await call(core.dispatch, 'hosts.add', { name: 'old', address: '10.0.0.1' }, ctx);
  await call(core.dispatch, 'hosts.add', { name: 'taken', address: '10.0.0.2' }, ctx);
  await core.schedules.add({ name: 'nightly', cron: '0 3 * * *', tz: 'UTC', script: { interpreter: 'bash', body: 'true' }, target: { hosts: ['old', 'taken'] }, mode: 'auto', overlapPolicy: 'skip', catchupPolicy: 'skip' });
  await rejects(call(core.dispatch, 'hosts.update', { name: 'old', newName: 'taken' }, ctx), 'ALREADY_EXISTS');
  const after = await call(core.dispatch, 'hosts.update', { name: 'old', newName: 'new' }, ctx);
  assert.equal(after.id, before.id);
  assert.equal(after.name, 'new');
  assert.deepEqual(seen.at(-1), { change: 'updated', name: 'new', previousName: 'old' });
  await rejects(call(core.dispatch, 'hosts.get', { name: 'old' }, ctx), 'NOT_FOUND');
  const target = JSON.parse(core.store.sqlite.prepare("select target from schedules where name = 'nightly'").pluck().get() as string) as { hosts: string[] };
  assert.deepEqual(target.hosts, ['new', 'taken']);
});

test('a jump host must exist and must not make a loop', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'bastion', address: '10.0.0.1' }, ctx);
  await call(core.dispatch, 'hosts.add', { name: 'inner', address: '10.0.0.2', jump: 'bastion' }, ctx);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'bastion', jump: 'inner' }, ctx), 'INVALID_INPUT', /loop/);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'bastion', jump: 'bastion' }, ctx), 'INVALID_INPUT', /loop/);
  await rejects(call(core.dispatch, 'hosts.update', { name: 'bastion', jump: 'ghost' }, ctx), 'INVALID_INPUT', /no host named/);
  assert.equal((await call(core.dispatch, 'hosts.update', { name: 'inner', jump: null }, ctx)).jump, null);
});

test('the list computes reachability, platform, runner version and last run', async (t) => {
  const core = open(t);
  for (const name of ['fresh', 'diagnosed', 'down', 'ran']) await call(core.dispatch, 'hosts.add', { name, address: '10.0.0.1' }, ctx);
  const id = (n: string) => core.store.sqlite.prepare('select id from hosts where name = ?').pluck().get(n) as number;
  const db = core.store.sqlite;
  const report = (checks: { id: string; status: string; data?: unknown }[]) => JSON.stringify({ checks });
  const addReport = db.prepare("insert into diagnostics (host_id, status, report, duration_ms, created_at) values (?, 'pass', ?, 10, ?)");
  addReport.run(id('diagnosed'), report([{ id: 'tcp', status: 'pass' }, { id: 'platform', status: 'pass', data: { os: 'Linux', machine: 'x86_64', distribution: 'Debian GNU/Linux 13' } }]), 1000);
  // A newer report of an unreachable host has no platform: the older facts stay.
  addReport.run(id('down'), report([{ id: 'platform', status: 'pass', data: { os: 'Linux', machine: 'aarch64', distribution: null } }]), 1000);
  addReport.run(id('down'), report([{ id: 'tcp', status: 'fail' }]), 2000);
  db.prepare("insert into runner_deployments (host_id, version, target, sha256, status, created_at, updated_at) values (?, '1.2.3', 'linux-amd64', 'x', 'ready', 1, 1)").run(id('diagnosed'));
  db.prepare("insert into runner_deployments (host_id, version, target, sha256, status, created_at, updated_at) values (?, '9.9.9', 'linux-amd64', 'x', 'failed', 2, 2)").run(id('diagnosed'));
  const job = db.prepare("insert into jobs (kind, interpreter, script_body, target, mode, status, requested_by, created_at) values ('adhoc', 'bash', 'true', '{}', 'auto', 'failed', 'cli', 1) returning id").pluck().get() as number;
  const addRun = db.prepare("insert into runs (job_id, host_id, host_name, status, error_code, queued_at, finished_at) values (?, ?, ?, ?, ?, 1, ?)");
  addRun.run(job, id('ran'), 'ran', 'succeeded', null, 500);
  addRun.run(job, id('ran'), 'ran', 'failed', null, 3000);
  // An unreachable run after the failing report does not make "down" reachable; a newer connect failure keeps it failing.
  addRun.run(job, id('down'), 'down', 'failed', 'CONNECT_FAILED', 2500);

  const hosts = Object.fromEntries((await call(core.dispatch, 'hosts.list', {}, ctx)).map((h) => [h.name, h]));
  assert.equal(hosts.fresh!.reachability, 'unknown');
  assert.equal(hosts.fresh!.os, null);
  assert.equal(hosts.fresh!.lastRunAt, null);
  assert.equal(hosts.diagnosed!.reachability, 'ok');
  assert.equal(hosts.diagnosed!.os, 'Debian GNU/Linux 13');
  assert.equal(hosts.diagnosed!.arch, 'x86_64');
  assert.equal(hosts.diagnosed!.runnerVersion, '1.2.3');
  assert.equal(hosts.down!.reachability, 'failing');
  assert.equal(hosts.down!.reachabilityAt, 2500);
  assert.equal(hosts.down!.os, 'Linux');
  assert.equal(hosts.down!.arch, 'aarch64');
  assert.equal(hosts.ran!.reachability, 'ok', 'a script that failed still reached its host');
  assert.equal(hosts.ran!.lastRunAt, 3000);
  assert.equal(hosts.ran!.lastRunStatus, 'failed');
  assert.equal(hosts.ran!.lastRunJobId, job);
  // hosts.get computes the same fields.
  assert.equal((await call(core.dispatch, 'hosts.get', { name: 'down' }, ctx)).reachability, 'failing');
});

test('a noted diagnosis keeps OS, architecture and last reached on the row; a later unreachable report fails it', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'n1', address: '10.0.0.1' }, ctx);
  const id = core.store.sqlite.prepare("select id from hosts where name = 'n1'").pluck().get() as number;
  const store = async (startedAt: number, checks: { id: string; title: string; status: 'pass' | 'warn' | 'fail'; detail: string; hint: null; data?: Record<string, unknown> }[]) => {
    const report = { host: 'n1', startedAt, durationMs: 5, status: checks.some((c) => c.status === 'fail') ? ('fail' as const) : ('pass' as const), checks };
    core.store.sqlite.prepare('insert into diagnostics (host_id, status, report, duration_ms, created_at) values (?, ?, ?, 5, ?)').run(id, report.status, JSON.stringify(report), startedAt);
    await core.hosts.noteDiagnosis(report);
  };
  await store(1000, [
    { id: 'tcp', title: 'TCP', status: 'pass', detail: '', hint: null },
    { id: 'platform', title: 'Platform', status: 'pass', detail: '', hint: null, data: { os: 'Linux', machine: 'aarch64', distribution: 'Alpine Linux v3.20' } },
    { id: 'sftp', title: 'SFTP', status: 'fail', detail: '', hint: null },
  ]);
  const row = core.store.sqlite.prepare('select os, arch, last_seen_at as seen from hosts where id = ?').get(id) as { os: string; arch: string; seen: number };
  assert.deepEqual(row, { os: 'Alpine Linux v3.20', arch: 'aarch64', seen: 1000 });
  let h = await call(core.dispatch, 'hosts.get', { name: 'n1' }, ctx);
  assert.equal(h.reachability, 'ok', 'a failed SFTP check does not make a host unreachable');
  assert.equal(h.os, 'Alpine Linux v3.20');
  await store(2000, [{ id: 'tcp', title: 'TCP', status: 'fail', detail: 'refused', hint: null }]);
  h = await call(core.dispatch, 'hosts.get', { name: 'n1' }, ctx);
  assert.equal(h.reachability, 'failing');
  assert.equal(h.reachabilityAt, 2000);
  assert.equal(h.arch, 'aarch64', 'the last known platform stays');
});
