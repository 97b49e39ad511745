/**
 * Settings, themes and the command palette in the browser against the real `cronium
 * serve`: settings saved in the form persist across a reload and reach the CLI (and the
 * CLI's change reaches the open page); the Run form starts from the default mode; the
 * theme follows the OS unless Settings fixes one; Ctrl+K opens the palette, which
 * navigates by keyboard. Needs a build (`npm run build`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type Serve } from './harness';

let dataDir = '';
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let problems: string[] = [];

const LIGHT_BG = 'rgb(246, 247, 249)';
const DARK_BG = 'rgb(21, 23, 28)';

function p(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

async function cliSettings(): Promise<{ execution: { defaultMode: string; defaultTimeoutMs: number | null; globalConcurrency: number; perHostConcurrency: number; runnerCheck: string; maxOutputBytes: number }; notifications: { onFailure: boolean; onSuccess: boolean }; appearance: { theme: string } }> {
  const r = await cliIn(dataDir)('settings', 'show', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as never;
}

const background = (pg: Page) => pg.evaluate<string>('getComputedStyle(document.body).backgroundColor');
const isFocused = (pg: Page, label: string) => pg.getByLabel(label, { exact: true }).evaluate((el) => el === el.ownerDocument.activeElement);

before(async () => {
  dataDir = await prepare('cronium-e2e-settings-');
  const r = await cliIn(dataDir)('hosts', 'add', 'alpha', '--address', '127.221.1.1', '--tag', 'edge');
  assert.equal(r.code, 0, r.stderr);
  server = await startServe(dataDir);
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: { width: 1100, height: 760 } });
  page = tracked.page;
  problems = tracked.problems;
  await page.goto(server.url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('settings saved in the form persist across a reload and reach the CLI', async () => {
  const pg = p();
  await pg.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await pg.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  assert.equal(await pg.getByLabel('Default mode').inputValue(), 'auto');
  assert.equal(await pg.getByLabel('Runs at once', { exact: true }).inputValue(), '32');
  assert.equal(await pg.getByLabel('Start Cronium at login').count(), 0, 'a desktop-only setting is hidden in headless mode');

  // A value out of range is refused on its field, nothing saved.
  await pg.getByLabel('Runs at once per host').fill('0');
  await pg.getByRole('button', { name: 'Save settings' }).click();
  await eventually(async () => assert.equal(await pg.getByLabel('Runs at once per host').getAttribute('aria-invalid'), 'true'));
  await eventually(async () => assert.equal(await isFocused(pg, 'Runs at once per host'), true));
  assert.equal((await cliSettings()).execution.perHostConcurrency, 4);

  await pg.getByLabel('Default mode').selectOption('direct');
  await pg.getByLabel('Default timeout (seconds)').fill('90');
  await pg.getByLabel('Runs at once', { exact: true }).fill('12');
  await pg.getByLabel('Runs at once per host').fill('2');
  await pg.getByLabel('Runner check before each run').selectOption('hash');
  await pg.getByLabel('Output limit per run (MiB)').fill('512');
  await pg.getByLabel('When a run succeeds').check();
  await pg.getByRole('button', { name: 'Save settings' }).click();
  await pg.getByRole('status').filter({ hasText: 'Settings saved.' }).waitFor();
  await pg.evaluate('document.querySelector("main").scrollTo(0, 0)');
  await pg.screenshot({ path: join(artifacts, 'settings.png') });

  const s = await cliSettings();
  assert.deepEqual(s.execution, { defaultMode: 'direct', defaultTimeoutMs: 90_000, globalConcurrency: 12, perHostConcurrency: 2, runnerCheck: 'hash', maxOutputBytes: 512 * 2 ** 20 });
  assert.deepEqual(s.notifications, { onFailure: true, onSuccess: true });

  await pg.reload();
  await pg.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await eventually(async () => assert.equal(await pg.getByLabel('Default mode').inputValue(), 'direct'));
  assert.equal(await pg.getByLabel('Default timeout (seconds)').inputValue(), '90');
  assert.equal(await pg.getByLabel('Runs at once', { exact: true }).inputValue(), '12');
  assert.equal(await pg.getByLabel('When a run succeeds').isChecked(), true);
});

test('a change in one tab reaches another open tab live; one from the CLI on the next load', async () => {
  const pg = p();
  const other = await pg.context().newPage();
  await other.goto(`${server!.origin}/#settings`);
  await other.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await eventually(async () => assert.equal(await other.getByLabel('Runs at once per host').inputValue(), '2'));
  await pg.getByLabel('Runs at once per host').fill('3');
  await pg.getByRole('button', { name: 'Save settings' }).click();
  // settings.changed reaches the other tab without a reload.
  await eventually(async () => assert.equal(await other.getByLabel('Runs at once per host').inputValue(), '3'));
  await other.close();

  const r = await cliIn(dataDir)('settings', 'set', 'execution.globalConcurrency', '20');
  assert.equal(r.code, 0, r.stderr);
  await pg.reload();
  await eventually(async () => assert.equal(await pg.getByLabel('Runs at once', { exact: true }).inputValue(), '20'));
});

test('the Run form starts from the default mode and timeout', async () => {
  const pg = p();
  await pg.goto(`${server!.origin}/#jobs/new/alpha`);
  await pg.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  await eventually(async () => assert.equal(await pg.getByLabel('Mode').inputValue(), 'direct'));
  assert.equal(await pg.getByLabel('Timeout (seconds)').inputValue(), '90');
});

test('the theme follows the OS unless Settings fixes one, and stays fixed across a reload', async () => {
  const pg = p();
  await pg.emulateMedia({ colorScheme: 'dark' });
  await pg.goto(`${server!.origin}/#settings`);
  await pg.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await eventually(async () => assert.equal(await background(pg), DARK_BG));
  await pg.emulateMedia({ colorScheme: 'light' });
  await eventually(async () => assert.equal(await background(pg), LIGHT_BG));

  // Fixed to dark: the OS's light no longer matters, and a reload keeps it.
  await pg.getByRole('radio', { name: 'Dark' }).check();
  await eventually(async () => assert.equal(await background(pg), DARK_BG));
  await eventually(async () => assert.equal((await cliSettings()).appearance.theme, 'dark'));
  await pg.reload();
  await pg.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await eventually(async () => assert.equal(await background(pg), DARK_BG));
  assert.equal(await pg.evaluate<string | undefined>('document.documentElement.dataset.theme'), 'dark');
  await pg.waitForTimeout(300);
  await pg.screenshot({ path: join(artifacts, 'settings-dark.png') });

  // Fixed to light under a dark OS.
  await pg.emulateMedia({ colorScheme: 'dark' });
  await pg.getByRole('radio', { name: 'Light' }).check();
  await eventually(async () => assert.equal(await background(pg), LIGHT_BG));
  await pg.getByRole('radio', { name: 'Follow the system' }).check();
  await eventually(async () => assert.equal(await background(pg), DARK_BG));
  // data-theme names the theme in effect: the OS's while following the system.
  assert.equal(await pg.evaluate<string | undefined>('document.documentElement.dataset.theme'), 'dark');
  await pg.emulateMedia({ colorScheme: 'light' });
  await eventually(async () => assert.equal(await pg.evaluate<string | undefined>('document.documentElement.dataset.theme'), 'light'));
});

test('Ctrl+K opens the palette; typing and Enter navigate; Escape closes it', async () => {
  const pg = p();
  await pg.goto(`${server!.origin}/#hosts`);
  await pg.getByRole('table', { name: 'Hosts' }).waitFor();
  await pg.keyboard.press('Control+k');
  const palette = pg.getByRole('dialog', { name: 'Command palette' });
  await palette.waitFor();
  // cmdk names its input after the palette's label.
  const input = palette.getByRole('combobox', { name: 'Command palette' });
  await eventually(async () => assert.equal(await input.evaluate((el) => el === el.ownerDocument.activeElement), true));
  await pg.screenshot({ path: join(artifacts, 'palette.png') });

  // A view by name.
  await input.fill('schedu');
  await pg.keyboard.press('Enter');
  await palette.waitFor({ state: 'detached' });
  await pg.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
  assert.match(pg.url(), /#schedules$/);

  // A host by its tag, chosen with the arrow keys.
  await pg.keyboard.press('Control+k');
  await palette.waitFor();
  await input.fill('edge');
  const selected = palette.locator('[cmdk-item][data-selected="true"]');
  await eventually(async () => assert.match((await selected.innerText()).trim(), /^alpha/));
  await pg.keyboard.press('Enter');
  await pg.getByRole('heading', { name: 'alpha', level: 1 }).waitFor();
  assert.match(pg.url(), /#hosts\/alpha$/);

  // An action: Add host opens the form on the Hosts view.
  await pg.keyboard.press('Control+k');
  await input.fill('add host');
  await pg.keyboard.press('Enter');
  await pg.getByRole('dialog', { name: 'Add host' }).waitFor();
  await pg.keyboard.press('Escape');
  await pg.getByRole('dialog', { name: 'Add host' }).waitFor({ state: 'detached' });

  // Escape closes the palette and gives the focus back.
  await pg.getByRole('button', { name: 'Import…' }).focus();
  await pg.keyboard.press('Control+k');
  await palette.waitFor();
  await input.fill('nothing-like-this-at-all');
  await palette.getByText(/Nothing matches/).waitFor();
  await pg.keyboard.press('Escape');
  await palette.waitFor({ state: 'detached' });
  await eventually(async () => assert.equal(await pg.getByRole('button', { name: 'Import…' }).evaluate((el) => el === el.ownerDocument.activeElement), true));
});

test('the palette toggles the theme', async () => {
  const pg = p();
  const before = (await cliSettings()).appearance.theme;
  await pg.keyboard.press('Control+k');
  await pg.getByRole('dialog', { name: 'Command palette' }).getByRole('combobox').fill('toggle theme');
  await pg.keyboard.press('Enter');
  await eventually(async () => assert.notEqual((await cliSettings()).appearance.theme, before));
  await eventually(async () => assert.equal(await background(pg), DARK_BG));
});

test('the page logged no errors', () => {
  assert.deepEqual(problems, []);
});
