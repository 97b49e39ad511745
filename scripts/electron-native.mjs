#!/usr/bin/env node
// Builds better-sqlite3 for Electron's ABI into a dir of its own, next to (never over) the
// Node build that `npm install` made, so that the app and the CLI/tests each load theirs
// (electron/core/db/native-binding.ts chooses). Used by `npm start` on its first start, by
// `npm run rebuild:electron`, and by the installer build (scripts/after-pack.mjs).
//
//   node scripts/electron-native.mjs [--arch x64|arm64] [--platform P] [--out DIR] [--force]
//
// It copies the package into a scratch dir and runs @electron/rebuild there, which takes
// better-sqlite3's prebuilt Electron binary when one is published (prebuild-install) and
// compiles it against Electron's headers otherwise. Both need the network.
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Must match electron/core/db/native-binding.ts (a unit test checks that they agree). */
export const BINDING_FILE = 'better_sqlite3.node';
/** Must match DEV_NATIVE_DIR in electron/core/db/native-binding.ts. */
export const DEV_NATIVE_DIR = '.native';

/** The binding dir's name: `electron-v<ABI>-<platform>-<arch>`. */
export function bindingTag({ abi, platform, arch }) {
  return `electron-v${abi}-${platform}-${arch}`;
}

/** The installed Electron's version and ABI (NODE_MODULE_VERSION), from its npm package. */
export function installedElectron(root = ROOT) {
  const dir = join(root, 'node_modules', 'electron');
  const version = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  // The electron package ships its ABI in `abi_version`; older ones did not.
  const abiFile = join(dir, 'abi_version');
  const abi = existsSync(abiFile) ? readFileSync(abiFile, 'utf8').trim() : undefined;
  if (!abi || !/^\d+$/.test(abi)) throw new Error(`cannot tell the ABI of Electron ${version}: ${abiFile} is missing`);
  return { version, abi };
}

/** Where the binding for one target goes: `<out>/better-sqlite3/<tag>/better_sqlite3.node`. */
export function bindingPath(outDir, target) {
  return join(outDir, 'better-sqlite3', bindingTag(target), BINDING_FILE);
}

/**
 * Ensures the Electron binding for a platform and arch exists under outDir; returns its path.
 * `rebuild` is @electron/rebuild's function (injected so that the orchestration is testable).
 */
export async function ensureElectronBinding({ root = ROOT, outDir = join(ROOT, DEV_NATIVE_DIR), platform = process.platform, arch = process.arch, force = false, rebuild, log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const electron = installedElectron(root);
  const target = { abi: electron.abi, platform, arch };
  const dest = bindingPath(outDir, target);
  if (existsSync(dest) && !force) return dest;
  log(`Building better-sqlite3 for Electron ${electron.version} (ABI ${electron.abi}, ${platform}-${arch}) into ${dest}`);
  // A scratch project inside outDir: @electron/rebuild finds prebuild-install by walking up to the root's node_modules.
  const work = join(outDir, `.work-${randomBytes(4).toString('hex')}`);
  const pkgSrc = join(root, 'node_modules', 'better-sqlite3');
  const pkg = JSON.parse(readFileSync(join(pkgSrc, 'package.json'), 'utf8'));
  try {
    mkdirSync(join(work, 'node_modules'), { recursive: true });
    cpSync(pkgSrc, join(work, 'node_modules', 'better-sqlite3'), { recursive: true, filter: (src) => !src.includes(`${join(pkgSrc, 'build')}`) });
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'cronium-native-build', private: true, dependencies: { 'better-sqlite3': pkg.version } }));
    const run = rebuild ?? (await import('@electron/rebuild')).rebuild;
    await run({ buildPath: work, electronVersion: electron.version, platform, arch, onlyModules: ['better-sqlite3'], force: true, mode: 'sequential' });
    const built = join(work, 'node_modules', 'better-sqlite3', 'build', 'Release', BINDING_FILE);
    if (!existsSync(built)) throw new Error(`the rebuild produced no ${BINDING_FILE}`);
    mkdirSync(dirname(dest), { recursive: true });
    // Rename within outDir: a reader never sees a half-written file.
    renameSync(built, dest);
    return dest;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const dest = await ensureElectronBinding({
      outDir: arg('out') ?? join(ROOT, DEV_NATIVE_DIR),
      platform: arg('platform') ?? process.platform,
      arch: arg('arch') ?? process.arch,
      force: process.argv.includes('--force'),
    });
    process.stderr.write(`Electron binding: ${dest}\n`);
  } catch (e) {
    process.stderr.write(
      `error[NATIVE_MODULE_MISSING]: could not build better-sqlite3 for Electron: ${e instanceof Error ? e.message : String(e)}\n  hint: this needs the network (a prebuilt binary from GitHub, or Electron's headers and a C++ toolchain); retry with \`npm run rebuild:electron\`\n`,
    );
    process.exit(1);
  }
}
