/**
 * The services' contract through the API, run against each store (issue #16): a SQLite core in
 * the unit suite (test/unit/core/core-contract.test.ts), a team core on a real PostgreSQL in the
 * integration suite (test/integration/pg/core-contract.test.ts). Every case goes through the
 * dispatcher as a door would, so what it checks is what a client gets: the same answers, the
 * same refusal codes, whichever database holds the data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import type { Core } from '../../electron/core/core';

const ctx = { door: 'headless' as const };

/** Registers the contract's tests; `open` gives a fresh core with an empty store, `close` ends it. */
export function coreContract(name: string, open: () => Promise<{ core: Core; close: () => Promise<void> }>): void {
  const withCore = (title: string, fn: (core: Core) => Promise<void>) =>
    void test(`core contract (${name}): ${title}`, async () => {
      const { core, close } = await open();
      try {
        await fn(core);
      } finally {
        await close();
      }
    });

  withCore('hosts: add, tags, search (case-insensitive, escaped), update and rename, remove; conflicts coded', async (core) => {
    await call(core.dispatch, 'hosts.add', { name: 'Web-1', address: '10.0.0.1', tags: ['web', 'eu'] }, ctx);
    await call(core.dispatch, 'hosts.add', { name: 'db_1', address: '10.0.0.2', group: 'Databases', tags: ['db'] }, ctx);
    await call(core.dispatch, 'hosts.add', { name: 'dbx1', address: '10.0.0.3' }, ctx);
    await assert.rejects(call(core.dispatch, 'hosts.add', { name: 'db_1', address: '10.0.0.9' }, ctx), { code: 'ALREADY_EXISTS' });
    assert.deepEqual((await call(core.dispatch, 'hosts.list', { tag: 'web' }, ctx)).map((h) => h.name), ['Web-1']);
    assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: 'WEB' }, ctx)).map((h) => h.name), ['Web-1'], 'search ignores case');
    assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: 'db_' }, ctx)).map((h) => h.name), ['db_1'], '_ is a character, not a wildcard');
    assert.deepEqual((await call(core.dispatch, 'hosts.list', { search: 'databases' }, ctx)).map((h) => h.name), ['db_1'], 'the group is searched');
    const renamed = await call(core.dispatch, 'hosts.update', { name: 'Web-1', newName: 'web-1', port: 2222, addTags: ['blue'], removeTags: ['eu'] }, ctx);
    assert.deepEqual([renamed.name, renamed.port, renamed.tags], ['web-1', 2222, ['blue', 'web']]);
    await assert.rejects(call(core.dispatch, 'hosts.update', { name: 'web-1', newName: 'db_1' }, ctx), { code: 'ALREADY_EXISTS' });
    await call(core.dispatch, 'hosts.update', { name: 'dbx1', jump: 'web-1' }, ctx);
    await assert.rejects(call(core.dispatch, 'hosts.update', { name: 'web-1', jump: 'dbx1' }, ctx), { code: 'INVALID_INPUT' });
    await assert.rejects(call(core.dispatch, 'hosts.remove', { name: 'web-1' }, ctx), { code: 'CONFLICT' });
    await call(core.dispatch, 'hosts.remove', { name: 'dbx1' }, ctx);
    await call(core.dispatch, 'hosts.remove', { name: 'web-1' }, ctx);
    assert.deepEqual((await call(core.dispatch, 'hosts.list', {}, ctx)).map((h) => h.name), ['db_1']);
    await assert.rejects(call(core.dispatch, 'hosts.get', { name: 'web-1' }, ctx), { code: 'NOT_FOUND' });
  });

  withCore('variables: per host wins; a secret stays sealed, never read back, and stays secret when set again', async (core) => {
    await call(core.dispatch, 'hosts.add', { name: 'h1', address: '10.0.0.1' }, ctx);
    await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'eu' }, ctx);
    await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'eu-west', host: 'h1' }, ctx);
    assert.equal((await call(core.dispatch, 'vars.get', { key: 'REGION', host: 'h1' }, ctx)).value, 'eu-west');
    assert.equal((await call(core.dispatch, 'vars.get', { key: 'REGION' }, ctx)).value, 'eu');
    const secret = await call(core.dispatch, 'vars.set', { key: 'TOKEN', value: 's3cr3t', secret: true }, ctx);
    assert.deepEqual([secret.secret, secret.value], [true, null]);
    const again = await call(core.dispatch, 'vars.set', { key: 'TOKEN', value: 'other' }, ctx);
    assert.deepEqual([again.secret, again.value], [true, null], 'once secret, stays secret');
    assert.deepEqual(await core.vars.secretValuesFor(null), ['other'], 'the value runs see (and logs mask)');
    const listed = await call(core.dispatch, 'vars.list', {}, ctx);
    assert.ok(!JSON.stringify(listed).includes('other'), 'never in a listing');
    await call(core.dispatch, 'vars.remove', { key: 'REGION', host: 'h1' }, ctx);
    await assert.rejects(call(core.dispatch, 'vars.remove', { key: 'REGION', host: 'h1' }, ctx), { code: 'NOT_FOUND' });
  });

  withCore('scripts and follow-ups: saved with their files, a loop refused with FOLLOWUP_LOOP, a script in use not removed', async (core) => {
    await call(core.dispatch, 'scripts.save', { name: 'b', interpreter: 'sh', body: 'echo b' }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'a', interpreter: 'bash', body: 'echo a', followups: [{ on: 'success', script: 'b' }], elevated: true }, ctx);
    const a = await call(core.dispatch, 'scripts.get', { name: 'a' }, ctx);
    assert.deepEqual([a.elevated, a.followups], [true, [{ on: 'success', script: 'b' }]]);
    await assert.rejects(call(core.dispatch, 'scripts.save', { name: 'b', interpreter: 'sh', body: 'echo b', followups: [{ on: 'failure', script: 'a' }] }, ctx), { code: 'FOLLOWUP_LOOP' });
    assert.deepEqual((await call(core.dispatch, 'scripts.get', { name: 'b' }, ctx)).followups, [], 'nothing saved');
    await assert.rejects(call(core.dispatch, 'scripts.remove', { name: 'b' }, ctx), { code: 'CONFLICT' });
    assert.deepEqual((await call(core.dispatch, 'scripts.list', {}, ctx)).map((s) => s.name), ['a', 'b']);
  });

  withCore('schedules: added with their next runs, paused and resumed, removed; settings merge and persist', async (core) => {
    await call(core.dispatch, 'hosts.add', { name: 'h1', address: '10.0.0.1' }, ctx);
    const s = await call(core.dispatch, 'schedules.add', { name: 'nightly', cron: '0 3 * * *', tz: 'Europe/Berlin', hosts: ['h1'], script: 'true', secrets: ['TOKEN'] }, ctx);
    assert.equal(s.nextRuns.length, 5);
    assert.equal((await call(core.dispatch, 'schedules.pause', { name: 'nightly' }, ctx)).paused, true);
    assert.deepEqual((await call(core.dispatch, 'schedules.get', { name: 'nightly' }, ctx)).nextRuns, []);
    assert.equal((await call(core.dispatch, 'schedules.resume', { name: 'nightly' }, ctx)).paused, false);
    await assert.rejects(call(core.dispatch, 'schedules.add', { name: 'nightly', cron: '* * * * *', hosts: ['h1'], script: 'true' }, ctx), { code: 'ALREADY_EXISTS' });
    const health = await call(core.dispatch, 'schedules.set', { name: 'nightly', graceMs: 120_000, notify: false }, ctx);
    assert.deepEqual([health.graceMs, health.notify, health.health], [120_000, false, 'ok']);
    await call(core.dispatch, 'schedules.remove', { name: 'nightly' }, ctx);
    assert.deepEqual(await call(core.dispatch, 'schedules.list', {}, ctx), []);
    const set = await call(core.dispatch, 'settings.set', { execution: { perHostConcurrency: 2 }, appearance: { theme: 'dark' } }, ctx);
    assert.deepEqual([set.execution.perHostConcurrency, set.execution.globalConcurrency, set.appearance.theme], [2, 32, 'dark']);
    await assert.rejects(call(core.dispatch, 'settings.set', { execution: { globalConcurrency: 0 } }, ctx), { code: 'INVALID_INPUT' });
    assert.equal((await call(core.dispatch, 'settings.get', {}, ctx)).execution.perHostConcurrency, 2);
  });

  withCore('jobs: queued on hosts by name or tag, listed, shown, cancelled before they start; unknown ones coded', async (core) => {
    await call(core.dispatch, 'hosts.add', { name: 'h1', address: '10.0.0.1', tags: ['t'] }, ctx);
    await call(core.dispatch, 'hosts.add', { name: 'h2', address: '10.0.0.2', tags: ['t'] }, ctx);
    const { jobId, runIds } = await call(core.dispatch, 'jobs.run', { tag: 't', command: 'true', env: { A: '1' }, input: { n: 1 } }, ctx);
    assert.equal(runIds.length, 2);
    const job = await call(core.dispatch, 'jobs.get', { id: jobId }, ctx);
    assert.deepEqual([job.status, job.hosts, job.counts], ['queued', ['h1', 'h2'], { queued: 2 }]);
    assert.deepEqual((await call(core.dispatch, 'jobs.list', { host: 'h2', limit: 10 }, ctx)).map((j) => j.id), [jobId]);
    const cancelled = await call(core.dispatch, 'jobs.cancel', { id: jobId }, ctx);
    assert.deepEqual([cancelled.status, cancelled.stopping], ['cancelled', []]);
    await assert.rejects(call(core.dispatch, 'jobs.get', { id: jobId + 100 }, ctx), { code: 'NOT_FOUND' });
    await assert.rejects(call(core.dispatch, 'jobs.run', { hosts: ['nope'], command: 'true' }, ctx), { code: 'INVALID_INPUT' });
    const logs = await call(core.dispatch, 'runs.logs', { runId: runIds[0]!, limit: 10 }, ctx);
    assert.deepEqual([logs.status, logs.chunks, logs.lastSeq], ['cancelled', [], 0]);
    const stats = await call(core.dispatch, 'stats.hostSuccess', {}, ctx);
    assert.deepEqual(stats.hosts.map((h) => [h.host, h.total, h.cancelled, h.rate]), [
      ['h1', 1, 1, null],
      ['h2', 1, 1, null],
    ]);
    const health = await call(core.dispatch, 'runner.health', { days: 3 }, ctx);
    assert.equal(health.days.length, 3);
  });
}
