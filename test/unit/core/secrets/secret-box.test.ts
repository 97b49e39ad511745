import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEY_FILE, KeyFileSecretBox, SEALED_BY } from '../../../../electron/core/secrets/secret-box';
import { SafeStorageSecretBox, type SafeStorageLike } from '../../../../electron/main/safe-storage-secret-box';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

async function rejectedCode(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof CroniumError, String(e));
    return e.code;
  }
  return 'no error';
}

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
  const sealed = box.seal('hunter2 ünïcode', 'row:1');
  assert.equal(sealed[0], SEALED_BY.keyFileBound);
  assert.ok(!sealed.includes(Buffer.from('hunter2')));
  assert.equal(box.open(sealed, 'row:1'), 'hunter2 ünïcode');
  assert.notDeepEqual(box.seal('same', 'row:1'), box.seal('same', 'row:1'), 'a fresh IV each time');
  assert.equal(new KeyFileSecretBox(dir).open(sealed, 'row:1'), 'hunter2 ünïcode', 'the key persists');
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
  const sealed = box.seal('secret', 'row:1');
  const tampered = Buffer.from(sealed);
  tampered[tampered.length - 1]! ^= 1;
  assert.equal(code(() => box.open(tampered, 'row:1')), 'SECRET_UNAVAILABLE');
  assert.equal(code(() => new KeyFileSecretBox(tempDir(t)).open(sealed, 'row:1')), 'SECRET_UNAVAILABLE');
  assert.equal(code(() => box.open(Buffer.from([9, 1, 2]), 'row:1')), 'SECRET_UNAVAILABLE');
});

test('the CLI box explains that a desktop keychain secret is not readable here', (t) => {
  const box = new KeyFileSecretBox(tempDir(t));
  assert.equal(code(() => box.open(Buffer.from([SEALED_BY.safeStorageBound, 1, 2, 3]), 'row:1')), 'SECRET_UNAVAILABLE');
});

test('the desktop box seals with the keychain and opens key-file secrets too', (t) => {
  const dir = tempDir(t);
  const storage = fakeSafeStorage();
  const desktop = new SafeStorageSecretBox(storage, dir);
  const sealed = desktop.seal('pw', 'row:1');
  assert.equal(sealed[0], SEALED_BY.safeStorageBound);
  assert.equal(storage.calls, 1);
  assert.equal(desktop.open(sealed, 'row:1'), 'pw');
  const fromCli = new KeyFileSecretBox(dir).seal('cli-pw', 'row:1');
  assert.equal(desktop.open(fromCli, 'row:1'), 'cli-pw');
});

test('without a real keychain the desktop box seals with the key file', (t) => {
  const dir = tempDir(t);
  const storage = fakeSafeStorage('basic_text');
  const desktop = new SafeStorageSecretBox(storage, dir);
  const sealed = desktop.seal('pw', 'row:1');
  assert.equal(sealed[0], SEALED_BY.keyFileBound);
  assert.equal(storage.calls, 0);
  assert.equal(new KeyFileSecretBox(dir).open(sealed, 'row:1'), 'pw', 'the CLI can read it');
});

test('a seal is bound to its row (AES-GCM associated data): moved to another row it does not open', (t) => {
  const box = new KeyFileSecretBox(tempDir(t));
  const sealed = box.seal('hunter2', 'credential:1:password');
  assert.equal(box.open(sealed, 'credential:1:password'), 'hunter2');
  assert.equal(code(() => box.open(sealed, 'credential:2:password')), 'SECRET_UNAVAILABLE');
  assert.equal(code(() => box.open(sealed, 'variable:*:TOKEN')), 'SECRET_UNAVAILABLE');
});

test('unbound seals of an earlier version are resealed bound when the store opens; one moved before that is refused after', async (t) => {
  const { createCipheriv, randomBytes } = await import('node:crypto');
  const { openCore } = await import('../../../../electron/core/core');
  const dir = tempDir(t);
  const core = openCore({ dataDir: dir, door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null } });
  await core.dispatch('hosts.add', { name: 'a', address: '127.0.0.1', password: 'pw-a' }, { door: 'cli' });
  await core.dispatch('hosts.add', { name: 'b', address: '127.0.0.2', password: 'pw-b' }, { door: 'cli' });
  core.close();
  // Rewrite both as the earlier version stored them: AES-256-GCM without associated data, kind 1.
  const key = readFileSync(join(dir, KEY_FILE));
  const legacy = (plain: string) => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([Buffer.from([SEALED_BY.keyFile]), iv, c.getAuthTag(), body]);
  };
  const Database = (await import('better-sqlite3')).default;
  const raw = new Database(join(dir, 'cronium.db'));
  const ids = raw.prepare("select h.id, h.name from hosts h order by h.name").all() as { id: number; name: string }[];
  for (const h of ids) raw.prepare("update credentials set sealed = ? where host_id = ? and kind = 'password'").run(legacy(`pw-${h.name}`), h.id);
  raw.close();
  const again = openCore({ dataDir: dir, door: 'cli', ssh: { knownHostsFiles: [], agentSocket: null } });
  try {
    assert.equal(await again.hosts.password('a'), 'pw-a');
    assert.equal(await again.hosts.password('b'), 'pw-b');
    const kinds = again.store.sqlite.prepare("select hex(substr(sealed, 1, 1)) as k from credentials").all() as { k: string }[];
    assert.deepEqual(kinds.map((r) => r.k), ['03', '03'], 'both resealed, bound');
    // Copy a's (now bound) seal into b's row: b's password does not become a's.
    const [ra, rb] = ids;
    const sealedA = (again.store.sqlite.prepare("select sealed from credentials where host_id = ?").get(ra!.id) as { sealed: Buffer }).sealed;
    again.store.sqlite.prepare("update credentials set sealed = ? where host_id = ?").run(sealedA, rb!.id);
    assert.equal(await rejectedCode(() => again.hosts.password('b')), 'SECRET_UNAVAILABLE');
  } finally {
    again.close();
  }
});
