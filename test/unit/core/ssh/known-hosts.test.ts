/** known_hosts parsing and matching, with hashed entries made by the real `ssh-keygen -H`. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePublicKeyLine, type PublicKeyFacts } from '../../../../electron/core/ssh/fingerprint';
import { checkKnownHosts, entryMatches, globMatch, KnownHostsFile, knownHostsName, knownKeyTypes, parseKnownHosts } from '../../../../electron/core/ssh/known-hosts';
import { tempDir } from '../../../helpers/temp';

/** Generates a key pair and returns its public facts. */
function key(dir: string, name: string, type = 'ed25519'): PublicKeyFacts {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', path]);
  const facts = parsePublicKeyLine(readFileSync(`${path}.pub`, 'utf8'));
  assert.ok(facts);
  return facts;
}

test('plain entries: names, comma lists, [host]:port, wildcards and negation', (t) => {
  const dir = tempDir(t);
  const a = key(dir, 'a');
  const b = key(dir, 'b');
  const c = key(dir, 'c');
  const d = key(dir, 'd');
  const text = [
    '# comment line',
    '',
    `web1.example.com,192.0.2.10 ${a.publicKey} a comment`,
    `[127.7.0.1]:2222 ${b.publicKey}`,
    `*.prod.example.com,!db.prod.example.com ${c.publicKey}`,
    `10.0.0.? ${d.publicKey}`,
  ].join('\n');
  const { entries, problems } = parseKnownHosts(text, 'kh');
  assert.equal(entries.length, 4);
  assert.deepEqual(problems, []);
  assert.equal(entries[0]!.line, 3);

  assert.equal(checkKnownHosts(entries, 'web1.example.com', 22, a).status, 'match');
  assert.equal(checkKnownHosts(entries, 'WEB1.example.com', 22, a).status, 'match', 'host names are case-insensitive');
  assert.equal(checkKnownHosts(entries, '192.0.2.10', 22, a).status, 'match');
  assert.equal(checkKnownHosts(entries, 'web1.example.com', 2222, a).status, 'none', 'another port is another host');
  assert.equal(checkKnownHosts(entries, '127.7.0.1', 2222, b).status, 'match');
  assert.equal(checkKnownHosts(entries, '127.7.0.1', 22, b).status, 'none');
  assert.equal(checkKnownHosts(entries, 'app.prod.example.com', 22, c).status, 'match');
  assert.equal(checkKnownHosts(entries, 'db.prod.example.com', 22, c).status, 'none', 'negated');
  assert.equal(checkKnownHosts(entries, '10.0.0.7', 22, d).status, 'match');
  assert.equal(checkKnownHosts(entries, '10.0.0.17', 22, d).status, 'none');

  // Same type, other key: a changed key, as OpenSSH says.
  const changed = checkKnownHosts(entries, 'web1.example.com', 22, b);
  assert.equal(changed.status, 'changed');
  assert.equal(changed.status === 'changed' && changed.entries[0]!.line, 3);
  // Another type only: not known (ssh would ask), not changed.
  const rsa = key(dir, 'r', 'rsa');
  assert.equal(checkKnownHosts(entries, 'web1.example.com', 22, rsa).status, 'none');
  assert.deepEqual(knownKeyTypes(entries, 'web1.example.com', 22), ['ssh-ed25519']);
});

