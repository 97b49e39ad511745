/**
 * The store port on a real PostgreSQL (issue #16): the contract the SQLite store passes
 * (test/contract/store-contract.ts), each case on a fresh database of a private cluster opened
 * the way a team server opens it (openPgStore: pool, migrations under the lock).
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import { openPgStore } from '../../../electron/core/db/pg-store';
import { storeContract } from '../../contract/store-contract';
import { fileCluster } from '../../pg/cluster';

const pgc = fileCluster();

storeContract('postgresql', async () => {
  const store = await openPgStore(await pgc.freshDatabase(), 4);
  return { store, close: () => store.close() };
});
