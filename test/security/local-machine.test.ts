// Attack: someone who can read the data dir's files (a backup, another process as you) looks for
// secrets. A host password, a key passphrase and a secret variable are stored through the CLI;
// none may appear in plaintext in any file of the data dir (the database, its WAL and SHM, logs,
// anything else), in the audit log, or in the output of the commands that stored them. The data
// dir and its private files must be closed to other users.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cronium } from '../helpers/cli';
import { tempDir } from '../helpers/temp';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

test('secrets stored through the CLI are nowhere in plaintext; the data dir is private', async (t) => {
  const data = join(tempDir(t), 'data');
  const password = `pw-${Date.now()}-Zq9`;
  const secret = `sv-${Date.now()}-Xk7`;
  const add = await cronium(['--data-dir', data, 'hosts', 'add', 'web', '--address', '127.0.0.1', '--password-stdin'], { input: `${password}\n` });
  assert.equal(add.code, 0, add.stderr);
  const set = await cronium(['--data-dir', data, 'vars', 'set', 'TOKEN', '--secret', '--value-stdin'], { input: `${secret}\n` });
  assert.equal(set.code, 0, set.stderr);
  const shown = await cronium(['--data-dir', data, '--json', 'vars', 'list']);
  for (const out of [add.stdout, add.stderr, set.stdout, set.stderr, shown.stdout]) {
    assert.ok(!out.includes(password) && !out.includes(secret), 'a secret was printed');
  }
  const files = filesUnder(data);
  assert.ok(files.some((f) => f.endsWith('cronium.db')), files.join(' '));
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const s of [password, secret]) {
      assert.ok(!bytes.includes(Buffer.from(s)), `${s.slice(0, 3)}… in plaintext in ${f}`);
      assert.ok(!bytes.includes(Buffer.from(s, 'utf16le')), `${s.slice(0, 3)}… (UTF-16) in ${f}`);
    }
  }
  assert.equal(statSync(data).mode & 0o777, 0o700, 'the data dir');
  for (const f of files.filter((x) => /cronium\.db(-wal|-shm)?$|secret\.key$|\.pem$/.test(x))) {
    assert.equal(statSync(f).mode & 0o077, 0, `${f} is open to others: ${(statSync(f).mode & 0o777).toString(8)}`);
  }
});
