/**
 * `npm run bench`: prints a table of figures, each a median over repeated runs with
 * its spread, and each comparison a ratio against a baseline measured in the same
 * run. Targets are reported as met or missed, never asserted: this machine is shared
 * and noisy. Writes test/bench/results/latest.{json,md}. Every area is its own file:
 * - store scale (store.ts): 1,000 hosts and 100,000 runs of history; hosts.list and jobs.list
 *   through the dispatcher (default and filtered), RSS of `cronium serve` on that store, and
 *   the CLI's cold start against `node -e 0`;
 * - the CLI as a whole process (cli.ts, the run rows need root): --version and --help against
 *   `node -e 0`, and a cold one-shot direct-mode run against `ssh host true` and `ssh` through a
 *   warm ControlMaster, pairs alternating;
 * - queue (queue.ts): claim + start + complete throughput on SQLite;
 * - team server on PostgreSQL (pg-queue.ts, needs root and the postgresql package): queue
 *   throughput with three server processes on one database, and scheduler takeover time;
 * - SSH (ssh.ts, needs root for the test fleet): handshake of a new pooled connection, and the
 *   warm exec round trip of `true` through the pool, each against `ssh host true` and `ssh`
 *   with a warm ControlMaster on the same fleet host;
 * - runner deployment (deploy.ts, needs root): cold deploy to a host with nothing cached
 *   (handshake included; SFTP, and gzip over exec on a host without SFTP), and the warm check;
 * - single host (runner.ts, needs root): `true` and a 1-second script in runner mode (warm),
 *   direct mode, `ssh host …` and `ssh` through a warm ControlMaster, side by side; and the
 *   parts of runner mode's per-run check (each host hash tool on the cached binary);
 * - fan-out (fanout.ts, needs root): 10, 50 and 100 hosts against `xargs -P 50 ssh`,
 *   parallel-ssh and Ansible; and scheduling jitter;
 * - a thousand hosts (fanout1000.ts, needs root): `true` and a 1-second script to 1,000 hosts of a
 *   packed fleet at concurrency 100 and 200, direct and warm runner mode, the app in a child
 *   process (its peak RSS and descriptors), against parallel-ssh at the same concurrency;
 * - push (push.ts, needs root): a 10 MB file to 100 hosts against parallel-scp, and again (skipped);
 * - elevation (elevation.ts, needs root): fan-out as root through real sudo (NOPASSWD, and a
 *   stored password) against the same fan-out without it, and parallel-ssh with `sudo -n`;
 * - live logs (live.ts, needs root, a build and Chromium): line-to-event latency in an API
 *   client at 10 and 1,000 lines/s, line-to-xterm latency in the browser, the job view's frame
 *   rate at 50 MB/s, and 100 MB throughput with the app's peak RSS;
 * - helpers (helpers.ts, when present): see the slot below.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchCli } from './cli';
import { benchPgQueue } from './pg-queue';
import { benchQueue } from './queue';
import { benchDeploy } from './deploy';
import { benchLive } from './live';
import { PART_LOOP, benchRunner } from './runner';
import { benchFanout, fanoutRows } from './fanout';
import { benchFanout1000, FLOOR_DIRECT, FLOOR_RUNNER, FLOOR_RUNNER_START } from './fanout1000';
import { benchElevation } from './elevation';
import { benchPush } from './push';
import { benchSsh } from './ssh';
import { benchStore, logStoreCeiling } from './store';
import { failedRow, iqr, peerBaseline, renderTable, stats, type BenchContext, type Row } from './table';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started = Date.now();
const rows: Row[] = [];
/** Progress on stderr, so a long run shows where it is (the table goes to stdout). */
const progress = (what: string) => process.stderr.write(`bench: ${what} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);

/** `npm run bench -- --only WORD[,WORD]`: only the areas whose name contains one of the words (the table says which ran). */
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? (process.argv[onlyArg + 1] ?? '').split(',').filter(Boolean) : [];

/** Runs one area of the benchmark; one that throws becomes a row saying so, and the run goes on to the table. */
async function area(name: string, fn: () => Promise<void> | void): Promise<void> {
  if (only.length > 0 && !only.some((w) => name.includes(w))) return;
  progress(name);
  try {
    await fn();
  } catch (e) {
    progress(`${name}: failed: ${(e as Error)?.message ?? String(e)}`);
    rows.push(failedRow(name, e));
  }
}

await area('store scale', async () => {
  const st = await benchStore();
  const raw = stats(st.hostsRaw);
  const store = `${st.hosts.toLocaleString('en')} hosts, ${st.runs.toLocaleString('en')} runs in ${st.jobs.toLocaleString('en')} jobs`;
  for (const [label, samples] of Object.entries(st.lists)) {
    const l = stats(samples);
    rows.push({
      name: `${label} through the dispatcher (store: ${store})`,
      median: l.median,
      spread: iqr(samples, 1),
      unit: 'ms',
      ...(label.startsWith('hosts.list (all') ? { baseline: `raw SQL join ${raw.median.toFixed(2)} ms`, ratio: l.median / raw.median } : {}),
      target: '< 50 ms',
      verdict: l.median < 50 ? 'met' : 'missed',
    });
  }
  rows.push({
    name: `RSS of the app (\`cronium serve\` on that store, after serving hosts.list and jobs.list over its API)`,
    median: st.serve.rssMb,
    spread: `peak ${st.serve.peakMb.toFixed(0)}`,
    unit: 'MB',
    target: '< 300 MB',
    verdict: st.serve.rssMb < 300 && st.serve.peakMb < 300 ? 'met' : 'missed',
  });
  const c = stats(st.cli);
  const n = stats(st.node);
  rows.push({
    name: `CLI cold start, hosts list --json (that store)`,
    median: c.median,
    spread: iqr(st.cli, 0),
    unit: 'ms',
    baseline: `node -e 0: ${n.median.toFixed(0)} ms`,
    ratio: c.median / n.median,
  });
});

