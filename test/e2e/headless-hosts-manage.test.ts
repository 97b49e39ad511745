/**
 * Managing hosts in the browser against the real `cronium serve`: edit (rename, port,
 * tags, set and clear a password), import from an ssh_config (preview, then import),
 * and bulk actions on a selection (tag, diagnose with results inline, run, remove).
 * Addresses are in this suite's loopback subnet 127.221.x.y where nothing listens, so
 * diagnostics fail fast and for real (connection refused). The CLI checks every change.
 * Needs a build (`npm run build`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type Serve } from './harness';

let dataDir = '';
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let problems: string[] = [];

interface CliHost {
  name: string;
  address: string;
  port: number;
  user: string | null;
  tags: string[];
  hasPassword: boolean;
  reachability: string;
}

async function cliHosts(): Promise<CliHost[]> {
  const r = await cliIn(dataDir)('hosts', 'list', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as CliHost[];
}

async function cliHost(name: string): Promise<CliHost | undefined> {
  return (await cliHosts()).find((h) => h.name === name);
}

function p(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

function table(pg: Page): Locator {
  return pg.getByRole('table', { name: 'Hosts' });
}

async function names(pg: Page): Promise<string[]> {
  return (await table(pg).getByRole('rowheader').allInnerTexts()).map((t) => t.trim());
}

/** The text of a host's cell under a column header. */
async function cell(pg: Page, host: string, column: string): Promise<string> {
  const headers = (await table(pg).getByRole('columnheader').allInnerTexts()).map((t) => t.replace(/[▴▾]/g, '').trim());
  const i = headers.findIndex((h) => h.toLowerCase() === column.toLowerCase());
  assert.ok(i > 0, `no column ${column} in ${headers.join(', ')}`);
  const row = table(pg).getByRole('row').filter({ has: pg.getByRole('rowheader', { name: host, exact: true }) });
  // The row's cells are the checkbox (0) and then the columns after the row header: header i is cell i.
  return ((await row.getByRole('cell').nth(i).innerText()) ?? '').trim();
}

async function select(pg: Page, ...hosts: string[]): Promise<void> {
  for (const h of hosts) await pg.getByRole('checkbox', { name: `Select ${h}`, exact: true }).check();
}

before(async () => {
  dataDir = await prepare('cronium-e2e-manage-');
  const cli = cliIn(dataDir);
  for (const args of [
    ['hosts', 'add', 'web1', '--address', '127.221.0.1', '--user', 'deploy', '--tag', 'prod'],
    ['hosts', 'add', 'db1', '--address', '127.221.0.2', '--tag', 'db'],
  ]) {
    const r = await cli(...args);
    assert.equal(r.code, 0, r.stderr);
  }
  server = await startServe(dataDir);
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: { width: 1200, height: 640 } });
  page = tracked.page;
  problems = tracked.problems;
  await page.goto(server.url);
  await table(page).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('editing a host renames it, changes its port and tags, and sets then clears its password', async () => {
  const pg = p();
  await pg.getByRole('button', { name: 'Edit web1', exact: true }).click();
  const dialog = pg.getByRole('dialog', { name: 'Edit web1' });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel('Name').inputValue(), 'web1', 'the form starts from the host');
  assert.equal(await dialog.getByLabel('User').inputValue(), 'deploy');
  assert.equal(await dialog.getByLabel('Password').inputValue(), '', 'no secret reaches the page');
  await dialog.getByLabel('Name').fill('web1b');
  await dialog.getByLabel('Port').fill('2201');
  await dialog.getByLabel('Tags').fill('prod, blue');
  await dialog.getByLabel('Password').fill('pw-e2e-1');
  await pg.screenshot({ path: join(artifacts, 'host-edit.png') });
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => assert.deepEqual(await names(pg), ['db1', 'web1b']));
  assert.equal(await cell(pg, 'web1b', 'Address'), '127.221.0.1:2201');

  const h = await cliHost('web1b');
  assert.ok(h, 'the CLI does not know web1b');
  assert.equal(h.port, 2201);
  assert.equal(h.user, 'deploy');
  assert.deepEqual([...h.tags].sort(), ['blue', 'prod']);
  assert.equal(h.hasPassword, true);
  assert.equal(await cliHost('web1'), undefined);

  // A bad port is caught on the field; then the stored password is removed.
  await pg.getByRole('button', { name: 'Edit web1b', exact: true }).click();
  const again = pg.getByRole('dialog', { name: 'Edit web1b' });
  await again.getByLabel('Port').fill('99999');
  await again.getByRole('button', { name: 'Save changes' }).click();
  await eventually(async () => assert.equal(await again.getByLabel('Port').getAttribute('aria-invalid'), 'true'));
  await again.getByLabel('Port').fill('2201');
  await again.getByLabel('Remove the stored password').check();
  await again.getByRole('button', { name: 'Save changes' }).click();
  await again.waitFor({ state: 'detached' });
  await eventually(async () => assert.equal((await cliHost('web1b'))?.hasPassword, false));
});

