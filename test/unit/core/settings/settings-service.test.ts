/** Settings: defaults, merged groups, validation, persistence, the settings.changed event, and where they apply (jobs.run defaults, worker limits). */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../../electron/core/core';
import type { Settings } from '../../../../electron/shared/api';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

const ctx = { door: 'cli' as const };

function open(t: TestContext, dir = tempDir(t)): Core {
  const core = openCore({ dataDir: dir, door: 'cli' });
  t.after(() => core.close());
  return core;
}

test('defaults, merged changes, persistence across opens, and the event', async (t) => {
  const dir = tempDir(t);
  const core = open(t, dir);
  const s = await call(core.dispatch, 'settings.get', {}, ctx);
  assert.deepEqual(s.execution, { defaultMode: 'auto', defaultTimeoutMs: null, globalConcurrency: 32, perHostConcurrency: 4, runnerCheck: 'stat', maxOutputBytes: 256 * 2 ** 20 });
  assert.deepEqual(s.notifications, { onFailure: true, onSuccess: false });
  assert.deepEqual(s.appearance, { theme: 'system' });
  assert.deepEqual(s.desktop, { startAtLogin: false, teamServers: [], autoUpdate: true, updateChannel: 'latest', updateQuietHours: null });

  const seen: Settings[] = [];
  core.events.on('settings.changed', (p) => seen.push(p));
  const next = await call(core.dispatch, 'settings.set', { execution: { defaultMode: 'direct', perHostConcurrency: 2 }, appearance: { theme: 'dark' } }, ctx);
  assert.deepEqual(next.execution, { defaultMode: 'direct', defaultTimeoutMs: null, globalConcurrency: 32, perHostConcurrency: 2, runnerCheck: 'stat', maxOutputBytes: 256 * 2 ** 20 });
  assert.equal(next.appearance.theme, 'dark');
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], next);
  await call(core.dispatch, 'settings.set', { notifications: { onSuccess: true }, execution: { defaultTimeoutMs: 60_000 } }, ctx);
  core.close();

  const again = open(t, dir);
  const s2 = await call(again.dispatch, 'settings.get', {}, ctx);
  assert.deepEqual(s2.execution, { defaultMode: 'direct', defaultTimeoutMs: 60_000, globalConcurrency: 32, perHostConcurrency: 2, runnerCheck: 'stat', maxOutputBytes: 256 * 2 ** 20 });
  assert.deepEqual(s2.notifications, { onFailure: true, onSuccess: true });
});

test('bad values are refused with the field named, and nothing changes', async (t) => {
  const core = open(t);
  for (const patch of [{ execution: { globalConcurrency: 0 } }, { execution: { defaultMode: 'fast' } }, { execution: { defaultTimeoutMs: 5 } }, { appearance: { theme: 'pink' } }, { notifications: { onFailure: 'yes' } }, { colour: 'blue' }]) {
    try {
      await call(core.dispatch, 'settings.set', patch, ctx);
      assert.fail(`accepted ${JSON.stringify(patch)}`);
    } catch (e) {
      assert.ok(e instanceof CroniumError, String(e));
      assert.equal(e.code, 'INVALID_INPUT', JSON.stringify(patch));
    }
  }
  assert.equal((await call(core.dispatch, 'settings.get', {}, ctx)).execution.globalConcurrency, 32);
});

test('a stored group that no longer parses falls back to its defaults', async (t) => {
  const core = open(t);
  const put = (value: string) => core.store.sqlite.prepare("insert into settings (key, value, updated_at) values ('execution', ?, 0) on conflict(key) do update set value = excluded.value").run(value);
  put('{"globalConcurrency":5}');
  await core.settings.refresh();
  assert.equal(core.settings.execution().globalConcurrency, 5, 'a stored value that parses is read');
  put('{"globalConcurrency":-4}');
  await core.settings.refresh();
  assert.equal(core.settings.execution().globalConcurrency, 32);
  put('{not json');
  await core.settings.refresh();
  assert.equal(core.settings.execution().globalConcurrency, 32);
});

test('a change made by another process on the same data dir applies within a second, announced', async (t) => {
  const dir = tempDir(t);
  const a = open(t, dir);
  const b = open(t, dir);
  const seen: Settings[] = [];
  b.events.on('settings.changed', (p) => seen.push(p));
  await call(a.dispatch, 'settings.set', { execution: { perHostConcurrency: 3 } }, ctx);
  const deadline = Date.now() + 3000;
  while (b.settings.execution().perHostConcurrency !== 3) {
    assert.ok(Date.now() < deadline, 'the other process never saw the change');
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.execution.perHostConcurrency, 3);
});

test('jobs.run without a mode or timeout takes the execution settings', async (t) => {
  const core = open(t);
  await call(core.dispatch, 'hosts.add', { name: 'h', address: '127.0.0.1' }, ctx);
  await call(core.dispatch, 'settings.set', { execution: { defaultMode: 'direct', defaultTimeoutMs: 90_000 } }, ctx);
  const { jobId } = await call(core.dispatch, 'jobs.run', { hosts: ['h'], command: 'true' }, ctx);
  const jobRow = (id: number) => core.store.sqlite.prepare('select mode, timeout_ms as timeoutMs from jobs where id = ?').get(id) as { mode: string; timeoutMs: number | null };
  const job = jobRow(jobId);
  assert.equal(job.mode, 'direct');
  assert.equal(job.timeoutMs, 90_000);
  const { jobId: explicit } = await call(core.dispatch, 'jobs.run', { hosts: ['h'], command: 'true', mode: 'runner', timeoutMs: 5000 }, ctx);
  const j2 = jobRow(explicit);
  assert.equal(j2.mode, 'runner');
  assert.equal(j2.timeoutMs, 5000);
});

test('the running worker takes its concurrency limits from the settings at every claim', async (t) => {
  const core = open(t);
  const { startExecution } = await import('../../../../electron/core/exec/runtime');
  const seen: { globalLimit?: number; perHostLimit?: number }[] = [];
  const claim = core.queue.claim.bind(core.queue);
  core.queue.claim = (opts) => {
    seen.push({ globalLimit: opts.globalLimit, perHostLimit: opts.perHostLimit });
    return claim(opts);
  };
  const execution = startExecution(core, 'test:limits');
  t.after(() => execution.stop());
  const waitFor = async (pred: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      assert.ok(Date.now() < deadline, `never claimed with the expected limits: ${JSON.stringify(seen.slice(-3))}`);
      execution.worker.poke();
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(() => seen.some((s) => s.globalLimit === 32 && s.perHostLimit === 4));
  await call(core.dispatch, 'settings.set', { execution: { globalConcurrency: 7, perHostConcurrency: 1 } }, ctx);
  await waitFor(() => seen.at(-1)?.globalLimit === 7 && seen.at(-1)?.perHostLimit === 1);
});
