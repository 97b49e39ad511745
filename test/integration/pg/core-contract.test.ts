/**
 * The services' contract through the API (test/contract/core-contract.ts) on a team core: a real
 * PostgreSQL (a private cluster), each case on a fresh database, opened as `cronium serve
 * --database` opens it. Needs root (the cluster runs as the postgres user) and Debian's postgresql.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTeamCore } from '../../../electron/core/core';
import { coreContract } from '../../contract/core-contract';
import { fileCluster } from '../../pg/cluster';

const pgc = fileCluster();

coreContract('postgresql', async () => {
  const databaseUrl = await pgc.freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'cronium-core-contract-'));
  const core = await openTeamCore({ dataDir: dir, door: 'headless', databaseUrl, poolSize: 3, ssh: { knownHostsFiles: [], agentSocket: null } });
  return {
    core,
    close: async () => {
      core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
