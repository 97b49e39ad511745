// A host that wants a one-time code after the key (OpenSSH with AuthenticationMethods
// publickey,keyboard-interactive and PAM's google-authenticator), through the real CLI: on a
// terminal (a pty from util-linux `script`) the code is asked, hidden, under the host's name;
// without one the run fails AUTH_INTERACTIVE_REQUIRED naming what the host accepted and asks;
// a wrong code is AUTH_FAILED. Codes come from oathtool, an independent TOTP implementation.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium, ROOT } from '../../helpers/cli';
import { startWorkspace, type Workspace } from '../../helpers/workspace';

const SUBNET = 117;
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspace('second-factor', { subnet: SUBNET, hosts: [{ name: 'otp', profile: 'otp' }, { name: 'plain', profile: 'default' }] });
  const h = ws.fleet.host('otp');
  const add = await cli(['hosts', 'add', 'otp', '--address', h.address, '--user', h.user, '--identity', h.identityFile!, '--no-agent']);
  assert.equal(add.code, 0, add.stderr);
  const trust = await cli(['hosts', 'trust', 'otp', '--fingerprint', h.hostKeyFingerprint]);
  assert.equal(trust.code, 0, trust.stderr);
  // Two names for the plain host, both with an encrypted copy of the fleet's key and no stored passphrase.
  const p = ws.fleet.host('plain');
  encrypted = join(ws.scratch, 'encrypted_ed25519');
  copyFileSync(p.identityFile!, encrypted);
  chmodSync(encrypted, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', encrypted]);
  for (const name of ['enc1', 'enc2']) {
    assert.equal((await cli(['hosts', 'add', name, '--address', p.address, '--user', p.user, '--identity', encrypted, '--no-agent'])).code, 0);
    assert.equal((await cli(['hosts', 'trust', name, '--fingerprint', p.hostKeyFingerprint])).code, 0);
  }
});

const PASSPHRASE = "a pass'phrase";
let encrypted = '';
after(async () => {
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });

/** Runs the CLI on a pseudo-terminal, typing `answer` once `waitFor` appears; resolves with what the terminal showed. */
function onTerminal(args: string[], waitFor: RegExp, answer: () => string): Promise<{ code: number; screen: string; typed: string }> {
  const quoted = [process.execPath, `${ROOT}/bin/cronium.mjs`, '--data-dir', ws!.dataDir, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', quoted, '/dev/null'], { env: { ...process.env, ...ws!.env, CRONIUM_HOME: '', CRONIUM_USE_APP: 'never' } });
    let screen = '';
    let typed = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no end within 60 s; the terminal showed: ${screen}`));
    }, 60_000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString('utf8');
      if (!typed && waitFor.test(screen)) {
        typed = answer();
        child.stdin.write(`${typed}\r`);
      }
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, screen, typed });
    });
  });
}

const totp = () => execFileSync('oathtool', ['--totp', '-b', ws!.fleet.host('otp').otpSecret!]).toString().trim();

test('without a terminal the run fails AUTH_INTERACTIVE_REQUIRED, saying the key was accepted and a code is wanted', async () => {
  const r = await cli(['run', '--host', 'otp', '--command', 'echo never']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /error\[AUTH_INTERACTIVE_REQUIRED\]: otp \(.*\) accepted publickey \(ed25519 key .*\) for crf-otp, then wants keyboard-interactive answers as well: nobody is there to answer/);
  assert.match(r.stderr, /hint: .*run it by hand first/);
});

test('on a terminal the code is asked under the host name without echo, and the run goes on in runner mode', async () => {
  const r = await onTerminal(['run', '--host', 'otp', '--command', 'echo "code accepted for $(id -un)"'], /Verification code: /, totp);
  assert.equal(r.code, 0, r.screen);
  assert.match(r.screen, /otp asks:\r?\nVerification code: /);
  assert.ok(!r.screen.includes(r.typed), 'the code was not echoed');
  assert.match(r.screen, /code accepted for crf-otp/);
});

test('a wrong code is AUTH_FAILED, with keyboard-interactive among the methods tried', async () => {
  const r = await onTerminal(['run', '--host', 'otp', '--mode', 'direct', '--command', 'echo never'], /Verification code: /, () => String((Number(totp()) + 500_000) % 1_000_000).padStart(6, '0'));
  assert.equal(r.code, 255, r.screen);
  assert.match(r.screen, /AUTH_FAILED/);
  assert.match(r.screen, /keyboard-interactive \(answered by you\)/);
});

test("an encrypted key's passphrase is asked once on the terminal for every host that uses the key; without a terminal the key is skipped, saying why", async () => {
  const none = await cli(['run', '--host', 'enc1', '--command', 'true']);
  assert.equal(none.code, 255);
  assert.match(none.stderr, /AUTH_FAILED/);
  assert.match(none.stderr, /is encrypted and no passphrase is stored/);
  const r = await onTerminal(['run', '--host', 'enc1', '--host', 'enc2', '--command', 'echo "key opened on $(hostname)"'], /Passphrase for .*encrypted_ed25519: /, () => PASSPHRASE);
  assert.equal(r.code, 0, r.screen);
  assert.equal((r.screen.match(/Passphrase for /g) ?? []).length, 1, 'asked once for both hosts');
  assert.ok(!r.screen.includes(PASSPHRASE), 'not echoed');
  assert.equal((r.screen.match(/key opened on /g) ?? []).length, 2);
});
