/**
 * The headless door end to end: the real CLI fills a data dir, the real `cronium serve`
 * serves it, and Debian's Chromium (never a downloaded browser) drives the Hosts view.
 * Needs a build (`npm run build`): it runs dist/, it does not build it.
 * Screenshots go to test/e2e/artifacts/ for a human to look at.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import WebSocket from 'ws';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve, hideMachinePaths } from './harness';

let dataDir = '';
let server: Serve | null = null;
let url = '';
let origin = '';
let browser: Browser | null = null;
let context: BrowserContext | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];

/** Runs the real CLI against the test's data dir. */
function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

/** Hosts as the CLI lists them. */
async function cliHosts(): Promise<{ name: string; address: string; port: number; user: string | null; group: string | null; tags: string[] }[]> {
  const r = await cronium('hosts', 'list', '--json');
  assert.equal(r.code, 0, `hosts list failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { name: string; address: string; port: number; user: string | null; group: string | null; tags: string[] }[];
}

/** The Hosts table's rows: name, the address cell (with :port when not 22) and its title (user@address:port), and the other columns' text. */
async function readTable(p: Page): Promise<{ name: string; address: string; target: string; tags: string; reachability: string; os: string; runner: string; lastRun: string }[]> {
  const table = p.getByRole('table', { name: 'Hosts' });
  if (!(await table.isVisible())) return [];
  const rows = await table.getByRole('row').all();
  const out = [];
  for (const row of rows.slice(1)) {
    const name = (await row.getByRole('rowheader').textContent())?.trim() ?? '';
    const cells = row.getByRole('cell');
    // The first cell is the selection checkbox.
    const [, address = '', tags = '', reachability = '', os = '', runner = '', lastRun = ''] = (await cells.allInnerTexts()).map((t) => t.trim());
    const target = (await cells.nth(1).getAttribute('title')) ?? '';
    out.push({ name, address, target, tags, reachability, os, runner, lastRun });
  }
  return out;
}

function currentPage(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

/** The Add host dialog, opened from the toolbar. */
async function openAddHost(p: Page): Promise<Locator> {
  await p.getByRole('button', { name: 'Add host' }).first().click();
  const dialog = p.getByRole('dialog', { name: 'Add host' });
  await dialog.waitFor();
  return dialog;
}

/** Whether the element has the keyboard focus. */
function isFocused(control: Locator): Promise<boolean> {
  return control.evaluate((el) => el === el.ownerDocument.activeElement);
}

/** The accessible description of a form control (its error or hint). */
async function descriptionOf(control: Locator): Promise<string> {
  const ids = (await control.getAttribute('aria-describedby')) ?? '';
  const texts = [];
  for (const id of ids.split(/\s+/).filter(Boolean)) texts.push((await control.page().locator(`[id="${id}"]`).textContent()) ?? '');
  return texts.join(' ');
}

before(async () => {
  dataDir = await prepare('cronium-e2e-');

  const added = [
    await cronium('hosts', 'add', 'web1', '--address', '127.0.0.1', '--user', 'deploy', '--tag', 'prod'),
    await cronium('hosts', 'add', 'db1', '--address', '127.0.0.2', '--port', '2222', '--user', 'postgres', '--tag', 'staging', '--tag', 'db'),
  ];
  for (const r of added) assert.equal(r.code, 0, `hosts add failed: ${r.stderr}`);

  server = await startServe(dataDir);
  url = server.url;
  origin = server.origin;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[^&]+$/);
  assert.equal(new URL(url).port, String(server.port));

  browser = await launchChromium();

});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('GET / without the token, or with a wrong one, is refused', async () => {
  const bare = await fetch(`${origin}/`, { redirect: 'manual' });
  assert.equal(bare.status, 401);
  const wrong = await fetch(`${origin}/?token=not-the-token`, { redirect: 'manual' });
  assert.equal(wrong.status, 401);
  const asset = await fetch(`${origin}/index.html`, { redirect: 'manual' });
  assert.equal(asset.status, 401);
});

test('a WebSocket to /api without the token is refused', async () => {
  for (const headers of [{}, { Origin: origin }, { Origin: origin, Cookie: `cronium_token_${new URL(origin).port}=not-the-token` }]) {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${new URL(origin).port}/api`, { headers });
      ws.once('open', () => {
        ws.close();
        reject(new Error(`the socket opened with headers ${JSON.stringify(headers)}`));
      });
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('error', () => resolve(-1));
    });
    assert.equal(status, 401, `headers ${JSON.stringify(headers)}`);
  }
});

