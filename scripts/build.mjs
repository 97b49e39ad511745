#!/usr/bin/env node
// Builds everything that runs from dist/: the CLI, the Electron main process and
// preload (esbuild), and the renderer (vite). `node scripts/build.mjs --no-renderer`
// skips the renderer. The runner is built separately: `npm run build:runner` (needs Go).
// dist/cli-bundle/cronium.cjs is the CLI that ships with the desktop app (resources/cli):
// one CommonJS file with its dependencies inside, run by the app's own binary under
// ELECTRON_RUN_AS_NODE, outside the asar archive, loading the Electron SQLite binding that
// the installer puts in resources/native (electron/core/db/native-binding.ts).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const withRenderer = !process.argv.includes('--no-renderer');
const started = Date.now();

const node = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, absWorkingDir: root, logLevel: 'warning', packages: 'external' };
rmSync(`${root}/dist/cli`, { recursive: true, force: true });
rmSync(`${root}/dist/main`, { recursive: true, force: true });
rmSync(`${root}/dist/preload`, { recursive: true, force: true });
rmSync(`${root}/dist/cli-bundle`, { recursive: true, force: true });
const version = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).version;
await Promise.all([
  build({ ...node, format: 'esm', entryPoints: ['electron/cli/entry.ts'], outfile: 'dist/cli/cronium.mjs' }),
  build({ ...node, format: 'esm', entryPoints: ['electron/main/main.ts'], outfile: 'dist/main/main.mjs', external: ['electron'] }),
  // A sandboxed preload cannot load modules: bundle everything it needs except electron.
  build({ ...node, packages: undefined, format: 'cjs', entryPoints: ['electron/preload/preload.ts'], outfile: 'dist/preload/preload.cjs', external: ['electron'] }),
  // Native addons stay out: better-sqlite3's is passed by path, and ssh2's and ws's optional ones are tried and skipped.
  build({
    ...node,
    packages: undefined,
    sourcemap: false,
    format: 'cjs',
    entryPoints: ['electron/cli/bundled-entry.ts'],
    outfile: 'dist/cli-bundle/cronium.cjs',
    external: ['electron', '*.node', 'cpu-features', 'bufferutil', 'utf-8-validate'],
    define: { __CRONIUM_VERSION__: JSON.stringify(version) },
    // paths.ts reads import.meta only where __dirname is missing, which a CommonJS bundle always has.
    logOverride: { 'empty-import-meta': 'silent' },
  }),
]);
if (withRenderer) {
  const vite = spawnSync(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--config', 'vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}
process.stderr.write(`built dist/ in ${Date.now() - started} ms\n`);
