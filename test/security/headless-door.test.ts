// Attack: the headless door (`cronium serve`'s HTTP and WebSocket server), as another local
// user or a web page would attack it: path traversal with and without the token, a flood of
// parallel connections with wrong and right tokens, and a slow client that never finishes its
// headers. Each must be refused or answered within bounds, and the server must keep serving.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { openCore } from '../../electron/core/core';
import { HEADERS_TIMEOUT_MS, startHeadlessServer, type HeadlessServer } from '../../electron/cli/headless-server';
import { tempDir } from '../helpers/temp';

async function door(t: TestContext): Promise<HeadlessServer> {
  const dir = tempDir(t);
  const core = openCore({ dataDir: join(dir, 'data'), door: 'headless', ssh: { knownHostsFiles: [], agentSocket: null } });
  t.after(() => core.close());
  const staticDir = tempDir(t);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Cronium</title>');
  const server = await startHeadlessServer({ core, staticDir, port: 0 });
  t.after(() => server.close());
  return server;
}

/** Raw request; resolves to the response text (or '' when the server closed without one). */
function raw(port: number, text: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    s.setTimeout(timeoutMs, () => s.destroy());
  });
}

test('path traversal, encoded or not, never leaves the UI folder', async (t) => {
  const server = await door(t);
  const host = `Host: 127.0.0.1:${server.port}`;
  for (const path of ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/assets/..%5c..%5c..%5cetc%5cpasswd', '/%252e%252e/etc/passwd', '//etc/passwd']) {
    const r = await raw(server.port, `GET ${path}?token=${server.token} HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
    assert.ok(!r.includes('root:x:0:0'), `${path} served /etc/passwd`);
    assert.match(r, /^HTTP\/1\.1 (200|400|403|404)/, `${path}: ${r.split('\r\n')[0]}`);
    const bare = await raw(server.port, `GET ${path} HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`);
    assert.match(bare, /^HTTP\/1\.1 (400|401|403)/, `${path} without the token: ${bare.split('\r\n')[0]}`);
  }
});

test('500 parallel WebSockets: wrong tokens refused, right ones answered, all within bounds', async (t) => {
  const server = await door(t);
  const open = (token: string) =>
    new Promise<'refused' | 'answered'>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=${token}`);
      const timer = setTimeout(() => reject(new Error('no answer within 20 s')), 20_000);
      ws.on('unexpected-response', () => {
        clearTimeout(timer);
        resolve('refused');
      });
      ws.on('error', () => undefined);
      ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'hosts.list', args: {} })));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString()) as { type: string; ok?: boolean };
        if (m.type !== 'reply') return;
        clearTimeout(timer);
        ws.close();
        resolve(m.ok ? 'answered' : 'refused');
      });
    });
  const results = await Promise.all(Array.from({ length: 500 }, (_, i) => open(i % 2 ? server.token : `wrong-${i}`)));
  assert.equal(results.filter((r, i) => (i % 2 ? r === 'answered' : r === 'refused')).length, 500, JSON.stringify(results.slice(0, 10)));
});

test('a client that never finishes its headers is dropped, and the server serves others meanwhile', async (t) => {
  const server = await door(t);
  const started = Date.now();
  const slow = new Promise<number>((resolve) => {
    const s = connect(server.port, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Slow: `));
    const drip = setInterval(() => s.write('a'), 500);
    s.on('close', () => {
      clearInterval(drip);
      resolve(Date.now() - started);
    });
    s.on('error', () => undefined);
  });
  const r = await fetch(server.url);
  assert.equal(r.status, 200, 'served while the slow client drips');
  const heldMs = await slow;
  assert.ok(heldMs >= HEADERS_TIMEOUT_MS - 1000 && heldMs < HEADERS_TIMEOUT_MS + 20_000, `dropped after ${heldMs} ms`);
});
