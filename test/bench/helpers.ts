/**
 * Helper round trips (issue #8.9): the time a script on a host waits for one helper call
 * (`getVariable`) to come back from the app, over the SSH reverse tunnel (a host that
 * forwards) and in-band (a host whose sshd forbids forwarding), from python3's module (a
 * socket call to the runner), node's module and bash's `cronium get-var` (each a process).
 * Timed inside the script with the host's monotonic clock, so only the call is measured.
 * Baseline in the same run: one exec round trip of `true` on the app's pooled connection to
 * the same host (the cheapest thing the app can ask a host to do).
 * Needs root (the fleet) and the runner artifacts.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { call } from '../../electron/core/api/dispatcher';
import { openCore } from '../../electron/core/core';
import { Worker } from '../../electron/core/exec/worker';
import { startFleet } from '../fleet/fleet';
import type { BenchContext } from './table';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SUBNET = 224;
const ctx = { door: 'cli' as const };

const SCRIPTS = {
  python3: { calls: 300, body: (n: number) => `import cronium, time\nms = []\nfor i in range(${n}):\n    t = time.perf_counter()\n    cronium.getVariable("K")\n    ms.append((time.perf_counter() - t) * 1000)\ncronium.output({"ms": ms})\n` },
  node: { calls: 60, body: (n: number) => `const c = require('cronium');\nconst ms = [];\nfor (let i = 0; i < ${n}; i++) { const t = process.hrtime.bigint(); c.getVariable('K'); ms.push(Number(process.hrtime.bigint() - t) / 1e6); }\nc.output({ ms });\n` },
  bash: { calls: 60, body: (n: number) => `ms=""\nfor i in $(seq ${n}); do t=$(date +%s%N); cronium get-var K >/dev/null; e=$(date +%s%N); ms="$ms\${ms:+,}$(( (e - t) / 1000 ))"; done\ncronium output "{\\"us\\":[$ms]}"\n` },
} as const;

/** Adds the helper round-trip rows to the table. */
export async function benchHelpers(bench: BenchContext): Promise<void> {
  const skip = (why: string) => bench.rows.push({ name: 'helper round trip (tunnel / in-band)', median: Number.NaN, spread: '-', unit: 'ms', baseline: `not measured: ${why}` });
  if (process.getuid?.() !== 0) return void skip('needs root for the test fleet');
  if (!existsSync(join(ROOT, 'resources', 'runner', 'manifest.json'))) return void skip('no runner artifacts (npm run build:runner)');
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-helpers-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'tunnel', profile: 'default' }, { name: 'inband', profile: 'noforward' }] });
  try {
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, fleet.knownHosts(), { mode: 0o600 });
    const core = openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
    const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `bench:${process.pid}`, ...core.runHooks });
    const detach = core.jobs.attach(worker);
    worker.start();
    try {
      for (const h of fleet.hosts) await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      await call(core.dispatch, 'vars.set', { key: 'K', value: 'v' }, ctx);
      // The exec baseline, on the connection the runs will use.
      const sshMs: number[] = [];
      for (const host of ['tunnel', 'inband']) {
        const conn = await core.ssh.connect(await core.hosts.sshTarget(host));
        for (let i = 0; i < 30; i++) {
          const t0 = performance.now();
          await conn.exec('true');
          if (i >= 5) sshMs.push(performance.now() - t0);
        }
      }
      const ssh = bench.stats(sshMs).median;
      for (const [lang, spec] of Object.entries(SCRIPTS)) {
        for (const host of ['tunnel', 'inband'] as const) {
          const { jobId } = await call(core.dispatch, 'jobs.run', { hosts: [host], script: spec.body(spec.calls), interpreter: lang as 'bash', mode: 'runner', timeoutMs: 120_000 }, ctx);
          const deadline = Date.now() + 180_000;
          while (['queued', 'running'].includes(core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string)) {
            if (Date.now() > deadline) throw new Error(`helper bench job ${jobId} did not end`);
            await new Promise((r) => setTimeout(r, 50));
          }
          const job = await call(core.dispatch, 'jobs.get', { id: jobId }, ctx);
          const run = job.runs[0]!;
          const out = run.output as { ms?: number[]; us?: number[] } | null;
          const samples = out?.ms ?? out?.us?.map((u) => u / 1000);
          if (run.status !== 'succeeded' || !samples?.length) {
            bench.rows.push({ name: `helper round trip, ${lang} getVariable, ${host === 'tunnel' ? 'SSH reverse tunnel' : 'in-band'}`, median: Number.NaN, spread: '-', unit: 'ms', baseline: `failed: ${run.errorCode ?? run.status} ${run.errorMessage ?? ''}`.trim() });
            continue;
          }
          const warm = samples.slice(Math.min(5, samples.length - 1));
          const s = bench.stats(warm);
          bench.rows.push({
            name: `helper round trip, ${lang} \`${lang === 'bash' ? 'cronium get-var' : 'getVariable'}\`, ${host === 'tunnel' ? 'SSH reverse tunnel' : 'in-band (no forwarding)'} (p50; p99 ${s.p99.toFixed(1)} ms; ${warm.length} calls)`,
            median: s.median,
            spread: `${s.p25.toFixed(2)}–${s.p75.toFixed(2)}`,
            unit: 'ms',
            baseline: `one \`true\` exec on the pooled SSH connection: ${ssh.toFixed(2)} ms`,
            ratio: s.median / ssh,
          });
        }
      }
    } finally {
      await worker.stop();
      detach();
      core.close();
    }
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