await area('cli', async () => {
  const c = await benchCli();
  const node = peerBaseline('`node -e 0`', { samples: c.node });
  for (const [label, samples] of [['`cronium --version`', c.version], ['`cronium --help`', c.help]] as const) {
    const m = stats(samples).median;
    rows.push({ name: `CLI: ${label}, whole process`, median: m, spread: iqr(samples, 0), unit: 'ms', baselines: [node], target: '< 100 ms', verdict: m < 100 ? 'met' : 'missed' });
  }
  if (c.skipped || !c.run) {
    rows.push({ name: 'CLI: `cronium run --mode direct --command true`, cold', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${c.skipped ?? c.failures.sshTrue ?? 'no samples'}` });
    return;
  }
  const run = stats(c.run).median;
  const sshTrue = peerBaseline('`ssh host true`', { samples: c.sshTrue ?? [], ...(c.failures.sshTrue ? { failure: c.failures.sshTrue } : {}) });
  const master = peerBaseline('`ssh` + warm ControlMaster', { samples: c.controlMaster ?? [], ...(c.failures.controlMaster ? { failure: c.failures.controlMaster } : {}) });
  const ratio = run / sshTrue.median;
  rows.push({ name: 'CLI: `cronium run --host H --mode direct --command true`, cold (new process, new connection)', median: run, spread: iqr(c.run, 0), unit: 'ms', baselines: [sshTrue, master], target: '≤ 1.5x `ssh host true`', verdict: ratio <= 1.5 ? 'met' : 'missed' });
  if (c.viaApp?.length) {
    const via = stats(c.viaApp).median;
    const sshB = peerBaseline('`ssh host true`', { samples: c.sshTrueB ?? [] });
    rows.push({ name: 'CLI: the same run with `cronium serve` on the data dir (thin client: the app\'s warm connection)', median: via, spread: iqr(c.viaApp, 0), unit: 'ms', baselines: [sshB, master], target: '< 0.5x `ssh host true`', verdict: via / sshB.median < 0.5 ? 'met' : 'missed' });
  } else rows.push({ name: 'CLI: the same run through `cronium serve`', median: Number.NaN, spread: '-', unit: 'ms', baseline: `failed: ${c.failures.viaApp ?? 'no samples'}` });
});

await area('queue', () => {
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
});

await area('team server on PostgreSQL', async () => {
  const pgq = await benchPgQueue();
  if ('skipped' in pgq) {
    rows.push({ name: 'team server on PostgreSQL: queue with three servers, scheduler takeover', median: Number.NaN, spread: '-', unit: 'runs/s', baseline: `skipped: ${pgq.skipped}` });
    return;
  }
  rows.push({
    name: `queue with three servers on one PostgreSQL: claim + start + complete, 20,000 runs over 100 hosts (three processes, batches of 50, 10 at a time each; per server ${pgq.perServer.map((n) => n.toLocaleString('en')).join(', ')})`,
    median: pgq.runsPerSecond,
    spread: '1 run',
    unit: 'runs/s',
    baseline: `bare 1-row UPDATE transactions, three processes: ${pgq.baselinePerSecond.toFixed(0)}/s`,
    ratio: pgq.runsPerSecond / pgq.baselinePerSecond,
    target: '> 5,000 runs/s',
    verdict: pgq.runsPerSecond > 5000 ? 'met' : 'missed',
  });
  const t = stats(pgq.takeoverMs);
  rows.push({
    name: 'scheduler takeover on PostgreSQL: the leader of three servers SIGKILLed, until another leads (session advisory lock, tries every 1 s; 5 times)',
    median: t.median,
    spread: `${t.min.toFixed(0)}–${t.max.toFixed(0)} (min–max)`,
    unit: 'ms',
    target: 'within seconds (< 5 s)',
    verdict: t.max < 5000 ? 'met' : 'missed',
  });
  const lag = stats(pgq.liveLagMs);
  const floor = stats(pgq.notifyLagMs);
  const p99 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.99)] ?? Number.NaN;
  rows.push({
    name: `live output across servers: a batch from server A's log writer to a client of server B (NOTIFY; 400 lines 5 ms apart and 4 bursts of 100 KB sent as pointers; ${pgq.liveLagMs.length} batches), p99 ${p99(pgq.liveLagMs).toFixed(0)} ms`,
    median: lag.median,
    spread: `${lag.min.toFixed(0)}–${lag.max.toFixed(0)} (min–max)`,
    unit: 'ms',
    baseline: `bare NOTIFY between two sessions: median ${floor.median.toFixed(1)} ms, p99 ${p99(pgq.notifyLagMs).toFixed(1)} ms`,
    target: 'p99 < 50 ms',
    verdict: p99(pgq.liveLagMs) < 50 ? 'met' : 'missed',
  });
});

await area('ssh', async () => {
  const ssh = await benchSsh();
  if ('skipped' in ssh) {
    rows.push({ name: 'SSH handshake and warm exec', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${ssh.skipped}` });
  } else {
    const spread = (s: { p25: number; p75: number }) => `${s.p25.toFixed(2)}–${s.p75.toFixed(2)}`;
    const hs = stats(ssh.handshake);
    const we = stats(ssh.warmExec);
    const sshTrue = peerBaseline('`ssh host true`', { samples: ssh.sshTrue, ...(ssh.failures.sshTrue ? { failure: ssh.failures.sshTrue } : {}) });
    const master = peerBaseline('`ssh` + warm ControlMaster', { samples: ssh.controlMaster, ...(ssh.failures.controlMaster ? { failure: ssh.failures.controlMaster } : {}) });
    rows.push({ name: 'SSH handshake: new pooled connection (TCP, kex, host key, auth)', median: hs.median, spread: spread(hs), unit: 'ms', baselines: [sshTrue] });
    rows.push({ name: 'warm exec of `true` through the pool', median: we.median, spread: spread(we), unit: 'ms', baselines: [sshTrue, master] });
  }
});

await area('runner deploy', async () => {
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
});

await area('single host: runner, direct, ssh, ControlMaster', async () => {
  const rm = await benchRunner();
  if ('skipped' in rm) {
    rows.push({ name: 'single host: runner mode, direct mode, ssh, ControlMaster', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${rm.skipped}` });
  } else {
    const med = (x: number[]) => stats(x).median;
    const ratio = med(rm.runner) / med(rm.direct);
    const peer = (label: string, way: 'ssh' | 'controlMaster', samples: number[]) => peerBaseline(label, { samples, ...(rm.failures[way] ? { failure: rm.failures[way] } : {}) });
    const sshTrue = peer('`ssh host true`', 'ssh', rm.ssh);
    const master = peer('`ssh` + warm ControlMaster', 'controlMaster', rm.controlMaster);
    rows.push({
      name: `single host, \`true\`: runner mode, warm (a resident runner on the pooled connection, started behind the host's check of the cached runner by its stat record; its run process re-stats the binary before each run; ${rm.runner.length} runs)`,
      median: med(rm.runner),
      spread: iqr(rm.runner),
      unit: 'ms',
      baselines: [{ label: 'direct mode', median: med(rm.direct) }, sshTrue, master],
      target: '≤ 1.1x direct',
      verdict: ratio <= 1.1 ? 'met' : 'missed',
    });
    rows.push({
      name: `single host, \`true\`: runner mode, strict check (execution.runnerCheck = hash: the cached runner re-hashed before every run; ${rm.runnerStrict.length} runs)`,
      median: med(rm.runnerStrict),
      spread: iqr(rm.runnerStrict),
      unit: 'ms',
      baselines: [{ label: 'direct mode', median: med(rm.direct) }, { label: 'runner mode, stat check', median: med(rm.runner) }],
    });
    rows.push({
      name: `single host, \`true\`: runner mode without resident runners (CRONIUM_RUNNER_RESIDENT=0: a channel, the check's \`stat\` and a runner start per run; ${rm.runnerPerRun.length} runs)`,
      median: med(rm.runnerPerRun),
      spread: iqr(rm.runnerPerRun),
      unit: 'ms',
      baselines: [{ label: 'direct mode', median: med(rm.direct) }, { label: 'runner mode, resident', median: med(rm.runner) }],
    });
    rows.push({ name: `single host, \`true\`: direct mode (pooled connection; ${rm.direct.length} runs)`, median: med(rm.direct), spread: iqr(rm.direct), unit: 'ms', baselines: [sshTrue, master] });
    // A 1-second script: what each way adds to the second.
    const over = (x: number[]) => x.map((v) => v - 1000);
    const sleep = rm.sleep1;
    rows.push({
      name: `single host, 1-second script (\`sleep 1\`): overhead over 1,000 ms, runner mode, warm (${sleep.runner.length} runs)`,
      median: med(over(sleep.runner)),
      spread: iqr(over(sleep.runner)),
      unit: 'ms',
      baselines: [{ label: 'direct mode', median: med(over(sleep.direct)) }, peer('`ssh host sleep 1`', 'ssh', over(sleep.ssh)), peer('`ssh` + warm ControlMaster', 'controlMaster', over(sleep.controlMaster))],
    });
    rows.push({
      name: `single host, 1-second script: overhead over 1,000 ms, direct mode (${sleep.direct.length} runs)`,
      median: med(over(sleep.direct)),
      spread: iqr(over(sleep.direct)),
      unit: 'ms',
      baselines: [peer('`ssh host sleep 1`', 'ssh', over(sleep.ssh)), peer('`ssh` + warm ControlMaster', 'controlMaster', over(sleep.controlMaster))],
    });
    // What runner mode adds on the host, part by part: the measured cause of its gap over direct mode.
    const parts = rm.parts;
    if (parts) {
      rows.push({
        name: `single host, \`true\`: runner mode's time over direct mode without resident runners (per run), and what it does on the host that direct mode does not, each part timed ${PART_LOOP} times in a loop inside one exec (an empty loop's time taken off; the rest of the gap is the runner's own work before and after the script, and the hello and exit frames); a resident runner takes the stat and the runner start out of the run`,
        median: med(rm.runnerPerRun) - med(rm.direct),
        spread: '-',
        unit: 'ms',
        // Parts, not peers: no ratios.
        baseline: [
          `the check's \`stat\` of the binary and its two dirs in a command substitution (a fork and an exec): ${parts.stat.toFixed(2)} ms`,
          `starting the runner (\`cronium-runner version\`): ${parts.runnerStart.toFixed(2)} ms`,
          `starting a small C program (\`/bin/true\`): ${parts.cStart.toFixed(2)} ms`,
        ].join('; '),
      });
    }
    // The per-run check's parts: the tool runner mode uses first, against the others and a bare exec.
    const hx = rm.hashExec;
    const first = hx['openssl dgst -sha256'] ? 'openssl dgst -sha256' : 'sha256sum';
    if (hx[first]) {
      rows.push({
        name: `per-run check's hash: exec of \`${first}\` on the cached runner (${(rm.binaryBytes / 1048576).toFixed(1)} MB) over the pooled connection`,
        median: med(hx[first]),
        spread: iqr(hx[first], 2),
        unit: 'ms',
        baselines: Object.entries(hx)
          .filter(([label]) => label !== first)
          .map(([label, x]) => ({ label: label === 'true' ? 'exec of `true`' : `\`${label}\``, median: med(x) })),
      });
    }
  }
});

await area('fan-out (Ansible takes most of it)', async () => {
  const fan = await benchFanout();
  if ('skipped' in fan) rows.push({ name: 'fan-out and scheduling jitter', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${fan.skipped}` });
  else rows.push(...fanoutRows(fan));
});

await area('thousand: fan-out to 1,000 hosts', async () => {
  const f = await benchFanout1000();
  if ('skipped' in f) {
    rows.push({ name: 'fan-out to 1,000 hosts', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${f.skipped}` });
    return;
  }
  for (const c of f.cases) {
    if (c.way.startsWith('parallel-ssh') || c.way.startsWith('bare ssh2')) continue;
    const peer = f.cases.find((p) => p.script === c.script && p.concurrency === c.concurrency && p.way.startsWith('parallel-ssh'));
    const peerB = peer ? peerBaseline(peer.way, peer.run.ok && 'ms' in peer.run ? { samples: [peer.run.ms] } : { samples: [], failure: 'failure' in peer.run ? peer.run.failure : 'no sample' }) : undefined;
    const floorOf = (prefix: string) => {
      const fl = f.cases.find((p) => p.script === c.script && p.concurrency === c.concurrency && p.way.startsWith(prefix));
      return fl ? peerBaseline(`${fl.way}, the machine ${fl.busyCoreS.toFixed(0)} core-s`, fl.run.ok && 'ms' in fl.run ? { samples: [fl.run.ms] } : { samples: [], failure: 'failure' in fl.run ? fl.run.failure : 'no sample' }) : undefined;
    };
    // The bare floor, and the floor of this mode's own work on the hosts (no app): what is left
    // between that and the row is the app's.
    const floorB = floorOf('bare ssh2, no app');
    const modeFloors = (c.way.includes('direct') ? [FLOOR_DIRECT] : [FLOOR_RUNNER_START, FLOOR_RUNNER]).map(floorOf).filter((b) => b !== undefined);
    const name = `fan-out of \`${c.script}\` to 1,000 hosts (${c.way})`;
    if (!c.run.ok || !('peakRssMb' in c.run)) {
      rows.push({ name, median: Number.NaN, spread: '-', unit: 'ms', baselines: [{ label: 'cronium', median: Number.NaN, failed: 'failure' in c.run ? c.run.failure : 'no sample' }, ...(peerB ? [peerB] : []), ...(floorB ? [floorB] : []), ...modeFloors] });
      continue;
    }
    const r = c.run;
    const errs = Object.entries(r.errors).map(([k, n]) => `${n} ${k}`).join(', ');
    const ahead = !peerB || peerB.failed !== undefined || r.ms < peerB.median;
    const target = c.script === 'true' && c.concurrency === 200;
    // The work measured sets a floor of its own: the machine's busy core-seconds over its cores
    // is the least time that work can take here, whatever the app does with its share of it.
    const cores = cpus().length;
    const least = c.busyCoreS / cores;
    rows.push({
      name: `${name}: ${r.succeeded} succeeded${r.failed ? `, ${r.failed} failed (${errs})` : ''}; the app's peak RSS ${r.peakRssMb.toFixed(0)} MB, at most ${r.peakFds} descriptors; CPU: the app ${(r.cpuMs / 1000).toFixed(1)} s, the whole machine (its ${cores} cores shared by the app and the 1,000 hosts' sessions) ${c.busyCoreS.toFixed(0)} core-s of ${((cores * r.ms) / 1000).toFixed(0)}, so the rest (the hosts' sessions) ${(c.busyCoreS - r.cpuMs / 1000).toFixed(0)} core-s, and this work needs at least ${least.toFixed(1)} s of the ${cores} cores${peer ? `; parallel-ssh's run ${peer.busyCoreS.toFixed(0)} core-s` : ''}`,
      median: r.ms,
      spread: '1 run',
      unit: 'ms',
      ...(peerB || floorB || modeFloors.length ? { baselines: [...(peerB ? [peerB] : []), ...(floorB ? [floorB] : []), ...modeFloors] } : {}),
      ...(target ? { target: '< 15 s, peak RSS < 400 MB, ahead of parallel-ssh', verdict: r.ms < 15_000 && r.peakRssMb < 400 && r.failed === 0 && ahead ? ('met' as const) : ('missed' as const) } : {}),
    });
  }
});

