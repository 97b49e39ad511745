/**
 * The UI against a real sshd of the test fleet (test/fleet, subnet 213): a host added by
 * the CLI with an untrusted key is diagnosed from its detail view, the host-key dialog
 * shows the fingerprint the fleet reports and pins exactly that, a script run from the
 * Run form (auto mode: the runner is deployed) streams its lines into the xterm while it
 * runs, the Runner view lists the deployment, a run is cancelled, and a long log loads
 * its tail first and the rest on request.
 * Needs a build, resources/runner, root (the fleet's addresses) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet, type FleetHost } from '../fleet/fleet';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve } from './harness';

const VIEWPORT = { width: 1200, height: 760 };

let dataDir = '';
let fleet: Fleet | null = null;
let web: FleetHost | null = null;
let server: Serve | null = null;
let url = '';
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

function currentPage(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

/** What xterm's DOM renderer shows. */
function terminalText(p: Page): Promise<string> {
  return p.locator('.terminal-box .xterm-rows').innerText();
}

before(async () => {
  dataDir = await prepare('cronium-e2e-live-');
  fleet = await startFleet({ subnet: 213, hosts: [{ name: 'web', profile: 'default' }] });
  web = fleet.host('web');
  assert.ok(web.identityFile, 'the default profile authenticates with a key');
  const added = await cronium('hosts', 'add', 'web', '--address', web.address, '--port', String(web.port), '--user', web.user, '--identity', web.identityFile, '--tag', 'fleet');
  assert.equal(added.code, 0, added.stderr);

  server = await startServe(dataDir);
  url = server.url;
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: VIEWPORT, timeoutMs: 15_000 });
  page = tracked.page;
  pageProblems = tracked.problems;
  await page.goto(url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('diagnosing a host with an unknown key asks to trust exactly its fingerprint', async () => {
  const p = currentPage();
  assert.ok(web);
  await p.getByRole('table', { name: 'Hosts' }).getByRole('link', { name: 'web', exact: true }).click();
  await p.getByRole('heading', { name: 'web', level: 1 }).waitFor();
  await p.getByRole('button', { name: 'Diagnose' }).click();
  const dialog = p.getByRole('alertdialog', { name: 'Trust the host key of web?' });
  await dialog.waitFor({ timeout: 30_000 });
  assert.match(await dialog.innerText(), new RegExp(web.hostKeyFingerprint.replace(/[+/]/g, '\\$&')));
  // Cancel has the focus: a stray Enter trusts nothing.
  await eventually(async () => assert.equal(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === el.ownerDocument.activeElement), true));
  await p.screenshot({ path: join(artifacts, 'trust-host-key.png') });
  await dialog.getByRole('button', { name: 'Trust this key' }).click();
  await dialog.waitFor({ state: 'detached' });
  // Trusting re-runs the diagnosis, which now gets through SSH and authentication.
  const checks = p.getByRole('list', { name: 'Checks of web' });
  await eventually(async () => {
    const ssh = await checks.getByRole('listitem').filter({ has: p.locator('.check-title', { hasText: /^SSH handshake/ }) }).innerText();
    assert.match(ssh, /pass/, ssh);
  }, 30_000);
  await p.screenshot({ path: join(artifacts, 'host-detail-live.png') });
});

