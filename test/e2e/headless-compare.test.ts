/**
 * Output compared across hosts in the UI (Debian's Chromium against the real `cronium serve`,
 * three real sshd hosts of the test fleet, subnet 122): a fan-out run by the CLI where one host
 * answers differently and every line carries a time; the job view's compare panel groups the
 * hosts once the times are ignored, shows the odd host's diff against the largest group, and
 * "Re-run on differing hosts" opens a new job that ran on that host only.
 * Needs a build, resources/runner, root (the fleet's addresses) and Debian's Chromium.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startFleet, type Fleet } from '../fleet/fleet';
import { ARTIFACTS as artifacts, cliIn, eventually, launchChromium, prepare, startServe, trackedPage, type CliResult, type Serve } from './harness';

const NAMES = ['alpha', 'beta', 'gamma'];
let dataDir = '';
let fleet: Fleet | null = null;
let server: Serve | null = null;
let browser: Browser | null = null;
let page: Page | null = null;
let pageProblems: string[] = [];
let jobId = 0;

function cronium(...args: string[]): Promise<CliResult> {
  return cliIn(dataDir)(...args);
}

before(async () => {
  dataDir = await prepare('cronium-e2e-compare-');
  fleet = await startFleet({ subnet: 122, hosts: NAMES.map((name) => ({ name, profile: 'default' as const })) });
  for (const name of NAMES) {
    const h = fleet.host(name);
    const added = await cronium('hosts', 'add', name, '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!);
    assert.equal(added.code, 0, added.stderr);
    const trusted = await cronium('hosts', 'trust', name, '--fingerprint', h.hostKeyFingerprint);
    assert.equal(trusted.code, 0, trusted.stderr);
  }
  const odd = fleet.host('gamma').address;
  const script = `echo "at $(date +%H:%M:%S.%N)"; case "$SSH_CONNECTION" in *" ${odd} "*) echo "version 2.1";; *) echo "version 2.0";; esac`;
  const r = await cronium('--json', 'run', ...NAMES.flatMap((n) => ['--host', n]), '--command', script);
  assert.equal(r.code, 0, r.stderr);
  jobId = (JSON.parse(r.stdout.trim().split('\n')[0]!) as { jobId: number }).jobId;

  server = await startServe(dataDir);
  browser = await launchChromium();
  const tracked = await trackedPage(browser, { viewport: { width: 1200, height: 900 }, timeoutMs: 15_000 });
  page = tracked.page;
  pageProblems = tracked.problems;
  await page.goto(server.url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
  await page.evaluate(`location.hash = "#jobs/${jobId}"`);
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  await fleet?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('the compare panel groups hosts, shows a diff, and re-runs on the differing host', async () => {
  const p = page!;
  await p.getByRole('heading', { name: `Job ${jobId}`, level: 1 }).waitFor();
  await p.getByText('Compare outputs across hosts').click();
  // Without ignoring the times, every host differs.
  await p.getByRole('button', { name: 'Compare', exact: true }).click();
  await p.getByText('3 groups of hosts.').waitFor();
  await p.getByLabel('Ignore (regular expressions, one per line)').fill('\\d\\d:\\d\\d:\\d\\d\\.\\d+');
  await p.getByRole('button', { name: 'Compare', exact: true }).click();
  await p.getByText('2 groups of hosts.').waitFor();
  const groups = p.getByRole('list', { name: 'Output groups, largest first' }).getByRole('listitem');
  assert.equal(await groups.count(), 2);
  assert.match(await groups.nth(0).innerText(), /2 hosts[\s\S]*alpha[\s\S]*beta[\s\S]*version 2\.0/);
  assert.match(await groups.nth(1).innerText(), /1 host[\s\S]*gamma[\s\S]*version 2\.1/);
  assert.doesNotMatch(await groups.nth(0).innerText(), /\d\d:\d\d:\d\d/, 'samples are normalised');

  await groups.nth(1).getByRole('button', { name: 'gamma' }).click();
  const diff = p.getByLabel(/Diff of gamma against (alpha|beta)/);
  await diff.waitFor();
  const text = await diff.innerText();
  assert.match(text, /^-version 2\.0$/m);
  assert.match(text, /^\+version 2\.1$/m);
  assert.equal(await diff.locator('.diff-add').count(), 1);
  await p.screenshot({ path: join(artifacts, 'job-compare.png') });

  await p.getByRole('button', { name: 'Re-run on differing hosts (1)' }).click();
  await eventually(async () => assert.notEqual(await p.getByRole('heading', { level: 1 }).innerText(), `Job ${jobId}`), 15_000);
  const heading = await p.getByRole('heading', { level: 1 }).innerText();
  const rerunId = Number(/Job (\d+)/.exec(heading)?.[1]);
  assert.ok(rerunId > jobId, heading);
  await eventually(async () => {
    const job = JSON.parse((await cronium('--json', 'jobs', 'show', String(rerunId))).stdout) as { status: string; runs: { host: string; status: string }[] };
    assert.deepEqual(job.runs.map((r) => [r.host, r.status]), [['gamma', 'succeeded']]);
    assert.equal(job.status, 'succeeded');
  }, 30_000);
  assert.deepEqual(pageProblems, []);
});
