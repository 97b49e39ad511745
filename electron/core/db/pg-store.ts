/**
 * The store port on PostgreSQL (store.ts has the interface and the SQLite side): a team server's
 * database, opened by URL and migrated under the migration lock. Loaded only by a team server,
 * so the desktop and the CLI never load the PostgreSQL driver.
 */
import { sql, type SQL } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Db } from './database';
import { migratePg } from './pg-migrate';
import * as pgSchema from './schema.pg';
import type { DataStore, Schema } from './store';

/**
 * bigint columns as numbers (every id and time here fits in 2^53), for every query of the
 * process: set on the driver's global parsers, because drizzle passes those to each query it
 * runs (a pool's own `types` would not reach drizzle's hand-written queries).
 */
pg.types.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));

/**
 * A pool whose bigint columns come back as numbers. An idle connection the server ends (a
 * PostgreSQL restart, an administrator's pg_terminate_backend) is an 'error' of the pool: the
 * pool drops that connection and opens a new one when needed, so it must not end the process
 * (node's default for an unhandled 'error'). The same holds for a connection checked out of the
 * pool when the server ends it between two of its queries (a transaction awaiting other work, a
 * PostgreSQL restart mid-run): the pool listens for 'error' only on idle connections, so every
 * connection gets a listener of its own when it is made. A query on a broken connection fails as
 * a query, and the pool drops the connection when it comes back.
 */
export function pgPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A session of its own (LISTEN, a session advisory lock), connected; named (application_name) for pg_stat_activity. */
export async function pgSession(connectionString: string, name?: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString, ...(name ? { application_name: name.slice(0, 63) } : {}) });
  await c.connect();
  return c;
}


/** The PostgreSQL store's port over a pool (pgPool: bigint as number). */
export function pgDataStore(pool: pg.Pool): DataStore {
  const db = drizzlePg(pool, { schema: pgSchema }) as unknown as Db;
  type PgDb = ReturnType<typeof drizzlePg<typeof pgSchema>>;
  const real = db as unknown as PgDb;
  return {
    dialect: 'postgres',
    db,
    schema: pgSchema as unknown as Schema,
    tx: (fn) => real.transaction((tx) => fn(tx as unknown as Db)),
    rows: async <T>(query: SQL, tx?: Db) => ((await ((tx ?? db) as unknown as PgDb).execute(query)).rows as T[]),
    exec: async (query: SQL, tx?: Db) => (await ((tx ?? db) as unknown as PgDb).execute(query)).rowCount ?? 0,
    exclusive: async (fn) => fn(),
    forUpdate: (query) => (query as unknown as { for(strength: 'update'): typeof query }).for('update'),
    lock: async (tx, name) => {
      await (tx as unknown as PgDb).execute(sql`select pg_advisory_xact_lock(hashtext(${name}))`);
    },
  };
}

/** A PostgreSQL store opened by URL: migrated (under the migration lock), with its pool. */
export interface PgStore extends DataStore {
  readonly pool: pg.Pool;
  close(): Promise<void>;
}

/** Opens a team server's database: a pool of `max` connections, migrations applied first. */
export async function openPgStore(url: string, max = 10): Promise<PgStore> {
  const pool = pgPool(url, max);
  try {
    const c = await pool.connect();
    try {
      await migratePg(c);
    } finally {
      c.release();
    }
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  return { ...pgDataStore(pool), pool, close: () => pool.end() };
}

