import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../../electron/core/core';
import type { EventPayload } from '../../../../electron/shared/api';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

function open(t: TestContext): Core {
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  return core;
}

const ctx = { door: 'cli' as const };

async function rejects(p: Promise<unknown>, code: string, field?: string): Promise<CroniumError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CroniumError, String(e));
    assert.equal(e.code, code, e.message);
    if (field) assert.match(e.message, new RegExp(`invalid ${field}`));
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('hosts are added, listed sorted with tags, shown and removed', async (t) => {
  const core = open(t);
  const seen: EventPayload<'hosts.changed'>[] = [];
  core.events.on('hosts.changed', (p) => seen.push(p));
  await call(core.dispatch, 'hosts.add', { name: 'web2', address: 'web2.example.com', tags: ['prod', 'web', 'prod'] }, ctx);
  const web1 = await call(core.dispatch, 'hosts.add', { name: 'web1', address: '127.0.0.1', user: 'deploy', port: 2222 }, ctx);
  assert.equal(web1.port, 2222);
  const list = await call(core.dispatch, 'hosts.list', {}, ctx);
  assert.deepEqual(list.map((h) => h.name), ['web1', 'web2']);
  assert.deepEqual(list[1]!.tags, ['prod', 'web']);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', { tag: 'web' }, ctx)).map((h) => h.name), ['web2']);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: 'example' }, ctx)).map((h) => h.name), ['web2']);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: '%' }, ctx)).map((h) => h.name), [], 'LIKE wildcards are literal');
  await call(core.dispatch, 'hosts.remove', { name: 'web2' }, ctx);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', undefined, ctx)).map((h) => h.name), ['web1']);
  assert.deepEqual(seen, [
    { change: 'added', name: 'web2' },
    { change: 'added', name: 'web1' },
    { change: 'removed', name: 'web2' },
  ]);
  const audit = core.store.sqlite.prepare('select action, target from audit_log order by id').all();
  assert.deepEqual(audit, [
    { action: 'host.add', target: 'web2' },
    { action: 'host.add', target: 'web1' },
    { action: 'host.remove', target: 'web2' },
  ]);
});

test('validation names the bad field', async (t) => {
  const core = open(t);
  await rejects(call(core.dispatch, 'hosts.add', { name: 'bad name', address: 'a' }, ctx), 'INVALID_INPUT', 'name');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'not an address!' }, ctx), 'INVALID_INPUT', 'address');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', port: 70000 }, ctx), 'INVALID_INPUT', 'port');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', port: '22' }, ctx), 'INVALID_INPUT', 'port');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', user: 'no spaces' }, ctx), 'INVALID_INPUT', 'user');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', tags: ['ok', 'no spaces'] }, ctx), 'INVALID_INPUT', 'tags.1');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', identityFile: '/nonexistent/key' }, ctx), 'INVALID_INPUT', 'identityFile');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', jump: 'nobody' }, ctx), 'INVALID_INPUT', 'jump');
  await rejects(call(core.dispatch, 'hosts.add', { name: 'h', address: 'a', extra: 1 }, ctx), 'INVALID_INPUT');
  assert.equal((await call(core.dispatch, 'hosts.list', {}, ctx)).length, 0, 'nothing half-stored');
});

test('groups: stored, filtered, searched', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'a', address: 'a', group: 'eu-west/db' }, ctx);
  await call(core.dispatch, 'hosts.add', { name: 'b', address: 'b' }, ctx);
  assert.equal((await call(core.dispatch, 'hosts.get', { name: 'a' }, ctx)).group, 'eu-west/db');
  assert.equal((await call(core.dispatch, 'hosts.get', { name: 'b' }, ctx)).group, null);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', { group: 'eu-west/db' }, ctx)).map((h) => h.name), ['a']);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: 'west' }, ctx)).map((h) => h.name), ['a']);
  await rejects(call(core.dispatch, 'hosts.add', { name: 'c', address: 'c', group: '../x' }, ctx), 'INVALID_INPUT', 'group');
});

test('IPv6 addresses, identity files and duplicates', async (t) => {
  const core = open(t);
  const key = join(tempDir(t), 'id_ed25519');
  writeFileSync(key, 'key');
  const h = await call(core.dispatch, 'hosts.add', { name: 'v6', address: '::1', identityFile: key }, ctx);
  assert.equal(h.identityFile, key);
  await rejects(call(core.dispatch, 'hosts.add', { name: 'v6', address: '::1' }, ctx), 'ALREADY_EXISTS');
  await rejects(call(core.dispatch, 'hosts.get', { name: 'nope' }, ctx), 'NOT_FOUND');
  await rejects(call(core.dispatch, 'hosts.remove', { name: 'nope' }, ctx), 'NOT_FOUND');
});

test('a password is stored sealed and never returned', async (t) => {
  const core = open(t);
  const h = await call(core.dispatch, 'hosts.add', { name: 'pw', address: 'a', password: 'correct horse battery' }, ctx);
  assert.equal(h.hasPassword, true);
  assert.ok(!JSON.stringify(h).includes('correct horse'));
  const blob = core.store.sqlite.prepare('select sealed from credentials').pluck().get() as Buffer;
  assert.ok(!blob.includes(Buffer.from('correct horse')));
  assert.equal(await core.hosts.password('pw'), 'correct horse battery');
  const audit = JSON.stringify(core.store.sqlite.prepare('select * from audit_log').all());
  assert.ok(!audit.includes('correct horse'), 'the audit log holds no secret');
  await call(core.dispatch, 'hosts.remove', { name: 'pw' }, ctx);
  assert.equal(core.store.sqlite.prepare('select count(*) from credentials').pluck().get(), 0, 'credentials go with the host');
});

test('jump hosts: referenced by name, and a bastion in use cannot be removed', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'bastion', address: 'b' }, ctx);
  const inner = await call(core.dispatch, 'hosts.add', { name: 'inner', address: '10.0.0.5', jump: 'bastion' }, ctx);
  assert.equal(inner.jump, 'bastion');
  assert.equal((await call(core.dispatch, 'hosts.list', { tag: undefined }, ctx)).find((x) => x.name === 'inner')?.jump, 'bastion');
  await rejects(call(core.dispatch, 'hosts.remove', { name: 'bastion' }, ctx), 'CONFLICT');
  await call(core.dispatch, 'hosts.remove', { name: 'inner' }, ctx);
  await call(core.dispatch, 'hosts.remove', { name: 'bastion' }, ctx);
});
