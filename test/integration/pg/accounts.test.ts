/**
 * People, roles and the audit trail (test/contract/accounts-contract.ts) on a team core: a real
 * PostgreSQL (a private cluster), each case on a fresh database. Needs root and Debian's postgresql.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTeamCore } from '../../../electron/core/core';
import { accountsContract } from '../../contract/accounts-contract';
import { fileCluster } from '../../pg/cluster';

const pgc = fileCluster();

accountsContract('postgresql', async () => {
  const databaseUrl = await pgc.freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'cronium-accounts-'));
  const clock = { now: Date.UTC(2026, 11, 4, 12, 0, 10) };
  const core = await openTeamCore({ dataDir: dir, door: 'headless', databaseUrl, poolSize: 3, now: () => clock.now, ssh: { knownHostsFiles: [], agentSocket: null } });
  return {
    core,
    clock,
    close: async () => {
      core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
