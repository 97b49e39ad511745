/**
 * Which better-sqlite3 binding each runtime loads (native-binding.ts), with the runtime
 * injected (process.versions.electron / modules, platform, arch), the real loading of the
 * chosen file by better-sqlite3, the errors with their codes and hints, and the producer
 * script (scripts/electron-native.mjs) agreeing with the chooser on names and places. The
 * producer's network step (@electron/rebuild: a prebuilt download or a compile against
 * Electron's headers) cannot run here and is a stand-in in the one test that says so;
 * the release workflow runs it for real on three OSes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  BINDING_FILE,
  bindingTag,
  chooseSqliteBinding,
  currentRuntime,
  DEV_NATIVE_DIR,
  mapBindingLoadError,
  type RuntimeInfo,
} from '../../../../electron/core/db/native-binding';
import { isCroniumError, type CroniumError } from '../../../../electron/shared/errors';
import * as script from '../../../../scripts/electron-native.mjs';
import { tempDir } from '../../../helpers/temp';
import { ROOT } from '../../../helpers/cli';

const require = createRequire(import.meta.url);
/** The Node build that npm install made. */
const NODE_BINDING = join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', BINDING_FILE);

const electronLinux: RuntimeInfo = { versions: { electron: '45.5.0', modules: '150', node: '22.20.0' }, platform: 'linux', arch: 'x64' };
const nodeLinux: RuntimeInfo = { versions: { modules: '115', node: '20.19.0' }, platform: 'linux', arch: 'x64' };

function thrown(fn: () => unknown): CroniumError {
  try {
    fn();
  } catch (e) {
    assert.ok(isCroniumError(e), `not a CroniumError: ${String(e)}`);
    return e;
  }
  assert.fail('did not throw');
}

test('tags name the runtime, its ABI, platform and arch; ELECTRON_RUN_AS_NODE is still Electron', () => {
  assert.equal(bindingTag(electronLinux), 'electron-v150-linux-x64');
  assert.equal(bindingTag(nodeLinux), 'node-v115-linux-x64');
  assert.equal(bindingTag({ versions: { electron: '45.5.0', modules: '150' }, platform: 'darwin', arch: 'arm64' }), 'electron-v150-darwin-arm64');
  assert.equal(bindingTag({ versions: { electron: '45.5.0', modules: '150' }, platform: 'win32', arch: 'x64' }), 'electron-v150-win32-x64');
});

test('choices per runtime and place: Node falls back to node_modules, Electron never does', () => {
  const root = '/src/cronium';
  const resources = '/Applications/Cronium Desktop.app/Contents/Resources';
  const have = (...files: string[]) => (p: string) => files.includes(p);
  const dev = `${root}/${DEV_NATIVE_DIR}/better-sqlite3/electron-v150-linux-x64/${BINDING_FILE}`;
  const packaged = `${resources}/native/better-sqlite3/electron-v150-linux-x64/${BINDING_FILE}`;

  // Node in a checkout: npm install's build.
  assert.deepEqual(chooseSqliteBinding(nodeLinux, { packageRoot: root }, have()), { kind: 'default' });
  // Electron in a checkout (npm start): the build kept apart in .native.
  assert.deepEqual(chooseSqliteBinding(electronLinux, { packageRoot: root, resourcesDir: '/src/cronium/node_modules/electron/dist/resources' }, have(dev)), { kind: 'file', path: dev });
  // An installed app: resources/native first, even where a checkout's .native exists too.
  assert.deepEqual(chooseSqliteBinding(electronLinux, { packageRoot: `${resources}/app.asar`, resourcesDir: resources }, have(packaged, dev)), { kind: 'file', path: packaged });
  // Another Electron (another ABI) does not take this one.
  const other = { ...electronLinux, versions: { electron: '46.0.0', modules: '151' } };
  assert.equal(thrown(() => chooseSqliteBinding(other, { packageRoot: root }, have(dev))).code, 'NATIVE_MODULE_MISSING');
  // Nor another arch.
  assert.equal(thrown(() => chooseSqliteBinding({ ...electronLinux, arch: 'arm64' }, { packageRoot: root }, have(dev))).code, 'NATIVE_MODULE_MISSING');
});

