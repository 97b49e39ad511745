// Types of scripts/after-pack.mjs, for its test.

/** The part of electron-builder's AfterPackContext the hook reads. */
export interface PackContext {
  appOutDir: string;
  electronPlatformName: string;
  arch: number;
  packager: { appInfo: { productFilename: string } };
}
/** The packed app's resources dir for a platform. */
export function packedResourcesDir(appOutDir: string, platform: string, productFilename: string): string;
/** Copies the Electron binding into the packed app; returns where. */
export function placeBinding(context: PackContext, ensure?: (target: { platform: string; arch: string }) => Promise<string>): Promise<string>;
/** The hook. */
export default function afterPack(context: PackContext): Promise<void>;
