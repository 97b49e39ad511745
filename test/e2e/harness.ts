/**
 * What every browser test shares: the real CLI against a temp data dir, a real
 * `cronium serve` child process (stopped by its PID), Debian's Chromium through
 * playwright-core (never a downloaded browser), and a retrying assertion helper.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where screenshots go (gitignored: they are for looking at). */
export const ARTIFACTS = join(ROOT, 'test', 'e2e', 'artifacts');
/** Debian's Chromium. */
export const CHROMIUM = '/usr/bin/chromium';
const CLI = join(ROOT, 'bin', 'cronium.mjs');

/** What a CLI run produced. */
export interface CliResult {
  /** The exit code; -1 when the process was killed (by the timeout or a signal). */
  code: number;
  stdout: string;
  stderr: string;
}

/** Checks the build and the browser, prepares the artifacts dir, and makes a temp data dir. */
export async function prepare(prefix: string): Promise<string> {
  for (const built of ['dist/cli/cronium.cjs', 'dist/renderer/index.html']) {
    assert.ok(existsSync(join(ROOT, built)), `${built} is missing: run \`npm run build\` first`);
  }
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package`);
  await mkdir(ARTIFACTS, { recursive: true });
  await writeFile(join(ARTIFACTS, '.gitignore'), '*\n');
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Runs the real CLI against one data dir, with `input` on its stdin; killed after `timeoutMs`
 * (then code -1 and a line on stderr saying so, never mistaken for an exit status).
 */
export function runCliIn(dataDir: string, args: string[], input = '', timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, '--data-dir', dataDir, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve({ code: 0, stdout, stderr });
      if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
      const why = error.killed ? `killed after ${timeoutMs} ms` : `ended by ${error.signal ?? error.message}`;
      resolve({ code: -1, stdout, stderr: `${stderr}\n[test harness: cronium ${args.join(' ').slice(0, 200)}: ${why}]` });
    });
    child.stdin?.end(input);
  });
}

/** A function running the real CLI against one data dir (each call killed after `timeoutMs`). */
export function cliIn(dataDir: string, timeoutMs?: number): (...args: string[]) => Promise<CliResult> {
  return (...args) => runCliIn(dataDir, args, '', timeoutMs);
}

/** Retries an assertion until it passes or time runs out (playwright-core has no expect). */
export async function eventually(assertion: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A running `cronium serve`. */
export interface Serve {
  child: ChildProcess;
  url: string;
  port: number;
  origin: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
  /** SIGTERM by PID, SIGKILL after 5 s; resolves when it is gone. */
  stop(): Promise<void>;
}

/** Starts `cronium serve --port 0 --json` on a data dir (with extra environment, e.g. CRONIUM_RUNNER_DIR) and reads the URL it prints. */
export async function startServe(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<Serve> {
  const child = spawn(process.execPath, [CLI, '--data-dir', dataDir, 'serve', '--port', '0', '--json'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed nothing in 15 s; stderr: ${stderr}`)), 15_000);
    createInterface({ input: child.stdout }).once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}; stderr: ${stderr}`));
    });
  });
  const printed = JSON.parse(line) as { url: string; port: number };
  return {
    child,
    url: printed.url,
    port: printed.port,
    origin: new URL(printed.url).origin,
    exited,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const pid = child.pid;
      if (pid) process.kill(pid, 'SIGTERM');
      const killer = setTimeout(() => pid && process.kill(pid, 'SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Launches Debian's Chromium headless with the flags this machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Hides this machine's paths (the data dir in the sidebar) in every page of a context, so that
 * screenshots saved by the tests (and copied into the README) show none.
 */
export async function hideMachinePaths(context: BrowserContext): Promise<void> {
  await context.addInitScript({
    content: "document.addEventListener('DOMContentLoaded', () => { const s = document.createElement('style'); s.textContent = '.data-dir { color: transparent !important; }'; document.head.append(s); });",
  });
}

/** A page whose console errors, warnings and page errors are collected in `problems`. */
export async function trackedPage(
  browser: Browser,
  opts: { viewport: { width: number; height: number }; colorScheme?: 'light' | 'dark'; timeoutMs?: number },
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: opts.viewport, colorScheme: opts.colorScheme ?? 'light' });
  await hideMachinePaths(context);
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeoutMs ?? 10_000);
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page, problems };
}

/** Adds a fleet host under `name` with its key (no agent) and pins the key it presents, checked against the fleet's record. */
export async function addFleetHost(cli: (...args: string[]) => Promise<CliResult>, h: { address: string; port: number; user: string; identityFile?: string; hostKeyFingerprint: string }, name: string, extra: string[] = []): Promise<void> {
  const added = await cli('hosts', 'add', name, '--address', h.address, '--port', String(h.port), '--user', h.user, ...(h.identityFile ? ['--identity', h.identityFile] : []), '--no-agent', ...extra);
  if (added.code !== 0) throw new Error(`hosts add ${name}: ${added.stderr}`);
  const trusted = await cli('hosts', 'trust', name, '--fingerprint', h.hostKeyFingerprint);
  if (trusted.code !== 0) throw new Error(`hosts trust ${name}: ${trusted.stderr}`);
}

/** `cronium serve` on the data dir and a tracked Chromium page on it, showing the Hosts view. */
export async function openApp(dataDir: string): Promise<{ server: Serve; browser: Browser; page: Page; problems: string[] }> {
  const server = await startServe(dataDir);
  const browser = await launchChromium();
  const { page, problems } = await trackedPage(browser, { viewport: { width: 1200, height: 900 }, timeoutMs: 15_000 });
  await page.goto(server.url);
  await page.getByRole('table', { name: 'Hosts' }).waitFor();
  return { server, browser, page, problems };
}
