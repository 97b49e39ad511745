/**
 * `npm run bench`: prints a table of figures, each a median over repeated runs with
 * its spread, and each comparison a ratio against a baseline measured in the same
 * run. Targets are reported as met or missed, never asserted: this machine is shared
 * and noisy. Writes test/bench/results/latest.{json,md}.
 *
 * Measured at this stage (the store and the doors; SSH, runner and fan-out figures
 * come with those features):
 * - hosts.list through the dispatcher with 1,000 hosts, against the raw SQL query.
 * - CLI cold start (`cronium hosts list --json`) against `node -e 0`.
 * - RSS of the core with 1,000 hosts.
 * - SSH (test/bench/ssh.ts, needs root for the test fleet): handshake of a new pooled
 *   connection, and the warm exec round trip of `true` through the pool, each against
 *   `ssh host true` and `ssh` with a warm ControlMaster on the same fleet host.
 * - Runner deployment (test/bench/deploy.ts, needs root): cold deploy to a host with nothing
 *   cached (handshake included; SFTP, and gzip over exec on a host without SFTP), and the warm
 *   per-run check of the cached binary.
 * - Runner mode (test/bench/runner.ts, needs root and Go): per-run wall time of `true` in runner
 *   mode (warm: runner cached, connection pooled) against direct mode on the same host.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openCore } from '../../electron/core/core';
import { call } from '../../electron/core/api/dispatcher';
import { benchQueue } from './queue';
import { benchDeploy } from './deploy';
import { benchRunner } from './runner';
import { benchFanout } from './fanout';
import { benchSsh } from './ssh';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Row {
  name: string;
  median: number;
  spread: string;
  unit: string;
  baseline?: string;
  ratio?: number;
  /** Several baselines measured in the same run; each gets its own ratio (median / baseline median). */
  baselines?: { label: string; median: number }[];
  target?: string;
  verdict?: 'met' | 'missed';
}

/** Median and interquartile range of samples. */
function stats(samples: number[]): { median: number; p25: number; p75: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]!;
  return { median: at(0.5), p25: at(0.25), p75: at(0.75) };
}

