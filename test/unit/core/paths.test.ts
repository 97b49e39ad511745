import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { assetPath, defaultDataDir, ensureDataDir, packageRoot, resolveDataDir } from '../../../electron/core/paths';
import { CroniumError } from '../../../electron/shared/errors';
import { tempDir } from '../../helpers/temp';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

test('data dir precedence: --data-dir, then CRONIUM_HOME, then the OS default', () => {
  const env = { HOME: '/home/u', CRONIUM_HOME: '/srv/cronium' };
  assert.equal(resolveDataDir('/flag', env), resolve('/flag'));
  assert.equal(resolveDataDir(undefined, env), resolve('/srv/cronium'));
  assert.equal(resolveDataDir(undefined, { HOME: '/home/u' }), defaultDataDir({ HOME: '/home/u' }));
  assert.throws(() => resolveDataDir('  ', env), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT');
});

test('the OS default matches Electron\'s userData for the product name', () => {
  assert.equal(defaultDataDir({ HOME: '/home/u' }, 'linux'), '/home/u/.config/Cronium Desktop');
  assert.equal(defaultDataDir({ HOME: '/home/u', XDG_CONFIG_HOME: '/x' }, 'linux'), '/x/Cronium Desktop');
  assert.equal(defaultDataDir({ HOME: '/Users/u' }, 'darwin'), '/Users/u/Library/Application Support/Cronium Desktop');
  assert.equal(defaultDataDir({ HOME: 'C:\\Users\\u', APPDATA: 'C:\\Users\\u\\AppData\\Roaming' }, 'win32'), join('C:\\Users\\u\\AppData\\Roaming', 'Cronium Desktop'));
});

test('an unusable data dir is reported with a hint', (t) => {
  const file = join(tempDir(t), 'a-file');
  writeFileSync(file, 'x');
  assert.throws(
    () => ensureDataDir(file),
    (e: unknown) => e instanceof CroniumError && e.code === 'DATA_DIR_UNUSABLE' && /--data-dir/.test(e.hint ?? ''),
  );
});

test('the packaged app finds the runner and the migrations where electron-builder puts them', (t) => {
  // electron-builder.yml copies resources/runner to <resources>/runner and the migrations to <resources>/migrations.
  const config = readFileSync(join(packageRoot(), 'electron-builder.yml'), 'utf8');
  assert.match(config, /- from: resources\/runner\n\s+to: runner\n/);
  assert.match(config, /- from: electron\/core\/db\/migrations\n\s+to: migrations\n/);
  assert.match(config, /^beforePack: scripts\/before-pack\.cjs$/m, 'packaging checks that all seven runner artifacts are there');
  const resources = tempDir(t);
  mkdirSync(join(resources, 'runner'));
  const proc = process as { resourcesPath?: string };
  const before = proc.resourcesPath;
  proc.resourcesPath = resources;
  try {
    assert.equal(assetPath('runner', 'resources/runner'), join(resources, 'runner'));
    // Not packaged there: the checkout's own folder.
    assert.equal(assetPath('migrations', 'electron/core/db/migrations'), join(packageRoot(), 'electron/core/db/migrations'));
  } finally {
    proc.resourcesPath = before;
  }
});

test('a data dir that existed with a loose mode is tightened to 0700; the database and its WAL are 0600 whatever the umask', async (t) => {
  const { chmodSync, statSync } = await import('node:fs');
  const { openCore } = await import('../../../electron/core/core');
  const dir = join(tempDir(t), 'loose');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const before = process.umask(0o022);
  try {
    const core = openCore({ dataDir: dir, door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null } });
    try {
      await core.dispatch('hosts.add', { name: 'h', address: '127.0.0.1' }, { door: 'cli' });
      assert.equal(statSync(dir).mode & 0o777, 0o700, 'the data dir');
      for (const f of ['cronium.db', 'cronium.db-wal', 'cronium.db-shm']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    } finally {
      core.close();
    }
    // A database left 0644 by an older version is tightened when it is opened.
    chmodSync(join(dir, 'cronium.db'), 0o644);
    const again = openCore({ dataDir: dir, door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null } });
    again.close();
    assert.equal(statSync(join(dir, 'cronium.db')).mode & 0o777, 0o600);
  } finally {
    process.umask(before);
  }
});
