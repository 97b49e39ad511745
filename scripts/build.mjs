#!/usr/bin/env node
// Builds everything that runs from dist/: the CLI, the Electron main process and
// preload (esbuild), and the renderer (vite). `node scripts/build.mjs --no-renderer`
// skips the renderer. The runner is built separately: `npm run build:runner` (needs Go).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const withRenderer = !process.argv.includes('--no-renderer');
const started = Date.now();

const node = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, absWorkingDir: root, logLevel: 'warning', packages: 'external' };
rmSync(`${root}/dist/cli`, { recursive: true, force: true });
rmSync(`${root}/dist/main`, { recursive: true, force: true });
rmSync(`${root}/dist/preload`, { recursive: true, force: true });
await Promise.all([
  build({ ...node, format: 'esm', entryPoints: ['electron/cli/entry.ts'], outfile: 'dist/cli/cronium.mjs' }),
  build({ ...node, format: 'esm', entryPoints: ['electron/main/main.ts'], outfile: 'dist/main/main.mjs', external: ['electron'] }),
  // A sandboxed preload cannot load modules: bundle everything it needs except electron.
  build({ ...node, packages: undefined, format: 'cjs', entryPoints: ['electron/preload/preload.ts'], outfile: 'dist/preload/preload.cjs', external: ['electron'] }),
]);
if (withRenderer) {
  const vite = spawnSync(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--config', 'vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}
process.stderr.write(`built dist/ in ${Date.now() - started} ms\n`);
