#!/usr/bin/env node
// The `cronium` command: runs the built CLI (dist/), built by `npm install` or `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/cronium.mjs', import.meta.url));
if (!existsSync(built)) {
  process.stderr.write('error[INTERNAL]: Cronium is not built yet\n  hint: run `npm run build` in the Cronium folder (npm install does it too)\n');
  process.exit(1);
}
await import(built);