test('a missing Electron build is NATIVE_MODULE_MISSING with what to run, per kind of install', () => {
  const inCheckout = thrown(() => chooseSqliteBinding(electronLinux, { packageRoot: '/src/cronium' }, () => false));
  assert.equal(inCheckout.code, 'NATIVE_MODULE_MISSING');
  assert.match(inCheckout.message, /Electron 45\.5\.0 \(ABI 150, linux-x64\)/);
  assert.match(inCheckout.hint ?? '', /npm run rebuild:electron/);
  assert.match(inCheckout.hint ?? '', /cronium serve/);
  const installed = thrown(() => chooseSqliteBinding(electronLinux, { packageRoot: '/opt/Cronium Desktop/resources/app.asar', resourcesDir: '/opt/Cronium Desktop/resources' }, () => false));
  assert.match(installed.hint ?? '', /reinstall Cronium Desktop/);
  // The CLI bundled with an installed app has no node_modules build even under Node.
  const bundledUnderNode = thrown(() => chooseSqliteBinding(nodeLinux, { packageRoot: '/opt/x/resources/app.asar', resourcesDir: '/opt/x/resources' }, () => false));
  assert.equal(bundledUnderNode.code, 'NATIVE_MODULE_MISSING');
});

test('the chosen file is what better-sqlite3 loads: a real copy works, a damaged one fails with NATIVE_MODULE_MISMATCH', (t) => {
  const root = tempDir(t);
  const rt = currentRuntime();
  const dir = join(root, DEV_NATIVE_DIR, 'better-sqlite3', bindingTag(rt));
  mkdirSync(dir, { recursive: true });
  copyFileSync(NODE_BINDING, join(dir, BINDING_FILE));
  const choice = chooseSqliteBinding(rt, { packageRoot: root });
  assert.deepEqual(choice, { kind: 'file', path: join(dir, BINDING_FILE) });
  const db = new Database(':memory:', { nativeBinding: join(dir, BINDING_FILE) });
  assert.deepEqual(db.prepare('select 40 + 2 as n').get(), { n: 42 });
  db.close();

  // A file that is not this runtime's addon, at the chosen place: the load fails, and the error says which file and what to do.
  const bad = join(root, 'bad', 'better-sqlite3', bindingTag(rt));
  mkdirSync(bad, { recursive: true });
  // What a binding for another OS looks like to this one's loader: bytes that are no shared object of its kind.
  writeFileSync(join(bad, BINDING_FILE), Buffer.concat([Buffer.from('\xcf\xfa\xed\xfe', 'latin1'), Buffer.alloc(4092, 7)]));
  const badChoice = { kind: 'file' as const, path: join(bad, BINDING_FILE) };
  let raw: unknown;
  try {
    new Database(':memory:', { nativeBinding: badChoice.path });
  } catch (e) {
    raw = e;
  }
  assert.ok(raw, 'a damaged addon loaded');
  const mapped = mapBindingLoadError(raw, badChoice, rt);
  assert.ok(isCroniumError(mapped), `not mapped: ${String(raw)}`);
  assert.equal(mapped.code, 'NATIVE_MODULE_MISMATCH');
  assert.ok(mapped.message.includes(badChoice.path));
  assert.match(mapped.hint ?? '', /npm rebuild better-sqlite3/);
});

