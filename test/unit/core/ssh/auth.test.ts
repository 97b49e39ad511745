/** Authentication planning and the record that AUTH_FAILED is built from. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { AuthSession, defaultAgentSocket, IdentityLoader, keySigner, parseIdentity } from '../../../../electron/core/ssh/auth';
import { authFailed } from '../../../../electron/core/ssh/ssh-errors';
import { tempDir } from '../../../helpers/temp';

test('identity files: plain, encrypted with and without the right passphrase, missing, public', async (t) => {
  const dir = tempDir(t);
  const plain = join(dir, 'plain');
  const enc = join(dir, 'enc');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', plain]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'correct horse', '-f', enc]);
  assert.ok((await parseIdentity(plain, readFileSync(plain), undefined)).key);
  assert.match((await parseIdentity(enc, readFileSync(enc), undefined)).problem ?? '', /encrypted and no passphrase is stored/);
  assert.match((await parseIdentity(enc, readFileSync(enc), 'wrong')).problem ?? '', /passphrase does not decrypt/);
  assert.ok((await parseIdentity(enc, readFileSync(enc), 'correct horse')).key);
  assert.match((await parseIdentity(`${plain}.pub`, readFileSync(`${plain}.pub`), undefined)).problem ?? '', /public key|not a private key/);
  assert.match((await parseIdentity('x', Buffer.from('garbage'), undefined)).problem ?? '', /not a private key ssh2 can read/);
  const loader = new IdentityLoader();
  assert.match((await loader.load(join(dir, 'missing'), undefined)).problem ?? '', /cannot be read \(ENOENT\)/);
  const first = await loader.load(enc, 'correct horse');
  assert.equal(await loader.load(enc, 'correct horse'), first, 'decrypted once, then cached');
  assert.notEqual(await loader.load(enc, 'wrong'), first, 'another passphrase is tried again');
  // Loads that overlap (a fan-out's first connections) share one read and parse.
  const fresh = new IdentityLoader();
  const [a, b, c] = await Promise.all([fresh.load(plain, undefined), fresh.load(plain, undefined), fresh.load(plain, undefined)]);
  assert.ok(a.key);
  assert.equal(a, b);
  assert.equal(a, c);
});

test('keySigner signs as ssh2 does: the same bytes for ed25519 and RSA, a valid signature for ECDSA, an Error where ssh2 returns one', async (t) => {
  const dir = tempDir(t);
  const data = randomBytes(200);
  const cases: [string, string[], (string | undefined)[]][] = [
    ['ed25519', [], [undefined]],
    ['rsa', ['-b', '2048'], ['sha256', 'sha512', 'sha1', undefined]],
    ['ecdsa', ['-b', '256'], ['sha256', undefined]],
    ['ecdsa', ['-b', '384'], ['sha384']],
    ['ecdsa', ['-b', '521'], ['sha512']],
  ];
  for (const [type, bits, algos] of cases) {
    const path = join(dir, `${type}${bits.join('')}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-f', path]);
    const key = (await parseIdentity(path, readFileSync(path), undefined)).key!;
    const sign = keySigner(key);
    for (const algo of algos) {
      const ours = sign(data, algo);
      const theirs = key.sign(data, algo);
      assert.ok(Buffer.isBuffer(ours) && Buffer.isBuffer(theirs), `${type} ${algo}: both sign`);
      if (type === 'ecdsa') {
        // ECDSA signatures are randomized: both must verify under the public key.
        const pub = createPublicKey(key.getPublicPEM());
        assert.ok(verify(algo ?? 'sha256', data, pub, ours), `${type}${bits.join('')} ${algo}: ours verifies`);
        assert.ok(verify(algo ?? 'sha256', data, pub, theirs), `${type}${bits.join('')} ${algo}: ssh2's verifies`);
      } else assert.deepEqual(ours, theirs, `${type} ${algo}: the same signature`);
    }
    assert.ok(sign(data, 'no-such-hash') instanceof Error, `${type}: a bad hash is an Error, not a throw`);
  }
});

/** Drives an AuthSession the way ssh2 does and returns what it asked for. */
function drive(session: AuthSession, replies: [string[], boolean][]): string[] {
  const asked: string[] = [];
  const next = (m: unknown) => asked.push(m === false ? 'false' : typeof m === 'string' ? m : (m as { type: string }).type);
  session.handler(null as unknown as [], false, next as never);
  for (const [left, partial] of replies) session.handler(left as never, partial, next as never);
  return asked;
}

test('auth order: none, key, agent, password; only methods the server offers', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'k');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  const identity = await parseIdentity(path, readFileSync(path), undefined);
  const all = new AuthSession({ username: 'u', identity, agent: '/tmp/agent.sock', password: 'pw' });
  const offered = ['publickey', 'password', 'keyboard-interactive'];
  assert.deepEqual(drive(all, [[offered, false], [offered, false], [offered, false], [offered, false]]), ['none', 'publickey', 'agent', 'password', 'false']);
  assert.deepEqual(all.offered, offered);
  assert.deepEqual(all.attempts.map((a) => [a.method, a.ok]), [['publickey', false], ['agent', false], ['password', false]]);
  assert.match(all.attempts[0]!.detail ?? '', /ed25519 key/);

  // Password-only server: keys are skipped with a reason, password is tried.
  const pwOnly = new AuthSession({ username: 'u', identity, password: 'pw' });
  assert.deepEqual(drive(pwOnly, [[['password', 'keyboard-interactive'], false]]), ['none', 'password']);
  pwOnly.succeeded();
  assert.deepEqual(pwOnly.attempts, [{ method: 'password', ok: true }]);
  assert.match(pwOnly.skipped[0]!, /publickey .* does not offer publickey/);

  // keyboard-interactive stands in for password only when password is not offered.
  const kbd = new AuthSession({ username: 'u', password: 'pw' });
  assert.deepEqual(drive(kbd, [[['keyboard-interactive'], false], [['keyboard-interactive'], false]]), ['none', 'keyboard-interactive', 'false']);

  // Nothing configured.
  const none = new AuthSession({ username: 'u' });
  assert.deepEqual(drive(none, [[['publickey'], false]]), ['none', 'false']);
  assert.match(none.skipped[0]!, /no credentials/);
});

test('AUTH_FAILED says which methods the server offers and which were tried, with a hint', () => {
  const where = { name: 'web', address: '127.0.0.1', port: 22 };
  const e = authFailed(where, 'deploy', ['publickey'], [{ method: 'password', ok: false }], ['publickey (ed25519 key /k): the server does not offer publickey']);
  assert.equal(e.code, 'AUTH_FAILED');
  assert.match(e.message, /offers publickey; tried password/);
  assert.match(e.hint ?? '', /--identity|ssh-add/);
  assert.deepEqual(e.details?.offered, ['publickey']);
  assert.deepEqual(e.details?.tried, ['password']);
  const pw = authFailed(where, 'deploy', ['password', 'keyboard-interactive'], [{ method: 'publickey', ok: false }], []);
  assert.match(pw.hint ?? '', /--password-stdin/);
});

test('the agent is Pageant on Windows, else SSH_AUTH_SOCK', () => {
  assert.equal(defaultAgentSocket({ SSH_AUTH_SOCK: '/run/a.sock' }, 'linux'), '/run/a.sock');
  assert.equal(defaultAgentSocket({}, 'linux'), undefined);
  assert.equal(defaultAgentSocket({ SSH_AUTH_SOCK: '' }, 'darwin'), undefined);
  assert.equal(defaultAgentSocket({}, 'win32'), 'pageant');
});
