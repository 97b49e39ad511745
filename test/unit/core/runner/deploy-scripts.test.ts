// The deploy scripts run here with the local sh, dash and bash, in a temp dir standing in for the
// host's home: cache choice, install (verify, pin, atomic rename, prune to two) and clean.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  cleanScript,
  installCommand,
  parseClean,
  parseInstall,
  parsePrepare,
  pinnedKeyText,
  prepareScript,
  SCRIPT_COMMAND,
  versionDirName,
} from '../../../../electron/core/runner/deploy-scripts';
import { tempDir } from '../../../helpers/temp';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
const BINARY = Buffer.concat([Buffer.from('#!/bin/sh\necho runner-ok\n'), Buffer.alloc(70_000, 7)]);
const SHELLS = ['sh', 'bash', ...(spawnSync('dash', ['-c', 'true']).status === 0 ? ['dash'] : [])];

/** Runs a command line the way sshd does: `$SHELL -c LINE`, with stdin, in a sandboxed environment. */
function run(shell: string, line: string, env: Record<string, string>, stdin: Buffer | string = ''): Buffer {
  const r = spawnSync(shell, ['-c', line], { input: stdin, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  assert.equal(r.status, 0, `${shell}: ${r.stderr.toString()}`);
  return Buffer.concat([Buffer.from('noise from a login shell\n@@cronium-deploy-install\n'), r.stdout]);
}

function sandbox(t: Parameters<typeof tempDir>[0]): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'home'));
  // XDG_RUNTIME_DIR stands in for the shared /dev/shm and /tmp, which a unit test must not touch.
  mkdirSync(join(dir, 'run'), { mode: 0o700 });
  return { dir, env: { HOME: join(dir, 'home'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_RUNTIME_DIR: join(dir, 'run') } };
}

test('prepare: creates the first location 0700, reports the platform and tools, skips noise', (t) => {
  const { dir, env } = sandbox(t);
  const version = versionDirName('0.1.0', sha256(BINARY));
  const facts = parsePrepare(run('sh', SCRIPT_COMMAND, env, prepareScript([version], 'h1-abc')))!;
  assert.ok(facts.facts.complete);
  assert.equal(facts.chosen, join(dir, 'cache', 'cronium'));
  assert.equal(statSync(facts.chosen!).mode & 0o777, 0o700);
  assert.equal(facts.uname.s, 'Linux');
  assert.ok(facts.uname.m.length > 0);
  assert.match(facts.uname.longBit, /^(32|64)$/);
  assert.equal(facts.uid, String(process.getuid?.()));
  assert.equal(facts.gzip, true);
  assert.equal(facts.shaTool, 'openssl', 'the fastest tool the host has');
  assert.equal(facts.have.size, 0);
  assert.deepEqual(readdirSync(facts.chosen!), [], 'the exec test left nothing');
});

test('prepare: a symlinked or non-private location is skipped for the next one', (t) => {
  const { dir, env } = sandbox(t);
  mkdirSync(join(dir, 'elsewhere'));
  mkdirSync(join(dir, 'cache'));
  symlinkSync(join(dir, 'elsewhere'), join(dir, 'cache', 'cronium'));
  let facts = parsePrepare(run('sh', SCRIPT_COMMAND, env, prepareScript([], 'h1-abc')))!;
  assert.equal(facts.chosen, join(dir, 'run', 'cronium'));
  assert.equal(facts.facts.caches[0]!.mode, 'symlink');
  const shared = join(dir, 'shared');
  mkdirSync(join(shared, 'cronium'), { recursive: true });
  chmodSync(join(shared, 'cronium'), 0o755);
  facts = parsePrepare(run('sh', SCRIPT_COMMAND, { ...env, XDG_CACHE_HOME: shared }, prepareScript([], 'h1-abc')))!;
  assert.equal(facts.chosen, join(dir, 'run', 'cronium'), 'a 0755 dir is not private');
});

