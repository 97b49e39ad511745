// Variables over a real core and SQLite file: scope resolution (per-host wins), secrets sealed
// (the database files never hold a secret's plaintext) and never returned by the API, the
// helper API's getForRun / setFromScript rules, and masking wired into a worker: a secret
// printed by a script, even split across chunks, never reaches log_chunks or run.log.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../electron/core/core';
import type { Executor } from '../../../electron/core/exec/executor';
import type { ExecOutcome, ExecRequest, ExecSinks } from '../../../electron/core/exec/types';
import { Worker } from '../../../electron/core/exec/worker';
import { tempDir } from '../../helpers/temp';
import { storedOutput } from '../../helpers/stored-log';

const ctx = { door: 'cli' as const };

function setup(t: TestContext): { core: Core; dir: string } {
  const dir = tempDir(t);
  const core = openCore({ dataDir: dir, door: 'cli' });
  t.after(() => core.close());
  return { core, dir };
}

async function addHost(core: Core, name: string): Promise<number> {
  return (await call(core.dispatch, 'hosts.add', { name, address: '127.0.0.1', useAgent: false }, ctx)).id;
}

test('scopes: per-host wins over global; list without host shows all, with host the effective set', async (t) => {
  const { core } = setup(t);
  const web1 = await addHost(core, 'web1');
  await addHost(core, 'web2');
  await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'eu' }, ctx);
  await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'us', host: 'web1' }, ctx);
  await call(core.dispatch, 'vars.set', { key: 'ONLY_WEB2', value: 'x', host: 'web2' }, ctx);

  assert.equal((await call(core.dispatch, 'vars.get', { key: 'REGION' }, ctx)).value, 'eu');
  const onWeb1 = await call(core.dispatch, 'vars.get', { key: 'REGION', host: 'web1' }, ctx);
  assert.deepEqual({ ...onWeb1, updatedAt: 0 }, { key: 'REGION', scope: 'host', host: 'web1', secret: false, value: 'us', updatedAt: 0 });
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'REGION', host: 'web2' }, ctx)).scope, 'global');

  const all = await call(core.dispatch, 'vars.list', {}, ctx);
  assert.deepEqual(all.map((v) => `${v.key}:${v.scope}:${v.host ?? '-'}:${v.value}`), ['ONLY_WEB2:host:web2:x', 'REGION:global:-:eu', 'REGION:host:web1:us']);
  const web1Set = await call(core.dispatch, 'vars.list', { host: 'web1' }, ctx);
  assert.deepEqual(web1Set.map((v) => `${v.key}=${v.value}`), ['REGION=us'], 'web2-only variables are not visible on web1');
  const web2Set = await call(core.dispatch, 'vars.list', { host: 'web2' }, ctx);
  assert.deepEqual(web2Set.map((v) => `${v.key}=${v.value}`), ['ONLY_WEB2=x', 'REGION=eu']);

  assert.deepEqual(await core.vars.getForRun(web1, 'REGION'), { value: 'us', secret: false });
  assert.deepEqual(await core.vars.getForRun(null, 'REGION'), { value: 'eu', secret: false });
  assert.equal(await core.vars.getForRun(web1, 'MISSING'), null);

  await assert.rejects(call(core.dispatch, 'vars.get', { key: 'MISSING' }, ctx), { code: 'NOT_FOUND' });
  await assert.rejects(call(core.dispatch, 'vars.get', { key: 'REGION', host: 'nohost' }, ctx), { code: 'NOT_FOUND' });
  await assert.rejects(call(core.dispatch, 'vars.set', { key: '1bad', value: 'v' }, ctx), { code: 'INVALID_INPUT' });
  await assert.rejects(call(core.dispatch, 'vars.set', { key: 'BIG', value: 'x'.repeat(64 * 1024 + 1) }, ctx), { code: 'INVALID_INPUT' });

  await call(core.dispatch, 'vars.remove', { key: 'REGION', host: 'web1' }, ctx);
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'REGION', host: 'web1' }, ctx)).value, 'eu', 'the global shows through once the per-host one is gone');
  await assert.rejects(call(core.dispatch, 'vars.remove', { key: 'REGION', host: 'web1' }, ctx), { code: 'NOT_FOUND' });
  // Removing a host removes its variables.
  await call(core.dispatch, 'hosts.remove', { name: 'web2' }, ctx);
  assert.deepEqual((await call(core.dispatch, 'vars.list', {}, ctx)).map((v) => v.key), ['REGION']);
});

