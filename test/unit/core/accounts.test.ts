/** People, roles and the audit trail (test/contract/accounts-contract.ts) on a SQLite core with accounts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KdfGate } from '../../../electron/core/accounts/accounts';
import { openCore } from '../../../electron/core/core';
import { accountsContract } from '../../contract/accounts-contract';

accountsContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-accounts-'));
  const clock = { now: Date.UTC(2026, 11, 4, 12, 0, 10) };
  const core = openCore({ dataDir: dir, door: 'headless', accounts: true, now: () => clock.now, ssh: { knownHostsFiles: [], agentSocket: null } });
  return {
    core,
    clock,
    close: async () => {
      core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('password hashing is bounded: two at once, a queue behind them, SIGN_IN_BUSY beyond it (a flood of sign-ins cannot take the memory)', async () => {
  const gate = new KdfGate(2, 3);
  let running = 0;
  let peak = 0;
  const release: (() => void)[] = [];
  const task = () =>
    gate.run(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((r) => release.push(r));
      running--;
      return 'done';
    });
  const settled = Array.from({ length: 10 }, () => task().then((v) => v, (e: { code: string }) => e.code));
  await new Promise((r) => setImmediate(r));
  assert.equal(running, 2, 'two at once');
  while (release.length > 0 || running > 0) {
    release.shift()?.();
    await new Promise((r) => setImmediate(r));
  }
  const outcomes = await Promise.all(settled);
  assert.deepEqual([outcomes.filter((o) => o === 'done').length, outcomes.filter((o) => o === 'SIGN_IN_BUSY').length], [5, 5]);
  assert.equal(peak, 2);
});
