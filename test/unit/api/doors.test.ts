/**
 * Both doors serve the whole contract: every method has a handler in the desktop door
 * (IPC) and the headless door (WebSocket), invalid arguments are refused with
 * INVALID_INPUT in both, and each door's guard (sender check, token) holds.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { openCore, type Core } from '../../../electron/core/core';
import { startHeadlessServer, type HeadlessServer } from '../../../electron/cli/headless-server';
import { bindIpc, ownWindowOnly, type IpcMainLike, type InvokeEventLike } from '../../../electron/main/ipc';
import { buildBridge } from '../../../electron/preload/bridge';
import { IPC_INVOKE_CHANNEL, METHOD_NAMES, methods, splitMethod, type Envelope } from '../../../electron/shared/api';
import { tempDir } from '../../helpers/temp';

/** Arguments that every method must refuse: an unknown key (all argument objects are strict). */
const BOGUS = { __bogus__: true };

function open(t: TestContext): Core {
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  return core;
}

/**
 * Electron's ipcMain cannot run here (no Electron binary): this stand-in records the
 * handler that bindIpc registers so that the test can invoke it as Electron would.
 */
class FakeIpcMain implements IpcMainLike {
  handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown) {
    assert.ok(!this.handlers.has(channel), 'one handler per channel');
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string) {
    this.handlers.delete(channel);
  }
}

const APP = 'cronium-app://app';
const ownEvent: InvokeEventLike = { sender: { id: 7 }, senderFrame: { url: `${APP}/index.html`, parent: null } };

function desktopDoor(core: Core) {
  const ipc = new FakeIpcMain();
  bindIpc(ipc, core.dispatch, ownWindowOnly(() => 7, APP));
  const handler = ipc.handlers.get(IPC_INVOKE_CHANNEL);
  assert.ok(handler);
  return {
    ipc,
    invoke: (method: string, args: unknown, event = ownEvent) => Promise.resolve(handler(event, method, args)) as Promise<Envelope<unknown>>,
  };
}

async function headlessDoor(t: TestContext, core: Core): Promise<HeadlessServer> {
  const staticDir = tempDir(t);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Cronium</title>');
  const server = await startHeadlessServer({ core, staticDir, port: 0 });
  t.after(() => server.close());
  return server;
}

