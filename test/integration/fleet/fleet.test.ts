// Checks that every test-fleet profile really behaves as promised, using the stock OpenSSH client.
// Needs root (the fleet starts sshd on port 22, adds users and namespaces); fails clearly otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NOISY_BANNER, PROFILES, startFleet, type Fleet } from '../../fleet/fleet';

// Not the CLI's default subnet (201), so a fleet left up with `npm run fleet -- up` does not collide.
const SUBNET = 202;

let fleet: Fleet | undefined;
let startMs = 0;
let scratch = '';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (stdin from /dev/null unless input is given) and collects its output. */
function exec(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The fleet, which `before` has started. */
function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}

/** Common ssh/sftp options: the fleet's config, never prompt, fail fast. */
function clientArgs(): string[] {
  return ['-F', join(f().dir, 'ssh_config'), '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5'];
}

/** ssh <host> with extra options, then the remote command. */
function ssh(host: string, options: string[], command?: string): Promise<Result> {
  return exec('ssh', [...clientArgs(), ...options, host, ...(command === undefined ? [] : [command])]);
}

/** Asserts a successful ssh run and returns its stdout. */
async function sshOk(host: string, command: string, options: string[] = []): Promise<string> {
  const r = await ssh(host, options, command);
  assert.equal(r.code, 0, `ssh ${host} ${command} failed: ${r.stderr}`);
  return r.stdout;
}

/** Resolves with the socket error code of a TCP connect ('connected' if it succeeded). */
function tryConnect(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    sock.setTimeout(3000, () => {
      sock.destroy();
      resolve('timeout');
    });
    sock.on('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** True while a PID exists (as a process or an unreaped zombie). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'crf-test-'));
  const t0 = Date.now();
  fleet = await startFleet({ subnet: SUBNET });
  startMs = Date.now() - t0;
});

