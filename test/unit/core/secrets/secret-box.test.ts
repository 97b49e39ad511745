import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEY_FILE, KeyFileSecretBox, SEALED_BY } from '../../../../electron/core/secrets/secret-box';
import { SafeStorageSecretBox, type SafeStorageLike } from '../../../../electron/main/safe-storage-secret-box';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CroniumError, String(e));
    return e.code;
  }
  return 'no error';
}

/**
 * Electron's safeStorage cannot run here (no Electron binary): this reversible stand-in
 * has its interface and marks what it "encrypted", so the tests see which path was taken.
 */
function fakeSafeStorage(backend = 'gnome_libsecret'): SafeStorageLike & { calls: number } {
  return {
    calls: 0,
    isEncryptionAvailable: () => true,
    getSelectedStorageBackend: () => backend,
    encryptString(plain: string) {
      this.calls++;
      return Buffer.from(`KEYCHAIN:${Buffer.from(plain).toString('base64')}`);
    },
    decryptString(buf: Buffer) {
      const s = buf.toString();
      if (!s.startsWith('KEYCHAIN:')) throw new Error('bad');
      return Buffer.from(s.slice(9), 'base64').toString();
    },
  };
}

test('the key file box round-trips and never stores the plaintext', (t) => {
  const dir = tempDir(t);
  const box = new KeyFileSecretBox(dir);
  const sealed = box.seal('hunter2 ünïcode');
  assert.equal(sealed[0], SEALED_BY.keyFile);
  assert.ok(!sealed.includes(Buffer.from('hunter2')));
  assert.equal(box.open(sealed), 'hunter2 ünïcode');
  assert.notDeepEqual(box.seal('same'), box.seal('same'), 'a fresh IV each time');
  assert.equal(new KeyFileSecretBox(dir).open(sealed), 'hunter2 ünïcode', 'the key persists');
});

test('the key file is created 0600 and refused when others can read it', (t) => {
  const dir = tempDir(t);
  new KeyFileSecretBox(dir);
  const path = join(dir, KEY_FILE);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readFileSync(path).length, 32);
  chmodSync(path, 0o644);
  assert.equal(code(() => new KeyFileSecretBox(dir)), 'SECRET_KEY_INSECURE');
});

test('a tampered secret or another data dir\'s secret cannot be opened', (t) => {
  const box = new KeyFileSecretBox(tempDir(t));
  const sealed = box.seal('secret');
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1]! ^= 1;
  assert.equal(code(() => box.open(tampered)), 'SECRET_UNAVAILABLE');
  assert.equal(code(() => new KeyFileSecretBox(tempDir(t)).open(sealed)), 'SECRET_UNAVAILABLE');
  assert.equal(code(() => box.open(Buffer.from([9, 1, 2]))), 'SECRET_UNAVAILABLE');
});

test('the CLI box explains that a desktop keychain secret is not readable here', (t) => {
  const box = new KeyFileSecretBox(tempDir(t));
  assert.equal(code(() => box.open(Buffer.from([SEALED_BY.safeStorage, 1, 2, 3]))), 'SECRET_UNAVAILABLE');
});

test('the desktop box seals with the keychain and opens key-file secrets too', (t) => {
  const dir = tempDir(t);
  const storage = fakeSafeStorage();
  const desktop = new SafeStorageSecretBox(storage, dir);
  const sealed = desktop.seal('pw');
  assert.equal(sealed[0], SEALED_BY.safeStorage);
  assert.equal(storage.calls, 1);
  assert.equal(desktop.open(sealed), 'pw');
  const fromCli = new KeyFileSecretBox(dir).seal('cli-pw');
  assert.equal(desktop.open(fromCli), 'cli-pw');
});

test('without a real keychain the desktop box seals with the key file', (t) => {
  const dir = tempDir(t);
  const storage = fakeSafeStorage('basic_text');
  const desktop = new SafeStorageSecretBox(storage, dir);
  const sealed = desktop.seal('pw');
  assert.equal(sealed[0], SEALED_BY.keyFile);
  assert.equal(storage.calls, 0);
  assert.equal(new KeyFileSecretBox(dir).open(sealed), 'pw', 'the CLI can read it');
});