test('importing from an ssh_config previews the hosts, then adds exactly those', async () => {
  const pg = p();
  const config = join(dataDir, 'ssh_config');
  await writeFile(config, ['Host imp1', '  HostName 127.221.0.11', '  User alice', '', 'Host imp2', '  HostName 127.221.0.12', '  Port 2022', '', 'Host db1', '  HostName 127.221.0.99', '', 'Host *', '  ServerAliveInterval 30', ''].join('\n'));
  await pg.getByRole('button', { name: 'Import…' }).click();
  const dialog = pg.getByRole('dialog', { name: 'Import from SSH config' });
  await dialog.waitFor();
  await dialog.getByLabel('Config file').fill(config);
  await dialog.getByLabel('Tag the imported hosts').fill('imported');
  await dialog.getByRole('button', { name: 'Preview', exact: true }).click();
  const preview = dialog.getByRole('table', { name: 'Hosts to import' });
  await preview.waitFor();
  assert.deepEqual((await preview.getByRole('rowheader').allInnerTexts()).map((t) => t.trim()), ['imp1', 'imp2']);
  await dialog.getByRole('list', { name: 'Skipped hosts' }).getByText('db1').waitFor();
  assert.equal(await cliHost('imp1'), undefined, 'a preview adds nothing');
  await pg.screenshot({ path: join(artifacts, 'hosts-import-preview.png') });

  await dialog.getByRole('button', { name: 'Import 2 hosts' }).click();
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => assert.deepEqual(await names(pg), ['db1', 'imp1', 'imp2', 'web1b']));
  const imp2 = await cliHost('imp2');
  assert.equal(imp2?.port, 2022);
  assert.deepEqual(imp2?.tags, ['imported']);
  assert.equal((await cliHost('imp1'))?.user, 'alice');
  assert.equal((await cliHost('db1'))?.address, '127.221.0.2', 'an existing name is never overwritten');
});

test('bulk tag adds a tag to two selected hosts, and removes it', async () => {
  const pg = p();
  await select(pg, 'imp1', 'imp2');
  const bar = pg.getByRole('toolbar', { name: 'Selected hosts' });
  await bar.getByText('2 selected').waitFor();
  await bar.getByRole('button', { name: 'Tag…' }).click();
  const dialog = pg.getByRole('dialog', { name: 'Tag 2 hosts' });
  await dialog.getByLabel('Tag', { exact: true }).fill('batch-7');
  await dialog.getByRole('button', { name: 'Add tag' }).click();
  await dialog.waitFor({ state: 'detached' });
  await eventually(async () => {
    for (const n of ['imp1', 'imp2']) assert.ok((await cliHost(n))?.tags.includes('batch-7'), `${n} was not tagged`);
  });
  assert.ok(!(await cliHost('db1'))?.tags.includes('batch-7'), 'an unselected host is untouched');
  await eventually(async () => assert.match(await cell(pg, 'imp1', 'Tags'), /batch-7/));

  await bar.getByRole('button', { name: 'Tag…' }).click();
  const remove = pg.getByRole('dialog', { name: 'Tag 2 hosts' });
  await remove.getByLabel('Remove tag').check();
  await remove.getByLabel('Tag', { exact: true }).fill('batch-7');
  await remove.getByRole('button', { name: 'Remove tag' }).click();
  await remove.waitFor({ state: 'detached' });
  await eventually(async () => {
    for (const n of ['imp1', 'imp2']) assert.deepEqual((await cliHost(n))?.tags, ['imported']);
  });
});

