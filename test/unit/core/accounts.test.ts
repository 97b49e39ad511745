/** People, roles and the audit trail (test/contract/accounts-contract.ts) on a SQLite core with accounts. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
