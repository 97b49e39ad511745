// electron-builder's afterPack hook (electron-builder.yml): puts better-sqlite3's Electron
// build into the packed app's resources/native, where electron/core/db/native-binding.ts
// looks first. npmRebuild is off so that node_modules keeps Node's build; the Electron
// build for each target arch is made apart by scripts/electron-native.mjs.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensureElectronBinding, installedElectron, bindingPath } from './electron-native.mjs';

/** electron-builder's Arch enum (builder-util) as Node names its arches. */
const ARCH = { 0: 'ia32', 1: 'x64', 2: 'armv7l', 3: 'arm64' };

/** The packed app's resources dir for a platform. */
export function packedResourcesDir(appOutDir, platform, productFilename) {
  return platform === 'darwin' || platform === 'mas' ? join(appOutDir, `${productFilename}.app`, 'Contents', 'Resources') : join(appOutDir, 'resources');
}

/** Copies the Electron binding for the packed app's platform and arch into its resources; returns where. `ensure` builds it (injected in tests). */
export async function placeBinding(context, ensure = ensureElectronBinding) {
  const platform = context.electronPlatformName === 'mas' ? 'darwin' : context.electronPlatformName;
  const arch = ARCH[context.arch];
  if (!arch) throw new Error(`after-pack: no better-sqlite3 build for arch ${context.arch} (universal builds are not configured)`);
  const built = await ensure({ platform, arch });
  const resources = packedResourcesDir(context.appOutDir, context.electronPlatformName, context.packager.appInfo.productFilename);
  const dest = bindingPath(join(resources, 'native'), { abi: installedElectron().abi, platform, arch });
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(built, dest);
  return dest;
}

/** The hook. */
export default async function afterPack(context) {
  console.log(`  • Electron SQLite binding  ${await placeBinding(context)}`);
}
