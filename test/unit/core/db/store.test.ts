/**
 * The store port on SQLite: the contract both stores pass (test/contract/store-contract.ts), and
 * what only the SQLite store has to do, since its one connection is shared by every task of the
 * process: a statement through `store.db` inside a transaction is refused at once (it would wait
 * for ever), and the synchronous forms, which would slip past an open transaction, are refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../../../electron/core/db/database';
import { storeContract } from '../../../contract/store-contract';
import { tempDir } from '../../../helpers/temp';

storeContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-store-'));
  const store = openStore(dir);
  return {
    store: store.data,
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('store port (sqlite): store.db inside its own transaction fails at once instead of waiting for ever', async (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const s = store.data;
  await assert.rejects(
    s.tx(async () => {
      await s.db.select().from(s.schema.hosts);
    }),
    /store misuse/,
  );
  // The store is usable afterwards: the failed transaction released it.
  assert.deepEqual(await s.db.select().from(s.schema.hosts), []);
});

test('store port (sqlite): a transaction begun inside a transaction fails at once instead of waiting for ever', async (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const s = store.data;
  await assert.rejects(
    s.tx(async () => s.tx(async () => undefined)),
    /a transaction inside a transaction/,
  );
  assert.deepEqual(await s.db.select().from(s.schema.hosts), [], 'the store is usable afterwards');
});

test('store port (sqlite): the synchronous forms are refused', async (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const s = store.data;
  assert.throws(() => s.db.select().from(s.schema.hosts).all(), /synchronous and SQLite-only/);
  assert.throws(() => s.db.transaction(() => undefined), /use store.tx/);
  // Inside a transaction as well, so code that passes here does not fail on PostgreSQL.
  await assert.rejects(s.tx(async (tx) => tx.select().from(s.schema.hosts).all()), /synchronous and SQLite-only/);
});
