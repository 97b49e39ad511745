// Types of scripts/electron-native.mjs, for the tests that import it.

/** A binding's target: Electron's ABI, a platform and an arch. */
export interface BindingTarget {
  abi: string;
  platform: string;
  arch: string;
}
/** The addon's file name. */
export const BINDING_FILE: string;
/** The checkout's dir of Electron bindings. */
export const DEV_NATIVE_DIR: string;
/** `electron-v<ABI>-<platform>-<arch>`. */
export function bindingTag(target: BindingTarget): string;
/** The installed Electron's version and ABI. */
export function installedElectron(root?: string): { version: string; abi: string };
/** `<out>/better-sqlite3/<tag>/better_sqlite3.node`. */
export function bindingPath(outDir: string, target: BindingTarget): string;
/** Ensures the Electron binding for a target exists; returns its path. */
export function ensureElectronBinding(options?: {
  root?: string;
  outDir?: string;
  platform?: string;
  arch?: string;
  force?: boolean;
  rebuild?: (options: Record<string, unknown>) => Promise<void>;
  log?: (message: string) => void;
}): Promise<string>;
