/**
 * The team server's migrations on PostgreSQL (issue #16): the files drizzle-kit generates from
 * schema.pg.ts (the twin of schema.ts) into migrations-pg/, applied in order under a session
 * advisory lock, so that any number of servers starting at once on one database migrate it
 * exactly once. Each migration runs in its own transaction and is recorded with the SHA-256 of
 * its SQL; a recorded migration whose file changed, or a database that knows migrations this
 * build does not, stops the server with a clear error (as DB_TOO_NEW does for SQLite) and
 * changes nothing.
 * Driver-free: it takes anything with node-postgres's `query(text, params)`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CroniumError } from '../../shared/errors';
import { assetPath } from '../paths';

/** What the runner needs of a PostgreSQL session (a pg Client, or one pool client held throughout). */
export interface PgQueryable {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** The advisory lock key of migrations: "cronium" and "migrate" in one 64-bit number. */
export const MIGRATION_LOCK_KEY = '7238776342580593';

/** Where this build's PostgreSQL migrations are (packaged: resources/migrations-pg). */
export function pgMigrationsFolder(): string {
  return assetPath('migrations-pg', 'electron/core/db/migrations-pg');
}

/** One migration file of the journal. */
export interface PgMigration {
  idx: number;
  tag: string;
  hash: string;
  statements: string[];
}

/** Reads the journal and its SQL files, in order. */
export function readPgMigrations(folder = pgMigrationsFolder()): PgMigration[] {
  const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as { dialect?: string; entries: { idx: number; tag: string }[] };
  if (journal.dialect !== 'postgresql') throw new CroniumError('INTERNAL', `${folder} does not hold PostgreSQL migrations`);
  return journal.entries.map((e) => {
    const text = readFileSync(join(folder, `${e.tag}.sql`), 'utf8');
    return {
      idx: e.idx,
      tag: e.tag,
      hash: createHash('sha256').update(text).digest('hex'),
      statements: text
        .split('--> statement-breakpoint')
        .map((s) => s.trim())
        .filter(Boolean),
    };
  });
}

/** What a migration run did. */
export interface PgMigrateResult {
  /** Migrations applied now, by tag. */
  applied: string[];
  /** The schema version the database is at now (the number of migrations). */
  version: number;
}

/**
 * Brings the database to this build's schema, under the migration lock (held on this session
 * until the end; other servers wait for it, then find nothing left to do).
 */
export async function migratePg(db: PgQueryable, migrations: PgMigration[] = readPgMigrations()): Promise<PgMigrateResult> {
  await db.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  try {
    await db.query(
      'create table if not exists cronium_migrations (idx integer primary key, tag text not null, hash text not null, applied_at bigint not null)',
    );
    const done = new Map((await db.query('select idx, tag, hash from cronium_migrations order by idx')).rows.map((r) => [Number(r.idx), { tag: String(r.tag), hash: String(r.hash) }]));
    const newest = Math.max(-1, ...done.keys());
    if (newest >= migrations.length) {
      throw new CroniumError(
        'DB_TOO_NEW',
        `the PostgreSQL database was migrated by a newer version of Cronium (schema ${newest + 1}; this version knows up to ${migrations.length})`,
        'upgrade this server to the version the others run; the database was not changed',
      );
    }
    for (const [idx, row] of done) {
      const m = migrations[idx];
      if (m && m.hash !== row.hash) {
        throw new CroniumError('DB_MIGRATION_CHANGED', `migration ${row.tag} was applied from a different file than this build has`, 'run the same Cronium version on every server of a database; the database was not changed');
      }
    }
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.idx)) continue;
      await db.query('begin');
      try {
        for (const stmt of m.statements) await db.query(stmt);
        await db.query('insert into cronium_migrations (idx, tag, hash, applied_at) values ($1, $2, $3, $4)', [m.idx, m.tag, m.hash, Date.now()]);
        await db.query('commit');
      } catch (e) {
        await db.query('rollback').catch(() => {});
        throw e;
      }
      applied.push(m.tag);
    }
    return { applied, version: migrations.length };
  } finally {
    await db.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
}