test('install: gzip or raw stream, verified, pinned, renamed; a wrong hash installs nothing; prune keeps two', (t) => {
  for (const shell of SHELLS) {
    const { dir, env } = sandbox(t);
    const cache = join(dir, 'cache', 'cronium');
    mkdirSync(cache, { recursive: true, mode: 0o700 });
    const sha = sha256(BINARY);
    const vdir = join(cache, versionDirName('0.3.0', sha));
    // Two older versions, the older one older on disk.
    for (const [i, v] of ['0.1.0-aaaaaaaaaaaa', '0.2.0-bbbbbbbbbbbb'].entries()) {
      mkdirSync(join(cache, v));
      writeFileSync(join(cache, v, 'cronium-runner'), 'old');
      utimesSync(join(cache, v), 1_000_000 + i * 1000, 1_000_000 + i * 1000);
    }
    mkdirSync(join(cache, 'state'));

    const bad = parseInstall(run(shell, installCommand({ dir: vdir, tag: 'bad1', sha256: 'f'.repeat(64), mode: 'gz', publicKeyPem: PEM, hostId: 'h1-abc' }), env, gzipSync(BINARY)))!;
    assert.equal(bad.mismatch, sha, shell);
    assert.equal(existsSync(join(vdir, 'cronium-runner')), false);
    assert.deepEqual(readdirSync(vdir), [], `${shell}: the temporary file is gone`);

    for (const mode of ['gz', 'raw'] as const) {
      const out = parseInstall(run(shell, installCommand({ dir: vdir, tag: `t${mode}`, sha256: sha, mode, publicKeyPem: PEM, hostId: 'h1-abc' }), env, mode === 'gz' ? gzipSync(BINARY) : BINARY))!;
      assert.ok(out.complete, shell);
      assert.equal(out.fail, undefined, `${shell}: ${JSON.stringify(out.fail)}`);
      assert.equal(out.installed, sha);
      assert.deepEqual(readdirSync(vdir).sort(), ['cronium-runner', 'host-id.h1-abc', 'installation.pub']);
      assert.equal(statSync(join(vdir, 'cronium-runner')).mode & 0o777, 0o700);
      assert.equal(readFileSync(join(vdir, 'installation.pub'), 'utf8'), pinnedKeyText(PEM));
      assert.equal(readFileSync(join(vdir, 'host-id.h1-abc'), 'utf8'), 'h1-abc\n');
      if (mode === 'gz') assert.deepEqual(out.removed, ['0.1.0-aaaaaaaaaaaa'], shell);
    }
    assert.deepEqual(readdirSync(cache).sort(), ['0.2.0-bbbbbbbbbbbb', versionDirName('0.3.0', sha), 'state']);
    assert.equal(spawnSync(join(vdir, 'cronium-runner')).stdout.toString(), 'runner-ok\n');

    // Prepare now finds it, with the hashes of the binary and of the pinned key.
    const facts = parsePrepare(run(shell, SCRIPT_COMMAND, env, prepareScript([versionDirName('0.3.0', sha), '9.9.9-cccccccccccc'], 'h1-abc')))!;
    assert.deepEqual(facts.have.get(versionDirName('0.3.0', sha)), { sha256: sha, pubSha256: sha256(pinnedKeyText(PEM)), hostId: 'h1-abc' });
    assert.equal(facts.have.size, 1);
    // Another inventory host on the same account (a shared home): its own file, the first one's untouched.
    const other = parsePrepare(run(shell, SCRIPT_COMMAND, env, prepareScript([versionDirName('0.3.0', sha)], 'h2-abc')))!;
    assert.equal(other.have.get(versionDirName('0.3.0', sha))?.hostId, '', 'not pinned for h2 yet');
    const second = parseInstall(run(shell, installCommand({ dir: vdir, tag: 'h2', sha256: sha, mode: 'none', publicKeyPem: PEM, hostId: 'h2-abc' }), env, ''))!;
    assert.equal(second.installed, sha, JSON.stringify(second));
    assert.equal(readFileSync(join(vdir, 'host-id.h2-abc'), 'utf8'), 'h2-abc\n');
    assert.equal(readFileSync(join(vdir, 'host-id.h1-abc'), 'utf8'), 'h1-abc\n');

    // Clean removes every version and keeps the state dir.
    const cleaned = parseClean(run(shell, SCRIPT_COMMAND, env, cleanScript()))!;
    assert.ok(cleaned.complete);
    assert.deepEqual(cleaned.removed.map((r) => r.dir).sort(), ['0.2.0-bbbbbbbbbbbb', versionDirName('0.3.0', sha)]);
    assert.deepEqual(readdirSync(cache), ['state']);
    assert.ok(lstatSync(cache).isDirectory());
  }
});

test('the install command carries no newline and no history-expansion character', () => {
  const line = installCommand({ dir: '/h/x y/.cache/cronium/0.1.0-abcdefabcdef', tag: 'abc', sha256: 'a'.repeat(64), mode: 'gz', publicKeyPem: PEM, hostId: 'h1' });
  assert.ok(!line.includes('\n'));
  assert.ok(!line.includes('!'));
});

test('a host id that could leave the version dir is refused before any command is built', () => {
  for (const bad of ['../x', 'a/b', '', 'h1 x', "h1'"]) {
    assert.throws(() => installCommand({ dir: '/d', tag: 't', sha256: 'a'.repeat(64), mode: 'none', publicKeyPem: PEM, hostId: bad }), /invalid runner host id/);
    assert.throws(() => prepareScript([], bad), /invalid runner host id/);
  }
});
