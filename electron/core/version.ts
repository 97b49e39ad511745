/** The app's version: light enough for `cronium --version` (no core, no store). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from './paths';

let cachedVersion: string | undefined;
/** Fixes the version this build reports (the bundled CLI cannot read package.json from the archive under Node). */
export function useAppVersion(version: string): void {
  cachedVersion = version;
}

/** The app's version, from package.json (or as the bundled CLI was built). */
export function appVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return cachedVersion;
}