test("Node's ABI complaint becomes NATIVE_MODULE_MISMATCH naming both ABIs; other errors pass through", () => {
  // The loader's message as Node prints it (src/node_binding.cc) for an addon built for another ABI.
  const abi = new Error(
    "The module '/opt/Cronium Desktop/resources/native/better-sqlite3/electron-v150-linux-x64/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 150. Please try re-compiling or re-installing\nthe module (for instance, using `npm rebuild` or `npm install`).",
  );
  const choice = { kind: 'file' as const, path: '/x/better_sqlite3.node' };
  const mapped = mapBindingLoadError(abi, choice, electronLinux) as CroniumError;
  assert.equal(mapped.code, 'NATIVE_MODULE_MISMATCH');
  assert.match(mapped.message, /built for ABI 115, but this is Electron 45\.5\.0 \(ABI 150/);
  assert.match(mapped.hint ?? '', /rebuild:electron/);
  const underNode = mapBindingLoadError(abi, { kind: 'default' }, nodeLinux) as CroniumError;
  assert.match(underNode.message, /node_modules\/better-sqlite3/);
  assert.match(underNode.hint ?? '', /npm rebuild better-sqlite3/);
  const other = new Error('SQLITE_CANTOPEN');
  assert.equal(mapBindingLoadError(other, choice, electronLinux), other);
});

test('the producer script names and places bindings as the chooser looks for them', async () => {
  assert.equal(script.BINDING_FILE, BINDING_FILE);
  assert.equal(script.DEV_NATIVE_DIR, DEV_NATIVE_DIR);
  const electron = script.installedElectron(ROOT);
  const pkg = require(join(ROOT, 'node_modules', 'electron', 'package.json')) as { version: string };
  assert.equal(electron.version, pkg.version);
  assert.match(electron.abi, /^\d+$/);
  const targets: [string, string][] = [['linux', 'x64'], ['darwin', 'arm64'], ['darwin', 'x64'], ['win32', 'x64']];
  for (const [platform, arch] of targets) {
    const rt: RuntimeInfo = { versions: { electron: electron.version, modules: electron.abi }, platform, arch };
    const placed = script.bindingPath('/out', { abi: electron.abi, platform, arch });
    assert.equal(placed, `/out/better-sqlite3/${bindingTag(rt)}/${BINDING_FILE}`);
    // And the chooser finds exactly that file in a checkout's .native.
    assert.deepEqual(chooseSqliteBinding(rt, { packageRoot: '/src' }, (p) => p === script.bindingPath(`/src/${DEV_NATIVE_DIR}`, { abi: electron.abi, platform, arch })), {
      kind: 'file',
      path: `/src/${DEV_NATIVE_DIR}/better-sqlite3/${bindingTag(rt)}/${BINDING_FILE}`,
    });
  }
});

test('the producer rebuilds a scratch copy for the target and moves the result into place (the network step is a stand-in here)', async (t) => {
  const out = tempDir(t);
  const calls: Record<string, unknown>[] = [];
  // Stand-in for @electron/rebuild (which downloads or compiles): it checks the scratch project and writes the addon where the real one does.
  const rebuild = async (opts: Record<string, unknown>) => {
    calls.push(opts);
    const mod = join(opts.buildPath as string, 'node_modules', 'better-sqlite3');
    assert.ok(existsSync(join(mod, 'binding.gyp')) && existsSync(join(mod, 'src')), 'the sources are copied for a compile');
    assert.ok(!existsSync(join(mod, 'build')), "Node's build is not copied into the scratch project");
    mkdirSync(join(mod, 'build', 'Release'), { recursive: true });
    writeFileSync(join(mod, 'build', 'Release', BINDING_FILE), `built for ${String(opts.electronVersion)} ${String(opts.arch)}`);
  };
  const logs: string[] = [];
  const dest = await script.ensureElectronBinding({ outDir: out, platform: 'darwin', arch: 'x64', rebuild, log: (m: string) => logs.push(m) });
  const electron = script.installedElectron(ROOT);
  assert.equal(dest, script.bindingPath(out, { abi: electron.abi, platform: 'darwin', arch: 'x64' }));
  assert.equal(calls.length, 1);
  assert.deepEqual({ ...calls[0], buildPath: undefined }, { buildPath: undefined, electronVersion: electron.version, platform: 'darwin', arch: 'x64', onlyModules: ['better-sqlite3'], force: true, mode: 'sequential' });
  assert.deepEqual(readdirSync(out), ['better-sqlite3'], 'the scratch project is removed');
  assert.match(logs[0] ?? '', /Building better-sqlite3 for Electron/);
  // A second start finds it and builds nothing.
  await script.ensureElectronBinding({ outDir: out, platform: 'darwin', arch: 'x64', rebuild });
  assert.equal(calls.length, 1);
  // A failed rebuild leaves nothing behind.
  await assert.rejects(script.ensureElectronBinding({ outDir: out, platform: 'linux', arch: 'arm64', rebuild: async () => {} }), /produced no better_sqlite3\.node/);
  assert.deepEqual(readdirSync(join(out, 'better-sqlite3')), [bindingTag({ versions: { electron: electron.version, modules: electron.abi }, platform: 'darwin', arch: 'x64' })]);
  assert.deepEqual(readdirSync(out), ['better-sqlite3']);
});
