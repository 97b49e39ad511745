/** One schema, two dialects: the committed PostgreSQL twin is what scripts/schema-pg.ts makes of schema.ts now. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PG_SCHEMA_FILE, pgSchemaSource } from '../../../../scripts/schema-pg';

test('electron/core/db/schema.pg.ts is up to date with schema.ts (else: tsx scripts/schema-pg.ts, then npm run db:generate)', () => {
  assert.equal(readFileSync(PG_SCHEMA_FILE, 'utf8'), pgSchemaSource());
});
