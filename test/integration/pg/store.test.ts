/**
 * The store port on a real PostgreSQL (issue #16): the contract the SQLite store passes
 * (test/contract/store-contract.ts), each case on a fresh database of a private cluster opened
 * the way a team server opens it (openPgStore: pool, migrations under the lock).
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import { after, before } from 'node:test';
import { openPgStore } from '../../../electron/core/db/pg-store';
import { storeContract } from '../../contract/store-contract';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

let cluster: PgCluster | undefined;
let dbs = 0;

before(async () => {
  cluster = await startPgCluster();
});

after(async () => {
  await cluster?.stop();
});

storeContract('postgresql', async () => {
  const name = `s${++dbs}`;
  await cluster!.psql(`create database ${name}`);
  const store = await openPgStore(cluster!.url(name), 4);
  return { store, close: () => store.close() };
});
