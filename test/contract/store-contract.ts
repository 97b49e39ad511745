/**
 * The store port's contract (electron/core/db/store.ts), run against each store: SQLite in the
 * unit suite (test/unit/core/db/store.test.ts), PostgreSQL in the integration suite
 * (test/integration/pg/store.test.ts). Both must give the same answers to the same builders:
 * types as JavaScript sees them (booleans, JSON, buffers, bigints as numbers), transactions that
 * commit or roll back whole, subqueries, conflicts, hand-written SQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asc, eq, inArray, sql } from 'drizzle-orm';
import { preparedOnce, type DataStore } from '../../electron/core/db/store';

/** A fresh, empty, migrated store; `close` ends it. */
export interface StoreRig {
  store: DataStore;
  close(): Promise<void>;
}

/** Registers the contract's tests for one store. */
export function storeContract(name: string, makeRig: () => Promise<StoreRig>): void {
  const withRig = (title: string, fn: (s: DataStore) => Promise<void>) =>
    void test(`store port (${name}): ${title}`, async () => {
      const rig = await makeRig();
      try {
        await fn(rig.store);
      } finally {
        await rig.close();
      }
    });

  const host = (name: string, extra: Record<string, unknown> = {}) => ({ name, address: '127.0.0.1', createdAt: 1, updatedAt: 1, ...extra });

  withRig('values come back with their JavaScript types', async (s) => {
    const { hosts, credentials } = s.schema;
    const [row] = await s.db.insert(hosts).values(host('a', { useAgent: false, port: 2222, sshOptions: { knownHostsFiles: ['/k'], connectTimeoutMs: 5000 } })).returning();
    assert.equal(typeof row!.id, 'number');
    assert.equal(row!.useAgent, false);
    assert.deepEqual(row!.sshOptions, { knownHostsFiles: ['/k'], connectTimeoutMs: 5000 });
    await s.db.insert(credentials).values({ hostId: row!.id, kind: 'password', sealed: Buffer.from([0, 1, 255]), createdAt: 2 ** 41, updatedAt: 2 ** 41 });
    const [cred] = await s.db.select().from(credentials).where(eq(credentials.hostId, row!.id));
    assert.ok(Buffer.isBuffer(cred!.sealed));
    assert.deepEqual([...cred!.sealed], [0, 1, 255]);
    assert.equal(cred!.createdAt, 2 ** 41, 'a time in milliseconds survives as a number');
  });

  withRig('a transaction commits whole, or rolls back whole when it throws', async (s) => {
    const { hosts } = s.schema;
    await s.tx(async (tx) => {
      await tx.insert(hosts).values(host('a'));
      await tx.insert(hosts).values(host('b'));
    });
    await assert.rejects(
      s.tx(async (tx) => {
        await tx.insert(hosts).values(host('c'));
        await tx.insert(hosts).values(host('a')); // unique name: fails
      }),
    );
    const names = (await s.db.select({ name: hosts.name }).from(hosts).orderBy(asc(hosts.name))).map((r) => r.name);
    assert.deepEqual(names, ['a', 'b'], 'c went with the failed transaction');
  });

  withRig('a statement outside an open transaction is not part of it (kept when it rolls back)', async (s) => {
    const { hosts } = s.schema;
    // Another task (outside the transaction's async context) writes while the transaction is open.
    const outside = new Promise((r) => setTimeout(r, 5)).then(() => s.db.insert(hosts).values(host('outside')));
    await assert.rejects(
      s.tx(async (tx) => {
        await tx.insert(hosts).values(host('inside'));
        // Give the outside statement every chance to run before the rollback.
        await new Promise((r) => setTimeout(r, 30));
        await tx.select().from(hosts);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await outside;
    const names = (await s.db.select({ name: hosts.name }).from(hosts)).map((r) => r.name);
    assert.deepEqual(names, ['outside']);
  });

  withRig('a query of a hot path (preparedOnce) is built once, takes its values at each call, sees later writes, and stays out of an open transaction', async (s) => {
    const { hosts } = s.schema;
    let builds = 0;
    const byName = preparedOnce(() => {
      builds++;
      return s.db.select({ name: hosts.name, port: hosts.port }).from(hosts).where(eq(hosts.name, sql.placeholder('name'))).prepare();
    });
    assert.deepEqual(await byName().execute({ name: 'a' }), []);
    await s.db.insert(hosts).values([host('a', { port: 1 }), host('b', { port: 2 })]);
    assert.deepEqual(await byName().execute({ name: 'a' }), [{ name: 'a', port: 1 }], 'a row written after the first call');
    assert.deepEqual(await byName().execute({ name: 'b' }), [{ name: 'b', port: 2 }], 'the value of this call, not of the last');
    // Run from another task while a transaction that rolls back holds a row: never sees it (on
    // SQLite it waits for the transaction's end, like every statement outside one).
    let seen: unknown;
    const outside = new Promise((r) => setTimeout(r, 5)).then(async () => (seen = await byName().execute({ name: 'inside' })));
    await assert.rejects(
      s.tx(async (tx) => {
        await tx.insert(hosts).values(host('inside'));
        await new Promise((r) => setTimeout(r, 30));
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await outside;
    assert.deepEqual(seen, []);
    assert.equal(builds, 1);
  });

  withRig('a statement waiting for one transaction does not slip into the next', async (s) => {
    const { hosts } = s.schema;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = s.tx(async (tx) => {
      await tx.insert(hosts).values(host('first'));
      await held;
    });
    await new Promise((r) => setTimeout(r, 10));
    // The second transaction queues first, so it begins the moment the first ends, before the
    // waiting statement runs.
    const second = s.tx(async (tx) => {
      await tx.insert(hosts).values(host('second'));
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('second rolls back');
    });
    const outside = s.db.insert(hosts).values(host('outside')).then(() => 'done'); // issued now
    release();
    await first;
    await assert.rejects(second, /second rolls back/);
    await outside;
    const names = (await s.db.select({ name: hosts.name }).from(hosts).orderBy(asc(hosts.name))).map((r) => r.name);
    assert.deepEqual(names, ['first', 'outside']);
  });

  withRig('transactions on one store do not see each other half-done, and both land', async (s) => {
    const { hosts } = s.schema;
    await s.db.insert(hosts).values(host('counter', { port: 0 }));
    const bump = () =>
      s.tx(async (tx) => {
        const [row] = await s.forUpdate(tx.select({ port: hosts.port }).from(hosts).where(eq(hosts.name, 'counter')));
        await new Promise((r) => setTimeout(r, 5));
        await tx.update(hosts).set({ port: (row!.port ?? 0) + 1 }).where(eq(hosts.name, 'counter'));
      });
    await Promise.all(Array.from({ length: 8 }, bump));
    const [row] = await s.db.select({ port: hosts.port }).from(hosts).where(eq(hosts.name, 'counter'));
    assert.equal(row!.port, 8, 'no update lost');
  });

  withRig('subqueries, conflicts and returning work through the port', async (s) => {
    const { hosts, hostTags } = s.schema;
    const rows = await s.db.insert(hosts).values([host('a'), host('b'), host('c')]).returning({ id: hosts.id, name: hosts.name });
    await s.db.insert(hostTags).values([{ hostId: rows[0]!.id, tag: 'web' }, { hostId: rows[2]!.id, tag: 'web' }]);
    await s.db.insert(hostTags).values({ hostId: rows[0]!.id, tag: 'web' }).onConflictDoNothing();
    const tagged = await s.db
      .select({ name: hosts.name })
      .from(hosts)
      .where(inArray(hosts.id, s.db.select({ id: hostTags.hostId }).from(hostTags).where(eq(hostTags.tag, 'web'))))
      .orderBy(asc(hosts.name));
    assert.deepEqual(tagged.map((r) => r.name), ['a', 'c']);
    const changed = await s.db.update(hosts).set({ port: 2200 }).where(inArray(hosts.name, ['a', 'b'])).returning({ id: hosts.id });
    assert.equal(changed.length, 2);
    const upserted = await s.db
      .insert(hosts)
      .values(host('a', { port: 1 }))
      .onConflictDoUpdate({ target: hosts.name, set: { port: 2201 } })
      .returning({ port: hosts.port });
    assert.deepEqual(upserted, [{ port: 2201 }]);
  });

  withRig('hand-written SQL: rows and changed counts', async (s) => {
    const { hosts } = s.schema;
    await s.db.insert(hosts).values([host('a'), host('b')]);
    const rows = await s.rows<{ name: string; n: number }>(sql`select ${hosts.name} as name, ${hosts.port} as n from ${hosts} order by ${hosts.name}`);
    assert.deepEqual(rows.map((r) => r.name), ['a', 'b']);
    assert.equal(await s.exec(sql`update ${hosts} set port = 2 where name = ${'b'}`), 1);
    const inTx = await s.tx(async (tx) => s.rows<{ port: number }>(sql`select port from ${hosts} where name = ${'b'}`, tx));
    assert.equal(Number(inTx[0]!.port), 2);
  });
}
