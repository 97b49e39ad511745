/** The host-key trust policy: revoked, pinned, changed, known_hosts, unknown, in that order. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openCore, type Core } from '../../../../electron/core/core';
import { parsePublicKeyLine, type PublicKeyFacts } from '../../../../electron/core/ssh/fingerprint';
import { DbHostKeyStore, type HostKeyQuery } from '../../../../electron/core/ssh/host-key-store';
import { tempDir } from '../../../helpers/temp';

function key(dir: string, name: string, type = 'ed25519'): PublicKeyFacts {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
  return parsePublicKeyLine(readFileSync(`${path}.pub`, 'utf8'))!;
}

/** The store, with verify and preferredKeyTypes as one connection asks them (trustFor, then the key). */
function asked(store: DbHostKeyStore) {
  return {
    verify: async (q: HostKeyQuery, k: PublicKeyFacts) => (await store.trustFor(q)).verify(k),
    preferredKeyTypes: async (q: HostKeyQuery) => (await store.trustFor(q)).preferredKeyTypes(),
    pin: (name: string, k: PublicKeyFacts, source: Parameters<DbHostKeyStore['pin']>[2]) => store.pin(name, k, source),
    pinned: (name: string) => store.pinned(name),
    forget: (name: string) => store.forget(name),
  };
}

async function setup(t: TestContext): Promise<{ core: Core; store: ReturnType<typeof asked>; dir: string; knownHosts: string }> {
  const dir = tempDir(t);
  const knownHosts = join(dir, 'known_hosts');
  const core = openCore({ dataDir: join(dir, 'data'), door: 'cli' });
  t.after(() => core.close());
  await core.hosts.add({ name: 'web', address: '127.8.0.1', port: 22, tags: [] });
  await core.hosts.add({ name: 'alt', address: '127.8.0.2', port: 2222, tags: [] });
  return { core, store: asked(new DbHostKeyStore(core.store.data, { knownHostsFiles: [knownHosts] })), dir, knownHosts };
}

const web = { name: 'web', address: '127.8.0.1', port: 22 };
const alt = { name: 'alt', address: '127.8.0.2', port: 2222 };

test('unknown, then pinned; a different key after pinning is a mismatch naming the old one', async (t) => {
  const { store, dir } = await setup(t);
  const a = key(dir, 'a');
  const b = key(dir, 'b');
  assert.deepEqual(await store.verify(web, a), { state: 'unknown' });
  await store.pin('web', a, 'user');
  assert.deepEqual(await store.verify(web, a), { state: 'trusted', source: 'pinned' });
  const v = await store.verify(web, b);
  assert.equal(v.state, 'mismatch');
  assert.deepEqual(v.state === 'mismatch' && v.expected, [{ algorithm: 'ssh-ed25519', fingerprint: a.fingerprint }]);
  assert.deepEqual(await store.verify(alt, a), { state: 'unknown' }, 'pins are per host');
  // Re-trusting replaces the old key: it is no longer accepted.
  await store.pin('web', b, 'user');
  assert.equal((await store.verify(web, b)).state, 'trusted');
  assert.equal((await store.verify(web, a)).state, 'mismatch');
  assert.equal((await store.pinned('web')).length, 1);
  assert.equal((await store.pinned('web'))[0]!.source, 'user');
});

test('a pinned key of another type still makes a different key a mismatch', async (t) => {
  const { store, dir } = await setup(t);
  const rsa = key(dir, 'r', 'rsa');
  const ed = key(dir, 'e');
  await store.pin('web', rsa, 'accept-new');
  const v = await store.verify(web, ed);
  assert.equal(v.state, 'mismatch');
  assert.deepEqual(await store.preferredKeyTypes(web), ['ssh-rsa'], 'the handshake asks for the pinned type first');
});

test('known_hosts: match is trusted, a changed key is a mismatch, [host]:port honoured', async (t) => {
  const { store, dir, knownHosts } = await setup(t);
  const a = key(dir, 'a');
  const b = key(dir, 'b');
  writeFileSync(knownHosts, `127.8.0.1 ${a.publicKey}\n[127.8.0.2]:2222 ${b.publicKey}\n`);
  const ok = await store.verify(web, a);
  assert.equal(ok.state, 'trusted');
  assert.equal(ok.state === 'trusted' && ok.source, 'known_hosts');
  assert.equal(ok.state === 'trusted' && ok.where, `${knownHosts}:1`);
  assert.equal((await store.verify(alt, b)).state, 'trusted');
  const changed = await store.verify(web, b);
  assert.equal(changed.state, 'mismatch');
  assert.equal(changed.state === 'mismatch' && changed.source, 'known_hosts');
  assert.equal(changed.state === 'mismatch' && changed.expected[0]!.fingerprint, a.fingerprint);
  assert.deepEqual(await store.preferredKeyTypes(web), ['ssh-ed25519']);
  // A pin overrides known_hosts (the user re-trusted explicitly).
  await store.pin('web', b, 'user');
  assert.equal((await store.verify(web, b)).state, 'trusted');
});

test('hashed known_hosts entries count as trusted', async (t) => {
  const { store, dir, knownHosts } = await setup(t);
  const a = key(dir, 'a');
  writeFileSync(knownHosts, `127.8.0.1 ${a.publicKey}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', knownHosts], { stdio: 'ignore' });
  assert.match(readFileSync(knownHosts, 'utf8'), /^\|1\|/);
  assert.equal((await store.verify(web, a)).state, 'trusted');
});

test('@revoked is refused even when the key is pinned', async (t) => {
  const { store, dir, knownHosts } = await setup(t);
  const a = key(dir, 'a');
  await store.pin('web', a, 'user');
  writeFileSync(knownHosts, `@revoked * ${a.publicKey}\n`);
  const v = await store.verify(web, a);
  assert.equal(v.state, 'revoked');
  assert.equal(v.state === 'revoked' && v.where, `${knownHosts}:1`);
});

test('removing a host removes its pinned keys', async (t) => {
  const { core, store, dir } = await setup(t);
  const a = key(dir, 'a');
  await store.pin('web', a, 'user');
  await core.hosts.remove('web');
  await core.hosts.add({ name: 'web', address: '127.8.0.1', port: 22, tags: [] });
  assert.deepEqual(await store.verify(web, a), { state: 'unknown' });
});
