#!/usr/bin/env node
// `npm run dev`: rebuilds the node side on change and runs the renderer through vite's
// dev server; open the printed headless URL (cronium serve) to use it in a browser.
import { context } from 'esbuild';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ctx = await context({
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, absWorkingDir: root, logLevel: 'info',
  entryPoints: ['electron/cli/entry.ts'], outfile: 'dist/cli/cronium.cjs', define: { __CRONIUM_RELEASE_KEY__: '""' },
  // As scripts/build.mjs: one CommonJS file; packages with native parts stay in node_modules.
  external: ['better-sqlite3', 'ssh2', 'cpu-features', '*.node', 'bufferutil', 'utf-8-validate', 'electron'],
  logOverride: { 'empty-import-meta': 'silent' },
});
await ctx.watch();
const vite = spawn(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--watch', '--config', 'vite.config.ts'], { cwd: root, stdio: 'inherit' });
process.on('SIGINT', () => { vite.kill('SIGTERM'); void ctx.dispose().then(() => process.exit(0)); });
