/**
 * The `cronium` command that ships with the desktop app, as VS Code ships `code`: where
 * an installed app keeps its binary, resources, shims and bundled CLI on each OS, how a
 * shim starts the CLI (the app's binary under ELECTRON_RUN_AS_NODE, so the CLI runs on
 * the app's own runtime and loads the app's SQLite binding), and how the command gets
 * on the PATH for each kind of install. Pure functions of the platform, the executable's
 * path and the environment, so that they are tested on any OS; cli-command.ts carries
 * the plans out. The shims in resources/bin implement cliLaunch() and are tested against it.
 */
import path from 'node:path';
import { PRODUCT_NAME } from '../core/paths';
/** The Linux binary's name (electron-builder.yml executableName). */
export const LINUX_EXECUTABLE = 'cronium-desktop';
/** The command's name on the PATH. */
export const COMMAND = 'cronium';

/** How the app was installed, which decides who puts `cronium` on the PATH. */
export type InstallKind = 'mac' | 'windows' | 'deb' | 'appimage' | 'linux-dir' | 'dev';

/** Where an app's parts are. */
export interface AppLayout {
  kind: InstallKind;
  /** The binary that runs the CLI (with ELECTRON_RUN_AS_NODE=1); the AppImage file itself for an AppImage. */
  runtime: string;
  /** The resources dir (extraResources of electron-builder.yml). */
  resourcesDir: string;
  /** The shim for this OS: resources/bin/cronium (sh) or resources\bin\cronium.cmd. */
  shim: string;
  /** The bundled CLI: resources/cli/cronium.cjs. */
  cliEntry: string;
}

/** What the layout depends on (injected in tests). */
export interface LayoutInput {
  platform: NodeJS.Platform;
  /** process.execPath of the app. */
  execPath: string;
  /** app.isPackaged: false when Electron runs the checkout (`npm start`). */
  packaged: boolean;
  env: NodeJS.ProcessEnv;
}

/** The path module for a platform: win32 paths on Windows, POSIX elsewhere, whatever runs the test. */
export function pathFor(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/** Where the installed app's parts are, from the running executable. */
export function appLayout(input: LayoutInput): AppLayout {
  const p = pathFor(input.platform);
  const exeDir = p.dirname(input.execPath);
  // macOS: <App>.app/Contents/MacOS/<binary>, resources in Contents/Resources.
  const resourcesDir = input.platform === 'darwin' ? p.join(exeDir, '..', 'Resources') : p.join(exeDir, 'resources');
  const shim = p.join(resourcesDir, 'bin', input.platform === 'win32' ? `${COMMAND}.cmd` : COMMAND);
  const cliEntry = p.join(resourcesDir, 'cli', 'cronium.cjs');
  let kind: InstallKind;
  let runtime = input.execPath;
  if (!input.packaged) kind = 'dev';
  else if (input.platform === 'darwin') kind = 'mac';
  else if (input.platform === 'win32') kind = 'windows';
  else if (input.env.APPIMAGE) {
    // The AppImage is mounted at a new path each run: the command must start the AppImage file.
    kind = 'appimage';
    runtime = input.env.APPIMAGE;
  } else if (exeDir === `/opt/${PRODUCT_NAME}`) kind = 'deb';
  else kind = 'linux-dir';
  return { kind, runtime, resourcesDir: p.normalize(resourcesDir), shim: p.normalize(shim), cliEntry: p.normalize(cliEntry) };
}

/** How a shim starts the CLI: the command, its arguments before the user's, and the environment it adds. */
export interface CliLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * The AppImage's launcher (electron-builder's AppRun) adds `--no-sandbox` unless an
 * argument already is `--no-sandbox`; so the command passes one itself, where this
 * bootstrap expects it, and replaces it by the CLI's path before loading the CLI from
 * the mounted AppDir ($APPDIR, set by the AppImage runtime).
 */
export const APPIMAGE_BOOTSTRAP =
  "const p=require('path');const e=p.join(process.env.APPDIR||p.dirname(process.execPath),'resources','cli','cronium.cjs');process.argv.splice(1,process.argv[1]==='--no-sandbox'?1:0,e);require(e)";

/** The launch every shim performs for a layout (the test runs the real shims and compares). */
export function cliLaunch(layout: AppLayout): CliLaunch {
  const env = { ELECTRON_RUN_AS_NODE: '1' };
  if (layout.kind === 'appimage') return { command: layout.runtime, args: ['-e', APPIMAGE_BOOTSTRAP, '--', '--no-sandbox'], env };
  return { command: layout.runtime, args: [layout.cliEntry], env };
}

