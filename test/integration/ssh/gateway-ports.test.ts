// An sshd with `GatewayPorts yes` binds remote forwards on every address whatever the client
// asks. The fleet runs it in its loopback-only network namespace (so "every address" is
// loopback there, per the network rule), reached through a bridge. A run's helpers must not
// use such a tunnel (they go in-band over the runner's channel) and diagnose must say why.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { listenersOn } from '../../../electron/core/ssh/forward-exposure';
import { cronium } from '../../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../../helpers/workspace';

// Other integration suites use 201-230 and 242.
const SUBNET = 231;
const ctx = { door: 'cli' as const };
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspaceWithHosts('gateway-ports', { subnet: SUBNET, hosts: [{ name: 'gw', profile: 'gatewayports' }, { name: 'plain', profile: 'default' }] });
});
after(async () => {
  await ws?.stop();
});

test('listenersOn reads /proc/net/tcp and tcp6 as the kernel writes them', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:A3C1 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0',
    '   1: 00000000:A3C2 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1 0 100 0 0 10 0',
    '   2: 0100007F:A3C2 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0 100 0 0 10 0',
    '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000000000000:A3C2 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4 1 0 100 0 0 10 0',
    '   1: 00000000000000000000000001000000:A3C1 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5 1 0 100 0 0 10 0',
  ].join('\n');
  assert.deepEqual(listenersOn(text, 0xa3c1), ['127.0.0.1', '::1']);
  assert.deepEqual(listenersOn(text, 0xa3c2), ['0.0.0.0', '::'], 'the established connection on the port is not a listener');
});

test('on a GatewayPorts host, helpers go in-band and the run says why; diagnose warns with the fix; a plain host keeps the tunnel', async () => {
  const w = ws!;
  const r = await cronium(['--data-dir', w.dataDir, 'run', '--host', 'gw', '--host', 'plain', '--command', 'cronium output \'{"ok":1}\'', '--interpreter', 'sh', '--mode', 'runner', '--json'], { env: w.env });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { runId: number; host: string; status: string; output: unknown });
  for (const row of rows) {
    assert.equal(row.status, 'succeeded', JSON.stringify(row));
    assert.deepEqual(row.output, { ok: 1 }, row.host);
  }
  const core = w.open();
  try {
    const transport = (host: string) => core.store.sqlite.prepare('select helper_transport from runs where host_name = ? order by id desc').pluck().get(host);
    assert.equal(transport('gw'), 'in-band');
    assert.equal(transport('plain'), 'tunnel');
    const gwRun = rows.find((x) => x.host === 'gw')!;
    const page = await call(core.dispatch, 'runs.logs', { runId: gwRun.runId, limit: 10_000 }, ctx);
    const log = page.chunks.map((c) => Buffer.from(c.data, 'base64').toString('utf8')).join('');
    assert.match(log, /binds forwarded ports on .*GatewayPorts yes/, log);

    const report = await call(core.dispatch, 'hosts.diagnose', { name: 'gw' }, ctx);
    const fwd = report.checks.find((c) => c.id === 'forwarding')!;
    assert.equal(fwd.status, 'warn', fwd.detail);
    assert.match(fwd.detail, /GatewayPorts yes/);
    assert.match(fwd.hint ?? '', /set GatewayPorts no/);
    const plain = (await call(core.dispatch, 'hosts.diagnose', { name: 'plain' }, ctx)).checks.find((c) => c.id === 'forwarding')!;
    assert.equal(plain.status, 'pass', plain.detail);
  } finally {
    core.close();
  }
});
