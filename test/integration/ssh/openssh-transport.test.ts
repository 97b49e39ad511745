// The OpenSSH transport (issue 14, parts 3 and 5) through the real CLI and the real ssh client:
// a certificate-only OpenSSH host with a host certificate (fleet profile cert) is imported from
// its ssh_config, which auto mode then reaches through your own ssh (one ControlMaster) without
// any `hosts trust` (the host CA's @cert-authority line vouches for it); the run records the
// transport; diagnose names both certificates, their principals and validity; the built-in
// transport, which has no certificates, cannot reach it; an @revoked host key and an expired user
// certificate are refused as ssh refuses them; a plain host set to --transport openssh runs too.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { OpenSshPool } from '../../../electron/core/ssh/openssh-transport';
import { cronium, runJson } from '../../helpers/cli';
import { startWorkspace, type Workspace } from '../../helpers/workspace';
import { assertDoneWaitsForSlowReader } from './helpers';

const SUBNET = 118;
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspace('openssh-transport', { subnet: SUBNET, hosts: [{ name: 'cert', profile: 'cert' }, { name: 'plain', profile: 'default' }] });
});
after(async () => {
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });

const run = (args: string[]) => runJson(cli, args);

test('an imported certificate host is reached through your own ssh in auto mode, with no host key pinned', async () => {
  const imp = await cli(['hosts', 'import', '--ssh-config', join(ws!.fleet.dir, 'ssh_config')]);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stderr + imp.stdout, /added cert .*\n\s+through your own ssh \(CertificateFile/);
  const cert = JSON.parse((await cli(['--json', 'hosts', 'show', 'cert'])).stdout) as { transport: string; opensshReason: string | null; sshAlias: string | null };
  assert.deepEqual([cert.transport, cert.sshAlias], ['auto', 'cert']);
  assert.match(cert.opensshReason ?? '', /CertificateFile/);
  assert.match(cert.opensshReason ?? '', /a host certificate authority for it in .*known_hosts:\d+ \(@cert-authority\)/);
  const plain = JSON.parse((await cli(['--json', 'hosts', 'show', 'plain'])).stdout) as { opensshReason: string | null };
  assert.equal(plain.opensshReason, null, 'a host without certificates stays on the built-in transport');

  const r = await run(['--host', 'cert', '--command', 'echo "cert login as $(id -un)"']);
  assert.equal(r.status, 'succeeded', JSON.stringify(r.error));
  assert.deepEqual([r.mode, r.transport], ['runner', 'openssh']);
  const out = await cli(['run', '--host', 'cert', '--mode', 'direct', '--command', 'echo "cert login as $(id -un)"']);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `cert login as ${ws!.fleet.host('cert').user}\n`);
  const pinned = JSON.parse((await cli(['--json', 'hosts', 'show', 'cert'])).stdout) as Record<string, unknown>;
  assert.ok(pinned, 'the host is still there');
});