await area('push: a file to 100 hosts', async () => {
  const r = await benchPush();
  if ('skipped' in r) rows.push({ name: 'push to 100 hosts', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${r.skipped}` });
  else rows.push(...r);
});

await area('elevation: fan-out with sudo', async () => {
  const el = await benchElevation();
  if ('skipped' in el) rows.push({ name: 'fan-out with sudo', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${el.skipped}` });
  else rows.push(...el);
});

// Two areas (`--only live` or `--only throughput` runs one), each on a fleet and an app of its own.
for (const part of ['live logs: latency, the browser and its frame rate', 'throughput: 100 MB and 1 GB of output'] as const)
await area(part, async () => {
  const latency = part.startsWith('live');
  const live = await benchLive({ latency, throughput: !latency });
  if ('skipped' in live) {
    rows.push({ name: latency ? 'live log latency, browser latency, frame rate' : 'throughput', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${live.skipped}` });
  } else {
    const latencyRow = (name: string, x: { latencies: number[]; missing: number }): Row => {
      const s = stats(x.latencies);
      return {
        name: `${name}${x.missing ? ` (${x.missing} lines never arrived)` : ''}`,
        median: s.median,
        spread: iqr(x.latencies),
        unit: 'ms',
        baseline: `p99: ${s.p99.toFixed(1)} ms`,
        target: 'p99 < 50 ms',
        verdict: s.p99 < 50 && x.missing === 0 ? 'met' : 'missed',
      };
    };
    if (latency) {
      for (const a of live.api) rows.push(latencyRow(`live log latency p50, line on the host → its run.log event in a WebSocket client of \`cronium serve\`: ${a.label}, ${a.mode} mode`, a));
      if ('skipped' in live.browser) rows.push({ name: 'browser latency, line on the host → the xterm of the job view', median: Number.NaN, spread: '-', unit: 'ms', baseline: `skipped: ${live.browser.skipped}` });
      else rows.push(latencyRow(`browser latency p50, line on the host → drawn into the xterm rows of the job view (Chromium, MutationObserver): ${live.browser.label}, ${live.browser.mode} mode`, live.browser));
      if (!('skipped' in live.browserSocket)) {
        const s = stats(live.browserSocket.latencies);
        rows.push({
          name: `of which: line on the host → its run.log message at the page's WebSocket (same lines; the rest is the page's pump and xterm's render)`,
          median: s.median,
          spread: iqr(live.browserSocket.latencies),
          unit: 'ms',
          baseline: `p99: ${s.p99.toFixed(1)} ms`,
        });
      }
      if ('skipped' in live.fps) rows.push({ name: 'frame rate of the job view at 50 MB/s', median: Number.NaN, spread: '-', unit: 'fps', baseline: `skipped: ${live.fps.skipped}` });
      else {
        const b = stats(live.fps.busy);
        const i = stats(live.fps.idle);
        rows.push({
          name: `frame rate of the job view while a run prints ${live.fps.mbPerSecond.toFixed(1)} MB/s (requestAnimationFrame per second, ${live.fps.busy.length} s)`,
          median: b.median,
          spread: `${b.min}–${b.max} (min–max)`,
          unit: 'fps',
          baseline: `same page idle: ${i.median} fps`,
          ratio: b.median / i.median,
          target: '≥ 55 fps at 50 MB/s',
          verdict: b.median >= 55 && live.fps.mbPerSecond >= 45 ? 'met' : 'missed',
        });
      }
    }
    // The cause when output misses the ssh target: what storing it costs the app's one thread.
    const ceiling = latency ? undefined : await logStoreCeiling();
    if (ceiling) {
      const files = stats(ceiling.files);
      const inRows = stats(ceiling.rows);
      rows.push({
        name: "the store's ceiling: 100 MB as 64 KiB chunks through a log writer into a fresh data dir (a run's first 256 KiB in rows, the rest in its output file; one thread: the app's main thread pays this for every MB it stores)",
        median: files.median,
        spread: `${files.min.toFixed(0)}–${files.max.toFixed(0)} (min–max)`,
        unit: 'MB/s',
        baselines: [{ label: 'every byte in SQLite rows (pages and WAL, as before output files)', median: inRows.median, unit: 'MB/s' }],
      });
    }
    for (const t of live.throughput) {
      const mbps = t.seconds.map((x) => t.mb / x);
      const ssh = t.sshSeconds.map((x) => t.mb / x);
      const m = stats(mbps);
      const ratio = m.median / stats(ssh).median;
      const toFile = stats(t.sshFileSeconds.map((x) => t.mb / x));
      const size = t.mb >= 1024 ? `${t.mb / 1024} GB` : `${t.mb} MB`;
      rows.push({
        name: `throughput: ${size} of output from one run, ${t.mode} mode, to the store and one API client (${t.seconds.length} run${t.seconds.length > 1 ? 's' : ''}; a fresh \`cronium serve\`, its connection and runner check included)`,
        median: m.median,
        spread: `${m.min.toFixed(1)}–${m.max.toFixed(1)} (min–max)`,
        unit: 'MB/s',
        baselines: [
          { label: '`ssh host <same command> > /dev/null`', median: stats(ssh).median, unit: 'MB/s' },
          { label: '`ssh host <same command> > file` (the data dir\'s disk)', median: toFile.median, unit: 'MB/s' },
        ],
        target: '≥ 0.8x ssh (> /dev/null)',
        verdict: ratio >= 0.8 ? 'met' : 'missed',
      });
      const r = stats(t.peakRssMb);
      const busy = stats(t.cpuSeconds.map((c, i) => (100 * c) / t.seconds[i]!));
      rows.push({
        name: `the app's CPU during that ${size} run, ${t.mode} mode, as a share of the run's wall time (100% = one core busy throughout: the app's one thread is the limit)`,
        median: busy.median,
        spread: `${busy.min.toFixed(0)}–${busy.max.toFixed(0)} (min–max)`,
        unit: '%',
        baseline: `the whole machine (${cpus().length} cores: the app, the host's sshd and the script, the kernel's writeback) busy ${stats(t.machineBusy).median.toFixed(1)} core-s of ${(cpus().length * stats(t.seconds).median).toFixed(1)} during the run; during \`ssh > /dev/null\` ${stats(t.sshMachineBusy).median.toFixed(1)} core-s of ${(cpus().length * stats(t.sshSeconds).median).toFixed(1)}`,
      });
      rows.push({ name: `peak RSS of the app process (\`cronium serve\`) during that ${size} run, ${t.mode} mode`, median: r.median, spread: `${r.min.toFixed(0)}–${r.max.toFixed(0)} (min–max)`, unit: 'MB' });
    }
  }
});

