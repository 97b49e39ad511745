#!/usr/bin/env node
// Builds everything that runs from dist/: the CLI, the Electron main process and
// preload (esbuild), and the renderer (vite); then the runner for this machine's own
// target when Go is present (resources/runner, signed with the development key as
// `cronium runner build` does; only when it is missing or out of date). `npm install`
// runs this (prepare). Other targets are built on demand, at the first deploy to a host
// that needs one, or all at once with `npm run build:runner`.
//   --no-renderer   skip the renderer
//   --no-runner     skip the runner
//   --runner=all    every target, for the installers (`npm run dist`): fails without Go,
//                   when a build fails, or when any of the seven is then missing
// Without Go the default run prints one line (runs use direct mode until the runner is
// built) and does not fail; neither does a failed runner build (it says why).
// dist/cli-bundle/cronium.cjs is the CLI that ships with the desktop app (resources/cli):
// one CommonJS file with its dependencies inside, run by the app's own binary under
// ELECTRON_RUN_AS_NODE, outside the asar archive, loading the Electron SQLite binding that
// the installer puts in resources/native (electron/core/db/native-binding.ts).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkRunnerArtifacts, localRunnerTargets, RUNNER_TARGET_IDS } from './runner-artifacts.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const withRenderer = !process.argv.includes('--no-renderer');
const runnerMode = process.argv.includes('--no-runner') ? 'none' : process.argv.includes('--runner=all') ? 'all' : 'local';
const started = Date.now();

const node = { bundle: true, platform: 'node', target: 'node20', sourcemap: true, absWorkingDir: root, logLevel: 'warning', packages: 'external' };
rmSync(`${root}/dist/cli`, { recursive: true, force: true });
rmSync(`${root}/dist/main`, { recursive: true, force: true });
rmSync(`${root}/dist/preload`, { recursive: true, force: true });
rmSync(`${root}/dist/cli-bundle`, { recursive: true, force: true });
const version = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).version;
// A release build pins the runner release key (electron/core/runner/release-key.ts): the release
// workflow points CRONIUM_RELEASE_PUBLIC_KEY_FILE at the public half of its signing key.
const releaseKeyFile = process.env.CRONIUM_RELEASE_PUBLIC_KEY_FILE;
const releaseKey = releaseKeyFile ? readFileSync(releaseKeyFile, 'utf8') : '';
if (releaseKeyFile && !/^-----BEGIN PUBLIC KEY-----/.test(releaseKey.trim())) {
  process.stderr.write(`build: CRONIUM_RELEASE_PUBLIC_KEY_FILE=${releaseKeyFile} is not a PEM public key\n`);
  process.exit(1);
}
node.define = { __CRONIUM_RELEASE_KEY__: JSON.stringify(releaseKey) };
await Promise.all([
  // The CLI: one CommonJS file that bin/cronium.mjs compiles with V8's code cache, so that a
  // command starts in tens of milliseconds. Packages with native parts stay in node_modules.
  build({
    ...node,
    packages: undefined,
    format: 'cjs',
    entryPoints: ['electron/cli/entry.ts'],
    outfile: 'dist/cli/cronium.cjs',
    external: ['better-sqlite3', 'ssh2', 'cpu-features', '*.node', 'bufferutil', 'utf-8-validate', 'electron'],
    logOverride: { 'empty-import-meta': 'silent' },
  }),
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
    define: { ...node.define, __CRONIUM_VERSION__: JSON.stringify(version) },
    // paths.ts reads import.meta only where __dirname is missing, which a CommonJS bundle always has.
    logOverride: { 'empty-import-meta': 'silent' },
  }),
]);
if (withRenderer) {
  const vite = spawnSync(process.execPath, [`${root}/node_modules/vite/bin/vite.js`, 'build', '--config', 'vite.config.ts', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}
process.stderr.write(`built dist/ in ${Date.now() - started} ms\n`);
if (runnerMode !== 'none') buildRunner(runnerMode);

/** Builds the runner targets (this machine's own, or all) that are missing or stale; see the file comment. */
function buildRunner(mode) {
  const targets = mode === 'all' ? RUNNER_TARGET_IDS : localRunnerTargets();
  const go = spawnSync('go', ['env', 'GOVERSION'], { cwd: `${root}/runner`, encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    if (mode === 'all') {
      process.stderr.write('runner: Go is not installed, and the installers ship all seven runner artifacts: install Go 1.25 or later (https://go.dev/dl/)\n');
      process.exit(1);
    }
    process.stderr.write('runner: Go is not installed, so runs use direct mode until the runner is built: install Go 1.25 or later, then run `npx cronium runner build`\n');
    return;
  }
  const t0 = Date.now();
  process.stderr.write(`runner: ${targets.length === 1 ? targets[0] : `${targets.length} targets`} with ${go.stdout.trim()}… `);
  const args = [`${root}/bin/cronium.mjs`, 'runner', 'build', '--if-stale', ...targets.flatMap((t) => ['--target', t])];
  const res = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (res.status !== 0) {
    process.stderr.write(`FAILED after ${seconds} s:\n${res.stderr.trimEnd()}\n`);
    if (mode === 'all') process.exit(1);
    process.stderr.write('runner: runs use direct mode until `npx cronium runner build` succeeds\n');
    return;
  }
  const upToDate = /nothing built/.test(res.stderr);
  process.stderr.write(upToDate ? `up to date (resources/runner)\n` : `built in ${seconds} s (resources/runner, development key)\n`);
  if (mode === 'all') {
    const problem = checkRunnerArtifacts(`${root}/resources/runner`);
    if (problem) {
      process.stderr.write(`runner: ${problem}\n`);
      process.exit(1);
    }
  }
}
