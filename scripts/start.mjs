#!/usr/bin/env node
// `npm start`: opens the desktop app. Where the Electron binary is not installed
// (a headless box, or an install with ELECTRON_SKIP_BINARY_DOWNLOAD=1) it fails with
// one clear line that points to the headless door instead. On its first start it builds
// better-sqlite3 for Electron's ABI into .native/ (scripts/electron-native.mjs), apart
// from the Node build in node_modules that the CLI and the tests keep using.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureElectronBinding } from './electron-native.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** The Electron binary if it is installed; read from the package, which would otherwise try to download it noisily. */
function electronBinary() {
  try {
    const dir = dirname(require.resolve('electron/package.json'));
    const pathFile = join(dir, 'path.txt');
    if (!existsSync(pathFile)) return { dir };
    const bin = join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
    return { dir, bin: existsSync(bin) ? bin : undefined };
  } catch {
    return {};
  }
}

let electron = electronBinary();
if (!electron.bin && electron.dir && !process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
  // First start after an install that skipped the download: fetch it now, quietly.
  process.stderr.write('Downloading the Electron binary (first start)...\n');
  spawnSync(process.execPath, [join(electron.dir, 'install.js')], { stdio: 'ignore', timeout: 15 * 60_000 });
  electron = electronBinary();
}
const electronPath = electron.bin;
if (!electronPath) {
  process.stderr.write(
    'error: the Electron binary is not installed here, so the desktop app cannot open; run the same app in your browser with `npx cronium serve` (or reinstall with `npm install` on a machine that can download Electron)\n',
  );
  process.exit(1);
}
try {
  await ensureElectronBinding();
} catch (e) {
  process.stderr.write(
    `error[NATIVE_MODULE_MISSING]: could not build better-sqlite3 for Electron (${e instanceof Error ? e.message : String(e)}); retry with \`npm run rebuild:electron\` while online, or run the app in your browser with \`npx cronium serve\`\n`,
  );
  process.exit(1);
}
if (!existsSync(`${root}/dist/main/main.mjs`) || !existsSync(`${root}/dist/renderer/index.html`)) {
  const build = spawn(process.execPath, [`${root}/scripts/build.mjs`], { stdio: 'inherit' });
  const code = await new Promise((r) => build.on('close', r));
  if (code !== 0) process.exit(code ?? 1);
}
const child = spawn(electronPath, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
child.on('close', (code) => process.exit(code ?? 0));
