/**
 * The packaging configuration, checked here where electron-builder cannot build (it needs
 * the Electron binary): electron-builder.yml against electron-builder's own schema (the
 * validation its build starts with), the afterPack hook placing the Electron SQLite binding
 * where the app looks for it, and the installer scripts it names: the deb's scripts keep
 * electron-builder's own template and fill only the macros it defines, the NSIS include
 * defines the macros its installer calls. The release workflow builds all of it for real.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { load } from 'js-yaml';
import { BINDING_FILE, bindingTag, chooseSqliteBinding } from '../../../electron/core/db/native-binding';
import { appLayout } from '../../../electron/main/cli-install';
import afterPack, { packedResourcesDir, placeBinding } from '../../../scripts/after-pack.mjs';
import { installedElectron } from '../../../scripts/electron-native.mjs';
import { ROOT } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

const require = createRequire(import.meta.url);

test("electron-builder.yml passes electron-builder's own schema validation", async () => {
  const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config.js') as {
    getConfig(dir: string, file: string, other: null): Promise<Record<string, unknown>>;
    validateConfiguration(c: unknown, logger: unknown): Promise<void>;
  };
  const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
  const config = await getConfig(ROOT, 'electron-builder.yml', null);
  await validateConfiguration(config, new DebugLogger(false));
  // What the rest of the app relies on.
  assert.equal(config.productName, 'Cronium Desktop');
  assert.equal(config.executableName, 'cronium-desktop', 'the shims and the deb link name the Linux binary');
  assert.equal(config.npmRebuild, false, "node_modules keeps Node's build");
  assert.equal(config.afterPack, './scripts/after-pack.mjs');
  // electron-builder loads the hook the way it will at build time, and finds our function.
  const { resolveFunction } = require('app-builder-lib/out/util/resolve.js') as { resolveFunction(type: string, executor: string, name: string, root: string): Promise<unknown> };
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    assert.equal(await resolveFunction('afterPack', './scripts/after-pack.mjs', 'afterPack', ROOT), afterPack);
  } finally {
    process.chdir(cwd);
  }
  const extra = config.extraResources as { from: string; to: string }[];
  for (const [from, to] of [['resources/bin', 'bin'], ['dist/cli-bundle', 'cli'], ['resources/installer', 'installer'], ['electron/core/db/migrations', 'migrations'], ['electron/core/db/migrations-pg', 'migrations-pg']]) {
    assert.ok(extra.some((e) => e.from === from && e.to === to), `${from} ships as resources/${to}`);
  }
  assert.deepEqual(config.publish, [{ provider: 'github', releaseType: 'release' }]);
  const mac = config.mac as { target: { target: string }[] };
  assert.ok(mac.target.some((t) => t.target === 'zip'), 'Squirrel.Mac updates from a zip');
});

test('the afterPack hook puts the Electron binding where the installed app looks first', async (t) => {
  const out = tempDir(t);
  const built = join(out, 'built.node');
  writeFileSync(built, 'addon');
  const electron = installedElectron(ROOT);
  const cases = [
    { electronPlatformName: 'darwin', arch: 3, exe: join(out, 'mac', 'Cronium Desktop.app', 'Contents', 'MacOS', 'Cronium Desktop'), appOutDir: join(out, 'mac') },
    { electronPlatformName: 'win32', arch: 1, exe: join(out, 'win', 'Cronium Desktop.exe'), appOutDir: join(out, 'win') },
    { electronPlatformName: 'linux', arch: 1, exe: join(out, 'linux', 'cronium-desktop'), appOutDir: join(out, 'linux') },
  ];
  for (const c of cases) {
    const asked: unknown[] = [];
    const dest = await placeBinding({ appOutDir: c.appOutDir, electronPlatformName: c.electronPlatformName, arch: c.arch, packager: { appInfo: { productFilename: 'Cronium Desktop' } } }, async (target) => {
      asked.push(target);
      return built;
    });
    const arch = c.arch === 3 ? 'arm64' : 'x64';
    assert.deepEqual(asked, [{ platform: c.electronPlatformName, arch }]);
    // The app at that place, as Electron there would describe itself, chooses exactly this file.
    // (The Windows layout comes back in backslashes; this machine's files are at the same place in slashes.)
    const resources = appLayout({ platform: c.electronPlatformName as NodeJS.Platform, execPath: c.exe, packaged: true, env: {} }).resourcesDir.replace(/\\/g, '/');
    assert.equal(packedResourcesDir(c.appOutDir, c.electronPlatformName, 'Cronium Desktop'), resources);
    const rt = { versions: { electron: electron.version, modules: electron.abi }, platform: c.electronPlatformName, arch };
    assert.equal(dest, join(resources, 'native', 'better-sqlite3', bindingTag(rt), BINDING_FILE));
    assert.deepEqual(chooseSqliteBinding(rt, { resourcesDir: resources, packageRoot: join(resources, 'app.asar') }, existsSync), { kind: 'file', path: dest });
  }
  await assert.rejects(placeBinding({ appOutDir: out, electronPlatformName: 'darwin', arch: 4, packager: { appInfo: { productFilename: 'x' } } }, async () => built), /universal/);
});

test("the deb's scripts keep electron-builder's template, fill only its macros, and manage /usr/bin/cronium", (t) => {
  const dir = tempDir(t);
  // The macros electron-builder's FpmTarget fills in bash scripts, and its substitution.
  const macros: Record<string, string> = { executable: 'cronium-desktop', sanitizedProductName: 'Cronium Desktop', productFilename: 'Cronium Desktop' };
  const fill = (text: string) =>
    text.replace(/\$\{([a-zA-Z]+)\}/g, (_m, name: string) => {
      assert.ok(name in macros, `macro \${${name}} is not one electron-builder defines`);
      return macros[name]!;
    });
  for (const [ours, theirs] of [['after-install.sh', 'after-install.tpl'], ['after-remove.sh', 'after-remove.tpl']] as const) {
    const text = readFileSync(join(ROOT, 'resources', 'build', 'linux', ours), 'utf8');
    const template = readFileSync(require.resolve(`app-builder-lib/templates/linux/${theirs}`), 'utf8');
    assert.ok(text.endsWith(template.split('\n').slice(1).join('\n')), `${ours} no longer ends with electron-builder's ${theirs}: merge the new template`);
    const filled = fill(text);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, ours), filled);
    const syntax = spawnSync('bash', ['-n', join(dir, ours)], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, syntax.stderr);
  }
  assert.match(fill(readFileSync(join(ROOT, 'resources', 'build', 'linux', 'after-install.sh'), 'utf8')), /^ln -sf '\/opt\/Cronium Desktop\/resources\/bin\/cronium' '\/usr\/bin\/cronium'$/m);
  assert.match(fill(readFileSync(join(ROOT, 'resources', 'build', 'linux', 'after-remove.sh'), 'utf8')), /readlink '\/usr\/bin\/cronium'\)" = '\/opt\/Cronium Desktop\/resources\/bin\/cronium'/);
});

test('the NSIS include defines the macros the installer calls, and names files that ship', () => {
  const nsh = readFileSync(join(ROOT, 'resources', 'build', 'installer.nsh'), 'utf8');
  assert.match(nsh, /\r\n/, 'CRLF');
  for (const macro of ['customInstall', 'customUnInstall']) assert.match(nsh, new RegExp(`^!macro ${macro}\\r?$`, 'm'));
  assert.ok(nsh.includes('$INSTDIR\\resources\\installer\\path-entry.ps1'));
  assert.ok(nsh.includes('"$INSTDIR\\resources\\bin"'));
  assert.ok(existsSync(join(ROOT, 'resources', 'installer', 'path-entry.ps1')));
  assert.match(nsh, /\$\{ifNot\} \$\{isUpdated\}/, 'an update does not take the command off the PATH');
  const config = load(readFileSync(join(ROOT, 'electron-builder.yml'), 'utf8')) as { nsis: { include: string } };
  assert.equal(config.nsis.include, 'resources/build/installer.nsh');
});
