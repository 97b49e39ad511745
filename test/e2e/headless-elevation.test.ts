/**
 * Elevation in the UI (Debian's Chromium against the real `cronium serve`, real sshd hosts of the
 * test fleet with real sudo, subnet 111): the host's Edit form sets "sudo with the user's
 * password" and takes the password (which never comes back to the page), the Run form's "Run as
 * root" runs the script as root there, and a host without a setting refuses it with
 * ELEVATION_FAILED and the command that fixes it; "Send a file" pushes a file as root.
 * Needs a build, resources/runner, root (the fleet's addresses and sudoers) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../fleet/fleet';
import { cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve } from './harness';

let dataDir = '';
let fleet: Fleet | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];
let password = '';

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

before(async () => {
  dataDir = await prepare('cronium-e2e-elevation-');
  fleet = await startFleet({ subnet: 111, hosts: [{ name: 'pw', profile: 'sudopass' }, { name: 'plain', profile: 'default' }] });
  password = fleet.host('pw').sudoPassword!;
  for (const name of ['pw', 'plain']) {
    const h = fleet.host(name);
    const added = await cronium('hosts', 'add', name, '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!);
    assert.equal(added.code, 0, added.stderr);
    const trusted = await cronium('hosts', 'trust', name, '--fingerprint', h.hostKeyFingerprint);
    assert.equal(trusted.code, 0, trusted.stderr);
  }
  server = await startServe(dataDir);
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: { width: 1200, height: 900 }, timeoutMs: 15_000 });
  page = tracked.page;
  pageProblems = tracked.problems;
  await page.goto(server.url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const p = () => page!;

async function runAsRoot(host: string): Promise<number> {
  const pg = p();
  await pg.evaluate('location.hash = "#jobs/new"');
  await pg.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  await pg.getByLabel('Hosts', { exact: true }).selectOption([host]);
  await pg.getByLabel('Interpreter').selectOption('sh');
  await pg.getByRole('textbox', { name: 'Script' }).fill('echo "uid=$(id -u)"');
  await pg.getByLabel('Run as root').check();
  await pg.getByRole('button', { name: 'Run', exact: true }).click();
  await pg.waitForURL(/#jobs\/\d+$/);
  return Number(/#jobs\/(\d+)/.exec(pg.url())?.[1]);
}

test("the Edit form sets sudo with the user's password; Run as root runs the script as root there", async () => {
  const pg = p();
  await pg.getByRole('button', { name: 'Edit pw', exact: true }).click();
  const dialog = pg.getByRole('dialog', { name: 'Edit pw' });
  await dialog.waitFor();
  await dialog.locator('#edit-host-elevation').selectOption('sudo-password');
  await dialog.getByLabel('Elevation password').fill(password);
  await dialog.getByRole('button', { name: 'Save changes' }).click();
  await dialog.waitFor({ state: 'hidden' });
  const shown = JSON.parse((await cronium('--json', 'hosts', 'show', 'pw')).stdout) as { elevation: string; hasElevationPassword: boolean };
  assert.deepEqual([shown.elevation, shown.hasElevationPassword], ['sudo-password', true]);

  // The form opened again shows the setting, never the password.
  await pg.getByRole('button', { name: 'Edit pw', exact: true }).click();
  const again = pg.getByRole('dialog', { name: 'Edit pw' });
  assert.equal(await again.locator('#edit-host-elevation').inputValue(), 'sudo-password');
  assert.equal(await again.getByLabel('Elevation password').inputValue(), '');
  await again.getByText('An elevation password is stored').waitFor();
  await again.getByRole('button', { name: 'Cancel' }).click();

  const jobId = await runAsRoot('pw');
  await eventually(async () => {
    const j = JSON.parse((await cronium('--json', 'jobs', 'show', String(jobId))).stdout) as { status: string };
    assert.equal(j.status, 'succeeded');
  }, 30_000);
  await eventually(async () => assert.match(await pg.locator('.terminal-box .xterm-rows').innerText(), /uid=0/), 15_000);
  assert.ok(!(await pg.content()).includes(password), 'the password never reaches the page');
});

test('a host without an elevation setting refuses Run as root with ELEVATION_FAILED and the fix', async () => {
  const pg = p();
  await runAsRoot('plain');
  const panel = pg.getByRole('tabpanel');
  await eventually(async () => assert.match(await panel.innerText(), /ELEVATION_FAILED/), 30_000);
  await eventually(async () => assert.match(await panel.innerText(), /cronium hosts set plain --elevation/));
  assert.deepEqual(pageProblems, []);
});

test('"Send a file" on the Run form pushes a file as root into a root-only directory, verified', async () => {
  const pg = p();
  const dir = await mkdtemp(join(tmpdir(), 'cronium-e2e-push-'));
  const src = join(dir, 'app.conf');
  await writeFile(src, 'key = value\n');
  const dest = `${dir}-root`;
  await mkdir(dest, { mode: 0o755 });
  try {
    await pg.evaluate('location.hash = "#jobs/new"');
    await pg.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
    await pg.getByLabel('Send a file').check();
    await pg.getByLabel('Hosts', { exact: true }).selectOption(['pw']);
    await pg.getByLabel('File on this computer').fill(src);
    await pg.getByLabel('Destination on the hosts').fill(`${dest}/`);
    await pg.getByLabel('Mode').fill('0600');
    await pg.getByLabel('Run as root').check();
    await pg.getByRole('button', { name: 'Send', exact: true }).click();
    await pg.waitForURL(/#jobs\/\d+$/);
    await eventually(async () => assert.match(await pg.locator('.terminal-box .xterm-rows').innerText(), /verified on the host/), 30_000);
    assert.equal(await readFile(join(dest, 'app.conf'), 'utf8'), 'key = value\n');
    const st = await stat(join(dest, 'app.conf'));
    assert.deepEqual([st.uid, st.mode & 0o7777], [0, 0o600]);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(dest, { recursive: true, force: true });
  }
});
