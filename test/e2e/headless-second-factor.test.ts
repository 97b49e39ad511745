/**
 * Hosts that ask for more than a key, and minimal servers, in the UI (Debian's Chromium against
 * the real `cronium serve`, real servers of the test fleet on subnet 116): an OpenSSH host that
 * wants a one-time code after the key (AuthenticationMethods publickey,keyboard-interactive, PAM's
 * google-authenticator) asks it in a dialog, which a page opened later shows too; declining fails
 * the run AUTH_INTERACTIVE_REQUIRED, and a scheduled run fails so at once without asking anyone.
 * The codes come from oathtool, an independent TOTP implementation. Dropbear without
 * sftp-server, TinySSH, a BusyBox-only host and a certificate-only host (through your own ssh)
 * run a script from the Run form in auto mode.
 * Needs a build, resources/runner, root (the fleet) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../fleet/fleet';
import { addFleetHost, cliIn, eventually, openApp, prepare, type CliResult, type Serve } from './harness';

let dataDir = '';
let fleet: Fleet | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];
const PASSPHRASE = 'correct horse battery';
const cleanup: string[] = [];

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

/** The current code of the otp host, from oathtool (RFC 6238, not our code). */
function totp(): string {
  return execFileSync('oathtool', ['--totp', '-b', fleet!.host('otp').otpSecret!]).toString().trim();
}

before(async () => {
  dataDir = await prepare('cronium-e2e-second-factor-');
  fleet = await startFleet({
    subnet: 116,
    hosts: [
      { name: 'otp', profile: 'otp' },
      { name: 'router', profile: 'dropbear' },
      { name: 'tiny', profile: 'tinyssh' },
      { name: 'bb', profile: 'busybox' },
      { name: 'cert', profile: 'cert' },
      { name: 'keyhost', profile: 'default' },
    ],
  });
  // Two names for one host, each with an encrypted copy of the fleet's key and no stored passphrase.
  const kh = fleet.host('keyhost');
  const encrypted = join(dataDir, '..', `${dataDir.split('/').pop()}-encrypted_ed25519`);
  await copyFile(kh.identityFile!, encrypted);
  await chmod(encrypted, 0o600);
  execFileSync('ssh-keygen', ['-q', '-p', '-P', '', '-N', PASSPHRASE, '-f', encrypted]);
  cleanup.push(encrypted);
  // The certificate host comes from its ssh_config (CertificateFile: the OpenSSH transport).
  const imported = await cronium('hosts', 'import', '--ssh-config', join(fleet.dir, 'ssh_config'));
  assert.match(imported.stderr + imported.stdout, /added cert /);
  // A host reached through a ProxyCommand (socat carrying the connection), as the host form adds it.
  await addFleetHost(cronium, { ...kh, identityFile: kh.identityFile! }, 'viaproxy', ['--proxy-command', 'exec socat - TCP:%h:%p']);
  for (const name of ['enc1', 'enc2']) await addFleetHost(cronium, { ...kh, identityFile: encrypted }, name);
  for (const h of fleet.hosts.filter((x) => x.profile !== 'cert')) {
    await cronium('hosts', 'rm', h.name);
    await addFleetHost(cronium, h, h.name);
  }
  ({ server, browser, page, problems: pageProblems } = await openApp(dataDir));
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  for (const f of cleanup) await rm(f, { force: true });
});

const p = () => page!;

