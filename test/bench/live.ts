/**
 * Live logs, end to end, against a real `cronium serve` and a real sshd host of the fleet:
 * - API latency (issue #8.5): from a line written on the host to its `run.log` event in a
 *   WebSocket client of `cronium serve` (the path the browser uses), at 10 and 1,000 lines/s;
 * - browser latency (issue #7): the same kind of lines to their appearance in the xterm of the
 *   job view in Debian's Chromium;
 * - frame rate of the job view (requestAnimationFrame callbacks per second in the page) while a
 *   run prints about 50 MB/s (the job view leaves out what it cannot draw in time, and says so: log-pump.ts), against the same page idle just before;
 * - throughput (issue #8.6): 100 MB of output from one run, MB/s and the peak RSS of the app
 *   process (a fresh `cronium serve` per sample, so its peak is that run's), against plain
 *   `ssh host <the same command> > /dev/null`.
 *
 * Clocks: the host is a loopback sshd on this machine, so the script's CLOCK_REALTIME (Python's
 * time.time_ns(), printed in each line in microseconds) and Date.now() in this process and in
 * the page are one clock. A latency is arrival (or DOM mutation) time minus the written time.
 * Needs root (the fleet), a build (dist/, with the renderer for the browser part), the runner
 * (artifacts.ts; should it not deploy, auto mode runs direct and the rows say so) and
 * /usr/bin/chromium for the browser part (skipped, with the reason, when it is missing).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, cliIn, launchChromium, ROOT, startServe, trackedPage, type Serve } from '../e2e/harness';
import { startFleet } from '../fleet/fleet';
import { connectApi, jobEnded, machineCpu, processCpuSeconds, processMemory, type ApiClient } from './api-client';
import { benchArtifacts } from './artifacts';

/** Its own fleet subnet (the brief gives benches 223-226). */
const SUBNET = 223;
const HOST = 'web';

/** Prints `BENCH_LINES` lines at `BENCH_RATE` per second from `BENCH_START_AT` (epoch ms), each with its write time in µs. */
const LINES_PY = `import os, time
n = int(os.environ['BENCH_LINES']); rate = float(os.environ['BENCH_RATE']); t0 = float(os.environ['BENCH_START_AT']) / 1000
for i in range(n):
    d = t0 + i / rate - time.time()
    if d > 0:
        time.sleep(d)
    os.write(1, b'M%d %d\\n' % (i, time.time_ns() // 1000))
`;

/** Prints about BENCH_MBPS MB/s of 100-byte lines for BENCH_SECONDS from BENCH_START_AT, in 10 ms blocks. */
const FLOOD_PY = `import os, sys, time
mbps = float(os.environ['BENCH_MBPS']); secs = float(os.environ['BENCH_SECONDS']); t0 = float(os.environ['BENCH_START_AT']) / 1000
line = b'2026-11-28T03:00:01.123Z INFO worker-3 processed item 0012345 in 3 ms; queue depth 17, all fine....\\n'
block = line * max(1, int(mbps * 1048576 / 100 / len(line)))
out = sys.stdout.buffer
for i in range(int(secs * 100)):
    d = t0 + i / 100 - time.time()
    if d > 0:
        time.sleep(d)
    out.write(block)
    out.flush()
`;

/** 100 MB of 100-byte lines (the same command runs under plain ssh as the baseline). */
const printMb = (mb: number) => `yes '2026-11-28T03:00:01.123Z INFO worker-3 processed item 0012345 in 3 ms; queue depth 17, all fine' | head -c ${mb * 1048576}`;

/** Latency samples (ms) of one series, and how many lines never arrived. */
export interface LatencySeries {
  label: string;
  mode: string;
  latencies: number[];
  missing: number;
}

