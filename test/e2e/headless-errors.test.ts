/**
 * Errors in the UI, against a real sshd of the test fleet (subnet 241) and a real `cronium
 * serve` without runner artifacts: a run that failed with HOST_KEY_UNKNOWN shows its code, its
 * message and, under it, the hint with the exact `cronium hosts trust … --fingerprint …`
 * command, each once; once trusted, a run from the Run form goes direct and its job view says
 * why; the Runner view says the runner is not built, with the command that builds it.
 * Needs a build, root (the fleet's addresses) and Debian's Chromium.
 */
import assert from 'node:assert/strict';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet, type FleetHost } from '../fleet/fleet';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve } from './harness';

let dataDir = '';
let fleet: Fleet | null = null;
let web: FleetHost | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let problems: string[] = [];
let jobId = 0;

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

function p(): Page {
  assert.ok(page, 'the page is not open');
  return page;
}

/** How many times `needle` occurs in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

before(async () => {
  dataDir = await prepare('cronium-e2e-errors-');
  fleet = await startFleet({ subnet: 241, hosts: [{ name: 'web', profile: 'default' }] });
  web = fleet.host('web');
  assert.ok(web.identityFile);
  const added = await cronium('hosts', 'add', 'web', '--address', web.address, '--port', String(web.port), '--user', web.user, '--identity', web.identityFile);
  assert.equal(added.code, 0, added.stderr);
  // The host's key is not trusted yet: the run fails before it starts, with the trust command as its hint.
  const run = await cronium('--json', 'run', '--host', 'web', '--command', 'true');
  assert.equal(run.code, 255, run.stderr);
  const line = JSON.parse(run.stdout) as { jobId: number; error: { code: string; hint?: string } };
  assert.equal(line.error.code, 'HOST_KEY_UNKNOWN');
  jobId = line.jobId;
  // Served with an empty runner artifacts dir: what a machine without them shows.
  const empty = join(dataDir, 'no-runner');
  await mkdir(empty);
  server = await startServe(dataDir, { CRONIUM_RUNNER_DIR: empty });
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: { width: 1200, height: 760 }, timeoutMs: 15_000 });
  page = tracked.page;
  problems = tracked.problems;
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('a run that failed with HOST_KEY_UNKNOWN shows code, message and, under it, the trust command with the fingerprint, once', async () => {
  assert.ok(server && web);
  await p().goto(`${server.url}#jobs/${jobId}`);
  const notice = p().getByRole('tabpanel').locator('.run-error .notice');
  await notice.waitFor();
  const trust = `cronium hosts trust web --fingerprint ${web.hostKeyFingerprint}`;
  const message = notice.locator('.notice-message');
  const hint = notice.locator('.notice-hint');
  assert.match(await message.innerText(), /the host key of web .* is not trusted yet/);
  assert.equal(await notice.locator('.notice-code').innerText(), 'HOST_KEY_UNKNOWN');
  assert.ok((await hint.innerText()).endsWith(trust), await hint.innerText());
  // The hint once on the whole page, and under the message; the code in the notice and in the
  // last line of the run's log (its transcript, as `cronium jobs logs` prints it).
  const text = await p().locator('main').innerText();
  assert.equal(count(text, trust), 1, text);
  assert.equal(count(text, 'HOST_KEY_UNKNOWN'), 2, text);
  const [m, h] = [await message.boundingBox(), await hint.boundingBox()];
  assert.ok(m && h && h.y >= m.y + m.height - 1, `the hint is below the message: ${JSON.stringify({ m, h })}`);
  await p().screenshot({ path: join(artifacts, 'run-error-hint.png') });
});

test('a run from the Run form without built artifacts runs directly, and its job view says why', async () => {
  assert.ok(server && web);
  const trusted = await cronium('hosts', 'trust', 'web', '--fingerprint', web.hostKeyFingerprint);
  assert.equal(trusted.code, 0, trusted.stderr);
  await p().goto(`${server.url}#jobs/new/web`);
  await p().getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  const editor = p().getByRole('textbox', { name: 'Script' });
  await editor.click();
  await p().keyboard.press('Control+A');
  await p().keyboard.press('Delete');
  await p().keyboard.insertText('echo hello from direct mode\n');
  await p().getByRole('button', { name: 'Run', exact: true }).click();
  await p().waitForURL(/#jobs\/\d+$/);
  const panel = p().getByRole('tabpanel');
  await eventually(async () => assert.match(await panel.innerText(), /succeeded/), 30_000);
  const text = await panel.innerText();
  assert.match(text, /MODE\s+direct/i, text);
  assert.equal(count(text, 'Mode: runner artifacts are not built here; build them with: cronium runner build'), 1, text);
});

test('the Runner view without built artifacts says so, with the command that builds them under it', async () => {
  assert.ok(server);
  await p().goto(`${server.url}#runner`);
  const notice = p().getByRole('region', { name: 'Artifacts' }).getByRole('alert');
  await notice.waitFor();
  assert.match(await notice.locator('.notice-message').innerText(), /no runner artifacts in .*no-runner .*not built here/);
  assert.equal(await notice.locator('.notice-code').innerText(), 'NOT_FOUND');
  assert.match(await notice.locator('.notice-hint').innerText(), /^build it with: cronium runner build/);
});

test('the page logged no errors', () => {
  assert.deepEqual(problems, []);
});