test('the page loads and lists both hosts with their tags', async () => {
  assert.ok(browser);
  const tracked = await trackedPage(browser, { viewport: { width: 1100, height: 560 } });
  context = tracked.context;
  page = tracked.page;
  pageProblems = tracked.problems;

  await page.goto(url);
  assert.ok(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
  const rows = await readTable(page);
  assert.deepEqual(
    rows.map((r) => [r.name, r.address, r.target]),
    [
      ['db1', '127.0.0.2:2222', 'postgres@127.0.0.2:2222'],
      ['web1', '127.0.0.1', 'deploy@127.0.0.1:22'],
    ],
  );
  // Nothing has been diagnosed or run yet.
  assert.deepEqual(rows.map((r) => r.reachability), ['Unknown', 'Unknown']);
  assert.match(rows[0]!.tags, /staging/);
  assert.match(rows[0]!.tags, /\bdb\b/);
  assert.match(rows[1]!.tags, /prod/);
  // app.info reached the footer.
  await page.getByText(dataDir, { exact: true }).waitFor();
  await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
});

test('search filters by name, address and tag', async () => {
  const p = currentPage();
  const search = p.getByRole('searchbox', { name: 'Search hosts' });
  const names = async () => (await readTable(p)).map((r) => r.name);

  await search.fill('prod');
  await eventually(async () => assert.deepEqual(await names(), ['web1']));
  await search.fill('127.0.0.2');
  await eventually(async () => assert.deepEqual(await names(), ['db1']));
  await search.fill('WEB');
  await eventually(async () => assert.deepEqual(await names(), ['web1']));
  await search.fill('nothing-like-this');
  await p.getByRole('heading', { name: /No hosts match/ }).waitFor();
  await p.getByRole('button', { name: 'Clear search' }).click();
  await eventually(async () => assert.deepEqual(await names(), ['db1', 'web1']));
  assert.equal(await search.inputValue(), '');
});

test('the table sorts by a column, both ways', async () => {
  const p = currentPage();
  const table = p.getByRole('table', { name: 'Hosts' });
  const addressHeader = table.getByRole('columnheader', { name: 'Address' });
  await addressHeader.getByRole('button').click();
  await eventually(async () => assert.deepEqual((await readTable(p)).map((r) => r.name), ['web1', 'db1']));
  assert.equal(await addressHeader.getAttribute('aria-sort'), 'ascending');
  await addressHeader.getByRole('button').click();
  await eventually(async () => assert.deepEqual((await readTable(p)).map((r) => r.name), ['db1', 'web1']));
  assert.equal(await addressHeader.getAttribute('aria-sort'), 'descending');
  await table.getByRole('columnheader', { name: 'Name' }).getByRole('button').click();
  await eventually(async () => assert.deepEqual((await readTable(p)).map((r) => r.name), ['db1', 'web1']));
});

test('the Add host form works from the keyboard and Escape closes it', async () => {
  const p = currentPage();
  const addButton = p.getByRole('button', { name: 'Add host' });
  await addButton.focus();
  await p.keyboard.press('Enter');
  const dialog = p.getByRole('dialog', { name: 'Add host' });
  await dialog.waitFor();
  await eventually(async () => assert.equal(await isFocused(p.getByRole('dialog', { name: 'Add host' }).getByLabel('Name')), true));
  await p.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => assert.equal(await isFocused(addButton), true));
});

test('adding a host through the form shows it in the table, in another tab and in the CLI', async () => {
  const p = currentPage();
  assert.ok(context);
  const other = await context.newPage();
  await other.goto(origin);
  await other.getByRole('table', { name: 'Hosts' }).waitFor();

  const dialog = await openAddHost(p);
  await dialog.getByLabel('Name').fill('web3');
  await dialog.getByLabel('Address').fill('web3.example.com');
  await dialog.getByLabel('Port').fill('2200');
  await dialog.getByLabel('User').fill('ops');
  await dialog.getByLabel('Tags').fill('prod, edge ,');
  await dialog.getByLabel('Group').fill('eu/edge');
  await dialog.getByLabel('Jump host').selectOption('web1');
  await dialog.getByRole('button', { name: 'Add host' }).click();
  await dialog.waitFor({ state: 'detached' });

  await eventually(async () => {
    const row = (await readTable(p)).find((r) => r.name === 'web3');
    assert.ok(row, 'web3 is not in the table');
    assert.equal(row.address, 'web3.example.com:2200');
    assert.equal(row.target, 'ops@web3.example.com:2200 via web1');
    assert.match(row.tags, /eu\/edge/);
    assert.match(row.tags, /prod/);
    assert.match(row.tags, /edge/);
  });
  // The other tab learns of it through the hosts.changed event, without a reload.
  await eventually(async () => assert.ok((await readTable(other)).some((r) => r.name === 'web3'), 'the other tab did not refresh'));
  await other.close();

  const web3 = (await cliHosts()).find((h) => h.name === 'web3');
  assert.ok(web3, 'the CLI does not list web3');
  assert.equal(web3.port, 2200);
  assert.equal(web3.user, 'ops');
  assert.deepEqual([...web3.tags].sort(), ['edge', 'prod']);
  assert.equal(web3.group, 'eu/edge');
});

