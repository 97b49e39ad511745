/**
 * The entry of the CLI that ships with the desktop app (`resources/cli/cronium.cjs`, one
 * bundled file outside the asar archive), started by the `cronium` shims in
 * `resources/bin/` with the app's own binary under ELECTRON_RUN_AS_NODE. Its assets
 * (migrations, runner artifacts, the Electron SQLite binding) are in the resources dir
 * one level up, which it declares before anything reads a path.
 */
import { dirname } from 'node:path';
import { useAppVersion } from '../core/version';
import { useBundledResources } from '../core/paths';
import { runCli } from './main';

/** Set by the bundler (scripts/build.mjs): the app's version, since package.json sits inside the archive. */
declare const __CRONIUM_VERSION__: string;

useBundledResources(dirname(__dirname));
useAppVersion(__CRONIUM_VERSION__);
void runCli(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
