/**
 * Opens the SQLite store of a data dir: WAL, foreign keys on, migrations applied at
 * start-up. Guards two invariants: a database written by a newer Cronium is never
 * touched (DB_TOO_NEW), and a damaged or foreign file is reported, never replaced
 * (DB_CORRUPT, DB_FOREIGN).
 */
import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { chmodSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CroniumError } from '../../shared/errors';
import { assetPath, packageRoot, resourcesDir } from '../paths';
import { chooseSqliteBinding, currentRuntime, mapBindingLoadError, type BindingChoice } from './native-binding';
import * as schema from './schema';
import { sqliteDataStore, type DataStore } from './store';

/** Marks a SQLite file as Cronium's ("CRNM"), so a foreign database is never migrated. */
export const APPLICATION_ID = 0x43524e4d;
/** The database file's name inside the data dir. */
export const DB_FILE = 'cronium.db';

/** The drizzle handle over the schema. */
export type Db = BetterSQLite3Database<typeof schema>;

/** An open store. */
export interface Store {
  /** The drizzle handle (synchronous; services being moved to the port use `data`). */
  db: Db;
  /** The store port over this database (store.ts): what ported services use. */
  data: DataStore;
  /** The raw better-sqlite3 handle, for pragmas and hot paths. */
  sqlite: Database.Database;
  /** The database file. */
  path: string;
  /** The schema version (number of applied migrations). */
  schemaVersion: number;
  /** Closes the database (checkpointing the WAL). */
  close(): void;
}

/** The migrations folder, from the sources or the installed app's resources. */
export function migrationsFolder(): string {
  return assetPath('migrations', 'electron/core/db/migrations');
}

/** How many migrations this build knows: its schema version. */
export function knownSchemaVersion(folder = migrationsFolder()): number {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  return journal.entries.length;
}

function corrupt(path: string, cause: unknown): CroniumError {
  return new CroniumError(
    'DB_CORRUPT',
    `the database ${path} is damaged or not a SQLite database (${(cause as Error).message})`,
    `Cronium left the file as it is. Restore it from a backup, or move it aside (mv "${path}" "${path}.broken") to start with an empty store.`,
  );
}

/** Maps SQLite's damage errors to DB_CORRUPT; other errors pass through. */
export function mapSqliteError(path: string, e: unknown): unknown {
  const code = (e as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return corrupt(path, e);
  return e;
}

let binding: BindingChoice | undefined;
/** The better-sqlite3 binding for this runtime, chosen once (native-binding.ts). */
export function sqliteBinding(): BindingChoice {
  binding ??= chooseSqliteBinding(currentRuntime(), { resourcesDir: resourcesDir(), packageRoot: packageRoot() });
  return binding;
}

/**
 * The database holds the inventory, sealed secrets and logs: 0600, whatever the umask. A new
 * file is created 0600 before SQLite opens it (its -wal and -shm files take the same mode);
 * an existing one, and its -wal and -shm, are tightened.
 */
function restrictDatabaseFiles(path: string, isNew: boolean): void {
  if (process.platform === 'win32') return;
  try {
    if (isNew) closeSync(openSync(path, 'a', 0o600));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  } catch {
    // Not ours to change (another owner): SQLite's own open reports what matters.
  }
}

/** Opens (creating if needed) and migrates the store in a data dir. */
export function openStore(dataDir: string, options: { file?: string } = {}): Store {
  const path = options.file ?? join(dataDir, DB_FILE);
  const isNew = !existsSync(path);
  restrictDatabaseFiles(path, isNew);
  const choice = sqliteBinding();
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path, choice.kind === 'file' ? { nativeBinding: choice.path } : {});
  } catch (e) {
    throw mapSqliteError(path, mapBindingLoadError(e, choice, currentRuntime()));
  }
  try {
    const known = knownSchemaVersion();
    // Reading the header first: a damaged file fails here, before anything is written.
    const appId = sqlite.pragma('application_id', { simple: true }) as number;
    const version = sqlite.pragma('user_version', { simple: true }) as number;
    const tables = (sqlite.prepare("select count(*) as n from sqlite_master where type = 'table'").get() as { n: number }).n;
    if (appId !== APPLICATION_ID && (appId !== 0 || tables > 0) && !isNew) {
      throw new CroniumError(
        'DB_FOREIGN',
        `${path} is a SQLite database, but not one of Cronium's`,
        'point --data-dir (or CRONIUM_HOME) at a directory that holds only Cronium data',
      );
    }
    if (version > known) {
      throw new CroniumError(
        'DB_TOO_NEW',
        `the database ${path} was written by a newer version of Cronium (schema ${version}; this version knows up to ${known})`,
        'upgrade Cronium, or use another data dir with --data-dir; the file was not changed',
      );
    }
    // A new file gets 16 KiB pages (it must be set before the first table and WAL): log chunks of
    // 32-64 KiB take a quarter of the overflow pages, and storing output runs about 1.5x faster
    // (test/bench). An existing file keeps its page size.
    if (isNew && tables === 0) sqlite.pragma('page_size = 16384');
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    if (version < known) applyMigrations(sqlite, known);
    const db = drizzle(sqlite, { schema });
    return {
      db,
      data: sqliteDataStore(db, sqlite),
      sqlite,
      path,
      schemaVersion: known,
      close: () => {
        if (sqlite.open) sqlite.close();
      },
    };
  } catch (e) {
    sqlite.close();
    throw mapSqliteError(path, e);
  }
}

/**
 * Applies drizzle's generated migrations (its journal and its __drizzle_migrations
 * table) inside one IMMEDIATE transaction, so that two processes opening a new data
 * dir at once (the desktop and the CLI, say) cannot both migrate it.
 */
function applyMigrations(sqlite: Database.Database, known: number): void {
  const migrations = readMigrationFiles({ migrationsFolder: migrationsFolder() });
  sqlite.exec('BEGIN IMMEDIATE');
  try {
    const current = sqlite.pragma('user_version', { simple: true }) as number;
    if (current < known) {
      sqlite.exec('CREATE TABLE IF NOT EXISTS __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
      const last = sqlite.prepare('SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1').get() as
        | { created_at: number }
        | undefined;
      const record = sqlite.prepare('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)');
      for (const m of migrations) {
        if (last && Number(last.created_at) >= m.folderMillis) continue;
        for (const stmt of m.sql) if (stmt.trim()) sqlite.exec(stmt);
        record.run(m.hash, m.folderMillis);
      }
      sqlite.pragma(`application_id = ${APPLICATION_ID}`);
      sqlite.pragma(`user_version = ${known}`);
    }
    sqlite.exec('COMMIT');
  } catch (e) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    throw e;
  }
}
