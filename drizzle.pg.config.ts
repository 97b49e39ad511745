import { defineConfig } from 'drizzle-kit';

// The team server's PostgreSQL migrations, from the twin of schema.ts (scripts/schema-pg.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './electron/core/db/schema.pg.ts',
  out: './electron/core/db/migrations-pg',
});