test('secrets are sealed on disk, never returned by the API, stay secret, and are opened for runs only', async (t) => {
  const { core, dir } = setup(t);
  const web1 = await addHost(core, 'web1');
  const other = await addHost(core, 'other');
  const plain = `pl41n-${process.pid}-${Date.now()}-value`;
  const secretG = `g10bal-${process.pid}-${Date.now()}-secret`;
  const secretH = `h0st-${process.pid}-${Date.now()}-secret`;
  const secretOther = `0ther-${process.pid}-${Date.now()}-secret`;
  await call(core.dispatch, 'vars.set', { key: 'PLAIN', value: plain }, ctx);
  const g = await call(core.dispatch, 'vars.set', { key: 'TOKEN', value: secretG, secret: true }, ctx);
  assert.equal(g.secret, true);
  assert.equal(g.value, null, 'a secret value never leaves the core');
  await call(core.dispatch, 'vars.set', { key: 'DB_PASS', value: secretH, host: 'web1', secret: true }, ctx);
  await call(core.dispatch, 'vars.set', { key: 'DB_PASS', value: secretOther, host: 'other', secret: true }, ctx);
  for (const v of await call(core.dispatch, 'vars.list', {}, ctx)) if (v.secret) assert.equal(v.value, null);
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'DB_PASS', host: 'web1' }, ctx)).value, null);

  // The helper API's view: opened, and only what the host sees.
  assert.deepEqual(await core.vars.getForRun(web1, 'DB_PASS'), { value: secretH, secret: true });
  assert.deepEqual(await core.vars.getForRun(web1, 'TOKEN'), { value: secretG, secret: true });
  assert.deepEqual(new Set(await core.vars.secretValuesFor(web1)), new Set([secretG, secretH]));
  assert.deepEqual(new Set(await core.vars.secretValuesFor(other)), new Set([secretG, secretOther]));
  assert.deepEqual(await core.vars.secretValuesFor(null), [secretG]);

  // Set again without `secret`: it stays secret (sealed), with the new value.
  const again = await call(core.dispatch, 'vars.set', { key: 'TOKEN', value: `${secretG}-2` }, ctx);
  assert.equal(again.secret, true);
  assert.deepEqual(await core.vars.getForRun(null, 'TOKEN'), { value: `${secretG}-2`, secret: true });

  // The bytes on disk (database, WAL) never hold a secret's plaintext; the plain value is there.
  core.store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
  const files = readdirSync(dir).filter((f) => f.startsWith('cronium.db'));
  const bytes = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
  assert.ok(bytes.includes(plain), 'the test would not see plaintext on disk at all');
  for (const s of [secretG, `${secretG}-2`, secretH, secretOther]) assert.ok(!bytes.includes(s), `the plaintext of a secret is on disk: ${s}`);
  const row = core.store.sqlite.prepare("select value, sealed from variables where key = 'DB_PASS' and host_id = ?").get(web1) as { value: string | null; sealed: Buffer };
  assert.equal(row.value, null);
  assert.ok(row.sealed.length > secretH.length);
});

