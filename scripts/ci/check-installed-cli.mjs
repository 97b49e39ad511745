#!/usr/bin/env node
// Installs the installer this OS built (release/), checks that it put a working `cronium`
// command on the PATH, and uninstalls it again, checking that the command goes too:
//   Linux: the deb (apt), /usr/bin/cronium -> the app's resources/bin/cronium;
//   Windows: the NSIS installer, silently, per user: resources\bin on the user PATH.
// Run by the release workflow on its runners (it needs root on Linux, and changes the
// machine); never by the tests.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const release = join(ROOT, 'release');
const one = (re) => {
  const f = readdirSync(release).filter((n) => re.test(n));
  assert.equal(f.length, 1, `expected one installer matching ${re} in release/, found: ${f.join(', ') || 'none'}`);
  return join(release, f[0]);
};
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, ...opts });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const home = mkdtempSync(join(tmpdir(), 'cronium-installed-'));

/** `cronium --version` and `hosts add/list` through a command, against a fresh data dir. */
function exercise(invoke) {
  const v = invoke(['--version']);
  assert.equal(v.code, 0, `cronium --version failed: ${v.stderr}`);
  assert.equal(v.stdout.trim(), version);
  assert.equal(invoke(['hosts', 'add', 'ci1', '--address', '127.0.0.1', '--port', '9']).code, 0);
  const list = invoke(['hosts', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout).map((h) => h.name), ['ci1']);
  console.log(`✔ cronium ${version}: --version, hosts add, hosts list --json`);
}

if (process.platform === 'linux') {
  const deb = one(/^cronium-desktop_.*_amd64\.deb$/);
  execFileSync('sudo', ['apt-get', 'install', '-y', '-qq', deb], { stdio: 'inherit' });
  assert.ok(lstatSync('/usr/bin/cronium').isSymbolicLink(), '/usr/bin/cronium is not a link');
  assert.equal(readlinkSync('/usr/bin/cronium'), '/opt/Cronium Desktop/resources/bin/cronium');
  console.log('✔ the deb linked /usr/bin/cronium to the app');
  exercise((args) => run('cronium', args, { env: { ...process.env, CRONIUM_HOME: home } }));
  execFileSync('sudo', ['apt-get', 'remove', '-y', '-qq', 'cronium-desktop'], { stdio: 'inherit' });
  assert.equal(existsSync('/usr/bin/cronium'), false, 'removing the deb left /usr/bin/cronium');
  console.log('✔ removing the deb removed /usr/bin/cronium');
} else if (process.platform === 'win32') {
  const setup = one(/^Cronium Desktop Setup .*\.exe$/);
  const userPath = () => {
    const r = run('reg', ['query', 'HKCU\\Environment', '/v', 'Path']);
    return /REG_(?:EXPAND_)?SZ\s+(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? '';
  };
  const installDir = join(process.env.LOCALAPPDATA, 'Programs', 'Cronium Desktop');
  const bin = join(installDir, 'resources', 'bin');
  const before = userPath();
  assert.equal(run(setup, ['/S']).code, 0, 'the silent install failed');
  assert.ok(existsSync(join(bin, 'cronium.cmd')), `${bin}\\cronium.cmd is missing`);
  const after = userPath();
  assert.ok(after.toLowerCase().split(';').includes(bin.toLowerCase()), `the user PATH lacks ${bin}: ${after}`);
  console.log(`✔ the installer put ${bin} on the user PATH`);
  // A new terminal's PATH: the user PATH from the registry, as Explorer hands it out after the broadcast.
  exercise((args) => run('cmd.exe', ['/d', '/c', 'cronium', ...args], { env: { ...process.env, CRONIUM_HOME: home, PATH: `${after};${process.env.PATH}` } }));
  assert.equal(run(join(installDir, 'Uninstall Cronium Desktop.exe'), ['/S']).code, 0, 'the silent uninstall failed');
  // The uninstaller copies itself away and returns at once: wait for it to finish.
  for (let i = 0; i < 60 && existsSync(join(bin, 'cronium.cmd')); i++) await sleep(1000);
  assert.ok(!userPath().toLowerCase().split(';').includes(bin.toLowerCase()), 'uninstalling left the PATH entry');
  assert.equal(userPath().split(';').filter(Boolean).length, before.split(';').filter(Boolean).length, 'the rest of the user PATH changed');
  console.log('✔ uninstalling took it off the PATH and left the rest as it was');
} else {
  console.log('macOS: the command is installed from the app menu (an administrator prompt), which CI cannot click');
}
