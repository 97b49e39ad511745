/**
 * Which compiled better-sqlite3 binding this process loads. A native addon works only
 * under the ABI it was compiled for (NODE_MODULE_VERSION), and Cronium runs under two:
 * Node (the CLI, `cronium serve`, the tests) and Electron (the desktop app, and the CLI
 * that ships with it, run by the app's binary with ELECTRON_RUN_AS_NODE). So there is one
 * binding per runtime, kept apart, and never one rebuilt in place over the other:
 *
 * - Node: the binding `npm install` put in node_modules (better-sqlite3's own lookup);
 * - Electron: `<dir>/better-sqlite3/electron-v<ABI>-<platform>-<arch>/better_sqlite3.node`,
 *   where `<dir>` is the installed app's `resources/native` (copied there when the
 *   installer is built) or the checkout's `.native` (built by `npm start` /
 *   `npm run rebuild:electron`, scripts/electron-native.mjs).
 *
 * A binding named for the running Node's ABI in one of those dirs wins over node_modules
 * too, which is how the bundled CLI is exercised under Node in the tests. The choice is
 * a pure function of the runtime and the files present, so it is tested without Electron.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CroniumError } from '../../shared/errors';

/** The addon's file name inside a binding dir. */
export const BINDING_FILE = 'better_sqlite3.node';
/** The dir in a checkout that holds bindings built for Electron (gitignored). */
export const DEV_NATIVE_DIR = '.native';
/** The dir in the installed app's resources that holds the Electron binding. */
export const PACKAGED_NATIVE_DIR = 'native';

/** What the choice depends on: the runtime's versions, platform and arch (injected in tests). */
export interface RuntimeInfo {
  versions: { electron?: string | undefined; modules: string; node?: string | undefined };
  platform: string;
  arch: string;
}

/** Where bindings may be: the installed app's resources dir and the package root. */
export interface BindingPlaces {
  /** process.resourcesPath of an Electron process (or the bundled CLI's resources dir). */
  resourcesDir?: string | undefined;
  /** The package root (a checkout, or app.asar in an installed app). */
  packageRoot: string;
}

/** The outcome: better-sqlite3's own lookup (node_modules), or an explicit file. */
export type BindingChoice = { kind: 'default' } | { kind: 'file'; path: string };

/** The runtime this process is: Electron (also under ELECTRON_RUN_AS_NODE) or Node. */
export function runtimeName(rt: RuntimeInfo): 'electron' | 'node' {
  return rt.versions.electron ? 'electron' : 'node';
}

/** The binding dir's name for a runtime, e.g. `electron-v150-linux-x64` or `node-v115-linux-x64`. */
export function bindingTag(rt: RuntimeInfo): string {
  return `${runtimeName(rt)}-v${rt.versions.modules}-${rt.platform}-${rt.arch}`;
}

/** The dirs searched, in order: the installed app's first, then the checkout's. */
export function bindingDirs(places: BindingPlaces): string[] {
  const dirs: string[] = [];
  if (places.resourcesDir) dirs.push(join(places.resourcesDir, PACKAGED_NATIVE_DIR, 'better-sqlite3'));
  dirs.push(join(places.packageRoot, DEV_NATIVE_DIR, 'better-sqlite3'));
  return dirs;
}

/** Whether the places are an installed app's: its archive as the package root, next to its resources. */
export function isPackaged(places: BindingPlaces): boolean {
  return Boolean(places.resourcesDir) && /app\.asar$/.test(places.packageRoot);
}

/** The runtime's own description for messages: "Electron 45.5.0 (ABI 150, linux-x64)". */
function describe(rt: RuntimeInfo): string {
  const name = rt.versions.electron ? `Electron ${rt.versions.electron}` : `Node ${rt.versions.node ?? ''}`.trim();
  return `${name} (ABI ${rt.versions.modules}, ${rt.platform}-${rt.arch})`;
}

/**
 * Chooses the binding for a runtime. Under Electron there is no fallback: node_modules
 * holds Node's build, and loading it would fail with a bare NODE_MODULE_VERSION error,
 * so a missing Electron build is NATIVE_MODULE_MISSING with what to run. Neither is there
 * in an installed app, whose node_modules has no binding at all.
 */
export function chooseSqliteBinding(rt: RuntimeInfo, places: BindingPlaces, exists: (path: string) => boolean = existsSync): BindingChoice {
  const tag = bindingTag(rt);
  const candidates = bindingDirs(places).map((d) => join(d, tag, BINDING_FILE));
  const found = candidates.find((c) => exists(c));
  if (found) return { kind: 'file', path: found };
  // An installed app (and the CLI bundled with it) has no node_modules build to fall back on.
  const packaged = isPackaged(places);
  if (runtimeName(rt) === 'node' && !packaged) return { kind: 'default' };
  throw new CroniumError(
    'NATIVE_MODULE_MISSING',
    `no SQLite binding (better-sqlite3) built for ${describe(rt)}; looked for ${candidates.join(' and ')}`,
    packaged
      ? 'this installation is incomplete: reinstall Cronium Desktop from its installer'
      : 'run `npm run rebuild:electron` in the Cronium folder (`npm start` does it on its first start), or use the app in a browser with `npx cronium serve`',
    { runtime: tag, looked: candidates },
  );
}

/**
 * Turns the loader's ABI complaint ("was compiled against a different Node.js version
 * using NODE_MODULE_VERSION 115 ...") into NATIVE_MODULE_MISMATCH; other errors pass.
 */
export function mapBindingLoadError(e: unknown, choice: BindingChoice, rt: RuntimeInfo): unknown {
  const message = e instanceof Error ? e.message : String(e);
  const m = /NODE_MODULE_VERSION (\d+)[\s\S]*NODE_MODULE_VERSION (\d+)/.exec(message);
  if (!m && !/did not self-register|invalid ELF header|file too short|not a mach-o file|wrong ELF class|not a valid Win32 application|incompatible architecture/i.test(message)) return e;
  const where = choice.kind === 'file' ? choice.path : 'node_modules/better-sqlite3';
  const built = m ? ` was built for ABI ${m[1]}` : ' does not load';
  return new CroniumError(
    'NATIVE_MODULE_MISMATCH',
    `the SQLite binding (better-sqlite3) at ${where}${built}, but this is ${describe(rt)}`,
    runtimeName(rt) === 'electron'
      ? 'run `npm run rebuild:electron` in the Cronium folder to build it for this Electron, or reinstall the app'
      : 'run `npm rebuild better-sqlite3` in the Cronium folder to build it for this Node (an installer build may have replaced it)',
    { runtime: bindingTag(rt), binding: where },
  );
}

/** The running process's runtime. */
export function currentRuntime(): RuntimeInfo {
  return { versions: { electron: process.versions.electron, modules: process.versions.modules, node: process.versions.node }, platform: process.platform, arch: process.arch };
}