/** A WebSocket client of the headless door that correlates replies by id. */
async function wsClient(t: TestContext, server: HeadlessServer) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api?token=${server.token}`);
  t.after(() => ws.terminate());
  const replies = new Map<number, (m: Envelope<unknown>) => void>();
  const events: unknown[] = [];
  let hello: { methods: string[] } | undefined;
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type === 'hello') hello = msg;
    if (msg.type === 'event') events.push(msg);
    if (msg.type === 'reply') replies.get(msg.id)?.(msg);
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  let next = 1;
  return {
    ws,
    events,
    hello: () => hello,
    call(method: string, args: unknown): Promise<Envelope<unknown>> {
      const id = next++;
      return new Promise((resolve) => {
        replies.set(id, resolve);
        ws.send(JSON.stringify({ id, method, args }));
      });
    },
    raw(text: string): Promise<Envelope<unknown>> {
      return new Promise((resolve) => {
        replies.set(0, resolve);
        ws.send(text);
      });
    },
  };
}

test('every contract method refuses bad arguments with INVALID_INPUT (schemas are strict)', () => {
  for (const name of METHOD_NAMES) {
    assert.equal(methods[name].args.safeParse(BOGUS).success, false, `${name} accepts unknown keys`);
    assert.equal(methods[name].args.safeParse('a string').success, false, `${name} accepts a string`);
  }
});

test('desktop door: every method has a handler; bad arguments get INVALID_INPUT', async (t) => {
  const core = open(t);
  const door = desktopDoor(core);
  for (const name of METHOD_NAMES) {
    const bad = await door.invoke(name, BOGUS);
    assert.equal(bad.ok, false, name);
    assert.equal(!bad.ok && bad.error.code, 'INVALID_INPUT', name);
    assert.doesNotMatch(!bad.ok ? bad.error.message : '', /unknown method/, name);
  }
  const unknown = await door.invoke('hosts.frobnicate', {});
  assert.equal(!unknown.ok && unknown.error.code, 'INVALID_INPUT');
  assert.match(!unknown.ok ? unknown.error.message : '', /unknown method/);
  const proto = await door.invoke('constructor', {});
  assert.equal(!proto.ok && proto.error.code, 'INVALID_INPUT', 'prototype members are not methods');
  const added = await door.invoke('hosts.add', { name: 'a1', address: '127.0.0.1' });
  assert.equal(added.ok, true);
  const info = await door.invoke('app.info', undefined);
  assert.equal(info.ok && (info.result as { door: string }).door, 'desktop');
});

test('desktop door: IPC from anything but our window\'s top frame is refused', async (t) => {
  const core = open(t);
  const door = desktopDoor(core);
  const cases: InvokeEventLike[] = [
    { sender: { id: 8 }, senderFrame: ownEvent.senderFrame },
    { sender: { id: 7 }, senderFrame: { url: 'https://evil.example/', parent: null } },
    { sender: { id: 7 }, senderFrame: { url: `${APP}/index.html`, parent: {} } },
    { sender: { id: 7 }, senderFrame: null },
  ];
  for (const event of cases) {
    const r = await door.invoke('hosts.add', { name: 'x', address: 'a' }, event);
    assert.equal(!r.ok && r.error.code, 'UNAUTHORIZED');
  }
  assert.equal((await core.hosts.list()).length, 0, 'nothing reached the core');
});

test('the preload bridge exposes exactly the contract\'s methods', async () => {
  const calls: [string, unknown][] = [];
  const bridge = buildBridge(
    async (m, a) => {
      calls.push([m, a]);
      return { ok: true, result: null };
    },
    () => () => undefined,
  ) as unknown as Record<string, Record<string, (a?: unknown) => Promise<unknown>>>;
  for (const name of METHOD_NAMES) {
    const [group, leaf] = splitMethod(name);
    await bridge[group]![leaf]!({ probe: name });
  }
  assert.deepEqual(calls.map((c) => c[0]), METHOD_NAMES);
  const exposed = Object.entries(bridge).flatMap(([g, v]) => (typeof v === 'function' ? [] : Object.keys(v).map((l) => `${g}.${l}`)));
  assert.deepEqual(exposed.sort(), [...METHOD_NAMES].sort());
});

test('headless door: every method has a handler; bad arguments and messages get INVALID_INPUT', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const client = await wsClient(t, server);
  for (const name of METHOD_NAMES) {
    const bad = await client.call(name, BOGUS);
    assert.equal(!bad.ok && bad.error.code, 'INVALID_INPUT', name);
    assert.doesNotMatch(!bad.ok ? bad.error.message : '', /unknown method/, name);
  }
  assert.deepEqual(client.hello()?.methods, METHOD_NAMES);
  const notJson = await client.raw('{nope');
  assert.equal(!notJson.ok && notJson.error.code, 'INVALID_INPUT');
  const badShape = await client.raw(JSON.stringify({ method: 'hosts.list' }));
  assert.equal(!badShape.ok && badShape.error.code, 'INVALID_INPUT');
  const added = await client.call('hosts.add', { name: 'h1', address: '127.0.0.1', tags: ['prod'] });
  assert.equal(added.ok, true);
  const list = await client.call('hosts.list', {});
  assert.deepEqual(list.ok && (list.result as { name: string }[]).map((h) => h.name), ['h1']);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(client.events, [{ type: 'event', event: 'hosts.changed', payload: { change: 'added', name: 'h1' } }]);
  const info = await client.call('app.info', {});
  assert.equal(info.ok && (info.result as { door: string }).door, 'headless');
});

test('headless door: no token, no page and no socket', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const base = `http://127.0.0.1:${server.port}`;
  assert.equal((await fetch(`${base}/`)).status, 401);
  assert.equal((await fetch(`${base}/?token=wrong`)).status, 401);
  assert.equal((await fetch(`${base}/assets/x.js`)).status, 401);
  assert.equal((await fetch(`${base}/`, { headers: { Cookie: `cronium_token_${server.port}=wrong` } })).status, 401);
  // The URL with the token serves the page (which moves the token to sessionStorage) and sets
  // an HttpOnly cookie named after the port for reloads; the right token under another
  // server's cookie name does not count.
  const first = await fetch(server.url, { redirect: 'manual' });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('referrer-policy'), 'no-referrer');
  const cookie = first.headers.get('set-cookie') ?? '';
  assert.match(cookie, new RegExp(`^cronium_token_${server.port}=`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.equal((await fetch(`${base}/`, { headers: { Cookie: `cronium_token_1=${server.token}` } })).status, 401);
  const page = await fetch(`${base}/`, { headers: { Cookie: cookie.split(';')[0]! } });
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.match(await page.text(), /Cronium/);
  assert.equal((await fetch(`${base}/`, { headers: { Authorization: `Bearer ${server.token}` } })).status, 200);
  // DNS rebinding: a foreign Host header is refused even with the token.
  const rebound = await new Promise<number>((resolve, reject) => {
    // fetch() will not send a foreign Host header, so this one goes through node:http.
    const req = request({ host: '127.0.0.1', port: server.port, path: '/', headers: { Host: 'evil.example', Authorization: `Bearer ${server.token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject).end();
  });
  assert.equal(rebound, 403);

  const refused = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => resolve(-1));
    });
  const wsBase = `ws://127.0.0.1:${server.port}/api`;
  assert.equal(await refused(wsBase), 401);
  assert.equal(await refused(`${wsBase}?token=wrong`), 401);
  const token = cookie.split(';')[0]!;
  assert.equal(await refused(wsBase, { Cookie: token }), 401, 'a cookie alone, without an Origin, is not enough');
  assert.equal(await refused(wsBase, { Cookie: token, Origin: 'https://evil.example' }), 403, 'cross-site WebSocket');
  assert.equal(await refused(wsBase, { Cookie: token, Origin: base }), 101, 'our own page');
  assert.equal(await refused(`${wsBase}?token=${server.token}`), 101);
});

test('headless door: oversized messages close the socket', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const client = await wsClient(t, server);
  const closed = new Promise<number>((resolve) => client.ws.once('close', (code) => resolve(code)));
  client.ws.send(JSON.stringify({ id: 1, method: 'hosts.list', args: { search: 'x'.repeat(17 * 1024 * 1024) } }));
  assert.equal(await closed, 1009, 'closed as too big');
  const again = await wsClient(t, server);
  const list = await again.call('hosts.list', {});
  assert.equal(list.ok, true, 'and keeps serving others');
});

/** Sends raw bytes to the server and returns what it answered (its status line), or '' when it closed without one. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1', () => sock.write(text));
    let got = '';
    sock.on('data', (d) => (got += d.toString()));
    sock.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
    sock.on('error', () => resolve(got.split('\r\n')[0] ?? ''));
    sock.setTimeout(5000, () => sock.destroy());
  });
}

test('headless door: a path new URL cannot parse is refused, before any check, and the server keeps serving', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const host = `Host: 127.0.0.1:${server.port}`;
  // The request an <img src="http://127.0.0.1:PORT//x:99999/"> on any local page sends: no token, no Origin.
  assert.match(await rawHttp(server.port, `GET //x:99999/ HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 400/);
  assert.match(await rawHttp(server.port, `GET //x:99999/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 403/);
  const upgrade = `GET //x:99999/api HTTP/1.1\r\n${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
  assert.match(await rawHttp(server.port, upgrade), /^HTTP\/1\.1 404/);
  assert.match(await rawHttp(server.port, 'GARBAGE\r\n\r\n'), /^(HTTP\/1\.1 400|)$/);
  assert.equal((await fetch(server.url)).status, 200, 'still serving');
});

test('headless door: 5,000-deep JSON is refused with INVALID_INPUT and the server keeps serving', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const client = await wsClient(t, server);
  const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  const reply = await client.raw(`{"id":0,"method":"jobs.run","args":{"hosts":["a"],"command":"true","input":${deep}}}`);
  assert.equal(reply.ok, false);
  assert.equal(!reply.ok && reply.error.code, 'INVALID_INPUT');
  assert.match(!reply.ok ? reply.error.message : '', /deeper than 64 levels/);
  // A deep string is not deep JSON.
  const flat = await client.call('hosts.list', { search: '['.repeat(150) });
  assert.equal(flat.ok, true);
  const list = await client.call('hosts.list', {});
  assert.equal(list.ok, true, 'the same socket keeps serving');
});

test('headless door: the largest script a call may carry fits in one message', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const client = await wsClient(t, server);
  // 1 MiB of characters JSON escapes as \u00XX: six bytes each on the wire.
  const reply = await client.call('jobs.run', { hosts: ['nowhere'], script: '\u0001'.repeat(1024 * 1024) });
  assert.equal(reply.ok, false);
  assert.match(!reply.ok ? reply.error.message : '', /no host named "nowhere"/, 'refused for its unknown host, not cut off as too big');
});

test('headless door: env named __proto__ is refused by name, not dropped', async (t) => {
  const core = open(t);
  const server = await headlessDoor(t, core);
  const client = await wsClient(t, server);
  const reply = await client.raw('{"id":0,"method":"jobs.run","args":{"hosts":["a"],"command":"true","env":{"__proto__":"x"}}}');
  assert.equal(!reply.ok && reply.error.code, 'INVALID_INPUT');
  assert.match(!reply.ok ? reply.error.message : '', /__proto__ is not accepted/);
});
