/**
 * The team server's schema on a real PostgreSQL (issue #16): three servers migrating one
 * database at once apply each migration exactly once (the advisory lock); the result has the
 * same tables, columns, nullability, keys, unique indexes and foreign keys as a fresh SQLite
 * store of this build (one schema, two dialects); a changed migration file or a newer database
 * is refused with its code and changes nothing.
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { openStore } from '../../../electron/core/db/database';
import { migratePg, readPgMigrations } from '../../../electron/core/db/pg-migrate';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

let cluster: PgCluster | undefined;
const clients: pg.Client[] = [];

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: cluster!.url('cronium') });
  await c.connect();
  clients.push(c);
  return c;
}

before(async () => {
  cluster = await startPgCluster();
  await cluster.psql('create database cronium');
});

after(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await cluster?.stop();
});

/** Tables, columns, keys, unique indexes and foreign keys, in one comparable shape (columns by name: SQLite appends the ones later migrations add). */
interface Shape {
  columns: string[];
  primaryKey: string[];
  unique: string[];
  foreignKeys: string[];
}

function sqliteShape(): Map<string, Shape> {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-shape-'));
  const store = openStore(dir);
  try {
    const db = store.sqlite;
    const out = new Map<string, Shape>();
    const tables = db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name != '__drizzle_migrations' order by name").pluck().all() as string[];
    for (const t of tables) {
      const cols = db.prepare(`pragma table_info(${JSON.stringify(t)})`).all() as { name: string; notnull: number; pk: number }[];
      const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const unique = (db.prepare(`pragma index_list(${JSON.stringify(t)})`).all() as { name: string; unique: number; origin: string }[])
        .filter((i) => i.unique && i.origin === 'c')
        .map((i) => `${i.name}(${(db.prepare(`pragma index_info(${JSON.stringify(i.name)})`).all() as { name: string }[]).map((c) => c.name).join(',')})`)
        .sort();
      const fks = (db.prepare(`pragma foreign_key_list(${JSON.stringify(t)})`).all() as { from: string; table: string; to: string; on_delete: string }[])
        .map((f) => `${f.from}->${f.table}.${f.to} ${f.on_delete.toLowerCase()}`)
        .sort();
      // A primary key column is NOT NULL in PostgreSQL whatever SQLite says.
      out.set(t, { columns: cols.map((c) => `${c.name}${c.notnull || c.pk ? ' not null' : ''}`).sort(), primaryKey: pk, unique, foreignKeys: fks });
    }
    return out;
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pgShape(c: pg.Client): Promise<Map<string, Shape>> {
  const out = new Map<string, Shape>();
  const tables = (await c.query("select table_name from information_schema.tables where table_schema = 'public' and table_name != 'cronium_migrations' order by table_name")).rows.map((r) => r.table_name as string);
  for (const t of tables) {
    const cols = (await c.query('select column_name, is_nullable from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position', ['public', t])).rows;
    const pk = (
      await c.query(
        `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
         where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)`,
        [t],
      )
    ).rows.map((r) => r.attname as string);
    const unique = (
      await c.query(
        `select ic.relname as name, array_agg(a.attname::text order by array_position(i.indkey, a.attnum)) as cols
         from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
         where i.indrelid = $1::regclass and i.indisunique and not i.indisprimary group by ic.relname`,
        [t],
      )
    ).rows.map((r) => `${r.name}(${(r.cols as string[]).join(',')})`).sort();
    const fks = (
      await c.query(
        `select a.attname as from, cf.relname as table, af.attname as to, con.confdeltype as del
         from pg_constraint con join pg_attribute a on a.attrelid = con.conrelid and a.attnum = con.conkey[1]
         join pg_class cf on cf.oid = con.confrelid join pg_attribute af on af.attrelid = con.confrelid and af.attnum = con.confkey[1]
         where con.conrelid = $1::regclass and con.contype = 'f'`,
        [t],
      )
    ).rows.map((r) => `${r.from}->${r.table}.${r.to} ${({ a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' } as Record<string, string>)[r.del as string]}`).sort();
    out.set(t, { columns: cols.map((r) => `${r.column_name}${r.is_nullable === 'NO' ? ' not null' : ''}`).sort(), primaryKey: pk, unique, foreignKeys: fks });
  }
  return out;
}

test('three servers migrating at once apply each migration exactly once, and the schema is the SQLite store\'s, table for table', async () => {
  const migrations = readPgMigrations();
  assert.ok(migrations.length >= 1);
  const results = await Promise.all([client(), client(), client()].map(async (c) => migratePg(await c, migrations)));
  const applied = results.flatMap((r) => r.applied);
  assert.deepEqual(applied, migrations.map((m) => m.tag), `each migration once across the three: ${JSON.stringify(results)}`);
  assert.ok(results.every((r) => r.version === migrations.length));
  const c = await client();
  assert.equal(Number((await c.query('select count(*) as n from cronium_migrations')).rows[0]!.n), migrations.length);

  const lite = sqliteShape();
  const post = await pgShape(c);
  assert.deepEqual([...post.keys()], [...lite.keys()], 'the same tables');
  for (const [table, shape] of lite) assert.deepEqual(post.get(table), shape, `table ${table}`);
  assert.ok(lite.size >= 20, `${lite.size} tables compared`);

  // Again: nothing to do.
  assert.deepEqual((await migratePg(c, migrations)).applied, []);
});

test('a changed migration file, or a database newer than this build, is refused with its code and the database is not changed', async () => {
  const c = await client();
  const migrations = readPgMigrations();
  const before = (await c.query('select idx, hash from cronium_migrations order by idx')).rows;
  const changed = migrations.map((m, i) => (i === 0 ? { ...m, hash: 'f'.repeat(64) } : m));
  await assert.rejects(migratePg(c, changed), (e: Error & { code?: string }) => e.code === 'DB_MIGRATION_CHANGED' && /0000_init/.test(e.message));
  await assert.rejects(migratePg(c, []), (e: Error & { code?: string }) => e.code === 'DB_TOO_NEW');
  assert.deepEqual((await c.query('select idx, hash from cronium_migrations order by idx')).rows, before);
  // The lock was released each time: another session takes it at once.
  const other = await client();
  assert.equal((await other.query('select pg_try_advisory_lock(7238776342580593) as ok')).rows[0]!.ok, true);
  await other.query('select pg_advisory_unlock(7238776342580593)');
});
