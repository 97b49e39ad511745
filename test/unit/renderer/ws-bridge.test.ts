/**
 * The renderer's WebSocket bridge against the real headless server: queued calls,
 * events, a lost connection rejecting in-flight calls, and reconnection. Node 20 has
 * no WebSocket global, so the `ws` package's client (same onopen/onmessage/onclose
 * interface) stands in for the browser's; the browser itself is covered by test/e2e.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket as WsClient } from 'ws';
import { createApi, ConnectionLostError } from '../../../renderer/api';
import { createWsBridge } from '../../../renderer/api/ws-bridge';
import { openCore } from '../../../electron/core/core';
import { startHeadlessServer } from '../../../electron/cli/headless-server';
import { tempDir } from '../../helpers/temp';

test('calls queue until open, events arrive, a restart is survived', async (t) => {
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  const staticDir = tempDir(t);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html>');
  const token = 'test-token-0123456789';
  let server = await startHeadlessServer({ core, staticDir, port: 0, token });
  const port = server.port;
  t.after(() => server.close());

  const { bridge, connection, close } = createWsBridge(`ws://127.0.0.1:${port}/api`, {
    createSocket: (url) => new WsClient(url, { headers: { Authorization: `Bearer ${token}` } }) as unknown as WebSocket,
    backoff: () => 50,
  });
  t.after(close);
  const api = createApi(bridge);
  const events: unknown[] = [];
  api.on('hosts.changed', (p) => events.push(p));

  // Sent before the socket is open: queued, then delivered.
  const added = await api.hosts.add({ name: 'q1', address: '127.0.0.1' });
  assert.equal(added.name, 'q1');
  assert.equal(connection.get().status, 'open');
  assert.equal(connection.get().serverVersion, core.info.version);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events, [{ change: 'added', name: 'q1' }]);
  await assert.rejects(api.hosts.get({ name: 'nope' }), (e: unknown) => (e as { code?: string }).code === 'NOT_FOUND');

  // The server goes away: the bridge notices and reconnects when it is back.
  await server.close();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(connection.get().status, 'reconnecting');
  await assert.rejects(
    Promise.race([api.hosts.list(), new Promise((_, rej) => setTimeout(() => rej(new ConnectionLostError('timeout')), 300))]),
    ConnectionLostError,
  );
  server = await startHeadlessServer({ core, staticDir, port, token });
  const list = await api.hosts.list();
  assert.deepEqual(list.map((h) => h.name), ['q1']);
  assert.ok(connection.get().opened >= 2);
});
