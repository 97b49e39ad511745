// The per-run check of the cached runner (checkedCommand), run by this machine's own sh, stat and
// sha256sum on a cache laid out as on a host: with a stat record the hash is skipped; any change to
// the binary (content, a touch back, a replacement, a chmod), its version dir or the cache root
// makes it hash again; a changed binary never runs; strict mode hashes every run.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync, statSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { checkedCommand } from '../../../../electron/core/exec/runner-mode';
import { usableStatRecord } from '../../../../electron/core/runner/deploy-scripts';

const root = mkdtempSync(join(tmpdir(), 'cronium-check-'));
after(() => rmSync(root, { recursive: true, force: true }));
const cache = join(root, 'cache');
const vdir = join(cache, '0.1.0-abcdefabcdef');
const bin = join(vdir, 'cronium-runner');
mkdirSync(vdir, { recursive: true, mode: 0o700 });
chmodSync(cache, 0o700);
writeFileSync(bin, Buffer.alloc(300_000, 7), { mode: 0o700 });
const sha = () => createHash('sha256').update(readFileSync(bin)).digest('hex');
const want = sha();

// sha256sum that counts its calls, ahead of the real one in PATH.
const tools = join(root, 'bin');
const calls = join(root, 'calls');
mkdirSync(tools);
writeFileSync(join(tools, 'sha256sum'), `#!/bin/sh\necho x >> '${calls}'\nexec ${execFileSync('sh', ['-c', 'command -v sha256sum']).toString().trim()} "$@"\n`, { mode: 0o755 });
writeFileSync(calls, '');
const hashes = () => readFileSync(calls, 'utf8').length / 2;
const PATH = `${tools}:${process.env.PATH}`;

/** Runs the check as sshd would (the login shell runs the command line); the "runner" echoes. */
function check(mode: 'stat' | 'hash', record?: string) {
  const cmd = checkedCommand({ path: bin, sha256: want, shaTool: 'sha256sum' }, 'echo RAN', mode, record);
  const r = spawnSync('/bin/sh', ['-c', cmd], { env: { ...process.env, PATH }, encoding: 'utf8' });
  const lines = r.stdout.split('\n').filter(Boolean);
  const stat = lines.filter((l) => l.startsWith('CRONIUM-RUNNER-STAT ')).map((l) => l.slice('CRONIUM-RUNNER-STAT '.length));
  return { code: r.status, ran: lines.includes('RAN'), failed: lines.some((l) => l.startsWith('CRONIUM-RUNNER-CHECK-FAILED')), record: stat.length ? stat.join('\n') : undefined };
}

test('stat mode: the first run hashes and prints a record; with it the next runs skip the hash; every change hashes again', () => {
  const first = check('stat');
  assert.deepEqual([first.code, first.ran, hashes()], [0, true, 1]);
  assert.ok(first.record && usableStatRecord(first.record), `record ${first.record}`);
  let record = first.record;

  for (let i = 0; i < 3; i++) assert.deepEqual([check('stat', record).ran, hashes()], [true, 1], 'unchanged: no hash');

  // Content changed: hashed, refused.
  appendFileSync(bin, 'x');
  const changed = check('stat', record);
  assert.deepEqual([changed.code, changed.ran, changed.failed, hashes()], [97, false, true, 2]);

  // Content put back and the mtime touched back to what it was: the ctime moved, so it hashes (and runs: the bytes are right).
  const before = statSync(bin);
  writeFileSync(bin, Buffer.alloc(300_000, 7));
  utimesSync(bin, before.atime, before.mtime);
  assert.equal(sha(), want);
  const restored = check('stat', record);
  assert.deepEqual([restored.ran, hashes()], [true, 3]);
  assert.ok(restored.record && restored.record !== record, 'a new record');
  record = restored.record;
  assert.deepEqual([check('stat', record).ran, hashes()], [true, 3]);

  // Replaced by a copy with the same bytes (another inode): hashed again.
  copyFileSync(bin, `${bin}.new`);
  chmodSync(`${bin}.new`, 0o700);
  renameSync(`${bin}.new`, bin);
  const replaced = check('stat', record);
  assert.deepEqual([replaced.ran, hashes()], [true, 4]);
  record = replaced.record!;

  // The version dir or the cache root changed (a file added, a mode changed): hashed again.
  writeFileSync(join(vdir, 'host-id.other'), 'x');
  const added = check('stat', record);
  assert.deepEqual([added.ran, hashes()], [true, 5]);
  record = added.record!;
  chmodSync(cache, 0o755);
  const opened = check('stat', record);
  assert.deepEqual([opened.ran, hashes()], [true, 6]);
  chmodSync(cache, 0o700);
  record = check('stat', opened.record).record!;
  assert.equal(hashes(), 7);
  assert.deepEqual([check('stat', record).ran, hashes()], [true, 7]);
});

test('strict mode hashes every run and prints no record; a record without nanoseconds is never used', () => {
  const n = hashes();
  for (let i = 0; i < 2; i++) assert.deepEqual([check('hash').ran, check('hash').record], [true, undefined]);
  assert.equal(hashes(), n + 4);
  const coarse = '1:2:3:1700000000:1700000000:0:700\n1:2:3:1700000000:1700000000:0:700\n1:2:3:1700000000:1700000000:0:700';
  assert.equal(usableStatRecord(coarse), false);
  assert.equal(usableStatRecord(coarse.replace(/1700000000/g, '1700000000.000000000')), false, 'whole seconds written with nanoseconds');
  assert.equal(usableStatRecord('1:2:3:1.123456789:1.123456789:0:700'), false, 'one line');
  const good = check('stat').record!;
  assert.equal(usableStatRecord(good), true);
});

test("the check's stat runs in the C locale whatever the login's, and its record is the same", () => {
  // A stat ahead in PATH that notes the locale it was started with, then runs the real one.
  const dir = join(root, 'locale-bin');
  const seen = join(root, 'locale-seen');
  mkdirSync(dir);
  writeFileSync(join(dir, 'stat'), `#!/bin/sh\necho "LC_ALL=$LC_ALL" >> '${seen}'\nexec ${execFileSync('sh', ['-c', 'command -v stat']).toString().trim()} "$@"\n`, { mode: 0o755 });
  const run = (env: NodeJS.ProcessEnv, record?: string) => {
    const cmd = checkedCommand({ path: bin, sha256: want, shaTool: 'sha256sum' }, 'echo RAN', 'stat', record);
    return spawnSync('/bin/sh', ['-c', cmd], { env: { ...process.env, PATH: `${dir}:${PATH}`, ...env }, encoding: 'utf8' }).stdout;
  };
  const printed = run({ LANG: 'de_DE.UTF-8', LC_ALL: 'de_DE.UTF-8', LC_NUMERIC: 'de_DE.UTF-8' });
  const record = printed.split('\n').filter((l) => l.startsWith('CRONIUM-RUNNER-STAT ')).map((l) => l.slice('CRONIUM-RUNNER-STAT '.length)).join('\n');
  assert.ok(usableStatRecord(record), `record ${record}`);
  assert.deepEqual([...new Set(readFileSync(seen, 'utf8').split('\n').filter(Boolean))], ['LC_ALL=C']);
  const n = hashes();
  assert.ok(run({ LANG: 'C.UTF-8', LC_ALL: '' }, record).includes('RAN'));
  assert.equal(hashes(), n, 'a record taken under one locale skips the hash under another');
});