test('a running script streams its lines into the xterm while it runs', async () => {
  const p = currentPage();
  await p.getByRole('link', { name: 'Run a script' }).click();
  await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  // Opened from the host: it is chosen already.
  assert.deepEqual(await p.evaluate<string[]>("[...document.getElementById('run-hosts').selectedOptions].map((o) => o.value)"), ['web']);
  const editor = p.getByRole('textbox', { name: 'Script' });
  await editor.click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  await p.keyboard.insertText('for i in 1 2 3 4 5 6; do echo "tick $i see https://example.com/$i"; sleep 0.5; done\necho done >&2\n');
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  // Lines appear before the run ends.
  await eventually(async () => assert.match(await terminalText(p), /tick 2/), 20_000);
  const early = await terminalText(p);
  assert.doesNotMatch(early, /tick 6/, 'the whole log arrived at once: it was not live');
  assert.equal(await p.getByRole('button', { name: 'Cancel job' }).count(), 1);
  await p.screenshot({ path: join(artifacts, 'job-live.png') });
  await eventually(async () => assert.match(await terminalText(p), /tick 6/), 20_000);
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /succeeded/), 20_000);
  const text = await terminalText(p);
  for (let i = 1; i <= 6; i++) assert.equal(text.split(`tick ${i} `).length - 1, 1, `tick ${i} once: ${text}`);
  await p.getByRole('tabpanel').getByText('0', { exact: true }).first().waitFor();
  // Auto mode deployed the runner on the way (runner mode, or direct with the reason shown);
  // the setup phases are drawn next to the script's.
  const facts = await p.getByRole('tabpanel').innerText();
  assert.match(facts, /MODE\n(runner · runner \S+|direct)/i, facts);
  if (/MODE\ndirect/i.test(facts)) assert.match(facts, /Mode: .+/, 'a fallback to direct mode says why');
  assert.match((await p.getByRole('img', { name: /^Phase timings:/ }).getAttribute('aria-label')) ?? '', /connect .*script /);
  // Search selects the match in the terminal.
  await p.getByRole('searchbox', { name: 'Search the log of web' }).fill('tick 4');
  await p.keyboard.press('Enter');
  await eventually(async () => assert.ok((await p.locator('.terminal-box .xterm-selection div').count()) > 0, 'no selection drawn'));
  await p.screenshot({ path: join(artifacts, 'job-succeeded.png') });
  // A reload reads the finished log from the store.
  await p.reload();
  await eventually(async () => assert.match(await terminalText(p), /tick 6/), 10_000);
});

test('the Runner view and the host detail show the deployment', async () => {
  const p = currentPage();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runner', exact: true }).click();
  const table = p.getByRole('table', { name: 'Runner deployments' });
  await table.waitFor();
  const row = table.getByRole('row').filter({ has: p.getByRole('rowheader', { name: 'web' }) });
  assert.match(await row.innerText(), /linux-amd64/);
  assert.match(await row.innerText(), /ready/);
  await p.screenshot({ path: join(artifacts, 'runner-deployed.png') });
  await row.getByRole('link', { name: 'web' }).click();
  await p.getByRole('heading', { name: 'web', level: 1 }).waitFor();
  const hostTable = p.getByRole('table', { name: 'Runner deployments on web' });
  await hostTable.waitFor();
  assert.match(await hostTable.innerText(), /ready/);
});

test('Cancel stops a running job', async () => {
  const p = currentPage();
  await p.goto(`${new URL(url).origin}/#jobs/new/web`);
  await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  const editor = p.getByRole('textbox', { name: 'Script' });
  await editor.click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  await p.keyboard.insertText('echo started; sleep 30; echo never\n');
  await p.getByLabel('Mode').selectOption('direct');
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  await eventually(async () => assert.match(await terminalText(p), /started/), 20_000);
  await p.getByRole('button', { name: 'Cancel job' }).click();
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /cancelled/), 20_000);
  assert.doesNotMatch(await terminalText(p), /never/);
});

test('a long finished log loads its tail first and the full log on request', async () => {
  const p = currentPage();
  await p.goto(`${new URL(url).origin}/#jobs/new/web`);
  await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  await p.getByRole('textbox', { name: 'Script' }).click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  // About 390 KB: more than the 256 KB tail.
  await p.keyboard.insertText('seq -f "line %06g" 1 30000\n');
  await p.getByLabel('Mode').selectOption('direct');
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /succeeded/), 30_000);
  await p.reload();
  const notice = p.getByText(/Showing the last 256 KB/);
  await notice.waitFor();
  await eventually(async () => assert.match(await terminalText(p), /line 030000/));
  // The first line is not in the terminal yet: searching for it finds nothing.
  const search = p.getByRole('searchbox', { name: 'Search the log of web' });
  await search.fill('line 000001');
  await search.press('Enter');
  await new Promise((r) => setTimeout(r, 300));
  assert.doesNotMatch(await terminalText(p), /line 000001/);
  await p.getByRole('button', { name: 'Load full log' }).click();
  await notice.waitFor({ state: 'detached' });
  // Now it is: the search scrolls the terminal to it.
  await eventually(async () => {
    await search.press('Enter');
    assert.match(await terminalText(p), /line 000001\nline 000002/);
  }, 20_000);
  await p.screenshot({ path: join(artifacts, 'job-full-log.png') });
});

test('the page logged no errors', () => {
  assert.deepEqual(pageProblems, []);
});