test('diagnose names the host certificate and its CA, and the user certificate with its principals and validity', async () => {
  const r = await cli(['--json', 'diagnose', 'cert']);
  const checks = new Map((JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks.map((c) => [c.id, c]));
  assert.equal(checks.get('tcp')?.detail, 'connected to cert by your own ssh (its ControlMaster)');
  assert.equal(checks.get('ssh')?.status, 'pass');
  assert.match(checks.get('ssh')!.detail, /through your own ssh.*host certificate ID "cronium-fleet host cert" serial 0, signed by CA ssh-ed25519 SHA256:\S+, valid from \S+ to \S+, trusted by an @cert-authority line/);
  assert.match(checks.get('auth')!.detail, new RegExp(`certificate ED25519-CERT SHA256:\\S+ \\(.*ID "cronium-fleet crf-cert", principals ${ws!.fleet.host('cert').user}, valid from \\S+ to \\S+\\)`));
  assert.equal(checks.get('runner')?.status, 'pass');
  assert.equal(checks.get('sftp')?.status, 'pass');
});

test('the built-in transport, which has no certificates, cannot reach the host; back on auto it can', async () => {
  assert.equal((await cli(['hosts', 'set', 'cert', '--transport', 'builtin'])).code, 0);
  const r = await run(['--host', 'cert', '--command', 'true']);
  assert.equal(r.status, 'failed');
  assert.match(r.error?.code ?? '', /HOST_KEY_UNKNOWN|AUTH_FAILED/);
  assert.equal((await cli(['hosts', 'set', 'cert', '--transport', 'auto'])).code, 0);
  assert.equal((await run(['--host', 'cert', '--command', 'true'])).status, 'succeeded');
  const bad = await cli(['hosts', 'set', 'cert', '--transport', 'telnet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--transport/);
});

test('a revoked host key and an expired user certificate are refused as ssh refuses them', async () => {
  const h = ws!.fleet.host('cert');
  const known = join(ws!.fleet.dir, 'known_hosts');
  const before = readFileSync(known, 'utf8');
  appendFileSync(known, `@revoked * ${h.hostPublicKey}\n`);
  try {
    const r = await run(['--host', 'cert', '--command', 'true']);
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'HOST_KEY_MISMATCH');
    assert.match(r.error?.message ?? '', /is marked @revoked/);
  } finally {
    writeFileSync(known, before);
  }
  const certFile = h.certificateFile!;
  const saved = `${certFile}.saved`;
  copyFileSync(certFile, saved);
  try {
    const key = certFile.replace(/-cert\.pub$/, '.pub');
    execFileSync('ssh-keygen', ['-q', '-s', join(ws!.fleet.dir, 'hosts', 'cert', 'user_ca'), '-I', 'expired', '-n', h.user, '-V', '20200101:20200102', key]);
    const r = await run(['--host', 'cert', '--command', 'true']);
    assert.equal(r.status, 'failed');
    assert.equal(r.error?.code, 'AUTH_FAILED');
  } finally {
    copyFileSync(saved, certFile);
  }
  assert.equal((await run(['--host', 'cert', '--command', 'true'])).status, 'succeeded');
});

test("a host CA trusted in Cronium's own store vouches for the host when no known_hosts line does; removed, it no longer does", async () => {
  const known = join(ws!.fleet.dir, 'known_hosts');
  const before = readFileSync(known, 'utf8');
  writeFileSync(known, before.split('\n').filter((l) => !l.startsWith('@cert-authority')).join('\n'));
  try {
    const bare = await run(['--host', 'cert', '--command', 'true']);
    assert.equal(bare.status, 'failed');
    assert.equal(bare.error?.code, 'HOST_KEY_UNKNOWN');
    const bad = await cli(['hosts', 'ca', 'add', join(ws!.fleet.dir, 'hosts', 'cert', 'host_ca.pub'), '--hosts', 'a b']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid --hosts/);
    const added = await cli(['--json', 'hosts', 'ca', 'add', join(ws!.fleet.dir, 'hosts', 'cert', 'host_ca.pub'), '--hosts', `127.${SUBNET}.*`]);
    assert.equal(added.code, 0, added.stderr);
    const ca = JSON.parse(added.stdout) as { id: number; fingerprint: string };
    assert.match(ca.fingerprint, /^SHA256:/);
    const listed = JSON.parse((await cli(['--json', 'hosts', 'ca', 'list'])).stdout) as { id: number }[];
    assert.deepEqual(listed.map((c) => c.id), [ca.id]);
    const r = await run(['--host', 'cert', '--command', 'true']);
    assert.deepEqual([r.status, r.transport], ['succeeded', 'openssh'], JSON.stringify(r.error));
    assert.equal((await cli(['hosts', 'ca', 'rm', String(ca.id)])).code, 0);
    assert.equal((await run(['--host', 'cert', '--command', 'true'])).error?.code, 'HOST_KEY_UNKNOWN');
  } finally {
    writeFileSync(known, before);
  }
});

test('a plain host set to --transport openssh runs in both modes through your own ssh', async () => {
  assert.equal((await cli(['hosts', 'set', 'plain', '--transport', 'openssh'])).code, 0);
  for (const mode of ['runner', 'direct']) {
    const r = await run(['--host', 'plain', '--mode', mode, '--command', 'echo ok']);
    assert.equal(r.status, 'succeeded', `${mode}: ${JSON.stringify(r.error)}`);
    assert.equal(r.transport, 'openssh');
  }
  assert.equal((await cli(['hosts', 'set', 'plain', '--transport', 'builtin'])).code, 0);
  const b = await run(['--host', 'plain', '--command', 'true']);
  assert.equal(b.transport, 'builtin');
});

test("the built-in transport honours the settings carried from ssh_config: the host's own known_hosts file, IdentitiesOnly", async () => {
  // The fleet's ssh_config names its own known_hosts (UserKnownHostsFile) and IdentitiesOnly yes.
  const plain = JSON.parse((await cli(['--json', 'hosts', 'show', 'plain'])).stdout) as { sshOptions: { knownHostsFiles?: string[] } | null; useAgent: boolean };
  assert.deepEqual(plain.sshOptions?.knownHostsFiles, [join(ws!.fleet.dir, 'known_hosts')]);
  assert.equal(plain.useAgent, false, 'IdentitiesOnly yes: no agent keys');
  // With nothing in ~/.ssh/known_hosts and nothing pinned, the carried file is what vouches for the host.
  writeFileSync(join(ws!.home, '.ssh', 'known_hosts'), '');
  const r = await run(['--host', 'plain', '--mode', 'direct', '--command', 'true']);
  assert.deepEqual([r.status, r.transport], ['succeeded', 'builtin'], JSON.stringify(r.error));
  const shown = await cli(['hosts', 'show', 'plain']);
  assert.match(shown.stdout, /known_hosts +.*known_hosts/);
});

test("execStream through your own ssh: done settles only after the last chunk's callback has", async () => {
  const h = ws!.fleet.host('plain');
  const dir = mkdtempSync(join(tmpdir(), 'cronium-openssh-stream-'));
  const pool = new OpenSshPool({ dir, pinned: async () => [h.hostPublicKey] });
  try {
    await assertDoneWaitsForSlowReader(await pool.connect({ name: 'plain', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, jumps: [] }));
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
