/**
 * A job on a thousand hosts in the UI (Debian's Chromium against the real `cronium serve`, 1,000
 * hosts of a packed test fleet on subnet 130: one sshd per 16 loopback addresses, each host its
 * own address): the job view lists the hosts in a virtualised list (only the rows in view are in
 * the page), with counts per status, a status filter and a name filter; the keyboard reaches the
 * last host; selecting a host shows its run.
 * Needs a build, root (the fleet's addresses) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../fleet/fleet';
import { ARTIFACTS as artifacts, cliIn, openApp, prepare, type CliResult, type Serve } from './harness';

let dataDir = '';
let fleet: Fleet | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];
let jobId = 0;
/** Hosts whose address ends in .7 fail (exit 1): default-7, -257, -507 and -757. */
const FAILING = ['default-7', 'default-257', 'default-507', 'default-757'];

/** The CLI, given 3 minutes: a run on 1,000 hosts takes about 30 s here, more on a busy machine. */
function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir, 180_000)(...args);
}

before(async () => {
  dataDir = await prepare('cronium-e2e-big-job-');
  fleet = await startFleet({ subnet: 130, hosts: [], defaults: 1000, packed: true });
  const imported = await cronium('hosts', 'import', '--ssh-config', join(fleet.dir, 'ssh_config'));
  assert.equal(imported.code, 0, imported.stderr);
  const names = fleet.hosts.map((h) => h.name);
  const script = 'case "$SSH_CONNECTION" in *".7 22") exit 1;; esac; echo "hello from $SSH_CONNECTION"';
  const r = await cronium('--json', 'run', ...names.flatMap((n) => ['--host', n]), '--mode', 'direct', '--concurrency', '200', '--command', script);
  // Exit status 1: some hosts failed (on purpose); a line per run on stdout either way.
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  assert.equal(lines.length, 1000, `exit ${r.code}, ${lines.length} lines on stdout; stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.code, 1, r.stderr.slice(-2000));
  jobId = (JSON.parse(lines[0]!) as { jobId: number }).jobId;

  ({ server, browser, page, problems: pageProblems } = await openApp(dataDir));
  await page.evaluate(`location.hash = "#jobs/${jobId}"`);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('1,000 hosts: a virtualised list with status counts and filters, the keyboard reaches the end, a host shows its run', async () => {
  const p = page!;
  const list = p.getByRole('listbox', { name: /^Hosts of this job/ });
  await list.waitFor();
  assert.equal(await list.getAttribute('aria-label'), 'Hosts of this job: 1,000 shown of 1,000');
  const options = list.getByRole('option');
  const inDom = await options.count();
  assert.ok(inDom > 5 && inDom < 80, `${inDom} rows in the page for 1,000 hosts`);
  const filters = p.getByRole('group', { name: 'Show hosts' });
  assert.match(await filters.getByRole('button', { name: /^Failed/ }).innerText(), /Failed\s+4/);
  assert.match(await filters.getByRole('button', { name: /^Succeeded/ }).innerText(), /Succeeded\s+996/);
  await p.screenshot({ path: join(artifacts, 'job-1000-hosts.png') });

  await filters.getByRole('button', { name: /^Failed/ }).click();
  assert.equal(await list.getAttribute('aria-label'), 'Hosts of this job: 4 shown of 1,000');
  assert.deepEqual(await options.locator('.host-list-name').allInnerTexts(), FAILING);
  await options.filter({ hasText: 'default-257' }).click();
  const region = p.getByRole('region', { name: 'Run on default-257' });
  await region.waitFor();
  assert.match(await region.innerText(), /failed/i);
  assert.equal(await options.filter({ hasText: 'default-257' }).getAttribute('aria-selected'), 'true');

  await filters.getByRole('button', { name: /^All/ }).click();
  await list.focus();
  await p.keyboard.press('End');
  await p.getByRole('region', { name: 'Run on default-1000' }).waitFor();
  assert.equal(await list.getByRole('option', { name: /default-1000/ }).getAttribute('aria-selected'), 'true');
  await p.getByRole('region', { name: 'Run on default-1000' }).getByText(/hello from/).first().waitFor({ timeout: 15_000 });
  await p.keyboard.press('ArrowUp');
  await p.getByRole('region', { name: 'Run on default-999' }).waitFor();

  await p.getByRole('searchbox', { name: 'Filter hosts by name' }).fill('default-99');
  assert.equal(await list.getAttribute('aria-label'), 'Hosts of this job: 11 shown of 1,000');
  assert.deepEqual(await options.locator('.host-list-name').allInnerTexts(), ['default-99', ...Array.from({ length: 10 }, (_, i) => `default-99${i}`)]);
  assert.deepEqual(pageProblems, []);
});