test('setFromScript: updates the per-host variable of its host if there is one, else the global (created); secrets stay secret', async (t) => {
  const { core } = setup(t);
  const web1 = await addHost(core, 'web1');
  const web2 = await addHost(core, 'web2');
  await call(core.dispatch, 'vars.set', { key: 'COUNTER', value: '1' }, ctx);
  await call(core.dispatch, 'vars.set', { key: 'COUNTER', value: '10', host: 'web1' }, ctx);
  await core.vars.setFromScript(web1, 'COUNTER', '11');
  await core.vars.setFromScript(web2, 'COUNTER', '2');
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'COUNTER', host: 'web1' }, ctx)).value, '11');
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'COUNTER' }, ctx)).value, '2', 'web2 has no per-host COUNTER: the global changed');
  await core.vars.setFromScript(web2, 'NEW_KEY', 'made');
  const made = await call(core.dispatch, 'vars.get', { key: 'NEW_KEY' }, ctx);
  assert.equal(made.scope, 'global');
  assert.equal(made.value, 'made');
  await call(core.dispatch, 'vars.set', { key: 'API_KEY', value: 'old-secret-value', secret: true }, ctx);
  await core.vars.setFromScript(web1, 'API_KEY', 'new-secret-value');
  assert.deepEqual(await core.vars.getForRun(web1, 'API_KEY'), { value: 'new-secret-value', secret: true });
  assert.equal((await call(core.dispatch, 'vars.get', { key: 'API_KEY' }, ctx)).value, null);
});

test('a worker with the core hooks masks the secrets its host sees, split across chunks too, in log_chunks and run.log', async (t) => {
  const { core } = setup(t);
  await addHost(core, 'web1');
  const secret = `m4sk-me-${process.pid}-${Date.now()}`;
  const hostSecret = `h0st-only-${process.pid}-${Date.now()}`;
  await call(core.dispatch, 'vars.set', { key: 'TOKEN', value: secret, secret: true }, ctx);
  await call(core.dispatch, 'vars.set', { key: 'HOST_TOKEN', value: hostSecret, host: 'web1', secret: true }, ctx);
  const half = Math.floor(secret.length / 2);
  const executor = {
    execute: async (_req: ExecRequest, sinks: ExecSinks): Promise<ExecOutcome> => {
      await sinks.stdout(Buffer.from(`start ${secret.slice(0, half)}`));
      await new Promise((r) => setTimeout(r, 30));
      await sinks.stdout(Buffer.from(`${secret.slice(half)} end\n`));
      await sinks.stderr(Buffer.from(`host: ${hostSecret}\n`));
      return { status: 'succeeded', exitCode: 0, signal: null, errorCode: null, errorMessage: null, retryable: false, mode: 'direct', modeReason: null, runnerVersion: null, timings: { connect: 1, deploy: null, start: 1, exec: 1, total: 3 } };
    },
  } as unknown as Executor;
  const { jobId, runIds } = await call(core.dispatch, 'jobs.run', { hosts: ['web1'], command: 'true', mode: 'direct' }, ctx);
  const live: string[] = [];
  core.events.on('run.log', (e) => live.push(...e.chunks.map((c) => Buffer.from(c.data, 'base64').toString())));
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor, owner: 'w-mask', jobId, pollMs: 20, ...core.runHooks });
  worker.start();
  t.after(() => worker.stop());
  const deadline = Date.now() + 5000;
  while (['queued', 'running'].includes(core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string)) {
    if (Date.now() > deadline) throw new Error('the job did not end');
    await new Promise((r) => setTimeout(r, 10));
  }
  await worker.idle();
  await new Promise((r) => setTimeout(r, 60));
  const stored = storedOutput(core.store.sqlite, core.info.dataDir, runIds[0]!).toString();
  assert.match(stored, /start \*\*\* end/);
  assert.match(stored, /host: \*\*\*/);
  for (const text of [stored, live.join('')]) {
    assert.ok(!text.includes(secret) && !text.includes(hostSecret), `a secret leaked: ${text}`);
    assert.ok(!text.includes(secret.slice(0, half)) || !text.includes(secret.slice(half)), 'both halves of the secret reached the log');
  }
  assert.ok(live.join('').includes('***'), 'the live feed carried the masked output');
});
