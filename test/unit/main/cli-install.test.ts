/**
 * The `cronium` command that ships with the app (cli-install.ts and the shims in
 * resources/bin): the layout of each OS's install with the platform injected, the plans
 * of "Install 'cronium' Command in PATH", and the real sh shim and the real bundled CLI
 * (dist/cli-bundle) run here in installed layouts built in a temp dir: through symlinks
 * as /usr/local/bin and /usr/bin hold them, and for an AppImage through electron-builder's
 * own AppRun launcher (app-builder-lib's generator). Node stands in for the app's binary:
 * Electron cannot start here, and under ELECTRON_RUN_AS_NODE it runs the CLI as Node does;
 * a recording stub checks that the shim sets that variable. The Windows .cmd shim cannot run
 * here: the release workflow runs it on Windows (docs/desktop.md says what is checked where).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { bindingTag, BINDING_FILE, currentRuntime } from '../../../electron/core/db/native-binding';
import {
  APPIMAGE_BOOTSTRAP,
  appImageScript,
  appLayout,
  cliLaunch,
  installPlan,
  linkCommand,
  offersCliInstall,
  onPath,
  osascriptAdminArgs,
  ownsTarget,
  shQuote,
  type AppLayout,
} from '../../../electron/main/cli-install';
import { ROOT } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

const require = createRequire(import.meta.url);
const SHIM = join(ROOT, 'resources', 'bin', 'cronium');
const BUNDLE = join(ROOT, 'dist', 'cli-bundle', 'cronium.cjs');
const MAC_EXE = '/Applications/Cronium Desktop.app/Contents/MacOS/Cronium Desktop';
const WIN_EXE = 'C:\\Users\\Ada\\AppData\\Local\\Programs\\Cronium Desktop\\Cronium Desktop.exe';

test('layouts per OS, with the platform injected', () => {
  const mac = appLayout({ platform: 'darwin', execPath: MAC_EXE, packaged: true, env: {} });
  assert.deepEqual(mac, {
    kind: 'mac',
    runtime: MAC_EXE,
    resourcesDir: '/Applications/Cronium Desktop.app/Contents/Resources',
    shim: '/Applications/Cronium Desktop.app/Contents/Resources/bin/cronium',
    cliEntry: '/Applications/Cronium Desktop.app/Contents/Resources/cli/cronium.cjs',
  });
  const win = appLayout({ platform: 'win32', execPath: WIN_EXE, packaged: true, env: {} });
  assert.deepEqual(win, {
    kind: 'windows',
    runtime: WIN_EXE,
    resourcesDir: 'C:\\Users\\Ada\\AppData\\Local\\Programs\\Cronium Desktop\\resources',
    shim: 'C:\\Users\\Ada\\AppData\\Local\\Programs\\Cronium Desktop\\resources\\bin\\cronium.cmd',
    cliEntry: 'C:\\Users\\Ada\\AppData\\Local\\Programs\\Cronium Desktop\\resources\\cli\\cronium.cjs',
  });
  assert.equal(appLayout({ platform: 'linux', execPath: '/opt/Cronium Desktop/cronium-desktop', packaged: true, env: {} }).kind, 'deb');
  assert.equal(appLayout({ platform: 'linux', execPath: '/home/ada/apps/cronium/cronium-desktop', packaged: true, env: {} }).kind, 'linux-dir');
  const appimage = appLayout({ platform: 'linux', execPath: '/tmp/.mount_CroniuXyz/cronium-desktop', packaged: true, env: { APPIMAGE: '/home/ada/Apps/Cronium Desktop-0.1.0.AppImage' } });
  assert.equal(appimage.kind, 'appimage');
  assert.equal(appimage.runtime, '/home/ada/Apps/Cronium Desktop-0.1.0.AppImage', 'the AppImage file, not its mount, which changes each run');
  assert.equal(appLayout({ platform: 'darwin', execPath: '/src/node_modules/electron/dist/Electron.app/Contents/MacOS/Electron', packaged: false, env: {} }).kind, 'dev');
});

test('launches: the app binary under ELECTRON_RUN_AS_NODE runs the bundled CLI; an AppImage goes through its bootstrap', () => {
  const mac = appLayout({ platform: 'darwin', execPath: MAC_EXE, packaged: true, env: {} });
  assert.deepEqual(cliLaunch(mac), { command: MAC_EXE, args: [mac.cliEntry], env: { ELECTRON_RUN_AS_NODE: '1' } });
  const win = appLayout({ platform: 'win32', execPath: WIN_EXE, packaged: true, env: {} });
  assert.deepEqual(cliLaunch(win), { command: WIN_EXE, args: [win.cliEntry], env: { ELECTRON_RUN_AS_NODE: '1' } });
  // The .cmd shim spells out the same launch relative to itself (resources\bin\..\..\Cronium Desktop.exe, resources\bin\..\cli\cronium.cjs).
  const cmd = readFileSync(`${SHIM}.cmd`, 'utf8');
  assert.match(cmd, /\r\n/, 'CRLF, as cmd.exe expects');
  assert.ok(cmd.includes('set "ELECTRON_RUN_AS_NODE=1"'));
  assert.ok(cmd.includes(`"%~dp0..\\..\\Cronium Desktop.exe" "%~dp0..\\cli\\cronium.cjs" %*`));
  assert.ok(cmd.includes('exit /b %ERRORLEVEL%'), 'the exit code comes back');
  const appimage = appLayout({ platform: 'linux', execPath: '/tmp/.mount_X/cronium-desktop', packaged: true, env: { APPIMAGE: '/a/C.AppImage' } });
  assert.deepEqual(cliLaunch(appimage), { command: '/a/C.AppImage', args: ['-e', APPIMAGE_BOOTSTRAP, '--', '--no-sandbox'], env: { ELECTRON_RUN_AS_NODE: '1' } });
});

test('install plans: macOS links /usr/local/bin through the admin prompt; AppImage writes a script; deb and Windows leave it to the installer', () => {
  const mac = appLayout({ platform: 'darwin', execPath: MAC_EXE, packaged: true, env: {} });
  assert.deepEqual(installPlan(mac, '/Users/ada'), { action: 'symlink', target: '/usr/local/bin/cronium', source: mac.shim, admin: true });
  const appimage = appLayout({ platform: 'linux', execPath: '/tmp/.mount_X/cronium-desktop', packaged: true, env: { APPIMAGE: "/home/ada/it's here/C.AppImage" } });
  const plan = installPlan(appimage, '/home/ada');
  assert.equal(plan.action, 'script');
  assert.equal(plan.action === 'script' && plan.target, '/home/ada/.local/bin/cronium');
  const deb = appLayout({ platform: 'linux', execPath: '/opt/Cronium Desktop/cronium-desktop', packaged: true, env: {} });
  assert.match(installPlan(deb, '/home/ada').action === 'none' ? (installPlan(deb, '/home/ada') as { message: string }).message : '', /\/usr\/bin\/cronium/);
  const win = appLayout({ platform: 'win32', execPath: WIN_EXE, packaged: true, env: {} });
  const winPlan = installPlan(win, 'C:\\Users\\Ada');
  assert.equal(winPlan.action, 'none');
  assert.match((winPlan as { message: string }).message, /Cronium Desktop\\resources\\bin on your PATH/);
  assert.deepEqual(['mac', 'appimage', 'linux-dir', 'deb', 'windows', 'dev'].map((k) => offersCliInstall(k as AppLayout['kind'])), [true, true, true, false, false, false]);
  assert.equal(ownsTarget(null, plan), true, 'nothing there: ours to write');
  assert.equal(ownsTarget({ symlinkTo: mac.shim }, plan), true);
  assert.equal(ownsTarget({ symlinkTo: '/usr/local/lib/node_modules/cronium/bin/cronium.mjs' }, plan), false, 'an npm-installed cronium is left alone');
  assert.equal(ownsTarget({ content: plan.action === 'script' ? plan.content : '' }, plan), true);
  assert.equal(ownsTarget({ content: '#!/bin/sh\necho mine\n' }, plan), false);
});

test("the admin prompt's command: sh-quoted paths inside an AppleScript string, run here through sh", (t) => {
  const dir = tempDir(t);
  const source = join(dir, `src "dq" $HOME \`x\` it's`, 'cronium');
  const target = join(dir, 'usr local', 'bin', 'cronium');
  mkdirSync(join(source, '..'), { recursive: true });
  writeFileSync(source, '#!/bin/sh\n');
  const cmd = linkCommand(source, target);
  execFileSync('/bin/sh', ['-c', cmd]);
  assert.equal(execFileSync('readlink', [target], { encoding: 'utf8' }).trim(), source);
  const args = osascriptAdminArgs(cmd, 'Cronium Desktop wants to install the "cronium" command.');
  assert.equal(args[0], '-e');
  // AppleScript string literals escape only backslash and double quote: undo that and get the command back.
  const m = /^do shell script "((?:[^"\\]|\\.)*)" with prompt "((?:[^"\\]|\\.)*)" with administrator privileges$/.exec(args[1]!);
  assert.ok(m, args[1]);
  assert.equal(m[1]!.replace(/\\(.)/g, '$1'), cmd);
  assert.equal(m[2]!.replace(/\\(.)/g, '$1'), 'Cronium Desktop wants to install the "cronium" command.');
});

test('onPath compares folders as each OS does', () => {
  assert.equal(onPath('/usr/bin:/home/ada/.local/bin/', '/home/ada/.local/bin', 'linux'), true);
  assert.equal(onPath('/usr/bin', '/home/ada/.local/bin', 'linux'), false);
  assert.equal(onPath('C:\\Windows;c:\\users\\ada\\bin\\', 'C:\\Users\\Ada\\bin', 'win32'), true);
  assert.equal(onPath(undefined, '/x', 'darwin'), false);
});

/** Builds an installed app's tree under `prefix` for a layout: the shim, the bundled CLI, the SQLite binding and an app binary. */
function install(layout: AppLayout, binary: (path: string) => void): void {
  mkdirSync(join(layout.resourcesDir, 'bin'), { recursive: true });
  mkdirSync(join(layout.resourcesDir, 'cli'), { recursive: true });
  copyFileSync(SHIM, layout.shim);
  chmodSync(layout.shim, 0o755);
  copyFileSync(BUNDLE, layout.cliEntry);
  cpSync(join(ROOT, 'electron', 'core', 'db', 'migrations'), join(layout.resourcesDir, 'migrations'), { recursive: true });
  // The installer puts Electron's build here; Node stands in for the app's binary, so Node's build goes under Node's tag.
  const native = join(layout.resourcesDir, 'native', 'better-sqlite3', bindingTag(currentRuntime()));
  mkdirSync(native, { recursive: true });
  copyFileSync(join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', BINDING_FILE), join(native, BINDING_FILE));
  mkdirSync(join(layout.runtime, '..'), { recursive: true });
  binary(layout.runtime);
}

/** Node as the app's binary. */
const nodeBinary = (path: string) => symlinkSync(process.execPath, path);

/** A stub binary that writes its ELECTRON_RUN_AS_NODE and arguments, one per line, to a file. */
const recordingBinary = (out: string) => (path: string) => {
  writeFileSync(path, `#!/bin/sh\n{ printf '%s\\n' "RUN_AS_NODE=$ELECTRON_RUN_AS_NODE"; for a in "$@"; do printf '%s\\n' "$a"; done; } > ${shQuote(out)}\nexit 7\n`, { mode: 0o755 });
};

function sh(file: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '', CRONIUM_HOME: '', ...env }, timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('the sh shim, reached through symlinks, starts exactly cliLaunch() for the macOS and deb layouts', (t) => {
  assert.ok(existsSync(BUNDLE), 'dist/cli-bundle is missing: run `node scripts/build.mjs --no-renderer`');
  for (const platform of ['darwin', 'linux'] as const) {
    const prefix = tempDir(t, 'cronium shim ');
    const exe = platform === 'darwin' ? join(prefix, 'Applications', 'Cronium Desktop.app', 'Contents', 'MacOS', 'Cronium Desktop') : join(prefix, 'opt', 'Cronium Desktop', 'cronium-desktop');
    const layout = appLayout({ platform, execPath: exe, packaged: true, env: {} });
    const out = join(prefix, 'argv.txt');
    install(layout, recordingBinary(out));
    // /usr/local/bin/cronium -> the shim (absolute, as the menu action and the deb make it), and a relative link to that link.
    const bin = join(prefix, 'usr', 'local', 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(layout.shim, join(bin, 'cronium'));
    mkdirSync(join(prefix, 'home', 'bin'), { recursive: true });
    symlinkSync(relative(join(prefix, 'home', 'bin'), join(bin, 'cronium')), join(prefix, 'home', 'bin', 'cronium'));
    for (const entry of [layout.shim, join(bin, 'cronium'), join(prefix, 'home', 'bin', 'cronium')]) {
      const r = sh(entry, ['hosts', 'list', '--json', 'two words', "it's"]);
      assert.equal(r.code, 7, `${platform} via ${entry}: the exit code comes back (${r.stderr})`);
      const launch = cliLaunch(layout);
      const lines = readFileSync(out, 'utf8').split('\n').slice(0, -1);
      assert.deepEqual(lines, [`RUN_AS_NODE=${launch.env.ELECTRON_RUN_AS_NODE}`, ...launch.args, 'hosts', 'list', '--json', 'two words', "it's"], `${platform} via ${entry}`);
    }
  }
});

test("the shim says what is wrong when the app is gone", (t) => {
  const prefix = tempDir(t);
  const layout = appLayout({ platform: 'linux', execPath: join(prefix, 'opt', 'Cronium Desktop', 'cronium-desktop'), packaged: true, env: {} });
  install(layout, () => undefined);
  const r = sh(layout.shim, ['--version']);
  assert.equal(r.code, 127);
  assert.match(r.stderr, /^error\[INTERNAL\]: cronium cannot find the Cronium Desktop app next to .*\n {2}hint: reinstall Cronium Desktop/);
});

test('the real bundled CLI through the shim: hosts added are listed, exit codes and errors come back, the data dir is the default one', (t) => {
  const prefix = tempDir(t, 'cronium bundled ');
  const layout = appLayout({ platform: 'linux', execPath: join(prefix, 'opt', 'Cronium Desktop', 'cronium-desktop'), packaged: true, env: {} });
  install(layout, nodeBinary);
  const link = join(prefix, 'usr', 'bin', 'cronium');
  mkdirSync(join(link, '..'), { recursive: true });
  symlinkSync(layout.shim, link);
  const home = join(prefix, 'home');
  const env = { HOME: home, XDG_CONFIG_HOME: '' };
  const version = sh(link, ['--version'], env);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), (require(join(ROOT, 'package.json')) as { version: string }).version);
  const add = sh(link, ['hosts', 'add', 'web1', '--address', '127.0.0.9', '--tag', 'prod'], env);
  assert.equal(add.code, 0, add.stderr);
  const list = sh(link, ['hosts', 'list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { name: string; tags: string[] }[]).map((h) => [h.name, h.tags]), [['web1', ['prod']]]);
  // The app's data dir by default: Electron's userData for the product name (~/.config/Cronium Desktop on Linux).
  assert.ok(existsSync(join(home, '.config', 'Cronium Desktop', 'cronium.db')));
  const missing = sh(link, ['hosts', 'show', 'nope', '--json'], env);
  assert.notEqual(missing.code, 0);
  assert.equal((JSON.parse(missing.stdout) as { error: { code: string } }).error.code, 'NOT_FOUND');
  // Without the installer's SQLite binding: the stable code and a hint, no stack trace.
  const broken = appLayout({ platform: 'linux', execPath: join(prefix, 'broken', 'cronium-desktop'), packaged: true, env: {} });
  install(broken, nodeBinary);
  execFileSync('rm', ['-r', join(broken.resourcesDir, 'native')]);
  const r = sh(broken.shim, ['hosts', 'list'], env);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^error\[NATIVE_MODULE_MISSING\]: no SQLite binding .*\n {2}hint: this installation is incomplete: reinstall Cronium Desktop/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test("an AppImage's command: the written script runs the CLI through electron-builder's real AppRun, which adds no --no-sandbox to it", (t) => {
  const prefix = tempDir(t, 'cronium appimage ');
  const appDir = join(prefix, 'mount');
  const appImage = join(prefix, 'Apps', "Cronium Desktop's.AppImage");
  const layout = appLayout({ platform: 'linux', execPath: join(appDir, 'cronium-desktop'), packaged: true, env: { APPIMAGE: appImage } });
  install({ ...layout, runtime: join(appDir, 'cronium-desktop') }, nodeBinary);
  // electron-builder's own launcher, from the installed app-builder-lib.
  const { generateAppRunScript } = require('app-builder-lib/out/targets/appimage/appImageUtil.js') as { generateAppRunScript(c: Record<string, unknown>): string };
  writeFileSync(join(appDir, 'AppRun'), generateAppRunScript({ ExecutableName: 'cronium-desktop', ProductName: 'Cronium Desktop', ProductFilename: 'Cronium Desktop' }), { mode: 0o755 });
  // What the AppImage runtime does: mount, export APPDIR and APPIMAGE, run AppRun.
  mkdirSync(join(appImage, '..'), { recursive: true });
  writeFileSync(appImage, `#!/bin/sh\nexport APPDIR=${shQuote(appDir)} APPIMAGE=${shQuote(appImage)}\nexec "$APPDIR/AppRun" "$@"\n`, { mode: 0o755 });
  // A machine without unprivileged user namespaces (Ubuntu 24.04's AppArmor default): AppRun would add --no-sandbox.
  const fakeBin = join(prefix, 'fakebin');
  mkdirSync(fakeBin);
  writeFileSync(join(fakeBin, 'unshare'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  const plan = installPlan(layout, join(prefix, 'home'));
  assert.equal(plan.action, 'script');
  if (plan.action !== 'script') return;
  mkdirSync(join(plan.target, '..'), { recursive: true });
  writeFileSync(plan.target, plan.content, { mode: 0o755 });
  assert.equal(plan.content, appImageScript(layout));
  const env = { HOME: join(prefix, 'home'), XDG_CONFIG_HOME: '', PATH: `${fakeBin}:${process.env.PATH ?? ''}` };
  const add = sh(plan.target, ['hosts', 'add', 'db1', '--address', '127.0.0.10'], env);
  assert.equal(add.code, 0, add.stderr);
  const list = sh(plan.target, ['hosts', 'list', '--json'], env);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((h) => h.name), ['db1']);
  // The AppImage moved: a clear error, not a shell's "not found".
  execFileSync('mv', [appImage, `${appImage}.moved`]);
  const gone = sh(plan.target, ['hosts', 'list'], env);
  assert.equal(gone.code, 127);
  assert.match(gone.stderr, /is gone, so cronium cannot run\n {2}hint: start Cronium Desktop from where it is now/);
});
