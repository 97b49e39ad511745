import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { DB_FILE, knownSchemaVersion, openStore } from '../../../../electron/core/db/database';
import { CroniumError } from '../../../../electron/shared/errors';
import { ROOT } from '../../../helpers/cli';
import { tempDir } from '../../../helpers/temp';

const TABLES = [
  'audit_log', 'blob_chunks', 'blobs', 'credentials', 'diagnostics', 'host_cas', 'host_keys', 'host_tags', 'hosts', 'jobs', 'log_chunks',
  'runner_artifacts', 'runner_deployments', 'runs', 'schedule_events', 'schedules', 'script_followups', 'scripts', 'settings', 'user_grants', 'user_sessions', 'users', 'variables', 'webhook_deliveries', 'webhooks',
];

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function rejectsWith(fn: () => unknown, code: string): CroniumError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CroniumError, `expected a CroniumError, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${code}`);
}

test('a new data dir gets the whole schema, WAL and foreign keys', (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const tables = store.sqlite.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like '__drizzle%' order by name").pluck().all();
  assert.deepEqual(tables, TABLES);
  assert.equal(store.sqlite.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(store.sqlite.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(store.sqlite.pragma('user_version', { simple: true }), knownSchemaVersion());
  assert.ok(knownSchemaVersion() >= 1);
});

test('reopening applies nothing twice and keeps data', (t) => {
  const dir = tempDir(t);
  const a = openStore(dir);
  a.sqlite.prepare("insert into settings (key, value, updated_at) values ('k', '1', 0)").run();
  a.close();
  const b = openStore(dir);
  t.after(() => b.close());
  assert.equal(b.sqlite.prepare('select count(*) from __drizzle_migrations').pluck().get(), knownSchemaVersion());
  assert.equal(b.sqlite.prepare("select value from settings where key = 'k'").pluck().get(), '1');
});

test('foreign keys are enforced', (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  assert.throws(() => store.sqlite.prepare("insert into host_tags (host_id, tag) values (999, 'x')").run(), /FOREIGN KEY/);
});

test('a database written by a newer version is refused and left unchanged', (t) => {
  const dir = tempDir(t);
  openStore(dir).close();
  const raw = new Database(join(dir, DB_FILE));
  raw.pragma(`user_version = ${knownSchemaVersion() + 5}`);
  raw.close();
  const before = sha(join(dir, DB_FILE));
  const err = rejectsWith(() => openStore(dir), 'DB_TOO_NEW');
  assert.match(err.message, /newer version of Cronium/);
  assert.match(err.hint ?? '', /upgrade Cronium/);
  assert.equal(sha(join(dir, DB_FILE)), before);
});

test('a corrupt file is reported, never replaced', (t) => {
  const dir = tempDir(t);
  const path = join(dir, DB_FILE);
  writeFileSync(path, Buffer.concat([Buffer.from('this is not sqlite'), Buffer.alloc(8192, 7)]));
  const before = sha(path);
  const err = rejectsWith(() => openStore(dir), 'DB_CORRUPT');
  assert.match(err.message, /damaged or not a SQLite database/);
  assert.match(err.hint ?? '', /left the file as it is/);
  assert.equal(sha(path), before);
});

test('a SQLite database of another application is refused', (t) => {
  const dir = tempDir(t);
  const raw = new Database(join(dir, DB_FILE));
  raw.exec('create table other (x)');
  raw.close();
  rejectsWith(() => openStore(dir), 'DB_FOREIGN');
});

test('two processes opening a new data dir at once both succeed', async (t) => {
  const dir = tempDir(t);
  const script = `import { openStore } from './electron/core/db/database.ts'; const s = openStore(${JSON.stringify(dir)}); console.log(s.sqlite.pragma('user_version', { simple: true })); s.close();`;
  const runOne = () =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  const results = await Promise.all([runOne(), runOne(), runOne()]);
  for (const r of results) {
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out.trim(), String(knownSchemaVersion()));
  }
});