test('bulk diagnose runs in parallel and shows each result in its row; reachability follows', async () => {
  const pg = p();
  const bar = pg.getByRole('toolbar', { name: 'Selected hosts' });
  await bar.getByRole('button', { name: 'Diagnose' }).click();
  await eventually(async () => {
    // The failed checks are named for screen readers (and in the tooltip): here the TCP connect.
    assert.match(await cell(pg, 'imp1', 'Reachability'), /^Checks failed\W+TCP/);
    assert.match(await cell(pg, 'imp2', 'Reachability'), /^Checks failed\W+TCP/);
  }, 30_000);
  assert.equal(await cell(pg, 'db1', 'Reachability'), 'Unknown', 'an unselected host was not diagnosed');
  await pg.screenshot({ path: join(artifacts, 'hosts-bulk.png') });
  // The stored verdict, as every client sees it.
  await eventually(async () => assert.equal((await cliHost('imp1'))?.reachability, 'failing'));
  await pg.reload();
  await table(pg).waitFor();
  await eventually(async () => assert.equal(await cell(pg, 'imp1', 'Reachability'), 'Failing'));
});

test('bulk run opens the Run form with the selected hosts chosen', async () => {
  const pg = p();
  await select(pg, 'imp1', 'imp2');
  await pg.getByRole('toolbar', { name: 'Selected hosts' }).getByRole('button', { name: 'Run…' }).click();
  await pg.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  assert.match(pg.url(), /#jobs\/new\/imp1,imp2$/);
  const chosen = await pg.getByLabel('Hosts', { exact: true }).evaluate((el) => Array.from((el as unknown as { selectedOptions: ArrayLike<{ value: string }> }).selectedOptions, (o) => o.value));
  assert.deepEqual(chosen, ['imp1', 'imp2']);
  await pg.goBack();
  await table(pg).waitFor();
});

test('bulk remove asks once, then removes every selected host', async () => {
  const pg = p();
  await select(pg, 'imp1', 'imp2');
  await pg.getByRole('toolbar', { name: 'Selected hosts' }).getByRole('button', { name: 'Remove…' }).click();
  const confirm = pg.getByRole('alertdialog', { name: 'Remove 2 hosts?' });
  await confirm.waitFor();
  await eventually(async () => assert.equal(await confirm.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === el.ownerDocument.activeElement), true));
  await confirm.getByRole('button', { name: 'Remove hosts' }).click();
  await confirm.waitFor({ state: 'detached' });
  await eventually(async () => assert.deepEqual(await names(pg), ['db1', 'web1b']));
  assert.deepEqual((await cliHosts()).map((h) => h.name).sort(), ['db1', 'web1b']);
  assert.equal(await pg.getByRole('toolbar', { name: 'Selected hosts' }).count(), 0, 'the selection went with the hosts');
});

test('the Hosts view in light and dark (following the OS)', async () => {
  const pg = p();
  await pg.emulateMedia({ colorScheme: 'light' });
  await select(pg, 'db1');
  await pg.screenshot({ path: join(artifacts, 'hosts-selection.png') });
  const light = await pg.evaluate<string>('getComputedStyle(document.body).backgroundColor');
  await pg.emulateMedia({ colorScheme: 'dark' });
  await eventually(async () => assert.notEqual(await pg.evaluate<string>('getComputedStyle(document.body).backgroundColor'), light));
  // Buttons and rows fade their colours (CSS transitions): let them settle before the picture.
  await pg.waitForTimeout(400);
  await pg.screenshot({ path: join(artifacts, 'hosts-selection-dark.png') });
  await pg.emulateMedia({ colorScheme: 'light' });
});

test('the page logged no errors', () => {
  assert.deepEqual(problems, []);
});
