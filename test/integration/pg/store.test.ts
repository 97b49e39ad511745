/**
 * The store port on a real PostgreSQL (issue #16): the contract the SQLite store passes
 * (test/contract/store-contract.ts), each case on a fresh database of a private cluster opened
 * the way a team server opens it (openPgStore: pool, migrations under the lock).
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPgStore } from '../../../electron/core/db/pg-store';
import { storeContract } from '../../contract/store-contract';
import { fileCluster } from '../../pg/cluster';

const pgc = fileCluster();

storeContract('postgresql', async () => {
  const store = await openPgStore(await pgc.freshDatabase(), 4);
  return { store, close: () => store.close() };
});

test('a connection checked out of the pool that the server ends between its queries fails its next query and leaves the process up', async () => {
  const store = await openPgStore(await pgc.freshDatabase(), 4);
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);
  // Without a listener on the checked-out connection, its 'error' would end this process.
  process.prependListener('uncaughtException', onCrash);
  try {
    const c = await store.pool.connect();
    const pid = (await c.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    // Another session ends it (as a restart or an administrator would) while nothing of it runs.
    await store.pool.query('select pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(c.query('select 1'));
    c.release();
    assert.deepEqual(crashes, []);
    assert.equal((await store.pool.query('select 1 as one')).rows[0].one, 1, 'the pool goes on with a new connection');
  } finally {
    process.removeListener('uncaughtException', onCrash);
    await store.close();
  }
});