/** Everything this benchmark measures. */
export interface LiveFigures {
  api: LatencySeries[];
  browser: LatencySeries | { skipped: string };
  /** The same lines at their run.log message in the page's WebSocket (where the browser's time goes). */
  browserSocket: LatencySeries | { skipped: string };
  fps: { idle: number[]; busy: number[]; mbPerSecond: number } | { skipped: string };
  throughput: { mode: string; mb: number; seconds: number[]; peakRssMb: number[]; sshSeconds: number[]; sshFileSeconds: number[]; cpuSeconds: number[]; machineBusy: number[]; sshMachineBusy: number[] }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MARK = /M(\d+) (\d{16})(?!\d)/g;

/** Starts a job of one python3 script on the host; returns its ids. */
async function runScript(api: ApiClient, script: string, env: Record<string, string>, mode: 'auto' | 'direct', timeoutMs = 120_000): Promise<{ jobId: number; runId: number }> {
  const r = await api.call<{ jobId: number; runIds: number[] }>('jobs.run', { hosts: [HOST], script, interpreter: 'python3', mode, env, timeoutMs });
  return { jobId: r.jobId, runId: r.runIds[0]! };
}

/** The mode a job's run ran in. */
async function runMode(api: ApiClient, jobId: number): Promise<string> {
  const job = await api.call<{ runs: { mode: string | null; status: string }[] }>('jobs.get', { id: jobId });
  return job.runs[0]?.mode ?? '?';
}

/** Why a job's first run did not succeed, as its row should say: its error code and message. */
async function runFailure(api: ApiClient, jobId: number): Promise<string> {
  const job = await api.call<{ runs: { errorCode?: string | null; errorMessage?: string | null }[] }>('jobs.get', { id: jobId });
  const run = job.runs[0];
  return run ? `${run.errorCode ?? '?'}: ${(run.errorMessage ?? '').slice(0, 200)}` : 'no run';
}

/** One series of timestamped lines, each timed at its arrival in the API client. */
async function apiSeries(api: ApiClient, lines: number, rate: number, mode: 'auto' | 'direct'): Promise<LatencySeries> {
  const seen = new Map<number, number>();
  let partial = '';
  let runId = -1;
  const early: { at: number; chunks: { stream: string; data: string }[]; runId: number }[] = [];
  const take = (at: number, chunks: { stream: string; data: string }[]) => {
    for (const c of chunks) {
      if (c.stream !== 'stdout') continue;
      const text = partial + Buffer.from(c.data, 'base64').toString('utf8');
      const cut = text.lastIndexOf('\n');
      partial = text.slice(cut + 1);
      for (const m of text.slice(0, cut + 1).matchAll(MARK)) {
        const i = Number(m[1]);
        if (!seen.has(i)) seen.set(i, at - Number(m[2]) / 1000);
      }
    }
  };
  const off = api.onEvent((e) => {
    if (e.event !== 'run.log') return;
    const p = e.payload as { runId: number; chunks: { stream: string; data: string }[] };
    if (runId === -1) early.push({ at: e.at, chunks: p.chunks, runId: p.runId });
    else if (p.runId === runId) take(e.at, p.chunks);
  });
  try {
    const started = await runScript(api, LINES_PY, { BENCH_LINES: String(lines), BENCH_RATE: String(rate), BENCH_START_AT: String(Date.now() + 300) }, mode);
    const ended = jobEnded(api, started.jobId, 60_000 + (lines / rate) * 1000);
    runId = started.runId;
    for (const x of early) if (x.runId === runId) take(x.at, x.chunks);
    const status = await ended;
    if (status !== 'succeeded') throw new Error(`bench: the ${rate} lines/s job ended ${status}`);
    await sleep(100);
    const used = await runMode(api, started.jobId);
    return { label: `${lines.toLocaleString('en')} lines at ${rate.toLocaleString('en')}/s`, mode: used, latencies: [...seen.values()], missing: lines - seen.size };
  } finally {
    off();
  }
}

/** Opens the job view of a job that starts printing at `startAt`, hooks the xterm's rows, and waits for the job. */
async function openJobView(page: Page, origin: string, jobId: number, startAt: number, install: string): Promise<void> {
  await page.goto(`${origin}/#jobs/${jobId}`);
  await page.locator('.terminal-box .xterm-rows').first().waitFor({ state: 'attached', timeout: 15_000 });
  await page.evaluate(install);
  if (Date.now() > startAt) throw new Error('bench: the job view opened after the script started printing; raise the start delay');
}

/** Browser latency: lines to their appearance in the xterm's DOM rows (MutationObserver), and the frame rate under a flood. */
async function browserFigures(api: ApiClient, server: Serve, opts: { lines: number; rate: number; floodMbps: number; floodSeconds: number }): Promise<Pick<LiveFigures, 'browser' | 'browserSocket' | 'fps'>> {
  if (!existsSync(CHROMIUM)) return { browser: { skipped: `${CHROMIUM} is missing` }, browserSocket: { skipped: `${CHROMIUM} is missing` }, fps: { skipped: `${CHROMIUM} is missing` } };
  if (!existsSync(join(ROOT, 'dist/renderer/index.html'))) {
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    if (built.status !== 0) return { browser: { skipped: 'the renderer did not build' }, browserSocket: { skipped: 'the renderer did not build' }, fps: { skipped: 'the renderer did not build' } };
  }
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const { page } = await trackedPage(browser, { viewport: { width: 1200, height: 760 }, timeoutMs: 20_000 });
    // Times each marker's run.log message as the page's WebSocket receives it (before the app
    // handles it), while window.__benchWsOn is set: the split between transport and drawing.
    await page.addInitScript(`(() => {
      const seen = new Map();
      const re = ${MARK.toString()};
      window.__benchWs = seen;
      const Base = window.WebSocket;
      window.WebSocket = class extends Base {
        constructor(...args) {
          super(...args);
          this.addEventListener('message', (ev) => {
            const now = Date.now();
            if (!window.__benchWsOn || typeof ev.data !== 'string' || !ev.data.includes('"run.log"')) return;
            for (const c of JSON.parse(ev.data).payload.chunks) for (const m of atob(c.data).matchAll(re)) if (!seen.has(m[1])) seen.set(m[1], now - Number(m[2]) / 1000);
          });
        }
      };
    })()`);
    await page.goto(server.url);
    await page.getByRole('table', { name: 'Hosts' }).waitFor();

    // Latency: every marker's first appearance in the rows, timed in the page.
    const delay = 4000;
    let startAt = Date.now() + delay;
    let job = await runScript(api, LINES_PY, { BENCH_LINES: String(opts.lines), BENCH_RATE: String(opts.rate), BENCH_START_AT: String(startAt) }, 'auto');
    let ended = jobEnded(api, job.jobId, 60_000 + (opts.lines / opts.rate) * 1000);
    await openJobView(
      page,
      server.origin,
      job.jobId,
      startAt,
      `(() => {
        const rows = document.querySelector('.terminal-box .xterm-rows');
        const seen = new Map();
        const re = ${MARK.toString()};
        const scan = () => {
          const now = Date.now();
          for (const m of rows.textContent.matchAll(re)) if (!seen.has(m[1])) seen.set(m[1], now - Number(m[2]) / 1000);
        };
        new MutationObserver(scan).observe(rows, { childList: true, subtree: true, characterData: true });
        window.__benchSeen = seen;
        window.__benchWsOn = true;
      })()`,
    );
    let status = await ended;
    if (status !== 'succeeded') throw new Error(`bench: the browser latency job ended ${status}`);
    await sleep(500);
    const latencies = await page.evaluate<number[]>('[...window.__benchSeen.values()]');
    const onSocket = await page.evaluate<number[]>('window.__benchWsOn = false, [...window.__benchWs.values()]');
    const label = `${opts.lines.toLocaleString('en')} lines at ${opts.rate}/s`;
    const mode = await runMode(api, job.jobId);
    const browserSeries: LatencySeries = { label, mode, latencies, missing: opts.lines - latencies.length };
    // A line split across two chunks has no whole marker in either: not counted as missing here.
    const socketSeries: LatencySeries = { label, mode, latencies: onSocket, missing: 0 };

    // Frame rate: rAF callbacks per second, idle before the flood and during it.
    startAt = Date.now() + delay;
    job = await runScript(api, FLOOD_PY, { BENCH_MBPS: String(opts.floodMbps), BENCH_SECONDS: String(opts.floodSeconds), BENCH_START_AT: String(startAt) }, 'auto');
    ended = jobEnded(api, job.jobId, 120_000);
    await openJobView(
      page,
      server.origin,
      job.jobId,
      startAt,
      `(() => {
        const frames = [];
        const loop = (t) => { frames.push(performance.timeOrigin + t); requestAnimationFrame(loop); };
        requestAnimationFrame(loop);
        window.__benchFrames = frames;
      })()`,
    );
    status = await ended;
    const endedAt = Date.now();
    if (status !== 'succeeded') throw new Error(`bench: the flood job ended ${status}`);
    await sleep(300);
    const frames = await page.evaluate<number[]>('window.__benchFrames');
    const perSecond = (from: number, to: number): number[] => {
      const out: number[] = [];
      for (let t = from; t + 1000 <= to; t += 1000) out.push(frames.filter((f) => f >= t && f < t + 1000).length);
      return out;
    };
    const idle = perSecond(startAt - 2000, startAt);
    const busy = perSecond(startAt, Math.min(endedAt, startAt + opts.floodSeconds * 1000));
    const printedSeconds = Math.max(opts.floodSeconds, (endedAt - startAt) / 1000);
    return { browser: browserSeries, browserSocket: socketSeries, fps: { idle, busy, mbPerSecond: (opts.floodMbps * opts.floodSeconds) / printedSeconds } };
  } finally {
    await browser?.close().catch(() => {});
  }
}

