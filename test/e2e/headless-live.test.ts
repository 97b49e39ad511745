/**
 * The UI against a real sshd of the test fleet (test/fleet, subnet 213): a host added by
 * the CLI with an untrusted key is diagnosed from its detail view, the host-key dialog
 * shows the fingerprint the fleet reports and pins exactly that, a script run from the
 * Run form (auto mode: the runner is deployed) streams its lines into the xterm while it
 * runs, the Runner view lists the deployment and the runner's health, a script saved in
 * the Scripts view runs now and fires its follow-up (the job's follow-up tree links the
 * child job; a loop is refused inline), a run is cancelled in both modes and its process
 * is gone from the host, a schedule firing every two seconds starts jobs and charts their
 * durations, the jobs list filters, a long log loads its tail first and the whole log in
 * a plain view, and the runner is cleaned up from a host. Screenshots of every main view
 * go to test/e2e/artifacts/.
 * Needs a build, resources/runner, root (the fleet's addresses) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import Database from 'better-sqlite3';
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

/** On the open Run form: types `script` into the editor, runs it, and returns the job the page went to. */
async function runFromForm(p: Page, script: string): Promise<number> {
  await typeScript(p, script);
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  return Number(/#jobs\/(\d+)$/.exec(p.url())![1]);
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
  await runFromForm(p, 'for i in 1 2 3 4 5 6; do echo "tick $i see https://example.com/$i"; sleep 0.5; done\necho done >&2\n');
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

test('a run printing 40 MB in a few seconds: the view shows the newest output, says what it left out, and the end arrives; the store has every byte', async () => {
  const p = currentPage();
  // Counts what the page's WebSockets receive (installed before the page's own script runs).
  await p.addInitScript(`(() => {
    window.__wsBytes = 0;
    const Base = window.WebSocket;
    window.WebSocket = class extends Base {
      constructor(...args) {
        super(...args);
        this.addEventListener('message', (ev) => (window.__wsBytes += typeof ev.data === 'string' ? ev.data.length : 0));
      }
    };
  })()`);
  await p.reload();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  await p.getByRole('link', { name: 'Run a script' }).first().click();
  await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  await p.locator('#run-hosts').selectOption('web');
  // 40 MB in 1 MB blocks, a little after the view opens.
  const jobId = await runFromForm(p, 'sleep 2; for i in $(seq 1 40); do yes "flood line with some text to make it one hundred bytes long ..............................." | head -c 1048576; sleep 0.05; done; echo; echo END-OF-FLOOD\n');
  await eventually(async () => assert.match(await terminalText(p), /END-OF-FLOOD/), 60_000);
  // What was left out is marked in the scrollback (the search finds the dim line).
  await p.getByRole('searchbox', { name: 'Search the log of web' }).fill('of output not shown here, to keep up');
  await p.keyboard.press('Enter');
  await eventually(async () => assert.ok((await p.locator('.terminal-box .xterm-selection div').count()) > 0, 'no notice found in the terminal: ' + (await p.locator('.run-log').innerText()).slice(0, 300) + ' WS ' + (await p.evaluate('window.__wsBytes'))));
  assert.match(await terminalText(p), /\[\d+(\.\d)? [KM]B of output not shown here, to keep up; the whole log is stored: Full log\]/);
  const received = await p.evaluate<number>('window.__wsBytes');
  assert.ok(received > 0 && received < 20 * 1024 * 1024, `the page received ${received} bytes for 40 MB of output`);
  // Everything is in the store: the CLI reads it back whole.
  const logs = await cronium('jobs', 'logs', String(jobId));
  assert.equal(logs.code, 0, logs.stderr);
  assert.equal(Buffer.byteLength(logs.stdout), 41943040 + 1 + 'END-OF-FLOOD\n'.length);
});

test('the Runner view and the host detail show the deployment', async () => {
  const p = currentPage();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runner', exact: true }).click();
  const table = p.getByRole('table', { name: 'Runner deployments' });
  await table.waitFor();
  const row = table.getByRole('row').filter({ has: p.getByRole('rowheader', { name: 'web' }) });
  assert.match(await row.innerText(), /linux-amd64/);
  assert.match(await row.innerText(), /ready/);
  // The runner per host, and its health: the deployment counted, the check before the run a cache hit or an upload.
  const perHost = p.getByRole('table', { name: 'Runner per host' });
  assert.match(await perHost.getByRole('row').filter({ has: p.getByRole('rowheader', { name: 'web' }) }).innerText(), /ready/);
  await eventually(async () => assert.match(await p.locator('.health-tiles').innerText(), /DEPLOYMENT SUCCESS\s*100 %/i));
  assert.equal(await p.locator('.health-tiles > div').count(), 7);
  await eventually(async () => assert.ok((await p.locator('.chart-panel .chart-box canvas').count()) >= 2, 'the health charts are drawn'));
  await p.screenshot({ path: join(artifacts, 'runner-deployed.png') });
  await row.getByRole('link', { name: 'web' }).click();
  await p.getByRole('heading', { name: 'web', level: 1 }).waitFor();
  const hostTable = p.getByRole('table', { name: 'Runner deployments on web' });
  await hostTable.waitFor();
  assert.match(await hostTable.innerText(), /ready/);
});

/** Replaces the text of the CodeMirror editor labelled "Script". */
async function typeScript(p: Page, text: string): Promise<void> {
  await p.getByRole('textbox', { name: 'Script' }).click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  await p.keyboard.insertText(text);
}

/** Saves a new script from the Scripts view. */
async function newScript(p: Page, name: string, body: string): Promise<void> {
  await p.getByRole('button', { name: 'New script' }).click();
  await p.getByLabel('Name', { exact: true }).fill(name);
  await typeScript(p, body);
}

let parentJob = 0;

test('a script saved in the Scripts view runs now, streams live, and fires its follow-up', async () => {
  const p = currentPage();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Scripts', exact: true }).click();
  await p.getByRole('heading', { name: 'Scripts', level: 1 }).waitFor();

  // Nothing typed: the form says what is missing and saves nothing.
  await p.getByRole('button', { name: 'New script' }).click();
  await typeScript(p, '');
  await p.getByRole('button', { name: 'Save', exact: true }).click();
  await p.getByText('Name is required').waitFor();
  await p.getByText('The script is empty').waitFor();

  await newScript(p, 'notify', 'echo "notified from $(hostname)"\n');
  await p.getByRole('button', { name: 'Save', exact: true }).click();
  const list = p.getByRole('navigation', { name: 'Saved scripts' });
  await list.getByRole('link', { name: /notify/ }).waitFor();
  await eventually(async () => assert.match(p.url(), /#scripts\/notify$/));

  await newScript(p, 'ticker', 'for i in 1 2 3 4 5 6; do echo "beat $i"; sleep 0.5; done\n');
  await p.getByLabel('Interpreter').selectOption('bash');
  assert.equal(await p.locator('.script-editor').getAttribute('data-language'), 'bash');
  await p.getByRole('button', { name: 'Add follow-up' }).click();
  await p.getByLabel('When follow-up 1 runs').selectOption('success');
  await p.getByLabel('Script of follow-up 1').selectOption('notify');
  await p.getByLabel('Where follow-up 1 runs').selectOption('same');
  await p.getByRole('button', { name: 'Save', exact: true }).click();
  await list.getByRole('link', { name: /ticker/ }).waitFor();
  await eventually(async () => assert.match(await list.getByRole('link', { name: /ticker/ }).innerText(), /1 follow-up/));

  // A follow-up back to ticker would loop: refused inline, with the hint, nothing saved.
  await list.getByRole('link', { name: /notify/ }).click();
  await p.getByRole('heading', { name: 'notify', level: 2 }).waitFor();
  await p.getByRole('button', { name: 'Add follow-up' }).click();
  await p.getByLabel('Script of follow-up 1').selectOption('ticker');
  await p.getByRole('button', { name: 'Save', exact: true }).click();
  const loop = p.getByRole('alert').filter({ hasText: /loop/ });
  await loop.waitFor();
  assert.match(await loop.innerText(), /ticker/);
  assert.match(await loop.innerText(), /drop one follow-up/);
  await p.screenshot({ path: join(artifacts, 'scripts-loop.png') });
  await p.getByRole('button', { name: 'Remove follow-up 1' }).click();

  // Run now, from the saved script, on the fleet host.
  await list.getByRole('link', { name: /ticker/ }).click();
  await p.getByRole('heading', { name: 'ticker', level: 2 }).waitFor();
  await p.screenshot({ path: join(artifacts, 'scripts.png') });
  await p.getByLabel('Hosts', { exact: true }).selectOption(['web']);
  await p.getByRole('button', { name: 'Run now' }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  parentJob = Number(/#jobs\/(\d+)/.exec(p.url())?.[1]);
  await eventually(async () => assert.match(await terminalText(p), /beat 2/), 20_000);
  assert.doesNotMatch(await terminalText(p), /beat 6/, 'the whole log arrived at once: it was not live');
  await p.screenshot({ path: join(artifacts, 'job-live-script.png') });
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /succeeded/), 20_000);
  assert.match(await p.locator('.view-header').innerText(), /script ticker/);

  // Its follow-up fired on the same host: the tree links the child job.
  const tree = p.getByRole('list', { name: `Follow-up chain of job ${parentJob}` });
  await tree.waitFor({ timeout: 20_000 });
  const child = tree.getByRole('link').filter({ hasNotText: `#${parentJob}` });
  await eventually(async () => assert.equal(await child.count(), 1), 20_000);
  assert.match(await tree.innerText(), /notify/);
  assert.match(await tree.innerText(), /on success of web/);
  await p.screenshot({ path: join(artifacts, 'job-followups.png') });
  await child.click();
  await p.waitForURL(/#jobs\/\d+$/);
  const childId = Number(/#jobs\/(\d+)/.exec(p.url())?.[1]);
  assert.ok(childId > parentJob);
  await p.getByText(new RegExp(`A follow-up of\\s+job #${parentJob}`)).waitFor();
  await eventually(async () => assert.match(await terminalText(p), /notified from/), 20_000);
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /succeeded/), 20_000);
  // The CLI sees the same chain.
  const shown = JSON.parse((await cronium('jobs', 'show', String(childId), '--json')).stdout) as { parentJobId: number | null; scriptName: string | null };
  assert.equal(shown.parentJobId, parentJob);
  assert.equal(shown.scriptName, 'notify');
});

for (const mode of ['direct', 'auto'] as const) {
  test(`Cancel stops a running job (${mode} mode) and its process is gone from the host`, async () => {
    const p = currentPage();
    const marker = mode === 'direct' ? 313 : 317;
    await p.goto(`${new URL(url).origin}/#jobs/new/web`);
    await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
    const editor = p.getByRole('textbox', { name: 'Script' });
    await editor.click();
    await p.keyboard.press('Control+A');
    await p.keyboard.press('Delete');
    await p.keyboard.insertText(`echo started; sleep ${marker}; echo never\n`);
    await p.getByLabel('Mode').selectOption(mode);
    await p.getByRole('button', { name: 'Run', exact: true }).click();
    await p.waitForURL(/#jobs\/\d+$/);
    await eventually(async () => assert.match(await terminalText(p), /started/), 20_000);
    await p.getByRole('button', { name: 'Cancel job' }).click();
    await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /cancelled/), 20_000);
    assert.doesNotMatch(await terminalText(p), /never/);
    // The script's process group was killed on the host (the bracket keeps pgrep from finding itself).
    await eventually(async () => {
      const check = await cronium('run', '--host', 'web', '--mode', 'direct', '--command', `pgrep -f "sleep ${marker}[ ]*$" >/dev/null && echo alive || echo gone`);
      assert.equal(check.code, 0, check.stderr);
      assert.match(check.stdout, /gone/, check.stdout);
    }, 15_000);
  });
}

test('a schedule every two seconds fires jobs, and its card charts their durations', async () => {
  const p = currentPage();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules', exact: true }).click();
  await p.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
  await p.getByRole('button', { name: 'Add schedule' }).first().click();
  const dialog = p.getByRole('dialog', { name: 'Add schedule' });
  await dialog.getByLabel('Name').fill('heartbeat');
  await dialog.getByLabel('Target').selectOption('host:web');
  await dialog.getByLabel('Cron').fill('*/2 * * * * *');
  await typeScript(p, 'echo "beat at $(date +%s)"; sleep 0.2\n');
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  await dialog.waitFor({ state: 'detached' });
  const card = p.getByRole('listitem').filter({ has: p.getByRole('heading', { name: 'heartbeat' }) });
  await card.waitFor();

  // It fires: jobs of the schedule appear in the Jobs view, filtered by it ("Its jobs" on the card).
  await card.getByRole('button', { name: 'Its jobs' }).click();
  await p.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
  assert.equal(await p.getByLabel('Schedule', { exact: true }).inputValue(), 'heartbeat');
  const table = p.getByRole('table', { name: 'Jobs' });
  await eventually(async () => {
    const rows = await table.getByRole('row').allInnerTexts();
    assert.ok(rows.filter((r) => /heartbeat/.test(r) && /succeeded/.test(r)).length >= 2, rows.join('\n'));
  }, 30_000);
  assert.ok((await table.getByRole('row').allInnerTexts()).slice(1).every((r) => /heartbeat/.test(r)), 'only the schedule’s jobs');

  // The card's chart draws the durations of those jobs.
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Schedules', exact: true }).click();
  const chart = card.getByRole('img', { name: /^Run durations of heartbeat: \d+ jobs/ });
  await eventually(async () => {
    await p.reload();
    await chart.waitFor({ timeout: 3_000 });
  }, 20_000);
  assert.equal(await card.locator('.chart-box canvas').count(), 1);
  await p.screenshot({ path: join(artifacts, 'schedules-chart.png') });
  // Paused, it stops firing (and stops adding jobs to the tests that follow).
  await card.getByRole('button', { name: 'Pause heartbeat' }).click();
  await card.getByRole('button', { name: 'Resume heartbeat' }).waitFor();
});

test('the jobs list filters by status, host, schedule and time, and charts success per host', async () => {
  const p = currentPage();
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs', exact: true }).click();
  const table = p.getByRole('table', { name: 'Jobs' });
  // Filters live in the store: whatever an earlier test chose is still set, unless the page was reloaded.
  const clear = p.getByRole('button', { name: 'Clear filters' });
  if (await clear.count()) await clear.click();
  await table.waitFor();
  const all = await table.getByRole('row').count();
  await p.getByLabel('Host', { exact: true }).selectOption('web');
  await eventually(async () => assert.equal(await table.getByRole('row').count(), all));
  await p.getByLabel('Status').selectOption('cancelled');
  await eventually(async () => {
    const rows = (await table.getByRole('row').allInnerTexts()).slice(1);
    assert.equal(rows.length, 2, rows.join('\n'));
    assert.ok(rows.every((r) => /cancelled/.test(r)));
  });
  await p.getByLabel('Status').selectOption('');
  await p.getByLabel('Created').selectOption('1h');
  await eventually(async () => assert.equal(await table.getByRole('row').count(), all));
  // A parent script job with its follow-up: the list says which is which.
  assert.match(await table.innerText(), new RegExp(`follow-up of #${parentJob}`));
  const chart = p.getByRole('img', { name: /^Success rate per host over the last 30 days: web \d+(\.\d)? %/ });
  await chart.waitFor();
  await p.getByRole('button', { name: 'Clear filters' }).click();
  await p.screenshot({ path: join(artifacts, 'jobs.png') });
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
  // The whole log is a click away, as plain text read from the store in pages.
  await p.getByRole('button', { name: 'Open full log' }).click();
  const dialog = p.getByRole('dialog', { name: /^Full log of web/ });
  await dialog.waitFor();
  const full = dialog.getByLabel('Full log of web');
  await eventually(async () => assert.match(await full.innerText(), /^line 000001\nline 000002\n/), 20_000);
  for (let i = 0; i < 50 && (await dialog.getByRole('button', { name: 'Load more' }).count()) > 0; i++) {
    await dialog.getByRole('button', { name: 'Load more' }).click();
    await eventually(async () => assert.ok((await dialog.getByRole('button', { name: 'Load more', disabled: false }).count()) + (await dialog.getByText(/the whole log/).count()) > 0));
  }
  await dialog.getByText(/the whole log/).waitFor();
  const text = await full.innerText();
  assert.match(text, /line 030000\n?$/);
  assert.equal(text.split('\n').filter((l) => l.startsWith('line ')).length, 30000, 'every line once');
  await p.screenshot({ path: join(artifacts, 'job-full-log.png') });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
});

test('screenshots of the main views', async () => {
  const p = currentPage();
  const origin = new URL(url).origin;
  for (const [hash, heading, file] of [
    ['#hosts', 'Hosts', 'hosts.png'],
    ['#hosts/web', 'web', 'host-detail.png'],
    ['#scripts/ticker', 'Scripts', 'scripts.png'],
    ['#schedules', 'Schedules', 'schedules.png'],
    ['#jobs', 'Jobs', 'jobs.png'],
    ['#runner', 'Runner', 'runner.png'],
  ] as const) {
    await p.goto(`${origin}/${hash}`);
    await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await p.waitForTimeout(400);
    await p.screenshot({ path: join(artifacts, file) });
  }
});

test('the runner is cleaned up from a host on request', async () => {
  const p = currentPage();
  // Nothing may deploy it again meanwhile (paused already, unless an earlier test failed).
  await cronium('schedules', 'pause', 'heartbeat');
  await p.goto(`${new URL(url).origin}/#runner`);
  const perHost = p.getByRole('table', { name: 'Runner per host' });
  await perHost.waitFor();
  await perHost.getByRole('button', { name: 'Clean up the runner on web' }).click();
  const confirm = p.getByRole('alertdialog', { name: 'Clean up web?' });
  await confirm.getByRole('button', { name: 'Clean up' }).click();
  await p.getByRole('status').filter({ hasText: /Cleaned up web: \d+ runner versions? removed\./ }).waitFor({ timeout: 20_000 });
  await eventually(async () => assert.match(await perHost.getByRole('row').filter({ has: p.getByRole('rowheader', { name: 'web' }) }).innerText(), /removed/));
  const listed = (JSON.parse((await cronium('runner', 'list', '--deployments', '--host', 'web', '--json')).stdout) as { deployments: { status: string }[] }).deployments;
  assert.ok(listed.length > 0 && listed.every((d) => d.status !== 'ready'), JSON.stringify(listed));
});

/**
 * Two weeks of history written straight into the store (the real runs of this suite span a
 * minute, too little to chart), so the README's screenshots show what the charts are for.
 * Everything here is synthetic and only ever used for those screenshots.
 */
function seedHistory(dir: string): { scheduleJobs: number } {
  const db = new Database(join(dir, 'cronium.db'));
  try {
    const now = Date.now();
    const DAY = 86_400_000;
    const id = (name: string) => db.prepare('select id from hosts where name = ?').pluck().get(name) as number;
    const schedule = db.prepare("select id from schedules where name = 'heartbeat'").pluck().get() as number;
    const job = db.prepare(
      `insert into jobs (kind, schedule_id, interpreter, script_body, target, mode, status, requested_by, created_at, started_at, finished_at) values (?, ?, 'bash', 'true', '{}', ?, ?, ?, ?, ?, ?)`,
    );
    const run = db.prepare(
      `insert into runs (job_id, host_id, host_name, status, exit_code, mode, mode_reason, helper_transport, error_code, queued_at, started_at, finished_at, t_total_ms) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const deploy = db.prepare(`insert into runner_deployments (host_id, version, target, path, sha256, status, error, created_at, updated_at) values (?, '0.1.0', 'linux-amd64', '/home/ops/.cache/cronium/0.1.0/cronium-runner', 'ff', ?, ?, ?, ?)`);
    const audit = db.prepare(`insert into audit_log (ts, actor, action, target, detail) values (?, 'headless', ?, ?, null)`);
    const rates: [string, number][] = [['web', 0.97], ['db1', 0.9], ['db2', 1], ['cache1', 0.72], ['edge1', 0.85]];
    let scheduleJobs = 0;
    db.transaction(() => {
      for (let d = 14; d >= 1; d--) {
        const dayStart = now - d * DAY;
        // The schedule: four jobs a day, slower on the days a backup ran beside it.
        for (let k = 0; k < 4; k++) {
          const at = dayStart + k * 6 * 3_600_000;
          const ms = Math.round(900 + 400 * Math.sin(d + k) + (d % 5 === 0 ? 1400 : 0));
          const ok = !(d === 9 && k === 2);
          const j = job.run('schedule', schedule, 'auto', ok ? 'succeeded' : 'failed', 'scheduler', at, at, at + ms).lastInsertRowid as number;
          run.run(j, id('web'), 'web', ok ? 'succeeded' : 'failed', ok ? 0 : 1, 'runner', null, 'tunnel', null, at, at, at + ms, ms);
          scheduleJobs++;
        }
        // Ad-hoc runs over the fleet, each host with its own success rate.
        for (let k = 0; k < 10; k++) {
          const at = dayStart + 3_600_000 + k * 2 * 3_600_000;
          const oks = rates.map(([, rate], i) => ((d * 10 + k + i * 7) % 100) / 100 < rate);
          const status = oks.every(Boolean) ? 'succeeded' : oks.some(Boolean) ? 'partial' : 'failed';
          const j = job.run('adhoc', null, 'auto', status, 'headless', at, at, at + 2000).lastInsertRowid as number;
          rates.forEach(([h], i) => {
            const ok = oks[i]!;
            const fallback = h === 'edge1' && k % 4 === 0;
            run.run(j, id(h), h, ok ? 'succeeded' : 'failed', ok ? 0 : 2, fallback ? 'direct' : 'runner', fallback ? 'no writable, executable cache location' : null, fallback ? 'none' : d === 6 && h === 'db1' ? 'in-band' : 'tunnel', ok ? null : d === 4 && h === 'cache1' ? 'PAYLOAD_REJECTED' : null, at, at, at + 400 + i * 150, 400 + i * 150);
          });
          for (let c = 0; c < 4; c++) audit.run(at + c, 'runner.cache-hit', 'web');
        }
        // Deployments: one a day, two failing on a bad day; a binary changed on a host once.
        const deployAt = dayStart + 1800_000;
        deploy.run(id(rates[d % rates.length]![0]), 'ready', null, deployAt, deployAt);
        audit.run(deployAt, 'runner.deploy', rates[d % rates.length]![0]);
        if (d === 8) {
          deploy.run(id('cache1'), 'failed', 'RUNNER_DEPLOY_FAILED: no writable, executable cache location', deployAt + 60_000, deployAt + 60_000);
          deploy.run(id('cache1'), 'failed', 'RUNNER_DEPLOY_FAILED: no writable, executable cache location', deployAt + 120_000, deployAt + 120_000);
        }
        if (d === 3) audit.run(deployAt + 5_000, 'runner.integrity-failed', 'db2');
      }
    })();
    return { scheduleJobs };
  } finally {
    db.close();
  }
}

test('README screenshots: the charts over two weeks of (seeded) history', async () => {
  const p = currentPage();
  for (const h of ['db1', 'db2', 'cache1', 'edge1']) {
    const added = await cronium('hosts', 'add', h, '--address', '127.0.0.1', '--port', '1', '--user', 'ops', '--tag', h.startsWith('db') ? 'db' : 'edge');
    assert.equal(added.code, 0, added.stderr);
  }
  const { scheduleJobs } = seedHistory(dataDir);
  const origin = new URL(url).origin;
  await p.goto(`${origin}/#schedules`);
  const chart = p.getByRole('img', { name: /^Run durations of heartbeat: (\d+) jobs/ });
  await chart.waitFor();
  const shown = Number(/: (\d+) jobs/.exec((await chart.getAttribute('aria-label')) ?? '')?.[1]);
  assert.ok(shown >= scheduleJobs, `the chart shows ${shown} jobs, ${scheduleJobs} were seeded`);
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(artifacts, 'readme-schedules.png') });

  await p.goto(`${origin}/#jobs`);
  const success = p.getByRole('img', { name: /^Success rate per host over the last 30 days: cache1 / });
  await success.waitFor();
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(artifacts, 'readme-jobs.png') });

  await p.goto(`${origin}/#runner`);
  // The health section at the top of the view (the artifacts above it name this machine's paths).
  await p.getByRole('heading', { name: 'Health', level: 2 }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  await eventually(async () => assert.match(await p.locator('.health-tiles').innerText(), /INTEGRITY FAILURES\s*1\b/i));
  assert.match(await p.locator('.health-tiles').innerText(), /TUNNEL FAILURES\s*10\b/i);
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(artifacts, 'readme-runner.png') });

  await p.goto(`${origin}/#hosts`);
  await p.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor();
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(artifacts, 'readme-hosts.png') });
});

test('the page logged no errors', () => {
  assert.deepEqual(pageProblems, []);
});
