// Faults: peers that are not well-behaved SSH servers, on loopback ports of this test: one that
// accepts TCP and never speaks, one that stalls after its banner (mid-handshake), one that sends
// 100 MB of pre-banner lines. Each run must end within the connect timeout (10 s) plus margin,
// as a failed run with a stable code and a hint, with nothing left running.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { cronium } from '../helpers/cli';

const servers: Server[] = [];
const sockets = new Set<Socket>();
let dataDir = '';

async function peer(onConnection: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConnection(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

before(async () => {
  dataDir = join(mkdtempSync(join(tmpdir(), 'cronium-faults-')), 'data');
  const silent = await peer(() => undefined);
  const stall = await peer((s) => s.write('SSH-2.0-OpenSSH_9.2\r\n'));
  const flood = await peer((s) => {
    let sent = 0;
    const line = Buffer.alloc(64 * 1024, 'x');
    const push = () => {
      while (sent < 100 * 1024 * 1024 && s.writable) {
        sent += line.length;
        if (!s.write(line)) return void s.once('drain', push);
      }
    };
    push();
  });
  for (const [name, port] of [['silent', silent], ['stall', stall], ['flood', flood]] as const) {
    const r = await cronium(['--data-dir', dataDir, 'hosts', 'add', name, '--address', '127.0.0.1', '--port', String(port), '--user', 'nobody', '--no-agent']);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
  rmSync(join(dataDir, '..'), { recursive: true, force: true });
});

test('a silent peer, a stalled handshake and a 100 MB banner each end as a coded failure, in bounded time and memory', async () => {
  const started = Date.now();
  const r = await cronium(['--data-dir', dataDir, '--json', 'run', '--host', 'silent', '--host', 'stall', '--host', 'flood', '--mode', 'direct', '--command', 'true'], { env: { ...process.env, CRONIUM_USE_APP: 'never' } });
  const took = Date.now() - started;
  assert.equal(r.code, 1, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string; error: { code: string; hint?: string } | null });
  for (const row of rows) {
    assert.equal(row.status, 'failed', JSON.stringify(row));
    assert.ok(['CONNECT_TIMEOUT', 'CONNECT_FAILED'].includes(row.error?.code ?? ''), JSON.stringify(row));
    assert.ok(row.error?.hint, `${row.host}: no hint`);
  }
  assert.deepEqual(rows.map((x) => x.host).sort(), ['flood', 'silent', 'stall']);
  assert.ok(took < 60_000, `the job took ${took} ms`);
  const stuck = await cronium(['--data-dir', dataDir, '--json', 'jobs', 'list', '--status', 'running']);
  assert.deepEqual(JSON.parse(stuck.stdout), [], 'nothing is left running');
});
