// `cronium jobs list --since/--until` through the real bin: ages and ISO times filter by the
// job's creation time; anything else is INVALID_INPUT naming the flag.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWhen } from '../../../electron/cli/commands/jobs';
import { cronium } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

test('parseWhen: ages and ISO dates; anything else is refused', () => {
  const now = Date.UTC(2026, 10, 28, 12);
  assert.equal(parseWhen('30m', 'since', now), now - 30 * 60_000);
  assert.equal(parseWhen('7d', 'since', now), now - 7 * 86_400_000);
  assert.equal(parseWhen('2026-11-28', 'since', now), Date.UTC(2026, 10, 28));
  assert.equal(parseWhen('2026-11-28T09:00:00Z', 'since', now), Date.UTC(2026, 10, 28, 9));
  for (const bad of ['yesterday', '7', '-1d', '2026-13-45', '1e3d', '']) assert.throws(() => parseWhen(bad, 'since', now), /INVALID|not a time/, bad);
});

test('jobs list --since/--until filter by creation time', async (t) => {
  const dir = tempDir(t);
  // A host on a closed loopback port: the run fails at once, the job stays in the history.
  assert.equal((await cronium(['--data-dir', dir, 'hosts', 'add', 'closed', '--address', '127.0.0.1', '--port', '1', '--user', 'nobody', '--no-agent'])).code, 0);
  const run = await cronium(['--data-dir', dir, 'run', '--host', 'closed', '--command', 'true', '--mode', 'direct']);
  assert.equal(run.code, 255, run.stderr);
  const list = async (...args: string[]) => {
    const r = await cronium(['--data-dir', dir, '--json', 'jobs', 'list', ...args]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { id: number }[]).map((j) => j.id);
  };
  assert.deepEqual(await list(), [1]);
  assert.deepEqual(await list('--since', '1h'), [1]);
  assert.deepEqual(await list('--until', '1h'), []);
  assert.deepEqual(await list('--since', '2000-01-01', '--until', '2000-01-02'), []);
  const bad = await cronium(['--data-dir', dir, 'jobs', 'list', '--since', 'yesterday']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error\[INVALID_INPUT\]: invalid since: "yesterday" is not a time/);
});
