/**
 * Schedule health end to end (Debian's Chromium against the real `cronium serve`, a real sshd of
 * the test fleet, subnet 113, a webhook receiver on 127.0.0.1): a per-second schedule whose
 * script fails turns failing after two jobs; serve's alert dispatcher POSTs it to the receiver;
 * `cronium schedules health` says so; the Schedules view shows it, its masked webhook and its
 * last delivery, and "Send test alert" reaches the receiver. Then the script is fixed (a saved
 * script) and the next success recovers the schedule.
 * Needs a build, resources/runner, root (the fleet's addresses) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../fleet/fleet';
import { cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve } from './harness';

let dataDir = '';
let fleet: Fleet | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let receiver: Server | null = null;
let hookUrl = '';
const got: { event?: string; schedule?: string; reason?: string }[] = [];

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

before(async () => {
  dataDir = await prepare('cronium-e2e-health-');
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body) as (typeof got)[number]);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts/secret-token`;
  fleet = await startFleet({ subnet: 113, hosts: [{ name: 'web', profile: 'default' }] });
  const h = fleet.host('web');
  for (const args of [
    ['hosts', 'add', 'web', '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!],
    ['hosts', 'trust', 'web', '--fingerprint', h.hostKeyFingerprint],
  ]) {
    const r = await cronium(...args);
    assert.equal(r.code, 0, r.stderr);
  }
  const scriptFile = join(dataDir, 'check.sh');
  await writeFile(scriptFile, 'echo checking; exit 3\n');
  for (const args of [
    ['scripts', 'save', 'check', '--file', scriptFile],
    ['schedules', 'add', 'every-second', '--cron', '* * * * * *', '--host', 'web', '--script-name', 'check', '--mode', 'direct'],
    ['schedules', 'set', 'every-second', '--failing-after', '2', '--webhook', hookUrl],
  ]) {
    const r = await cronium(...args);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await startServe(dataDir);
  browser = await launchChromium();
  page = (await trackedPage(browser, { viewport: { width: 1200, height: 1000 }, timeoutMs: 15_000 })).page;
  await page.goto(server.url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('a failing schedule is alerted by webhook, shown by the CLI and the Schedules view; the test alert reaches the receiver; a success recovers it', async () => {
  await eventually(async () => assert.ok(got.some((g) => g.event === 'failing' && g.schedule === 'every-second'), JSON.stringify(got)), 30_000);
  const failing = got.find((g) => g.event === 'failing')!;
  assert.match(failing.reason!, /its last 2 jobs failed/);

  const table = await cronium('schedules', 'health');
  assert.match(table.stdout, /every-second\s+failing/);
  const json = JSON.parse((await cronium('--json', 'schedules', 'health')).stdout) as { webhooks: { url: string }[] }[];
  assert.equal(json[0]!.webhooks[0]!.url, `${new URL(hookUrl).origin}/***`, 'the webhook URL is masked');

  const p = page!;
  await p.evaluate('location.hash = "#schedules"');
  const card = p.getByRole('listitem', { name: 'every-second' });
  await card.waitFor();
  await eventually(async () => assert.match(await card.getByRole('region', { name: 'Health' }).innerText(), /failing[\s\S]*its last 2 jobs failed/), 15_000);
  assert.ok(!(await p.content()).includes('secret-token'), 'the webhook URL never reaches the page');
  const before = got.length;
  await card.getByRole('button', { name: 'Send test alert' }).click();
  await card.getByText(/delivered \(HTTP 204\)/).waitFor();
  await eventually(async () => assert.ok(got.slice(before).some((g) => g.event === 'test')));

  // Fixed: the next job succeeds, the schedule recovers and says so.
  const fixed = join(dataDir, 'fixed.sh');
  await writeFile(fixed, 'echo all good\n');
  const saved = await cronium('scripts', 'save', 'check', '--file', fixed);
  assert.equal(saved.code, 0, saved.stderr);
  await eventually(async () => assert.ok(got.some((g) => g.event === 'recovered'), JSON.stringify(got.map((g) => g.event))), 30_000);
  await eventually(async () => assert.match(await card.getByRole('region', { name: 'Health' }).innerText(), /\bok\b/), 15_000);
  const events = await cronium('schedules', 'events', 'every-second');
  assert.match(events.stdout, /recovered/);
  assert.match(events.stdout, /failing/);
  const pause = await cronium('schedules', 'pause', 'every-second');
  assert.equal(pause.code, 0, pause.stderr);
});