test('hashed entries written by ssh-keygen -H match the same hosts, and ssh-keygen -F agrees', (t) => {
  const dir = tempDir(t);
  const a = key(dir, 'a');
  const b = key(dir, 'b');
  const file = join(dir, 'known_hosts');
  writeFileSync(file, `127.9.0.1 ${a.publicKey}\n[127.9.0.2]:2200 ${b.publicKey}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  const text = readFileSync(file, 'utf8');
  assert.match(text, /^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m, 'hashed by ssh-keygen');
  assert.doesNotMatch(text, /127\.9\./, 'no clear host names left');
  const { entries, problems } = parseKnownHosts(text, file);
  assert.deepEqual(problems, []);
  assert.equal(entries.length, 2);
  assert.equal(entries[0]!.names.kind, 'hashed');

  assert.equal(checkKnownHosts(entries, '127.9.0.1', 22, a).status, 'match');
  assert.equal(checkKnownHosts(entries, '127.9.0.2', 2200, b).status, 'match');
  assert.equal(checkKnownHosts(entries, '127.9.0.2', 22, b).status, 'none');
  assert.equal(checkKnownHosts(entries, '127.9.0.3', 22, a).status, 'none');
  assert.equal(checkKnownHosts(entries, '127.9.0.1', 22, b).status, 'changed');
  // Cross-check with OpenSSH's own lookup.
  const found = execFileSync('ssh-keygen', ['-F', '[127.9.0.2]:2200', '-f', file], { encoding: 'utf8' });
  assert.match(found, /found: line 2/);
  assert.equal(entryMatches(entries[1]!, knownHostsName('127.9.0.2', 2200)), true);
});

test('@revoked refuses a key for its hosts; @cert-authority lines are ignored', (t) => {
  const dir = tempDir(t);
  const a = key(dir, 'a');
  const ca = key(dir, 'ca');
  const text = [`@revoked * ${a.publicKey}`, `127.9.0.1 ${a.publicKey}`, `@cert-authority *.example.com ${ca.publicKey}`].join('\n');
  const { entries } = parseKnownHosts(text, 'kh');
  const v = checkKnownHosts(entries, '127.9.0.1', 22, a);
  assert.equal(v.status, 'revoked', 'revocation wins over a plain entry');
  assert.equal(v.status === 'revoked' && v.entry.line, 1);
  assert.equal(checkKnownHosts(entries, 'x.example.com', 22, ca).status, 'none', 'a CA key is not a host key');
  assert.deepEqual(knownKeyTypes(entries, 'x.example.com', 22), []);
});

test('bad lines are reported with their line numbers and skipped', () => {
  const good = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 9)]).toString('base64');
  const text = ['justonefield', `@weird host ssh-ed25519 ${good}`, 'host ssh-ed25519 %%%', `host ssh-rsa ${good}`, '|1|bad|hash ssh-ed25519 ' + good, `ok ssh-ed25519 ${good}`].join('\n');
  const { entries, problems } = parseKnownHosts(text, 'kh');
  assert.equal(entries.length, 1);
  assert.deepEqual(
    problems.map((p) => p.line),
    [1, 2, 3, 4, 5],
  );
  assert.match(problems[3]!.message, /not a ssh-rsa key/);
});

test('glob matching follows OpenSSH: * and ? only, whole string, case-insensitive', () => {
  assert.equal(globMatch('abc', 'a*c'), true);
  assert.equal(globMatch('ac', 'a*c'), true);
  assert.equal(globMatch('abcd', 'a*c'), false);
  assert.equal(globMatch('a.b.c', '*.c'), true);
  assert.equal(globMatch('abc', 'a?c'), true);
  assert.equal(globMatch('abbc', 'a?c'), false);
  assert.equal(globMatch('ABC', 'abc'), true);
  assert.equal(globMatch('[h]:22', '[h]:22'), true, 'brackets are literal');
  assert.equal(globMatch('aaa', '*a*a*a*'), true);
});

test('a known_hosts file is re-read when it changes and missing files are empty', (t) => {
  const dir = tempDir(t);
  const a = key(dir, 'a');
  const b = key(dir, 'b');
  const path = join(dir, 'known_hosts');
  const file = new KnownHostsFile(path);
  assert.deepEqual(file.entries(), []);
  writeFileSync(path, `h1 ${a.publicKey}\n`);
  assert.equal(file.entries().length, 1);
  writeFileSync(path, `h1 ${a.publicKey}\nh2 ${b.publicKey}\nbad\n`);
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  assert.equal(file.entries().length, 2);
  assert.equal(file.problems().length, 1);
});

test('a host\'s lines are found through the index exactly as by matching every line, and as ssh-keygen -F finds them (seeded, generated files, plain and hashed)', (t) => {
  const dir = tempDir(t);
  const keys = [key(dir, 'k0'), key(dir, 'k1'), key(dir, 'k2')];
  // A seeded generator: host names of a small space so that lines share names.
  let seed = 20261205;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const host = () => `${rnd(3) === 0 ? 'Web' : 'web'}${rnd(40)}.example`;
  const addr = () => `127.9.${rnd(3)}.${rnd(20)}`;
  const name = () => (rnd(4) === 0 ? `[${addr()}]:${rnd(2) ? 2200 : 22}` : rnd(2) ? addr() : host());
  const lines: string[] = [];
  for (let i = 0; i < 400; i++) {
    const r = rnd(10);
    const names = r < 6 ? [name()] : r < 8 ? [name(), name(), name()] : r === 8 ? [`web${rnd(5)}*.example`, name()] : [`127.9.${rnd(3)}.*`, `!127.9.${rnd(3)}.${rnd(20)}`];
    lines.push(`${names.join(',')} ${keys[rnd(3)]!.publicKey}`);
  }
  const plain = join(dir, 'plain');
  writeFileSync(plain, `${lines.join('\n')}\n`);
  const hashed = join(dir, 'hashed');
  writeFileSync(hashed, `${lines.join('\n')}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
  const queries: [string, number][] = [];
  for (let i = 0; i < 300; i++) queries.push(rnd(3) === 0 ? [host(), 22] : [addr(), rnd(4) === 0 ? 2200 : 22]);
  let agreedWithOpenSsh = 0;
  for (const path of [plain, hashed]) {
    const file = new KnownHostsFile(path);
    const all = file.entries();
    // ssh-keygen -H writes one hashed line per name of a line (wildcards and negations stay clear).
    assert.ok(path === plain ? all.length === 400 : all.length > 400 && all.some((e) => e.names.kind === 'hashed'), `${path}: ${all.length} lines`);
    for (const [i, [h, port]] of queries.entries()) {
      const linear = all.filter((e) => entryMatches(e, knownHostsName(h, port)));
      assert.deepEqual(file.entriesFor(h, port).map((e) => e.line), linear.map((e) => e.line), `${path} ${h}:${port}`);
      assert.deepEqual(file.entriesFor(h.toUpperCase(), port), file.entriesFor(h, port), 'remembered and case-insensitive');
      if (i % 10 === 0) {
        // OpenSSH's own lookup of the same name (exit 1: not found).
        let out: string;
        try {
          out = execFileSync('ssh-keygen', ['-F', knownHostsName(h, port), '-f', path], { encoding: 'utf8' });
        } catch (e) {
          out = String((e as { stdout?: string }).stdout ?? '');
        }
        const theirs = [...out.matchAll(/found: line (\d+)/g)].map((m) => Number(m[1]));
        assert.deepEqual(linear.map((e) => e.line), theirs, `ssh-keygen -F ${knownHostsName(h, port)} in ${path}`);
        agreedWithOpenSsh++;
      }
    }
  }
  assert.equal(agreedWithOpenSsh, 60, 'names checked against ssh-keygen -F: 60 of 60');
});
