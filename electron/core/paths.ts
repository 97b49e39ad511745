/**
 * Where Cronium keeps its data and finds its bundled assets. The CLI, the headless
 * server and the desktop resolve the data dir the same way, so they share hosts and
 * history: `--data-dir`, else `$CRONIUM_HOME`, else the OS app-data dir that Electron's
 * `app.getPath('userData')` gives for the product name.
 */
import { accessSync, chmodSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CroniumError } from '../shared/errors';

/** The product name; Electron derives its userData folder from it. */
export const PRODUCT_NAME = 'Cronium Desktop';

/** The OS app-data dir the desktop uses (Electron's userData for PRODUCT_NAME). */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const home = env.HOME || homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', PRODUCT_NAME);
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), PRODUCT_NAME);
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), PRODUCT_NAME);
}

/** Resolves the data dir by the CLI contract's order of precedence. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined && flag.trim() === '') {
    throw new CroniumError('INVALID_INPUT', 'invalid --data-dir: must not be empty', 'pass a directory, or leave --data-dir out to use $CRONIUM_HOME or the default');
  }
  return resolve(flag || env.CRONIUM_HOME || defaultDataDir(env));
}

/** Creates the data dir (0700) if needed and checks that it is a writable directory. */
export function ensureDataDir(dir: string): string {
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error('not a directory');
    // It holds keys, secrets and the database: only its owner may look in. A dir that existed
    // before (made by hand, or by another tool, with the umask's 0755) is tightened too.
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
    accessSync(dir, constants.W_OK | constants.R_OK);
  } catch (e) {
    throw new CroniumError(
      'DATA_DIR_UNUSABLE',
      `cannot use data dir ${dir}: ${(e as Error).message}`,
      'pass --data-dir DIR or set CRONIUM_HOME to a directory you can write',
    );
  }
  return dir;
}

let cachedRoot: string | undefined;
let bundledResources: string | undefined;

/**
 * Declares that this process is the CLI bundled with the installed desktop app (run by the
 * app's binary from `resources/cli/`): assets come from that resources dir, and the package
 * root is the app's archive next to it. Called once, first thing, by the bundled entry.
 */
export function useBundledResources(resourcesDir: string): void {
  bundledResources = resourcesDir;
  cachedRoot = join(resourcesDir, 'app.asar');
}

/** The installed app's resources dir: the bundled CLI's, or Electron's process.resourcesPath; undefined elsewhere. */
export function resourcesDir(): string | undefined {
  return bundledResources ?? (process as { resourcesPath?: string }).resourcesPath;
}

/**
 * The package root (the folder with package.json), found from this module's location
 * so that it works from the TypeScript sources, the bundled dist/ files and an
 * installed package alike.
 */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  const here = typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'electron'))) return (cachedRoot = dir);
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'dist'))) return (cachedRoot = dir);
    const up = dirname(dir);
    if (up === dir) return (cachedRoot = resolve(here, '..', '..'));
    dir = up;
  }
}

/**
 * A bundled asset: `resources/<packagedName>` of the installed desktop app (electron-builder's
 * extraResources), else `<package root>/<devPath>` when run from the sources or npm.
 */
export function assetPath(packagedName: string, devPath: string): string {
  const resourcesPath = resourcesDir();
  if (resourcesPath) {
    const packaged = join(resourcesPath, packagedName);
    if (existsSync(packaged)) return packaged;
  }
  return join(packageRoot(), devPath);
}