function time(fn: () => void, runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const rows: Row[] = [];
const dataDir = mkdtempSync(join(tmpdir(), 'cronium-bench-'));
try {
  const core = openCore({ dataDir, door: 'cli' });
  const insert = core.store.sqlite.transaction(() => {
    for (let i = 0; i < 1000; i++) {
      core.hosts.add({ name: `host-${String(i).padStart(4, '0')}`, address: `10.0.${i >> 8}.${i & 255}`, port: 22, tags: [`rack-${i % 20}`, i % 2 ? 'web' : 'db'] });
    }
  });
  insert();

  const ctx = { door: 'headless' as const };
  for (let i = 0; i < 5; i++) await call(core.dispatch, 'hosts.list', {}, ctx);
  const listSamples: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await call(core.dispatch, 'hosts.list', {}, ctx);
    listSamples.push(performance.now() - t0);
  }
  const raw = core.store.sqlite.prepare('select h.*, group_concat(t.tag) as tags from hosts h left join host_tags t on t.host_id = h.id group by h.id order by h.name');
  const rawSamples = time(() => raw.all(), 30);
  const l = stats(listSamples);
  const r = stats(rawSamples);
  rows.push({
    name: 'hosts.list, 1,000 hosts (API)',
    median: l.median,
    spread: `${l.p25.toFixed(1)}–${l.p75.toFixed(1)}`,
    unit: 'ms',
    baseline: `raw SQL join ${r.median.toFixed(2)} ms`,
    ratio: l.median / r.median,
    target: '< 50 ms',
    verdict: l.median < 50 ? 'met' : 'missed',
  });
  global.gc?.();
  const rss = process.memoryUsage().rss / 1024 / 1024;
  rows.push({ name: 'RSS of the core, 1,000 hosts', median: rss, spread: '-', unit: 'MB', target: '< 300 MB', verdict: rss < 300 ? 'met' : 'missed' });
  core.close();

  const cli = [join(ROOT, 'bin/cronium.mjs'), '--data-dir', dataDir, 'hosts', 'list', '--json'];
  const cliSamples = time(() => spawnSync(process.execPath, cli, { stdio: 'ignore' }), 10);
  const nodeSamples = time(() => spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' }), 10);
  const c = stats(cliSamples);
  const n = stats(nodeSamples);
  rows.push({
    name: 'CLI cold start, hosts list --json (1,000 hosts)',
    median: c.median,
    spread: `${c.p25.toFixed(0)}–${c.p75.toFixed(0)}`,
    unit: 'ms',
    baseline: `node -e 0: ${n.median.toFixed(0)} ms`,
    ratio: c.median / n.median,
  });
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

const q = benchQueue(20_000, 5);
const qs = stats(q.runsPerSecond);
const qb = stats(q.baselinePerSecond);
rows.push({
  name: 'queue: claim + start + complete, 20,000 runs over 100 hosts',
  median: qs.median,
  spread: `${qs.p25.toFixed(0)}–${qs.p75.toFixed(0)}`,
  unit: 'runs/s',
  baseline: `bare 1-row UPDATE transactions: ${qb.median.toFixed(0)}/s`,
  ratio: qs.median / qb.median,
  target: '> 5,000 runs/s',
  verdict: qs.median > 5000 ? 'met' : 'missed',
});

const ssh = await benchSsh();
if ('skipped' in ssh) {
  rows.push({ name: 'SSH handshake and warm exec', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${ssh.skipped}` });
} else {
  const spread = (s: { p25: number; p75: number }) => `${s.p25.toFixed(2)}–${s.p75.toFixed(2)}`;
  const hs = stats(ssh.handshake);
  const we = stats(ssh.warmExec);
  const sshTrue = { label: '`ssh host true`', median: stats(ssh.sshTrue).median };
  const master = { label: '`ssh` + warm ControlMaster', median: stats(ssh.controlMaster).median };
  rows.push({ name: 'SSH handshake: new pooled connection (TCP, kex, host key, auth)', median: hs.median, spread: spread(hs), unit: 'ms', baselines: [sshTrue] });
  rows.push({ name: 'warm exec of `true` through the pool', median: we.median, spread: spread(we), unit: 'ms', baselines: [sshTrue, master] });
}

const dep = await benchDeploy();
if ('skipped' in dep) {
  rows.push({ name: 'runner deploy (cold) and per-run check (warm)', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${dep.skipped}` });
} else {
  const spread = (s: { p25: number; p75: number }) => `${s.p25.toFixed(1)}–${s.p75.toFixed(1)}`;
  for (const transport of ['sftp', 'exec-gzip'] as const) {
    const s = stats(dep.cold[transport]);
    rows.push({
      name: `runner cold deploy, new connection, ${transport} (${(dep.bytes[transport] / 1048576).toFixed(1)} MB sent)`,
      median: s.median,
      spread: spread(s),
      unit: 'ms',
      target: '< 1 s on loopback',
      verdict: s.median < 1000 ? 'met' : 'missed',
    });
  }
  const w = stats(dep.warm);
  rows.push({ name: 'runner warm check (cached binary re-hashed on the host, pooled connection)', median: w.median, spread: spread(w), unit: 'ms' });
}

const rm = await benchRunner();
if ('skipped' in rm) {
  rows.push({ name: 'runner mode per-run overhead', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${rm.skipped}` });
} else {
  const s = stats(rm.runner);
  const d = stats(rm.direct);
  const ratio = s.median / d.median;
  rows.push({
    name: `run of \`true\` in runner mode, warm (cached runner re-verified, pooled connection; ${rm.runner.length} runs)`,
    median: s.median,
    spread: `${s.p25.toFixed(1)}–${s.p75.toFixed(1)}`,
    unit: 'ms',
    baseline: `direct mode, same host: ${d.median.toFixed(1)} ms`,
    ratio,
    target: '≤ 1.25x direct',
    verdict: ratio <= 1.25 ? 'met' : 'missed',
  });
  const dep = stats(rm.deploy);
  rows.push({ name: 'runner mode: per-run check (deploy phase) within those runs', median: dep.median, spread: `${dep.p25.toFixed(1)}–${dep.p75.toFixed(1)}`, unit: 'ms' });
}

const fan = await benchFanout();
if ('skipped' in fan) {
  rows.push({ name: 'fan-out and scheduling jitter', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${fan.skipped}` });
} else {
  const ours = 'cronium (direct, concurrency 50)';
  for (const n of fan.sizes) {
    const s = stats(fan.wall[ours]![n]!);
    const peers = Object.entries(fan.wall)
      .filter(([tool]) => tool !== ours)
      .map(([tool, byN]) => ({ label: tool, median: stats(byN[n]!).median }));
    const fastest = peers.every((p) => s.median < p.median);
    rows.push({
      name: `fan-out of \`true\` to ${n} hosts, cold connections (${ours})`,
      median: s.median,
      spread: `${s.p25.toFixed(0)}–${s.p75.toFixed(0)}`,
      unit: 'ms',
      baselines: peers,
      ...(n === 100 ? { target: '< 5 s and ahead of every peer', verdict: s.median < 5000 && fastest ? ('met' as const) : ('missed' as const) } : {}),
    });
  }
  const j = stats(fan.jitterMs);
  rows.push({ name: `scheduling jitter: per-second schedule, fire to job enqueued (${fan.jitterMs.length} fires)`, median: j.median, spread: `${j.p25.toFixed(0)}–${j.p75.toFixed(0)}`, unit: 'ms' });
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
/** The baseline column: one baseline, or several separated by semicolons. */
function baselineCell(x: Row): string {
  if (x.baselines?.length) return x.baselines.map((b) => `${b.label}: ${b.median.toFixed(b.median < 10 ? 2 : 1)} ms`).join('; ');
  return x.baseline ?? '-';
}

/** The ratio column, in the order of the baselines. */
function ratioCell(x: Row): string {
  if (x.baselines?.length) return x.baselines.map((b) => `${(x.median / b.median).toFixed(2)}x`).join(' / ');
  return x.ratio ? `${x.ratio.toFixed(2)}x` : '-';
}

const header = '| figure | median | spread (p25–p75) | baseline | ratio | target | verdict |\n| --- | --- | --- | --- | --- | --- | --- |';
const md = [
  `Machine: ${machine}`,
  '',
  header,
  ...rows.map(
    (x) =>
      `| ${x.name} | ${Number.isNaN(x.median) ? '-' : `${x.median.toFixed(x.unit === 'ms' && x.median < 10 ? 2 : 1)} ${x.unit}`} | ${x.spread} | ${baselineCell(x)} | ${ratioCell(x)} | ${x.target ?? '-'} | ${x.verdict ?? '-'} |`,
  ),
].join('\n');
console.log(md);
mkdirSync(join(ROOT, 'test/bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'test/bench/results/latest.json'), JSON.stringify({ machine, at: new Date().toISOString(), rows }, null, 2));
writeFileSync(join(ROOT, 'test/bench/results/latest.md'), `${md}\n`);
