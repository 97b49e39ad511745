/**
 * The desktop's secret box per OS keychain backend (safe-storage-secret-box.ts): the OS
 * keychain where safeStorage has one (macOS Keychain, Windows DPAPI, libsecret or KWallet on
 * Linux), the data dir's key file where Linux falls back to basic_text (a hard-coded
 * password) or nothing; secrets sealed either way open either way, and what the CLI sealed
 * with the key file opens in the desktop. Electron's safeStorage cannot run here: a stand-in
 * with its interface does a reversible transform, and the test says which backend it plays.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyFileSecretBox, SEALED_BY } from '../../../electron/core/secrets/secret-box';
import { SafeStorageSecretBox, type SafeStorageLike } from '../../../electron/main/safe-storage-secret-box';
import { isCroniumError } from '../../../electron/shared/errors';
import { tempDir } from '../../helpers/temp';

/** A stand-in for Electron's safeStorage on one backend (undefined: macOS and Windows, which have no backend call). */
function fakeSafeStorage(backend: string | undefined, available = true): SafeStorageLike & { sealed: number } {
  const s = {
    sealed: 0,
    isEncryptionAvailable: () => available,
    encryptString: (plain: string) => {
      s.sealed++;
      return Buffer.from(`v11:${Buffer.from(plain).toString('base64')}`);
    },
    decryptString: (b: Buffer) => {
      const t = b.toString();
      if (!t.startsWith('v11:')) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return Buffer.from(t.slice(4), 'base64').toString();
    },
    ...(backend === undefined ? {} : { getSelectedStorageBackend: () => backend }),
  };
  return s;
}

test('the OS keychain seals where there is one: macOS/Windows, libsecret, KWallet', (t) => {
  for (const backend of [undefined, 'gnome_libsecret', 'kwallet5', 'kwallet6']) {
    const dir = tempDir(t);
    const ss = fakeSafeStorage(backend);
    const box = new SafeStorageSecretBox(ss, dir);
    assert.equal(box.usesKeychain, true, String(backend));
    const sealed = box.seal('hunter2', 'row:1');
    assert.equal(sealed[0], SEALED_BY.safeStorageBound, String(backend));
    assert.equal(ss.sealed, 1);
    assert.equal(box.open(sealed, 'row:1'), 'hunter2');
  }
});

test("Linux without a secret service (basic_text), or no encryption at all: the data dir's key file, which the CLI opens too", (t) => {
  for (const [backend, available] of [['basic_text', true], ['unknown', true], ['gnome_libsecret', false]] as const) {
    const dir = tempDir(t);
    const ss = fakeSafeStorage(backend, available);
    const box = new SafeStorageSecretBox(ss, dir);
    assert.equal(box.usesKeychain, false, backend);
    const sealed = box.seal('hunter2', 'row:1');
    assert.equal(sealed[0], SEALED_BY.keyFileBound, `${backend}: sealed with the key file`);
    assert.equal(ss.sealed, 0, 'safeStorage is not used');
    assert.equal(new KeyFileSecretBox(dir).open(sealed, 'row:1'), 'hunter2', 'the CLI (no keychain) opens it');
  }
});

test('both kinds open in the desktop; a keychain that cannot open is SECRET_UNAVAILABLE with a hint', (t) => {
  const dir = tempDir(t);
  const fromCli = new KeyFileSecretBox(dir).seal('from the cli', 'row:1');
  const box = new SafeStorageSecretBox(fakeSafeStorage('gnome_libsecret'), dir);
  assert.equal(box.open(fromCli, 'row:1'), 'from the cli');
  const damaged = Buffer.concat([Buffer.from([SEALED_BY.safeStorageBound]), Buffer.from('garbage')]);
  assert.throws(() => box.open(damaged, 'row:1'), (e: unknown) => isCroniumError(e) && e.code === 'SECRET_UNAVAILABLE' && /unlock your keychain/.test(e.hint ?? ''));
  assert.throws(() => box.open(Buffer.from([0x7f, 1, 2]), 'row:1'), (e: unknown) => isCroniumError(e) && e.code === 'SECRET_UNAVAILABLE');
});

test('a keychain seal is bound to its row: moved to another, it is refused; an unbound one of an earlier version opens only to be resealed', (t) => {
  const dir = tempDir(t);
  const ss = fakeSafeStorage('gnome_libsecret');
  const box = new SafeStorageSecretBox(ss, dir);
  const sealed = box.seal('hunter2', 'credential:1:password');
  assert.throws(() => box.open(sealed, 'credential:2:password'), (e: unknown) => isCroniumError(e) && e.code === 'SECRET_UNAVAILABLE');
  const legacy = Buffer.concat([Buffer.from([SEALED_BY.safeStorage]), ss.encryptString('old')]);
  assert.throws(() => box.open(legacy, 'credential:1:password'), (e: unknown) => isCroniumError(e) && e.code === 'SECRET_UNAVAILABLE');
  assert.equal(box.openLegacy(legacy), 'old');
});
