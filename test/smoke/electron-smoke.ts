/**
 * Runs the desktop smoke steps (desktop-smoke.ts) against the packaged Electron app, with
 * Playwright's _electron, on a machine where Electron runs: the release workflow's macOS,
 * Windows and Linux runners (under xvfb-run on Linux). The CLI is the one that ships with
 * the app, started through its own shim (resources/bin/cronium, or cronium.cmd on Windows),
 * so the app's runtime, its SQLite binding and the shim are all exercised.
 *
 *   node --import tsx test/smoke/electron-smoke.ts --app <the packaged app's executable>
 *
 * Electron cannot start where this repository's tests run; there the same steps run against
 * `cronium serve` (test/e2e/desktop-smoke.test.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { _electron, type ElectronApplication } from 'playwright-core';
import { appLayout } from '../../electron/main/cli-install';
import { runSmoke, type SmokeCliResult, type SmokeDriver } from './desktop-smoke';

/** The tray and window as the app's smoke driver hook shows them (main.ts, --enable-smoke-test-driver). */
interface SmokeHook {
  tray(): { alive: boolean; tooltip: string };
  clickTray(id: 'quit' | 'open'): void;
  windowVisible(): boolean;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Quotes an argument for cmd.exe running a .cmd file (Node refuses to spawn one without a shell). */
function cmdQuote(a: string): string {
  return `"${a.replace(/"/g, '""')}"`;
}

/** Runs the shim that ships with the app. */
function runShim(shim: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<SmokeCliResult> {
  return new Promise((resolve, reject) => {
    const child =
      process.platform === 'win32'
        ? spawn(`${cmdQuote(shim)} ${args.map(cmdQuote).join(' ')}`, { shell: true, env, windowsHide: true })
        : spawn(shim, args, { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input ?? '');
    setTimeout(() => child.kill(), 60_000).unref();
  });
}

async function main(): Promise<void> {
  const given = arg('app');
  if (!given) throw new Error('usage: electron-smoke.ts --app <packaged app executable>');
  const executable = resolve(given);
  const layout = appLayout({ platform: process.platform, execPath: executable, packaged: true, env: {} });
  const home = mkdtempSync(join(tmpdir(), 'cronium-smoke-'));
  // One data dir for the app and its CLI; nothing of the runner's own profile is touched.
  const env: NodeJS.ProcessEnv = { ...process.env, CRONIUM_HOME: home, ELECTRON_ENABLE_LOGGING: '1' };
  delete env.ELECTRON_RUN_AS_NODE;
  let app: ElectronApplication | undefined;
  try {
    app = await _electron.launch({ executablePath: executable, args: ['--enable-smoke-test-driver'], env: env as Record<string, string>, timeout: 60_000 });
    const electronApp = app;
    const proc = electronApp.process();
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const window = await electronApp.firstWindow();
    const driver: SmokeDriver = {
      name: `electron (${process.platform})`,
      page: async () => window,
      cli: (args, input) => runShim(layout.shim, args, env, input),
      closeWindow: async () => {
        // As the user's close button does: the window's close event, which hides it to the tray.
        await electronApp.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]?.close());
      },
      // evaluate() runs its function in the app's main process (serialised: no closures), where main.ts put the hook.
      running: async () => {
        if (proc.exitCode !== null) return { process: false, tray: false, windowVisible: false };
        const tray = await electronApp.evaluate(() => (globalThis as unknown as { croniumSmoke: SmokeHook }).croniumSmoke.tray());
        const windowVisible = await electronApp.evaluate(() => (globalThis as unknown as { croniumSmoke: SmokeHook }).croniumSmoke.windowVisible());
        console.log(`  tray: ${tray.tooltip}`);
        return { process: true, tray: tray.alive, windowVisible };
      },
      quit: async () => {
        // The tray menu's Quit, as a user clicks it; the evaluate may lose its answer as the app exits.
        await electronApp.evaluate(() => (globalThis as unknown as { croniumSmoke: SmokeHook }).croniumSmoke.clickTray('quit')).catch(() => undefined);
      },
      exited: (ms) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
    };
    const steps = await runSmoke(driver, { hostAddress: '127.0.0.1', log: (l) => console.log(l) });
    console.log(`electron smoke: ${steps.length} steps passed on ${process.platform}-${process.arch}`);
  } finally {
    if (app && app.process().exitCode === null) await app.close().catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
