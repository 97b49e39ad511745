/** The services' contract through the API (test/contract/core-contract.ts) on a SQLite core. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore } from '../../../electron/core/core';
import { coreContract } from '../../contract/core-contract';

coreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-core-contract-'));
  const core = openCore({ dataDir: dir, door: 'headless', ssh: { knownHostsFiles: [], agentSocket: null } });
  return {
    core,
    close: async () => {
      core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
