import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { defaultDataDir, ensureDataDir, resolveDataDir } from '../../../electron/core/paths';
import { CroniumError } from '../../../electron/shared/errors';
import { tempDir } from '../../helpers/temp';
import { writeFileSync } from 'node:fs';

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