after(async () => {
  await fleet?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('starts one host of every profile, each with its own address, key and sshd', async (t) => {
  t.diagnostic(`fleet of ${f().hosts.length} hosts started in ${startMs} ms`);
  const hosts = f().hosts;
  assert.deepEqual(hosts.map((h) => h.profile).sort(), [...PROFILES].sort());
  assert.equal(hosts.length, 11);
  assert.equal(new Set(hosts.map((h) => h.address)).size, hosts.length);
  assert.equal(new Set(hosts.map((h) => h.hostKeyFingerprint)).size, hosts.length);
  assert.equal(new Set(hosts.map((h) => h.pid)).size, hosts.length);
  for (const h of hosts) {
    assert.match(h.address, new RegExp(`^127\\.${SUBNET}\\.\\d+\\.\\d+$`));
    assert.equal(h.port, 22);
    assert.match(h.hostKeyFingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.match(h.hostPublicKey, /^ssh-ed25519 AAAA/);
    assert.equal(h.knownHostsLine, `${h.address} ${h.hostPublicKey}`);
    // The tracked PID is sshd itself, not a wrapper (setpriv/unshare/sh/ip netns exec all exec).
    assert.equal((await readFile(`/proc/${h.pid}/comm`, 'utf8')).trim(), 'sshd', `${h.name} pid ${h.pid}`);
  }
  assert.equal(await readFile(join(f().dir, 'ssh_config'), 'utf8'), f().sshConfig());
  assert.equal(await readFile(join(f().dir, 'known_hosts'), 'utf8'), f().knownHosts());
  // The served key is the advertised one.
  const scan = await exec('ssh-keyscan', ['-t', 'ed25519', f().host('default').address]);
  assert.ok(scan.stdout.includes(f().host('default').knownHostsLine), scan.stdout + scan.stderr);
});

test('default: runs commands as its user, SFTP and forwarding work', async () => {
  const h = f().host('default');
  assert.equal(await sshOk('default', 'echo ok'), 'ok\n');
  assert.equal((await sshOk('default', 'id -un')).trim(), h.user);
  assert.notEqual(h.user, 'root');

  const local = join(scratch, 'upload.txt');
  const back = join(scratch, 'download.txt');
  await writeFile(local, 'fleet sftp round trip\n');
  const batch = join(scratch, 'sftp-batch');
  await writeFile(batch, `put ${local} upload.txt\nget upload.txt ${back}\nrm upload.txt\n`);
  const r = await exec('sftp', [...clientArgs(), '-b', batch, 'default']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readFile(back, 'utf8'), 'fleet sftp round trip\n');

  // -W to the host's own sshd: the banner comes back through the forwarded channel.
  const w = await ssh('default', ['-W', `${h.address}:22`]);
  assert.match(w.stdout, /^SSH-2\.0-OpenSSH/, w.stderr);
});

test('nosftp: shell works, SFTP subsystem is refused', async () => {
  assert.equal(await sshOk('nosftp', 'echo ok'), 'ok\n');
  const batch = join(scratch, 'sftp-pwd');
  await writeFile(batch, 'pwd\n');
  const r = await exec('sftp', [...clientArgs(), '-b', batch, 'nosftp']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /subsystem request failed/);
});

test('noforward: stdio forwarding is administratively prohibited', async () => {
  assert.equal(await sshOk('noforward', 'echo ok'), 'ok\n');
  const h = f().host('noforward');
  const r = await ssh('noforward', ['-W', `${h.address}:22`]);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /administratively prohibited/);
  assert.doesNotMatch(r.stdout, /SSH-2\.0/);
});

test('noexec: /tmp scripts cannot be executed, sh runs them, home is read-only', async () => {
  const run = await ssh('noexec', [], 'printf "#!/bin/sh\\necho hi\\n" > /tmp/x.sh && chmod +x /tmp/x.sh && /tmp/x.sh');
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /Permission denied/);
  assert.equal(await sshOk('noexec', 'sh /tmp/x.sh'), 'hi\n');
  const mounts = await sshOk('noexec', 'cat /proc/self/mountinfo');
  for (const dir of ['/tmp', '/var/tmp', '/dev/shm']) {
    const line = mounts.split('\n').filter((l) => l.split(' ')[4] === dir).pop() ?? '';
    assert.match(line, /noexec/, `${dir} is not noexec: ${line}`);
  }
  const touch = await ssh('noexec', [], 'touch ~/x');
  assert.notEqual(touch.code, 0);
  assert.match(touch.stderr, /Read-only file system/);
  // Only that sshd's mount namespace is affected.
  assert.equal(existsSync(join(f().dir, 'ssh_config')), true);
});

test('nobash: login shell is sh and bash cannot be found or run', async () => {
  const r = await ssh('nobash', [], 'command -v bash');
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.equal((await sshOk('nobash', 'echo $0')).trim(), 'sh');
  assert.equal((await sshOk('nobash', 'getent passwd "$(id -un)" | cut -d: -f7')).trim(), '/bin/sh');
  const b = await ssh('nobash', [], 'bash -c "echo reached"');
  assert.notEqual(b.code, 0);
  assert.doesNotMatch(b.stdout, /reached/);
  // bash is still there for other hosts.
  assert.match(await sshOk('default', 'command -v bash'), /bash/);
});

test('noisy: the shell profile prints even for a non-interactive command', async () => {
  assert.match(await sshOk('noisy', 'true'), new RegExp(NOISY_BANNER));
  assert.equal(await sshOk('default', 'true'), '');
});

/** Opens a second session on a multiplexed connection while a first one is still running. */
async function secondMuxSession(host: string): Promise<Result> {
  const controlPath = join(scratch, `cm-${host}`);
  // ProxyCommand=false makes a mux client fail instead of silently opening a fresh connection.
  const mux = ['-o', `ControlPath=${controlPath}`, '-o', 'ControlMaster=no', '-o', 'ProxyCommand=false'];
  const master: ChildProcess = spawn('ssh', [...clientArgs(), '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-N', host], { stdio: 'ignore' });
  let first: ChildProcess | undefined;
  try {
    const deadline = Date.now() + 10_000;
    while ((await exec('ssh', [...clientArgs(), ...mux, '-O', 'check', host])).code !== 0) {
      assert.ok(Date.now() < deadline, `control master for ${host} did not come up`);
      await new Promise((r) => setTimeout(r, 50));
    }
    first = spawn('ssh', [...clientArgs(), ...mux, host, 'echo first; sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve, reject) => {
      first?.stdout?.once('data', () => resolve());
      first?.once('exit', () => reject(new Error(`first session on ${host} ended early`)));
    });
    return await ssh(host, mux, 'echo second');
  } finally {
    first?.kill();
    await exec('ssh', [...clientArgs(), ...mux, '-O', 'exit', host]);
    master.kill();
  }
}

test('maxsessions1: a second session on one connection is refused', async () => {
  const control = await secondMuxSession('default');
  assert.equal(control.code, 0, control.stderr);
  assert.equal(control.stdout, 'second\n');
  const r = await secondMuxSession('maxsessions1');
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Session open refused by peer/);
});

