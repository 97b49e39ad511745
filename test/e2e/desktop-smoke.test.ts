/**
 * The desktop smoke test's own steps (test/smoke/desktop-smoke.ts) against the headless
 * door: the real `cronium serve` and the real CLI on one data dir, the UI in Debian's
 * Chromium. Electron cannot start on this machine; the release workflow runs the same steps
 * against the packaged Electron app on macOS, Windows and Linux (test/smoke/electron-smoke.ts).
 * Here "the window" is the browser page and "the tray" is the server process that stays up
 * when the page closes. Needs a build (`npm run build`).
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { runSmoke, type SmokeDriver } from '../smoke/desktop-smoke';
import { launchChromium, prepare, runCliIn, startServe, trackedPage, type Serve } from './harness';

let browser: Browser | null = null;
let server: Serve | null = null;
let dataDir = '';

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

test('the smoke steps pass against cronium serve in Chromium', { timeout: 120_000 }, async () => {
  dataDir = await prepare('cronium-e2e-smoke-');
  const serve = await startServe(dataDir);
  server = serve;
  browser = await launchChromium();
  const { page, problems } = await trackedPage(browser, { viewport: { width: 1200, height: 760 } });
  await page.goto(serve.url);
  let open: Page | null = page;
  const driver: SmokeDriver = {
    name: 'serve',
    page: async () => {
      assert.ok(open, 'the page was closed');
      return open;
    },
    cli: (args, input) => runCliIn(dataDir, args, input),
    closeWindow: async () => {
      await open?.close();
      open = null;
    },
    running: async () => ({ process: serve.child.exitCode === null && serve.child.signalCode === null, tray: null, windowVisible: null }),
    quit: () => serve.stop(),
    exited: async (ms) => Promise.race([serve.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
  };
  const lines: string[] = [];
  const steps = await runSmoke(driver, { hostAddress: '127.0.0.1', log: (l) => lines.push(l) });
  console.log(lines.join('\n'));
  assert.equal(steps.length, 5);
  assert.deepEqual(problems, [], 'no console errors in the page');
});
