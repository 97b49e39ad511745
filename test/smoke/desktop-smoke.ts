/**
 * The desktop app's smoke test, as steps that take a driver, so that the same code runs
 * against the real Electron app on macOS, Windows and Linux in the release workflow
 * (electron-smoke.ts, Playwright's _electron) and against `cronium serve` in Chromium here
 * (test/e2e/desktop-smoke.test.ts), where Electron cannot start. The steps: the window opens
 * and the Hosts view renders; a host added through the UI is listed by the bundled CLI;
 * a per-second schedule fires; closing the window leaves the app (tray) and its scheduler
 * running; Quit stops both. The host's address is on loopback where nothing listens, so its
 * jobs fail at once: firing is what is checked, not running.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

/** What a CLI run produced. */
export interface SmokeCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What the steps drive: the app (Electron or `cronium serve` in a browser) and its CLI. */
export interface SmokeDriver {
  /** Names the door in messages ("electron", "serve"). */
  name: string;
  /** The app's window (Electron) or page (browser). */
  page(): Promise<Page>;
  /** Runs the CLI that ships with the app against the app's data dir. */
  cli(args: string[], input?: string): Promise<SmokeCliResult>;
  /** Closes the window as a user does (Electron hides it to the tray; the browser page goes away). */
  closeWindow(): Promise<void>;
  /** Whether the app still runs with nothing on screen: the process, and the tray where there is one. */
  running(): Promise<{ process: boolean; tray: boolean | null; windowVisible: boolean | null }>;
  /** Quits as a user does (the tray's Quit; SIGTERM for serve). */
  quit(): Promise<void>;
  /** Resolves true once the process has exited, false after the timeout. */
  exited(timeoutMs: number): Promise<boolean>;
}

/** One step's outcome, for the report. */
export interface SmokeStep {
  name: string;
  ms: number;
  detail: string;
}

const SCHEDULE = 'smoke-every-second';
const HOST = 'smoke-web1';

async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function ok(r: SmokeCliResult, what: string): string {
  assert.equal(r.code, 0, `${what} exited with ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Jobs the smoke schedule has fired so far, by the CLI. */
async function fired(driver: SmokeDriver): Promise<number> {
  const jobs = JSON.parse(ok(await driver.cli(['jobs', 'list', '--schedule', SCHEDULE, '--limit', '1000', '--json']), 'cronium jobs list')) as { schedule: string | null }[];
  return jobs.filter((j) => j.schedule === SCHEDULE).length;
}

/** Runs every step in order; throws at the first that fails, naming it. Returns what each measured. */
export async function runSmoke(driver: SmokeDriver, opts: { hostAddress: string; log?: (line: string) => void }): Promise<SmokeStep[]> {
  const steps: SmokeStep[] = [];
  const step = async (name: string, body: () => Promise<string>) => {
    const t0 = Date.now();
    try {
      const detail = await body();
      steps.push({ name, ms: Date.now() - t0, detail });
      opts.log?.(`✔ ${name} (${Date.now() - t0} ms)${detail ? `: ${detail}` : ''}`);
    } catch (e) {
      opts.log?.(`✖ ${name}: ${(e as Error).message}`);
      throw new Error(`smoke step "${name}" failed on ${driver.name}: ${(e as Error).message}`, { cause: e });
    }
  };

  await step('the window opens and the Hosts view renders', async () => {
    const page = await driver.page();
    await page.getByRole('heading', { name: 'Hosts', level: 1 }).waitFor({ timeout: 30_000 });
    return await page.title();
  });

  await step('a host added through the UI is listed by the bundled CLI', async () => {
    const page = await driver.page();
    await page.getByRole('button', { name: 'Add host' }).first().click();
    const dialog = page.getByRole('dialog', { name: 'Add host' });
    await dialog.getByLabel('Name').fill(HOST);
    await dialog.getByLabel('Address').fill(opts.hostAddress);
    // The discard port: nothing listens there, on a CI runner (which may run sshd on 22) or here.
    await dialog.getByLabel('Port').fill('9');
    await dialog.getByLabel('Tags').fill('smoke');
    await dialog.getByRole('button', { name: 'Add host' }).click();
    await dialog.waitFor({ state: 'detached', timeout: 15_000 });
    const host = await eventually(
      'the CLI to list the host',
      async () => (JSON.parse(ok(await driver.cli(['hosts', 'list', '--json']), 'cronium hosts list')) as { name: string; address: string; port: number; tags: string[] }[]).find((h) => h.name === HOST),
      15_000,
    );
    assert.equal(host.address, opts.hostAddress);
    assert.equal(host.port, 9);
    assert.deepEqual(host.tags, ['smoke']);
    return `${host.name} ${host.address}:${host.port}`;
  });

  await step('a per-second schedule fires', async () => {
    ok(await driver.cli(['schedules', 'add', SCHEDULE, '--cron', '* * * * * *', '--host', HOST, '--script', '-', '--overlap', 'parallel'], 'true\n'), 'cronium schedules add');
    const n = await eventually('two jobs of the schedule', async () => {
      const k = await fired(driver);
      return k >= 2 ? k : false;
    }, 20_000);
    return `${n} jobs`;
  });

  await step('closing the window leaves the app and its scheduler running', async () => {
    await driver.closeWindow();
    const before = await fired(driver);
    await new Promise((r) => setTimeout(r, 3_500));
    const state = await driver.running();
    assert.equal(state.process, true, 'the app quit when its window closed');
    if (state.tray !== null) assert.equal(state.tray, true, 'the tray is gone');
    if (state.windowVisible !== null) assert.equal(state.windowVisible, false, 'the window is still shown');
    const after = await fired(driver);
    assert.ok(after >= before + 2, `the schedule stopped firing with the window closed (${before} jobs, then ${after} 3.5 s later)`);
    return `${after - before} more jobs in 3.5 s with the window closed${state.tray === null ? '' : ', tray present'}`;
  });

  await step('Quit stops the app and its scheduler', async () => {
    await driver.quit();
    assert.equal(await driver.exited(30_000), true, 'the app did not exit within 30 s of Quit');
    const atQuit = await fired(driver);
    await new Promise((r) => setTimeout(r, 2_500));
    const later = await fired(driver);
    assert.equal(later, atQuit, `the schedule fired after Quit (${atQuit} then ${later})`);
    return `${atQuit} jobs in all, none after Quit`;
  });
  return steps;
}
