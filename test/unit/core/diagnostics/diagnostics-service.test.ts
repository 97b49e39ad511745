// Storage, history and failure classification of diagnostics, over a pool that fails on purpose
// (the real checks run against the fleet in test/integration/diagnostics).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore } from '../../../../electron/core/core';
import { DiagnosticsService, REPORTS_KEPT } from '../../../../electron/core/diagnostics/diagnostics-service';
import type { PublicKeyFacts } from '../../../../electron/core/ssh/fingerprint';
import { authFailed, hostKeyUnknown, tcpFailed } from '../../../../electron/core/ssh/ssh-errors';
import type { HostKeyScan, SshPool } from '../../../../electron/core/ssh/types';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

const where = { name: 'web1', address: '127.0.0.1', port: 2222 };
const scan: HostKeyScan = {
  serverIdent: 'SSH-2.0-OpenSSH_9.2p1',
  key: { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'A'.repeat(43)}`, publicKey: 'AAAA' },
  state: 'trusted',
  source: 'pinned',
  tcpConnectMs: 1.5,
  handshakeMs: 20,
};

/** A pool whose connect always fails with `error`. */
function failingPool(error: unknown): SshPool {
  return {
    connect: () => Promise.reject(error),
    scanHostKey: () => Promise.resolve(scan),
    close: () => Promise.resolve(),
  };
}

async function setup(t: TestContext, error: unknown) {
  const core = openCore({ dataDir: tempDir(t), door: 'cli', ssh: { agentSocket: null, knownHostsFiles: [] } });
  t.after(() => core.close());
  await call(core.dispatch, 'hosts.add', { name: 'web1', address: '127.0.0.1', port: 2222 }, { door: 'cli' });
  return { core, service: new DiagnosticsService({ store: core.store.data, pool: failingPool(error), resolve: (n) => core.hosts.sshTarget(n) }) };
}

const statuses = (r: { checks: { id: string; status: string }[] }) => Object.fromEntries(r.checks.map((c) => [c.id, c.status]));

test('a refused TCP connect is a stored report with tcp failed, later checks not checked, never an exception', async (t) => {
  const refused = tcpFailed(where, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  const { service } = await setup(t, refused);
  const r = await service.diagnose('web1');
  assert.equal(r.status, 'fail');
  assert.deepEqual(statuses(r), {
    dns: 'pass', tcp: 'fail', ssh: 'warn', auth: 'warn', 'shell-noise': 'warn', platform: 'warn', interpreters: 'warn',
    cache: 'warn', sftp: 'warn', forwarding: 'warn', clock: 'warn', elevation: 'pass', runner: 'pass',
  });
  const tcp = r.checks.find((c) => c.id === 'tcp')!;
  assert.equal(tcp.data?.code, 'CONNECT_FAILED');
  assert.match(tcp.detail, /connection refused/);
  assert.ok(tcp.hint);
  assert.deepEqual((await service.list('web1', 5)).map((x) => x.id), [r.id]);
});

test('AUTH_FAILED: tcp and ssh pass (measured by a host-key scan), auth fails with what was offered and tried', async (t) => {
  const { service } = await setup(t, authFailed(where, 'deploy', ['publickey', 'password'], [{ method: 'publickey', ok: false, detail: 'key ~/.ssh/id' }], []));
  const r = await service.diagnose('web1');
  const by = Object.fromEntries(r.checks.map((c) => [c.id, c]));
  assert.equal(by.tcp!.status, 'pass');
  assert.match(by.tcp!.detail, /connected in 1\.5 ms/);
  assert.equal(by.ssh!.status, 'pass');
  assert.match(by.ssh!.detail, /^SSH-2\.0-OpenSSH_9\.2p1; host key ssh-ed25519 SHA256:A+ trusted \(pinned\)$/);
  assert.equal(by.auth!.status, 'fail');
  assert.match(by.auth!.detail, /offers publickey, password; tried publickey \(key ~\/\.ssh\/id\)/);
  assert.equal(by['shell-noise']!.detail, 'not checked: not logged in');
});

test('HOST_KEY_UNKNOWN fails the ssh check with the fingerprint and the trust hint', async (t) => {
  const key: PublicKeyFacts = { algorithm: 'ssh-ed25519', fingerprint: `SHA256:${'B'.repeat(43)}`, publicKey: 'ssh-ed25519 AAAA', blob: Buffer.alloc(0) };
  const { service } = await setup(t, hostKeyUnknown(where, key));
  const r = await service.diagnose('web1');
  const ssh = r.checks.find((c) => c.id === 'ssh')!;
  assert.equal(ssh.status, 'fail');
  assert.ok(ssh.detail.includes(key.fingerprint));
  assert.match(ssh.hint!, /cronium hosts trust web1/);
  assert.equal(r.checks.find((c) => c.id === 'auth')!.detail, 'not checked: the host key is not trusted');
});

test('history is newest first and bounded per host; unknown hosts are NOT_FOUND', async (t) => {
  const { core, service } = await setup(t, new CroniumError('CONNECT_FAILED', 'refused', undefined, { phase: 'tcp' }));
  const ids: number[] = [];
  for (let i = 0; i < REPORTS_KEPT + 3; i++) ids.push((await service.diagnose('web1')).id!);
  const list = await service.list('web1', 500);
  assert.equal(list.length, REPORTS_KEPT);
  assert.deepEqual(list.map((r) => r.id), ids.slice(-REPORTS_KEPT).reverse());
  assert.equal((await service.list('web1', 2)).length, 2);
  await assert.rejects(service.list('nope', 5), (e: unknown) => e instanceof CroniumError && e.code === 'NOT_FOUND');
  await assert.rejects(service.diagnose('nope'), (e: unknown) => e instanceof CroniumError && e.code === 'NOT_FOUND');
  // The API door validates its arguments like every method.
  await assert.rejects(call(core.dispatch, 'diagnostics.list', { name: 'web1', limit: 0 }, { door: 'cli' }), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT');
});