/** Quotes a word for sh: single quotes, with each ' written as '\''. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The script written for an AppImage install (a symlink cannot point into the AppImage's mount). */
export function appImageScript(layout: AppLayout): string {
  const launch = cliLaunch(layout);
  return [
    '#!/bin/sh',
    `# The \`${COMMAND}\` command, written by ${PRODUCT_NAME} (menu: Install '${COMMAND}' Command in PATH).`,
    '# It runs the CLI bundled in the AppImage below under the app\'s own runtime. If the AppImage',
    '# moves, choose the menu item again from the moved AppImage.',
    `app=${shQuote(launch.command)}`,
    'if [ ! -x "$app" ]; then',
    `  echo "error[INTERNAL]: $app is gone, so ${COMMAND} cannot run" >&2`,
    `  echo "  hint: start ${PRODUCT_NAME} from where it is now and choose Install '${COMMAND}' Command in PATH again" >&2`,
    '  exit 127',
    'fi',
    `ELECTRON_RUN_AS_NODE=1 exec "$app" ${launch.args.map(shQuote).join(' ')} "$@"`,
    '',
  ].join('\n');
}

/** What "Install 'cronium' Command in PATH" does for a kind of install. */
export type InstallPlan =
  /** A symlink to the shim; `admin` when the folder usually needs an administrator (macOS /usr/local/bin). */
  | { action: 'symlink'; target: string; source: string; admin: boolean }
  /** A script with this content. */
  | { action: 'script'; target: string; content: string }
  /** Nothing to do: the installer did it, or there is nothing installed. */
  | { action: 'none'; message: string };

/** Where the command goes and how, per kind of install. */
export function installPlan(layout: AppLayout, home: string): InstallPlan {
  switch (layout.kind) {
    case 'mac':
      return { action: 'symlink', target: `/usr/local/bin/${COMMAND}`, source: layout.shim, admin: true };
    case 'appimage':
      return { action: 'script', target: path.posix.join(home, '.local', 'bin', COMMAND), content: appImageScript(layout) };
    case 'linux-dir':
      return { action: 'symlink', target: path.posix.join(home, '.local', 'bin', COMMAND), source: layout.shim, admin: false };
    case 'deb':
      return { action: 'none', message: `The package installed /usr/bin/${COMMAND} already.` };
    case 'windows':
      return { action: 'none', message: `The installer put ${path.win32.dirname(layout.shim)} on your PATH already: open a new terminal and run ${COMMAND}.` };
    case 'dev':
      return { action: 'none', message: `In a checkout, run \`npx ${COMMAND}\` (or \`npm link\` to put it on your PATH).` };
  }
}

/** Whether the menu offers Install / Uninstall 'cronium' Command (only where the app itself does the install). */
export function offersCliInstall(kind: InstallKind): boolean {
  return kind === 'mac' || kind === 'appimage' || kind === 'linux-dir';
}

/** Whether a folder is on a PATH value (for the hint after installing into ~/.local/bin). */
export function onPath(pathValue: string | undefined, dir: string, platform: NodeJS.Platform): boolean {
  const p = pathFor(platform);
  const norm = (d: string) => {
    const n = p.normalize(d).replace(/[\\/]+$/, '');
    return platform === 'win32' ? n.toLowerCase() : n;
  };
  return (pathValue ?? '').split(platform === 'win32' ? ';' : ':').some((d) => d !== '' && norm(d) === norm(dir));
}

/** Escapes a string for an AppleScript string literal. */
export function appleScriptString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The shell command that makes the link (run as is, or as root through osascript). */
export function linkCommand(source: string, target: string): string {
  return `mkdir -p ${shQuote(path.posix.dirname(target))} && ln -sf ${shQuote(source)} ${shQuote(target)}`;
}

/** The shell command that removes the link. */
export function unlinkCommand(target: string): string {
  return `rm -f ${shQuote(target)}`;
}

/** osascript's arguments to run a shell command as an administrator (the system's own password prompt), as VS Code does. */
export function osascriptAdminArgs(shellCommand: string, prompt: string): string[] {
  return ['-e', `do shell script ${appleScriptString(shellCommand)} with prompt ${appleScriptString(prompt)} with administrator privileges`];
}

/** Whether an existing file at the target is ours to replace or remove: our link, our script, or nothing. */
export function ownsTarget(existing: { symlinkTo?: string | undefined; content?: string | undefined } | null, plan: InstallPlan): boolean {
  if (existing === null) return true;
  if (existing.symlinkTo !== undefined) return /[\\/]resources[\\/]bin[\\/]cronium(\.cmd)?$/i.test(existing.symlinkTo);
  return existing.content !== undefined && existing.content.includes(`written by ${PRODUCT_NAME}`) && plan.action !== 'none';
}
