// Attack: a web page on another loopback port (any local dev server, or a page an attacker got
// you to open) tries to drive `cronium serve` from your browser, in real Chromium, after you
// opened the app in that browser (so its token cookie is set). Ports do not separate sites, so
// the browser sends the cookie; the door must still refuse: a WebSocket from a foreign Origin,
// a form POST, and reading any response cross-origin. Nothing may change in the store.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { cliIn, launchChromium, prepare, startServe, type Serve } from '../e2e/harness';

let serve: Serve | undefined;
let evil: Server | undefined;
let browser: Browser | undefined;
let dataDir = '';

before(async () => {
  dataDir = await prepare('cronium-csrf-');
  serve = await startServe(dataDir);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  evil?.close();
  await serve?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('a page on another loopback port cannot use the app, even with its cookie in the browser', async () => {
  const s = serve!;
  // The attacker's page: tries a WebSocket call that would add a host, a cross-origin read, a form POST.
  const page = `<!doctype html><script>
    window.results = {};
    const ws = new WebSocket('ws://127.0.0.1:${s.port}/api');
    ws.onopen = () => { window.results.ws = 'open'; ws.send(JSON.stringify({ id: 1, method: 'hosts.add', args: { name: 'pwned', address: '127.0.0.9' } })); };
    ws.onmessage = (m) => { window.results.wsMessage = String(m.data).slice(0, 200); };
    ws.onerror = () => { window.results.ws = window.results.ws || 'error'; };
    ws.onclose = () => { window.results.wsClosed = true; };
    fetch('http://127.0.0.1:${s.port}/', { credentials: 'include' }).then((r) => r.text()).then((t) => { window.results.read = t.slice(0, 100); }, () => { window.results.read = 'blocked'; });
  </script><form id="f" method="POST" action="http://127.0.0.1:${s.port}/api"><input name="method" value="hosts.add"></form>`;
  evil = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page);
  });
  await new Promise<void>((r) => evil!.listen(0, '127.0.0.1', r));
  const evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`;

  const context = await browser!.newContext();
  const tab = await context.newPage();
  await tab.goto(s.url); // the user opened the app: the token cookie is set for 127.0.0.1
  assert.ok((await context.cookies()).some((c) => c.name === `cronium_token_${s.port}`), 'the cookie is in the browser');
  const attacker = await context.newPage();
  await attacker.goto(evilUrl);
  await attacker.waitForFunction(() => {
    const r = (globalThis as unknown as { results: Record<string, unknown> }).results;
    return r.read !== undefined && (r.ws === 'error' || r.wsClosed === true || r.wsMessage !== undefined);
  }, undefined, { timeout: 15_000 });
  const results = await attacker.evaluate(() => (globalThis as unknown as { results: Record<string, unknown> }).results);
  assert.notEqual(results.ws, 'open', `the WebSocket opened from a foreign origin: ${JSON.stringify(results)}`);
  assert.equal(results.wsMessage, undefined);
  assert.equal(results.read, 'blocked', 'a cross-origin read must fail');
  const post = await attacker.evaluate(async (url) => {
    try {
      const r = await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', body: 'method=hosts.add' });
      return r.type;
    } catch {
      return 'error';
    }
  }, `http://127.0.0.1:${s.port}/api`);
  assert.ok(['opaque', 'error'].includes(post), post);
  await context.close();
  const hosts = JSON.parse((await cliIn(dataDir)('hosts', 'list', '--json')).stdout) as { name: string }[];
  assert.deepEqual(hosts, [], 'nothing was added');
});
