// Channels beyond exec on pooled connections, against real sshd hosts of the test fleet: SFTP
// sessions (under MaxSessions too), direct-tcpip (forwardOut) and tcpip-forward (forwardIn).
// Needs root (the fleet starts sshd on port 22 of 127.x addresses); connects only to 127.0.0.0/8.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { openCore, type Core } from '../../../electron/core/core';
import { SftpError, SshChannelError } from '../../../electron/core/ssh/ssh-errors';
import type { Ssh2Connection } from '../../../electron/core/ssh/ssh2-pool';
import type { ForwardedConnectionInfo } from '../../../electron/core/ssh/types';
import { startFleet, type Fleet } from '../../fleet/fleet';

// Its own subnet: 201 CLI default, 202 fleet test, 203 pool test, 204 diagnostics, 206 bench, 209 trust.
const SUBNET = 205;

let fleet: Fleet | undefined;
let core: Core | undefined;
let scratch = '';

function f(): Fleet {
  assert.ok(fleet, 'fleet not started');
  return fleet;
}
function c(): Core {
  assert.ok(core, 'core not opened');
  return core;
}

async function connect(name: string): Promise<Ssh2Connection> {
  return (await c().ssh.connect(await c().hosts.sshTarget(name))) as Ssh2Connection;
}

async function channelError(p: Promise<unknown>, kind: SshChannelError['kind']): Promise<SshChannelError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof SshChannelError, String((e as Error)?.stack ?? e));
    assert.equal(e.code, 'CONNECT_FAILED');
    assert.equal(e.kind, kind, `${e.message} (hint: ${e.hint})`);
    return e;
  }
  assert.fail(`expected an SshChannelError of kind ${kind}`);
}

/** Reads a stream until it has n bytes (or ends). */
function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size >= n) finish();
    };
    const finish = () => {
      stream.removeListener('data', onData);
      stream.pause();
      resolve(Buffer.concat(chunks));
    };
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('error', reject);
  });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'cronium-channels-it-'));
  fleet = await startFleet({
    subnet: SUBNET,
    hosts: (['default', 'nosftp', 'noforward', 'maxsessions1'] as const).map((p) => ({ name: p, profile: p })),
  });
  core = openCore({
    dataDir: join(scratch, 'data'),
    door: 'cli',
    ssh: { knownHostsFiles: [join(fleet.dir, 'known_hosts')], agentSocket: null, connectTimeoutMs: 2000, handshakeTimeoutMs: 3000 },
  });
  for (const h of fleet.hosts) {
    await c().hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
  }
});

