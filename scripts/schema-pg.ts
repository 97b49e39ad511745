/**
 * One schema, two dialects: writes electron/core/db/schema.pg.ts, the PostgreSQL twin of the
 * drizzle SQLite schema (electron/core/db/schema.ts, the one definition), table by table,
 * column by column. `npm run db:generate` then generates both dialects' migrations; the unit
 * test test/unit/core/db/schema-pg.test.ts fails when the twin is out of date.
 *
 * Types: every integer becomes bigint (times are milliseconds since the epoch, past int4), an
 * autoincrement key a bigint identity (by default, so an explicit id still goes in), a boolean
 * boolean, JSON text jsonb, a blob bytea, text text (its enum kept). Anything this generator does
 * not know (a check, a partial index, an SQL default) stops it: the twin never differs silently.
 *
 * Usage: tsx scripts/schema-pg.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { is } from 'drizzle-orm';
import { getTableConfig, SQLiteTable, type SQLiteColumn } from 'drizzle-orm/sqlite-core';
import * as schema from '../electron/core/db/schema';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the twin is written. */
export const PG_SCHEMA_FILE = join(ROOT, 'electron/core/db/schema.pg.ts');

/** A single-quoted TypeScript string literal. */
function q(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function literal(v: unknown): string {
  if (typeof v === 'string') return q(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`schema-pg: a default of type ${typeof v} is not supported`);
}

function columnSource(col: SQLiteColumn): string {
  const c = col as SQLiteColumn & { autoIncrement?: boolean; config?: { mode?: string } };
  let s: string;
  switch (col.columnType) {
    case 'SQLiteInteger':
      s = `bigint(${q(col.name)}, { mode: 'number' })`;
      break;
    case 'SQLiteBoolean':
      s = `boolean(${q(col.name)})`;
      break;
    case 'SQLiteText':
      s = col.enumValues?.length ? `text(${q(col.name)}, { enum: [${col.enumValues.map(q).join(', ')}] })` : `text(${q(col.name)})`;
      break;
    case 'SQLiteTextJson':
      s = `jsonb(${q(col.name)})`;
      break;
    case 'SQLiteBlobBuffer':
      s = `bytea(${q(col.name)})`;
      break;
    default:
      throw new Error(`schema-pg: column ${col.name} has type ${col.columnType}, which has no PostgreSQL twin here`);
  }
  if (col.primary) s += c.autoIncrement ? '.primaryKey().generatedByDefaultAsIdentity()' : '.primaryKey()';
  if (col.notNull && !col.primary) s += '.notNull()';
  if (col.hasDefault && !c.autoIncrement) {
    if (col.default === undefined || (typeof col.default === 'object' && col.default !== null)) throw new Error(`schema-pg: column ${col.name} has an SQL default, which has no twin here`);
    s += `.default(${literal(col.default)})`;
  }
  if (c.autoIncrement && !col.primary) throw new Error(`schema-pg: autoincrement column ${col.name} is not the primary key`);
  return s;
}

/** The source of schema.pg.ts for the current SQLite schema. */
export function pgSchemaSource(): string {
  const tables: [string, SQLiteTable][] = [];
  for (const [name, value] of Object.entries(schema as Record<string, unknown>)) if (is(value, SQLiteTable)) tables.push([name, value]);
  const exportName = new Map(tables.map(([name, t]) => [t, name]));
  const out: string[] = [];
  for (const [name, table] of tables) {
    const cfg = getTableConfig(table);
    if (cfg.checks.length) throw new Error(`schema-pg: ${cfg.name} has checks`);
    if (cfg.uniqueConstraints.length) throw new Error(`schema-pg: ${cfg.name} has unique constraints (use a unique index)`);
    // Foreign keys, by their (single) column.
    const fks = new Map<string, string>();
    for (const fk of cfg.foreignKeys) {
      const ref = fk.reference();
      if (ref.columns.length !== 1 || ref.foreignColumns.length !== 1) throw new Error(`schema-pg: ${cfg.name} has a composite foreign key`);
      const target = exportName.get(ref.foreignTable as SQLiteTable);
      if (!target) throw new Error(`schema-pg: ${cfg.name} references a table outside the schema`);
      const refProp = Object.keys(ref.foreignTable as object).find((k) => (ref.foreignTable as unknown as Record<string, unknown>)[k] === ref.foreignColumns[0]);
      if (!refProp) throw new Error(`schema-pg: cannot name the column ${cfg.name} references`);
      const actions = [fk.onDelete && fk.onDelete !== 'no action' ? `onDelete: '${fk.onDelete}'` : '', fk.onUpdate && fk.onUpdate !== 'no action' ? `onUpdate: '${fk.onUpdate}'` : ''].filter(Boolean);
      fks.set(ref.columns[0]!.name, `.references((): AnyPgColumn => ${target}.${refProp}${actions.length ? `, { ${actions.join(', ')} }` : ''})`);
    }
    const props = Object.keys(table).filter((k) => cfg.columns.includes((table as unknown as Record<string, SQLiteColumn>)[k]!));
    const lines = props.map((prop) => {
      const col = (table as unknown as Record<string, SQLiteColumn>)[prop]!;
      return `    ${prop}: ${columnSource(col)}${fks.get(col.name) ?? ''},`;
    });
    const propOf = (c: SQLiteColumn) => props.find((p) => (table as unknown as Record<string, SQLiteColumn>)[p] === c)!;
    const extras: string[] = [];
    for (const pk of cfg.primaryKeys) extras.push(`primaryKey({ columns: [${pk.columns.map((c) => `t.${propOf(c as SQLiteColumn)}`).join(', ')}] })`);
    for (const ix of cfg.indexes) {
      let where = '';
      if (ix.config.where) {
        // A partial index: its condition, column by column (the SQL itself is portable: is null, in (...)).
        const parts = (ix.config.where as unknown as { queryChunks: unknown[] }).queryChunks.map((chunk) => {
          const prop = props.find((p) => (table as unknown as Record<string, unknown>)[p] === chunk);
          if (prop) return `\${t.${prop}}`;
          const text = (chunk as { value?: unknown }).value;
          if (!Array.isArray(text) || !text.every((x) => typeof x === 'string')) throw new Error(`schema-pg: index ${ix.config.name}'s condition has a part this generator does not know`);
          return text.join('').replace(/[`\\]/g, (m) => `\\${m}`).replace(/\$\{/g, '\\${');
        });
        where = `.where(sql\`${parts.join('')}\`)`;
      }
      const cols = ix.config.columns.map((c) => {
        const prop = props.find((p) => (table as unknown as Record<string, unknown>)[p] === c);
        if (!prop) throw new Error(`schema-pg: index ${ix.config.name} is on an expression`);
        return `t.${prop}`;
      });
      extras.push(`${ix.config.unique ? 'uniqueIndex' : 'index'}(${q(ix.config.name)}).on(${cols.join(', ')})${where}`);
    }
    out.push(`export const ${name} = pgTable(\n  ${q(cfg.name)},\n  {\n${lines.join('\n')}\n  }${extras.length ? `,\n  (t) => [${extras.join(', ')}]` : ''},\n);\n`);
  }
  return `// Generated by \`tsx scripts/schema-pg.ts\` from schema.ts (the one definition): do not edit.
// The PostgreSQL twin of every table, for the team server (issue #16); see that script for the types.
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, index, jsonb, pgTable, primaryKey, text, uniqueIndex, type AnyPgColumn } from 'drizzle-orm/pg-core';

/** PostgreSQL's bytea, as a Buffer (the SQLite blob's twin). */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

${out.join('\n')}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const source = pgSchemaSource();
  if (process.argv.includes('--check')) {
    const current = readFileSync(PG_SCHEMA_FILE, 'utf8');
    if (current !== source) {
      process.stderr.write('schema-pg: electron/core/db/schema.pg.ts is out of date: run `tsx scripts/schema-pg.ts`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(PG_SCHEMA_FILE, source);
    process.stdout.write(`schema-pg: wrote ${PG_SCHEMA_FILE.slice(ROOT.length + 1)}\n`);
  }
}