/** Runs the live-log benchmark, or says why it cannot run here. */
export async function benchLive(opts: { slowLines?: number; fastLines?: number; browserLines?: number; browserRate?: number; throughputRuns?: number; latency?: boolean; throughput?: boolean } = {}): Promise<LiveFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  if (!existsSync(join(ROOT, 'dist/cli/cronium.cjs'))) return { skipped: 'no build: run `npm run build`' };
  const dataDir = await mkdtemp(join(tmpdir(), 'cronium-bench-live-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: HOST, profile: 'default' }] });
  let server: Serve | undefined;
  let api: ApiClient | undefined;
  try {
    const h = fleet.host(HOST);
    const added = await cliIn(dataDir)('hosts', 'add', HOST, '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!, '--accept-new-host-key');
    if (added.code !== 0) throw new Error(`bench: hosts add failed: ${added.stderr}`);
    // `cronium serve` inherits this: it deploys the runner built from the current source.
    const artifactsDir = await benchArtifacts();
    if (artifactsDir) process.env.CRONIUM_RUNNER_DIR = artifactsDir;
    server = await startServe(dataDir);
    api = await connectApi(server.url);
    // Warm up: deploy the runner (auto mode) and pool the connection.
    const warm = await runScript(api, 'print("warm")\n', {}, 'auto');
    await jobEnded(api, warm.jobId, 60_000);

    const figures: LiveFigures = { api: [], browser: { skipped: 'not run' }, browserSocket: { skipped: 'not run' }, fps: { skipped: 'not run' }, throughput: [] };
    if (opts.latency !== false) {
      figures.api.push(await apiSeries(api, opts.slowLines ?? 300, 10, 'auto'));
      figures.api.push(await apiSeries(api, opts.fastLines ?? 1000, 1000, 'auto'));
      figures.api.push(await apiSeries(api, opts.fastLines ?? 1000, 1000, 'direct'));
      Object.assign(figures, await browserFigures(api, server, { lines: opts.browserLines ?? 1000, rate: opts.browserRate ?? 200, floodMbps: 50, floodSeconds: 5 }));
    }
    api.close();
    api = undefined;
    await server.stop();
    server = undefined;

    // Throughput: a fresh app process per sample (its peak RSS is that run's), one API client attached.
    // 100 MB three times and 1 GB once per mode; the output limit raised to let 1 GB through.
    const sshCfg = join(fleet.dir, 'ssh_config');
    const limit = await cliIn(dataDir)('settings', 'set', 'execution.maxOutputBytes', String(2 * 2 ** 30));
    if (limit.code !== 0) throw new Error(`bench: settings set: ${limit.stderr}`);
    for (const [mb, runs] of opts.throughput === false ? [] : ([[100, opts.throughputRuns ?? 3], [1024, 1]] as const))
    for (const mode of ['auto', 'direct'] as const) {
      const HUNDRED_MB = printMb(mb);
      const t: LiveFigures['throughput'][number] = { mode, mb, seconds: [], peakRssMb: [], sshSeconds: [], sshFileSeconds: [], cpuSeconds: [], machineBusy: [], sshMachineBusy: [] };
      for (let i = 0; i < runs; i++) {
        server = await startServe(dataDir);
        api = await connectApi(server.url);
        const t0 = performance.now();
        const cpu0 = processCpuSeconds(server.child.pid!);
        const m0 = machineCpu().busy;
        const r = await api.call<{ jobId: number; runIds: number[] }>('jobs.run', { hosts: [HOST], command: HUNDRED_MB, mode, timeoutMs: 300_000 });
        const status = await jobEnded(api, r.jobId, 300_000);
        const seconds = (performance.now() - t0) / 1000;
        t.machineBusy.push(machineCpu().busy - m0);
        if (status !== 'succeeded') throw new Error(`bench: the ${mb} MB job ended ${status} (${await runFailure(api, r.jobId)})`);
        const used = await runMode(api, r.jobId);
        if (i === 0) t.mode = used;
        t.seconds.push(seconds);
        t.peakRssMb.push(processMemory(server.child.pid!).peakMb);
        t.cpuSeconds.push(processCpuSeconds(server.child.pid!) - cpu0);
        api.close();
        api = undefined;
        await server.stop();
        server = undefined;
        const s0 = performance.now();
        const sm0 = machineCpu().busy;
        const ssh = spawnSync('ssh', ['-F', sshCfg, '-o', 'BatchMode=yes', HOST, HUNDRED_MB], { stdio: ['ignore', 'ignore', 'ignore'], timeout: 300_000, killSignal: 'SIGKILL' });
        if (ssh.status !== 0) throw new Error(`bench: ssh ${HOST} <${mb} MB> exited ${ssh.status}`);
        t.sshSeconds.push((performance.now() - s0) / 1000);
        t.sshMachineBusy.push(machineCpu().busy - sm0);
        // The same into a file next to the data dir (its disk and page cache): what storing costs here without the app.
        const outFile = join(dataDir, 'ssh-output');
        const fd = openSync(outFile, 'w', 0o600);
        const f0 = performance.now();
        const toFile = spawnSync('ssh', ['-F', sshCfg, '-o', 'BatchMode=yes', HOST, HUNDRED_MB], { stdio: ['ignore', fd, 'ignore'], timeout: 300_000, killSignal: 'SIGKILL' });
        t.sshFileSeconds.push((performance.now() - f0) / 1000);
        closeSync(fd);
        await rm(outFile, { force: true });
        if (toFile.status !== 0) throw new Error(`bench: ssh ${HOST} <${mb} MB> > file exited ${toFile.status}`);
      }
      figures.throughput.push(t);
    }
    return figures;
  } finally {
    delete process.env.CRONIUM_RUNNER_DIR;
    api?.close();
    await server?.stop();
    await fleet.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