after(async () => {
  core?.close();
  await fleet?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test('SFTP on default: a 3 MB upload with its mode, stat, rename over an existing file, unlink, a streamed upload', async (t) => {
  const conn = await connect('default');
  const tag = randomBytes(4).toString('hex');
  const [a, b, s] = [`cronium-it-${tag}-a.bin`, `cronium-it-${tag}-b.bin`, `cronium-it-${tag}-s.bin`];
  t.after(() => conn.exec(`rm -f ${a} ${b} ${s}`).then(() => undefined));
  const data = randomBytes(3 * 1024 * 1024);
  const sftp = await conn.sftp();
  const t0 = Date.now();
  await sftp.writeFile(a, data, 0o750);
  t.diagnostic(`3 MiB uploaded in ${Date.now() - t0} ms`);
  const st = await sftp.stat(a);
  assert.equal(st.size, data.length);
  assert.equal(st.mode & 0o7777, 0o750, 'exactly the mode asked for');
  assert.equal(st.isFile, true);
  assert.equal(st.isDirectory, false);
  assert.equal((await conn.exec(`sha256sum ${a}`)).stdout.toString().split(' ')[0], sha256(data), 'the bytes arrived intact');

  // Rename replaces an existing target (posix-rename@openssh.com).
  await sftp.writeFile(b, Buffer.from('old'));
  assert.equal((await sftp.stat(b)).mode & 0o777, 0o644, 'default mode');
  await sftp.rename(a, b);
  assert.equal((await sftp.stat(b)).size, data.length);
  const gone = await sftp.stat(a).then(
    () => assert.fail('stat of the old name succeeded'),
    (e: unknown) => e,
  );
  assert.ok(gone instanceof SftpError, String(gone));
  assert.equal(gone.status, 2, 'SSH_FX_NO_SUCH_FILE');
  assert.equal(gone.op, 'stat');

  // A stream works as the source too.
  const chunks = [randomBytes(100_000), randomBytes(70_000), randomBytes(5)];
  await sftp.writeFile(s, Readable.from(chunks), 0o600);
  const sst = await sftp.stat(s);
  assert.equal(sst.size, 170_005);
  assert.equal(sst.mode & 0o777, 0o600);

  await sftp.unlink(b);
  await sftp.unlink(s);
  await assert.rejects(sftp.stat(b), (e: unknown) => e instanceof SftpError && e.status === 2);
  await sftp.close();
  assert.equal(sftp.closed, true);
  await sftp.close();
  await assert.rejects(sftp.stat('.'), (e: unknown) => e instanceof SftpError && /closed/.test(e.message));
  assert.equal((await conn.exec('echo still-fine')).stdout.toString(), 'still-fine\n');
});

test('SFTP on nosftp: kind unavailable, and the refused sessions are closed (twelve tries under MaxSessions 10)', async () => {
  const conn = await connect('nosftp');
  const e = await channelError(conn.sftp(), 'unavailable');
  assert.match(e.description, /^Unable to start subsystem: sftp/);
  assert.match(e.hint ?? '', /Subsystem sftp/);
  assert.equal(e.details?.channel, 'sftp');
  for (let i = 0; i < 11; i++) await channelError(conn.sftp(), 'unavailable');
  // ssh2 leaves such a session open; had it stayed open, the server (MaxSessions 10) would refuse this.
  assert.equal((await conn.exec('echo exec-ok')).stdout.toString(), 'exec-ok\n');
  assert.equal(conn.sessionLimit, 10, 'no refusal was ever seen');
});

test('MaxSessions 1: an exec and an SFTP session requested at once both complete, one after the other', async () => {
  const conn = await connect('maxsessions1');
  const order: string[] = [];
  const t0 = Date.now();
  await Promise.all([
    conn.exec('sleep 0.3; echo x').then((r) => {
      assert.equal(r.stdout.toString(), 'x\n');
      order.push('exec');
    }),
    conn.sftp().then(async (sftp) => {
      assert.equal((await sftp.stat('.')).isDirectory, true);
      await new Promise((r) => setTimeout(r, 300));
      await sftp.close();
      order.push('sftp');
    }),
  ]);
  assert.equal(order.length, 2);
  assert.equal(conn.sessionLimit, 1, 'the limit was learnt from the refusal');
  assert.ok(Date.now() - t0 >= 600, `they ran one after another (${Date.now() - t0} ms)`);
  // And the other way round: a waiting sftp() can be aborted, and frees nothing it did not hold.
  const running = conn.exec('sleep 0.5; echo held');
  await new Promise((r) => setTimeout(r, 50));
  const t1 = Date.now();
  await assert.rejects(conn.sftp(AbortSignal.timeout(100)), (e: Error) => e.name === 'TimeoutError');
  assert.ok(Date.now() - t1 < 400, 'the abort answered while the slot was still taken');
  assert.equal((await running).stdout.toString(), 'held\n');
  const sftp = await conn.sftp();
  await sftp.close();
  assert.equal((await conn.exec('echo after')).stdout.toString(), 'after\n');
});

test('MaxSessions 1: forwarding channels take no session slot (OpenSSH counts sessions only)', async () => {
  const conn = await connect('maxsessions1');
  const h = f().host('maxsessions1');
  const sftp = await conn.sftp();
  const running = conn.exec('sleep 0.5; echo done');
  // The slot is held by the SFTP session and the exec waits; forwarding still opens at once.
  const t0 = Date.now();
  const stream = await conn.forwardOut(h.address, h.port, AbortSignal.timeout(2000));
  assert.match((await readBytes(stream, 8)).toString('latin1'), /^SSH-2\.0-/);
  stream.destroy();
  const fwd = await conn.forwardIn('127.0.0.1', 0, (s) => s.destroy(), AbortSignal.timeout(2000));
  await fwd.close();
  assert.ok(Date.now() - t0 < 400, `forwarding waited for a session (${Date.now() - t0} ms)`);
  await sftp.close();
  assert.equal((await running).stdout.toString(), 'done\n');
});

test('forwardOut: allowed on default (a stream to its sshd; a closed port is connect-failed, reason 2), prohibited on noforward', async () => {
  const conn = await connect('default');
  const h = f().host('default');
  const stream = await conn.forwardOut(h.address, h.port);
  assert.match((await readBytes(stream, 8)).toString('latin1'), /^SSH-2\.0-/);
  stream.destroy();
  // 127.0.0.1:1 has no listener: the server tried, so forwarding itself is allowed.
  const closed = await channelError(conn.forwardOut('127.0.0.1', 1), 'connect-failed');
  assert.equal(closed.reason, 2);
  assert.equal(closed.details?.openFailureReason, 2);

  const nf = await connect('noforward');
  const e = await channelError(nf.forwardOut(h.address, h.port), 'prohibited');
  assert.equal(e.reason, 1);
  assert.equal(e.channel, 'direct-tcpip');
  assert.match(e.hint ?? '', /AllowTcpForwarding/);
  assert.equal((await nf.exec('echo ok')).stdout.toString(), 'ok\n', 'the connection survives');
});

test('forwardIn on default: a connection made on the remote host reaches the callback; prohibited on noforward', async () => {
  const conn = await connect('default');
  const seen: ForwardedConnectionInfo[] = [];
  const fwd = await conn.forwardIn('127.0.0.1', 0, (stream, info) => {
    seen.push(info);
    void readBytes(stream, 5).then((got) => stream.end(`${got.toString()}:world`));
  });
  assert.ok(fwd.port > 0, 'the server picked a port');
  // On the remote host (bash, no nc needed): connect to the forwarded port, talk, read the answer.
  const r = await conn.exec(`exec 3<>/dev/tcp/127.0.0.1/${fwd.port} && printf hello >&3 && cat <&3`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.code, 0, r.stderr.toString());
  assert.equal(r.stdout.toString(), 'hello:world');
  assert.equal(seen.length, 1);
  assert.equal(seen[0]!.remoteAddress, '127.0.0.1');
  await fwd.close();
  await fwd.close();
  // Once closed, the server no longer listens there.
  const refused = await conn.exec(`exec 3<>/dev/tcp/127.0.0.1/${fwd.port}`);
  assert.notEqual(refused.code, 0);
  assert.equal(seen.length, 1);

  const nf = await connect('noforward');
  const e = await channelError(nf.forwardIn('127.0.0.1', 0, () => assert.fail('no connection expected')), 'prohibited');
  assert.equal(e.channel, 'tcpip-forward');
  assert.match(e.hint ?? '', /AllowTcpForwarding/);
});

test('an aborted forward: forwardIn closed by its signal stops listening', async () => {
  const conn = await connect('default');
  const ac = new AbortController();
  const fwd = await conn.forwardIn('127.0.0.1', 0, (s) => s.destroy(), ac.signal);
  assert.equal((await conn.exec(`exec 3<>/dev/tcp/127.0.0.1/${fwd.port}`)).code, 0, 'listening');
  ac.abort();
  const deadline = Date.now() + 2000;
  let code: number | null = 0;
  while (code === 0 && Date.now() < deadline) code = (await conn.exec(`exec 3<>/dev/tcp/127.0.0.1/${fwd.port}`)).code;
  assert.notEqual(code, 0, 'still listening after the abort');
  await assert.rejects(conn.forwardOut('127.0.0.1', 1, AbortSignal.abort()), (e: Error) => e.name === 'AbortError');
});