test('password: public keys are refused, the password works', async () => {
  const h = f().host('password');
  assert.ok(h.password && h.password.length >= 12);
  const key = f().host('default').identityFile ?? '';
  const pk = await ssh('password', ['-o', 'PubkeyAuthentication=yes', '-o', 'PreferredAuthentications=publickey', '-i', key], 'true');
  assert.equal(pk.code, 255);
  assert.match(pk.stderr, /Permission denied \(password,keyboard-interactive\)/);
  const batch = await ssh('password', [], 'true');
  assert.equal(batch.code, 255);
  const ok = await exec('sshpass', ['-p', h.password, 'ssh', '-F', join(f().dir, 'ssh_config'), '-o', 'ConnectTimeout=5', 'password', 'id -un']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), h.user);
  const wrong = await exec('sshpass', ['-p', 'wrong-password', 'ssh', '-F', join(f().dir, 'ssh_config'), '-o', 'ConnectTimeout=5', '-o', 'NumberOfPasswordPrompts=1', 'password', 'true']);
  assert.notEqual(wrong.code, 0);
});

test('inner: reachable only through the bastion', async () => {
  const inner = f().host('inner');
  assert.equal(inner.jump, 'bastion');
  assert.equal(await tryConnect(inner.address, inner.port), 'ECONNREFUSED');
  const direct = await ssh('inner', ['-o', 'ProxyJump=none'], 'true');
  assert.equal(direct.code, 255);
  assert.equal((await sshOk('inner', 'id -un')).trim(), inner.user);
  // Its only network interface is the namespace's loopback.
  const ifaces = (await sshOk('inner', 'cat /proc/net/dev')).split('\n').slice(2).map((l) => l.split(':')[0]?.trim()).filter(Boolean);
  assert.deepEqual(ifaces, ['lo']);
  assert.equal((await sshOk('bastion', 'id -un')).trim(), f().host('bastion').user);
});

test('rekey: after rotateHostKey, clients with the old known_hosts see a changed key', async () => {
  const h = f().host('rekey');
  const oldKnownHosts = join(scratch, 'known_hosts.old');
  await writeFile(oldKnownHosts, f().knownHosts());
  const before = h.hostKeyFingerprint;
  const pid = h.pid;
  assert.equal(await sshOk('rekey', 'echo ok'), 'ok\n');

  const { oldFingerprint, newFingerprint } = await f().rotateHostKey('rekey');
  assert.equal(oldFingerprint, before);
  assert.notEqual(newFingerprint, oldFingerprint);
  assert.equal(h.hostKeyFingerprint, newFingerprint);
  assert.equal(h.pid, pid);

  const stale = await ssh('rekey', ['-o', `UserKnownHostsFile=${oldKnownHosts}`], 'true');
  assert.equal(stale.code, 255);
  assert.match(stale.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED/);
  assert.ok(stale.stderr.includes(newFingerprint), 'ssh should report the new fingerprint');
  // The fleet's own known_hosts follows the rotation.
  assert.equal(await sshOk('rekey', 'echo ok'), 'ok\n');
});

test('stop kills every sshd, closes the ports and removes the dir', async () => {
  const fl = f();
  const hosts = fl.hosts.map((h) => ({ ...h }));
  const { dir, netns, keyFiles } = fl.state();
  assert.ok(netns);
  await fl.stop();
  await fl.stop();
  for (const h of hosts) assert.equal(pidExists(h.pid), false, `${h.name} pid ${h.pid} still exists`);
  for (const h of hosts.filter((x) => !x.jump)) assert.equal(await tryConnect(h.address, h.port), 'ECONNREFUSED', `${h.name} port still open`);
  assert.equal(existsSync(dir), false);
  for (const file of keyFiles) assert.equal(existsSync(file), false, `${file} left behind`);
  const list = await exec('ip', ['netns', 'list']);
  assert.equal(list.stdout.split('\n').some((l) => l.split(' ')[0] === netns), false, `netns ${netns} left behind`);
});