// Helper round trip (tunnel / in-band), issue #8.9: test/bench/helpers.ts exports
// `benchHelpers(ctx: BenchContext): Promise<void>`, which appends its own rows to ctx.rows (fleet
// subnet 224). Until that file exists the table says so.
const helpersFile = join(ROOT, 'test/bench/helpers.ts');
if (existsSync(helpersFile)) {
  await area('helpers', async () => {
    const mod = (await import(pathToFileURL(helpersFile).href)) as { benchHelpers: (ctx: BenchContext) => Promise<void> };
    await mod.benchHelpers({ rows, stats });
  });
} else {
  rows.push({ name: 'helper round trip (tunnel / in-band)', median: Number.NaN, spread: '-', unit: 'ms', baseline: 'not measured yet (test/bench/helpers.ts)' });
}
progress('done');

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const scope = only.length > 0 ? ` Only the areas matching ${only.join(', ')}.` : '';
const md = [`Machine: ${machine}; the whole run took ${((Date.now() - started) / 60_000).toFixed(1)} min.${scope}`, '', renderTable(rows)].join('\n');
console.log(md);
mkdirSync(join(ROOT, 'test/bench/results'), { recursive: true });
// A partial run (--only) writes partial.{json,md}: latest.* stays the last full table.
const out = only.length > 0 ? 'partial' : 'latest';
writeFileSync(join(ROOT, `test/bench/results/${out}.json`), JSON.stringify({ machine, at: new Date().toISOString(), rows }, null, 2));
writeFileSync(join(ROOT, `test/bench/results/${out}.md`), `${md}\n`);