test('a bad port, a bad name and a taken name are shown on their fields', async () => {
  const p = currentPage();
  const dialog = await openAddHost(p);
  const name = dialog.getByLabel('Name');
  const port = dialog.getByLabel('Port');

  // Client-side: the port's range.
  await name.fill('web4');
  await dialog.getByLabel('Address').fill('127.0.0.4');
  await port.fill('70000');
  await dialog.getByRole('button', { name: 'Add host' }).click();
  await eventually(async () => assert.equal(await port.getAttribute('aria-invalid'), 'true'));
  assert.match(await descriptionOf(port), /^Port must be/);
  await dialog.getByText(/^Port must be/).waitFor();
  await eventually(async () => assert.equal(await isFocused(port), true));
  await p.screenshot({ path: join(artifacts, 'add-host-errors.png') });

  // From the server: INVALID_INPUT with details.fields naming "name".
  await port.fill('22');
  await name.fill('bad/name');
  await dialog.getByRole('button', { name: 'Add host' }).click();
  await eventually(async () => assert.equal(await name.getAttribute('aria-invalid'), 'true'));
  assert.match(await descriptionOf(name), /^Name: must be/);
  assert.equal(await port.getAttribute('aria-invalid'), null);

  // From the server: ALREADY_EXISTS with details.field "name".
  await name.fill('web1');
  await dialog.getByRole('button', { name: 'Add host' }).click();
  await eventually(async () => assert.match(await descriptionOf(name), /^A host named "web1" already exists/));

  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.ok(!(await cliHosts()).some((h) => h.name === 'web4' || h.name === 'bad/name'));
});

test('removing a host asks first, then removes it everywhere', async () => {
  const p = currentPage();
  await p.getByRole('button', { name: 'Remove web3' }).click();
  const confirm = p.getByRole('alertdialog', { name: 'Remove web3?' });
  await confirm.waitFor();
  // Cancel has the focus, so a stray Enter removes nothing.
  await eventually(async () => assert.equal(await isFocused(confirm.getByRole('button', { name: 'Cancel' })), true));
  await confirm.getByRole('button', { name: 'Remove host' }).click();
  await confirm.waitFor({ state: 'detached' });
  await eventually(async () => assert.deepEqual((await readTable(p)).map((r) => r.name), ['db1', 'web1']));
  assert.deepEqual((await cliHosts()).map((h) => h.name).sort(), ['db1', 'web1']);
});

test('screenshots in light and dark', async () => {
  const p = currentPage();
  await p.screenshot({ path: join(artifacts, 'hosts.png') });
  assert.ok(browser);
  const dark = await browser.newContext({ viewport: { width: 1100, height: 560 }, colorScheme: 'dark' });
  await hideMachinePaths(dark);
  const dp = await dark.newPage();
  await dp.goto(url);
  await dp.getByRole('table', { name: 'Hosts' }).waitFor();
  const bg = await dp.evaluate<string>('getComputedStyle(document.body).backgroundColor');
  assert.notEqual(bg, 'rgb(246, 247, 249)', 'the dark theme did not apply');
  await dp.screenshot({ path: join(artifacts, 'hosts-dark.png') });
  await openAddHost(dp);
  await dp.screenshot({ path: join(artifacts, 'add-host-dark.png') });
  await dark.close();
});

test('the page logged no errors (CSP violations included)', () => {
  assert.deepEqual(pageProblems, []);
});

test('when the server goes away the page says it is reconnecting', async () => {
  const p = currentPage();
  assert.ok(server);
  await server.stop();
  await p.getByRole('alert').filter({ hasText: 'Disconnected — reconnecting' }).waitFor();
});
