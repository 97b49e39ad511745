/**
 * The views beyond Hosts, end to end through the headless door: the real CLI fills its
 * own data dir, the real `cronium serve` serves it, and Debian's Chromium drives the
 * sidebar navigation (hash routes survive a reload), the Schedules view (add through
 * the form, description and next runs, pause/resume, remove), the Runner view (the
 * installation's artifacts), the Run form (CodeMirror) and the job view (a run against
 * a port where nothing listens fails with CONNECT_FAILED in its tab and its xterm), and
 * a host's diagnostics checklist. Needs a build (`npm run build`) and resources/runner.
 * Screenshots go to test/e2e/artifacts/ for a human to look at.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ARTIFACTS as artifacts, ROOT as root, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve, hideMachinePaths } from './harness';

const VIEWPORT = { width: 1200, height: 760 };

let dataDir = '';
let server: Serve | null = null;
let url = '';
let origin = '';
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];

/** Runs the real CLI against the test's data dir. */
function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

function currentPage(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

/** Clicks a sidebar entry and waits for its view's heading. */
async function openView(p: Page, name: 'Hosts' | 'Jobs' | 'Schedules' | 'Runner'): Promise<void> {
  await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await p.getByRole('heading', { name, level: 1 }).waitFor();
}

/** The text xterm shows (its DOM renderer's rows). */
function terminalText(p: Page): Promise<string> {
  return p.locator('.terminal-box .xterm-rows').innerText();
}

before(async () => {
  assert.ok(existsSync(join(root, 'resources', 'runner', 'linux-amd64', 'cronium-runner')), 'resources/runner is missing: run `npm run build:runner` first');
  dataDir = await prepare('cronium-e2e-jobs-');

  // Nothing listens on 127.0.0.1:1, so connecting fails at once with CONNECT_FAILED.
  const added = [
    await cronium('hosts', 'add', 'nowhere', '--address', '127.0.0.1', '--port', '1', '--user', 'ops', '--tag', 'void'),
    await cronium('hosts', 'add', 'backup1', '--address', '127.0.0.1', '--port', '2', '--user', 'backup', '--tag', 'backups'),
  ];
  for (const r of added) assert.equal(r.code, 0, `hosts add failed: ${r.stderr}`);

  server = await startServe(dataDir);
  url = server.url;
  origin = server.origin;
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: VIEWPORT });
  page = tracked.page;
  pageProblems = tracked.problems;
  await page.goto(url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('the sidebar opens each view, marks it current, and a reload keeps it', async () => {
  const p = currentPage();
  const nav = p.getByRole('navigation', { name: 'Main' });
  for (const name of ['Jobs', 'Schedules', 'Runner', 'Hosts'] as const) {
    await openView(p, name);
    assert.equal(await nav.getByRole('link', { name, exact: true }).getAttribute('aria-current'), 'page');
    assert.equal(new URL(p.url()).hash, `#${name.toLowerCase()}`);
  }
  await openView(p, 'Schedules');
  await p.reload();
  await p.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
  assert.equal(await nav.getByRole('link', { name: 'Schedules', exact: true }).getAttribute('aria-current'), 'page');
  // Keyboard: Tab reaches the sidebar links and Enter follows them.
  await nav.getByRole('link', { name: 'Jobs', exact: true }).focus();
  await p.keyboard.press('Enter');
  await p.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
  // Back returns to the previous view.
  await p.goBack();
  await p.getByRole('heading', { name: 'Schedules', level: 1 }).waitFor();
});

test('a schedule added through the form shows its description and next runs, pauses and resumes', async () => {
  const p = currentPage();
  await openView(p, 'Schedules');
  await p.getByRole('heading', { name: 'No schedules yet' }).waitFor();
  await p.getByRole('button', { name: 'Add schedule' }).first().click();
  const dialog = p.getByRole('dialog', { name: 'Add schedule' });
  await dialog.waitFor();

  // Nothing filled in: the fields say what is missing.
  await dialog.getByLabel('Name').fill('');
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  await dialog.getByText('Name is required').waitFor();
  await dialog.getByText('Choose a host or a tag').waitFor();

  await dialog.getByLabel('Name').fill('nightly-backup');
  await dialog.getByLabel('Target').selectOption('host:backup1');
  await dialog.getByLabel('Cron').fill('30 2 * * *');
  await dialog.getByLabel('Time zone').fill('Europe/Berlin');
  // The script is CodeMirror's contenteditable, labelled "Script".
  const editor = dialog.getByRole('textbox', { name: 'Script' });
  await editor.click();
  await p.keyboard.press('Control+A');
  await p.keyboard.type('tar czf /tmp/backup.tgz /etc # nightly\n');
  await p.screenshot({ path: join(artifacts, 'schedule-add.png') });
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  await dialog.waitFor({ state: 'detached' });

  const card = p.getByRole('listitem').filter({ has: p.getByRole('heading', { name: 'nightly-backup' }) });
  await card.waitFor();
  const text = await card.innerText();
  assert.match(text, /30 2 \* \* \*/);
  assert.match(text, /02:30/, `the description names the time: ${text}`);
  assert.match(text, /Europe\/Berlin/);
  assert.match(text, /backup1/);
  const nextRuns = card.getByRole('list', { name: /Next runs/ }).getByRole('listitem');
  await eventually(async () => assert.equal(await nextRuns.count(), 5));
  // Next runs are shown in the schedule's zone: every one at 02:30.
  for (const t of await nextRuns.allInnerTexts()) assert.match(t, /02:30/, t);

  // The CLI sees what the UI made.
  const listed = await cronium('schedules', 'list', '--json');
  assert.equal(listed.code, 0, listed.stderr);
  const schedules = JSON.parse(listed.stdout) as { name: string; cron: string; tz: string; paused: boolean }[];
  assert.deepEqual(schedules.map((s) => [s.name, s.cron, s.tz, s.paused]), [['nightly-backup', '30 2 * * *', 'Europe/Berlin', false]]);

  await card.getByRole('button', { name: 'Pause nightly-backup' }).click();
  await card.getByRole('button', { name: 'Resume nightly-backup' }).waitFor();
  await card.getByText('paused', { exact: true }).waitFor();
  await p.screenshot({ path: join(artifacts, 'schedules.png') });
  const paused = JSON.parse((await cronium('schedules', 'list', '--json')).stdout) as { paused: boolean }[];
  assert.equal(paused[0]?.paused, true);
  await card.getByRole('button', { name: 'Resume nightly-backup' }).click();
  await card.getByRole('button', { name: 'Pause nightly-backup' }).waitFor();
  const resumed = JSON.parse((await cronium('schedules', 'list', '--json')).stdout) as { paused: boolean }[];
  assert.equal(resumed[0]?.paused, false);
});

test('removing a schedule asks first', async () => {
  const p = currentPage();
  await p.getByRole('button', { name: 'Add schedule' }).first().click();
  const dialog = p.getByRole('dialog', { name: 'Add schedule' });
  await dialog.getByLabel('Name').fill('throwaway');
  await dialog.getByLabel('Target').selectOption('tag:void');
  await dialog.getByLabel('Cron').fill('not a cron');
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  // The app refuses the expression; the form says so on the Cron field and stays open.
  await eventually(async () => assert.equal(await dialog.getByLabel('Cron').getAttribute('aria-invalid'), 'true'));
  await dialog.getByLabel('Cron').fill('0 * * * *');
  await dialog.getByRole('button', { name: 'Add schedule' }).click();
  await dialog.waitFor({ state: 'detached' });
  await p.getByRole('button', { name: 'Remove throwaway' }).click();
  const confirm = p.getByRole('alertdialog', { name: 'Remove throwaway?' });
  await confirm.getByRole('button', { name: 'Remove schedule' }).click();
  await eventually(async () => assert.equal(await p.getByRole('heading', { name: 'throwaway' }).count(), 0));
  const names = (JSON.parse((await cronium('schedules', 'list', '--json')).stdout) as { name: string }[]).map((s) => s.name);
  assert.deepEqual(names, ['nightly-backup']);
});

test('the Runner view lists the artifacts with their signature status', async () => {
  const p = currentPage();
  await openView(p, 'Runner');
  const table = p.getByRole('table', { name: 'Runner artifacts' });
  await table.waitFor();
  const targets = await table.getByRole('rowheader').allInnerTexts();
  assert.ok(targets.includes('linux-amd64'), `targets: ${targets.join(', ')}`);
  const row = table.getByRole('row').filter({ has: p.getByRole('rowheader', { name: 'linux-amd64' }) });
  assert.match(await row.innerText(), /verified/);
  await p.getByText('Every artifact verifies.').waitFor();
  await p.getByText(/No host has the runner yet/).waitFor();
  await p.screenshot({ path: join(artifacts, 'runner.png') });
});

let jobId = 0;

test('the Run form starts a job; against a closed port its tab shows CONNECT_FAILED', async () => {
  const p = currentPage();
  await openView(p, 'Jobs');
  await p.getByRole('heading', { name: 'No jobs yet' }).waitFor();
  await p.getByRole('link', { name: 'Run a script' }).first().click();
  await p.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();

  // Nothing chosen: the form says so and sends nothing.
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.getByText('Choose at least one host').waitFor();

  await p.getByLabel('Hosts', { exact: true }).selectOption(['nowhere']);
  await p.getByLabel('Interpreter').selectOption('python3');
  // Switching the interpreter swaps the sample script and its highlighting.
  const editor = p.getByRole('textbox', { name: 'Script' });
  await eventually(async () => assert.match(await editor.innerText(), /import platform/));
  assert.equal(await p.locator('.script-editor').getAttribute('data-language'), 'python3');
  await p.getByLabel('Timeout (seconds)').fill('20');
  await p.screenshot({ path: join(artifacts, 'run-form.png') });
  await p.getByRole('button', { name: 'Run', exact: true }).click();

  await p.waitForURL(/#jobs\/\d+$/);
  jobId = Number(/#jobs\/(\d+)/.exec(p.url())?.[1]);
  assert.ok(jobId > 0);
  await p.getByRole('heading', { name: `Job ${jobId}`, level: 1 }).waitFor();
  const tab = p.getByRole('tab', { name: /nowhere/ });
  await tab.waitFor();
  assert.equal(await tab.getAttribute('aria-selected'), 'true');
  const panel = p.getByRole('tabpanel');
  await eventually(async () => assert.match(await panel.innerText(), /CONNECT_FAILED/), 20_000);
  await panel.getByText('failed', { exact: true }).first().waitFor();
  // The job's own status is final: no Cancel any more.
  await eventually(async () => assert.equal(await p.getByRole('button', { name: 'Cancel job' }).count(), 0));
  // The run's own log says why, in the terminal.
  await eventually(async () => assert.match(await terminalText(p), /CONNECT_FAILED/));
  await p.screenshot({ path: join(artifacts, 'job-failed.png') });

  const shown = await cronium('jobs', 'show', String(jobId), '--json');
  assert.equal(shown.code, 0, shown.stderr);
  const job = JSON.parse(shown.stdout) as { status: string; runs: { host: string; status: string; errorCode: string | null }[] };
  assert.equal(job.status, 'failed');
  assert.deepEqual(job.runs.map((r) => [r.host, r.status, r.errorCode]), [['nowhere', 'failed', 'CONNECT_FAILED']]);
});

test('a job over a tag has a tab per host, reachable with the arrow keys', async () => {
  const p = currentPage();
  // A host added from the CLI joins the tag.
  const started = await cronium('hosts', 'add', 'nowhere2', '--address', '127.0.0.1', '--port', '3', '--tag', 'void');
  assert.equal(started.code, 0, started.stderr);
  await openView(p, 'Jobs');
  await p.getByRole('link', { name: 'Run a script' }).first().click();
  await p.getByLabel('A tag').check();
  await p.getByLabel('Tag', { exact: true }).fill('void');
  await p.getByRole('button', { name: 'Run', exact: true }).click();
  await p.waitForURL(/#jobs\/\d+$/);
  const tabs = p.getByRole('tablist', { name: 'Hosts of this job' }).getByRole('tab');
  await eventually(async () => assert.equal(await tabs.count(), 2));
  await tabs.first().focus();
  await p.keyboard.press('ArrowRight');
  await eventually(async () => assert.equal(await tabs.nth(1).getAttribute('aria-selected'), 'true'));
  await eventually(async () => assert.equal(await tabs.nth(1).evaluate((el) => el === el.ownerDocument.activeElement), true));
  assert.match(p.url(), /#jobs\/\d+\/nowhere2$/);
  await eventually(async () => assert.match(await p.getByRole('tabpanel').innerText(), /CONNECT_FAILED/), 20_000);
});

test('the jobs list shows both jobs and filters by status', async () => {
  const p = currentPage();
  await openView(p, 'Jobs');
  const table = p.getByRole('table', { name: 'Jobs' });
  await table.waitFor();
  await eventually(async () => assert.equal(await table.getByRole('row').count(), 3));
  const first = await table.getByRole('row').nth(2).innerText();
  assert.match(first, new RegExp(`#${jobId}`));
  assert.match(first, /failed/);
  assert.match(first, /nowhere/);
  await p.getByLabel('Status').selectOption('succeeded');
  await p.getByRole('heading', { name: 'No succeeded jobs' }).waitFor();
  await p.getByLabel('Status').selectOption('failed');
  await eventually(async () => assert.equal(await table.getByRole('row').count(), 3));
  await p.screenshot({ path: join(artifacts, 'jobs.png') });
  // A row opens its job.
  await table.getByRole('link', { name: `#${jobId}` }).click();
  await p.getByRole('heading', { name: `Job ${jobId}`, level: 1 }).waitFor();
});

test('a host’s detail diagnoses it and shows the checklist with hints', async () => {
  const p = currentPage();
  await openView(p, 'Hosts');
  await p.getByRole('table', { name: 'Hosts' }).getByRole('link', { name: 'nowhere', exact: true }).click();
  await p.getByRole('heading', { name: 'nowhere', level: 1 }).waitFor();
  assert.match(p.url(), /#hosts\/nowhere$/);
  // Its earlier job is listed.
  await p.getByRole('link', { name: `#${jobId}` }).waitFor();
  await p.getByRole('button', { name: 'Diagnose' }).click();
  await p.getByRole('status').filter({ hasText: 'Diagnostics finished: fail.' }).waitFor({ timeout: 30_000 });
  const checks = p.getByRole('list', { name: 'Checks of nowhere' });
  await checks.waitFor();
  // The TCP check failed with its detail and hint.
  const tcp = checks.getByRole('listitem').filter({ has: p.locator('.check-title', { hasText: /^TCP connect/ }) });
  assert.match(await tcp.innerText(), /fail/);
  assert.match(await tcp.innerText(), /connection refused/);
  const text = await checks.innerText();
  assert.match(text, /fail/i, text);
  assert.ok((await checks.getByRole('listitem').count()) >= 2);
  await p.screenshot({ path: join(artifacts, 'host-detail.png') });
  // The report is stored: diagnostics.list gives it back after a reload.
  await p.reload();
  await p.getByRole('list', { name: 'Checks of nowhere' }).waitFor();
});

test('screenshots in dark', async () => {
  assert.ok(browser);
  const dark = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'dark' });
  await hideMachinePaths(dark);
  const dp = await dark.newPage();
  const problems: string[] = [];
  dp.on('pageerror', (e) => problems.push(e.message));
  await dp.goto(url);
  await dp.getByRole('table', { name: 'Hosts' }).waitFor();
  await dp.goto(`${origin}/#jobs/${jobId}`);
  await dp.getByRole('heading', { name: `Job ${jobId}`, level: 1 }).waitFor();
  await dp.locator('.terminal-box .xterm').waitFor();
  const termBg = await dp.evaluate<string>("getComputedStyle(document.querySelector('.terminal-box')).backgroundColor");
  assert.notEqual(termBg, 'rgb(251, 251, 252)', 'the terminal did not go dark');
  await dp.screenshot({ path: join(artifacts, 'job-failed-dark.png') });
  for (const [hash, heading, file] of [
    ['#schedules', 'Schedules', 'schedules-dark.png'],
    ['#runner', 'Runner', 'runner-dark.png'],
    ['#jobs/new', 'Run a script', 'run-form-dark.png'],
    ['#hosts/nowhere', 'nowhere', 'host-detail-dark.png'],
    ['#scripts', 'Scripts', 'scripts-dark.png'],
    ['#jobs', 'Jobs', 'jobs-dark.png'],
  ] as const) {
    await dp.goto(`${origin}/${hash}`);
    await dp.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await dp.waitForTimeout(300);
    await dp.screenshot({ path: join(artifacts, file) });
  }
  await dark.close();
  assert.deepEqual(problems, []);
});

test('the page logged no errors (CSP violations included)', () => {
  assert.deepEqual(pageProblems, []);
});