/** Starts a run from the Run form and returns its job id. */
async function runFromForm(hosts: string[], script: string): Promise<number> {
  const pg = p();
  await pg.evaluate('location.hash = "#jobs/new"');
  await pg.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
  await pg.getByLabel('Hosts', { exact: true }).selectOption(hosts);
  await pg.getByLabel('Interpreter').selectOption('sh');
  await pg.getByRole('textbox', { name: 'Script' }).fill(script);
  await pg.getByRole('button', { name: 'Run', exact: true }).click();
  await pg.waitForURL(/#jobs\/\d+$/);
  return Number(/#jobs\/(\d+)/.exec(pg.url())?.[1]);
}

async function jobStatus(id: number): Promise<{ status: string; runs: { host: string; status: string; errorCode: string | null }[] }> {
  return JSON.parse((await cronium('--json', 'jobs', 'show', String(id))).stdout) as { status: string; runs: { host: string; status: string; errorCode: string | null }[] };
}

test('a scheduled run on a host that wants a one-time code fails AUTH_INTERACTIVE_REQUIRED at once, asking nobody', async () => {
  const dir = join(dataDir, 'scripts');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'hello.sh');
  await writeFile(file, 'echo scheduled\n');
  const added = await cronium('schedules', 'add', 'every-second', '--cron', '* * * * * *', '--host', 'otp', '--script', file);
  assert.equal(added.code, 0, added.stderr);
  let jobId = 0;
  await eventually(async () => {
    const jobs = JSON.parse((await cronium('--json', 'jobs', 'list', '--schedule', 'every-second')).stdout) as { id: number; status: string }[];
    const done = jobs.find((j) => j.status === 'failed');
    assert.ok(done, `a fired job failed: ${JSON.stringify(jobs)}`);
    jobId = done.id;
  }, 20_000);
  assert.equal((await cronium('schedules', 'pause', 'every-second')).code, 0);
  const job = await jobStatus(jobId);
  assert.equal(job.runs[0]?.errorCode, 'AUTH_INTERACTIVE_REQUIRED');
  assert.equal(await p().getByRole('alertdialog').count(), 0, 'nobody was asked');
});

test('the one-time code is asked in a dialog: declining fails the run, answering runs it, and a page opened later shows the question', async () => {
  const pg = p();
  // Declined: the run fails with the code that says what to do.
  const declined = await runFromForm(['otp'], 'echo never');
  const first = pg.getByRole('alertdialog', { name: 'otp asks for an answer' });
  await first.waitFor();
  await first.getByRole('button', { name: 'Decline' }).click();
  await first.waitFor({ state: 'hidden' });
  await eventually(async () => assert.equal((await jobStatus(declined)).runs[0]?.errorCode, 'AUTH_INTERACTIVE_REQUIRED'), 20_000);

  // Answered, after the page was reloaded while the question waited (auth.pending brings it back).
  const answered = await runFromForm(['otp'], 'echo "answered as $(id -un)"');
  await pg.getByRole('alertdialog', { name: 'otp asks for an answer' }).waitFor();
  await pg.reload();
  const dialog = pg.getByRole('alertdialog', { name: 'otp asks for an answer' });
  await dialog.waitFor();
  const field = dialog.getByLabel('Verification code');
  assert.equal(await field.getAttribute('type'), 'password', 'the server asked for the code without echo');
  const code = totp();
  await field.fill(code);
  await dialog.getByRole('button', { name: 'Answer' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(async () => assert.equal((await jobStatus(answered)).status, 'succeeded'), 30_000);
  await pg.evaluate(`location.hash = "#jobs/${answered}"`);
  await eventually(async () => assert.match(await pg.locator('.terminal-box .xterm-rows').innerText(), new RegExp(`answered as ${fleet!.host('otp').user}`)), 15_000);
  assert.ok(!(await pg.content()).includes(code), 'the code is not shown anywhere');
  const log = JSON.parse((await cronium('--json', 'jobs', 'logs', String(answered))).stdout || '{}') as unknown;
  assert.ok(!JSON.stringify(log).includes(code), 'nor stored with the run');
});

test("an encrypted key's passphrase is asked in a dialog; remembered, a second host with the same key is reached without asking", async () => {
  const pg = p();
  const first = await runFromForm(['enc1'], 'echo "key opened"');
  const dialog = pg.getByRole('alertdialog', { name: 'enc1 asks for an answer' });
  await dialog.waitFor();
  const field = dialog.getByLabel(/^Passphrase for .*encrypted_ed25519$/);
  assert.equal(await field.getAttribute('type'), 'password');
  await field.fill(PASSPHRASE);
  await dialog.getByLabel('Remember until Cronium quits (in memory only)').check();
  await dialog.getByRole('button', { name: 'Answer' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually(async () => assert.equal((await jobStatus(first)).status, 'succeeded'), 30_000);
  // Another host name means another connection: the key opens with the remembered passphrase.
  const second = await runFromForm(['enc2'], 'echo "key opened again"');
  await eventually(async () => assert.equal((await jobStatus(second)).status, 'succeeded'), 30_000);
  assert.equal(await pg.getByRole('alertdialog').count(), 0, 'not asked again');
  assert.ok(!(await pg.content()).includes(PASSPHRASE));
});

test('Dropbear without sftp-server, TinySSH, a BusyBox-only host, a certificate host and a ProxyCommand host run a script from the Run form in auto mode', async () => {
  const id = await runFromForm(['router', 'tiny', 'bb', 'cert', 'viaproxy'], 'echo "on $(id -un)"');
  await eventually(async () => {
    const job = await jobStatus(id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.runs));
  }, 60_000);
  const show = JSON.parse((await cronium('--json', 'jobs', 'show', String(id))).stdout) as { runs: { host: string; mode: string; transport: string }[] };
  assert.deepEqual(show.runs.map((r) => [r.host, r.mode, r.transport]).sort(), [['bb', 'runner', 'builtin'], ['cert', 'runner', 'openssh'], ['router', 'runner', 'builtin'], ['tiny', 'runner', 'builtin'], ['viaproxy', 'runner', 'builtin']]);
  assert.deepEqual(pageProblems, []);
});
