/**
 * 100 MB of output from one run (direct and runner mode, a real sshd host): every byte is
 * stored, and the app's memory stays flat: its peak RSS during the run grows by far less than
 * the output, so nothing accumulates in memory. The output limit (execution.maxOutputBytes)
 * cuts at exactly that many bytes in both modes and stops the run with OUTPUT_LIMIT.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../../electron/core/core';
import { Worker } from '../../../electron/core/exec/worker';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { storedOutput } from '../../helpers/stored-log';

const SUBNET = 214;
const ctx = { door: 'cli' as const };
let fleet: Fleet | undefined;
let scratch = '';
let core: Core | undefined;

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cronium-throughput-'));
  fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'default', profile: 'default' }] });
  mkdirSync(join(scratch, 'home'), { recursive: true });
  const knownHosts = join(scratch, 'home', 'known_hosts');
  writeFileSync(knownHosts, fleet.knownHosts(), { mode: 0o600 });
  core = openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
  const h = fleet.host('default');
  await core.hosts.add({ name: 'default', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
});

after(async () => {
  core?.close();
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs one script that prints `size` bytes; returns the bytes stored, the time and the peak RSS growth. */
async function printBytes(size: number, mode: 'direct' | 'runner' = 'direct', want = 'succeeded'): Promise<{ stored: number; secs: number; grewMb: number; error: string | null }> {
  const c = core!;
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const { jobId } = await call(c.dispatch, 'jobs.run', { hosts: ['default'], script: `head -c ${size} /dev/zero | tr '\\0' 'x'\n`, mode, timeoutMs: 120_000 }, ctx);
  const worker = new Worker({ store: c.store.data, queue: c.queue, logs: c.logs, events: c.events, executor: c.executor, owner: `test:${process.pid}`, jobId, maxOutputBytes: () => c.settings.execution().maxOutputBytes });
  const detach = c.jobs.attach(worker);
  const t0 = Date.now();
  worker.start();
  try {
    for (;;) {
      const status = c.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
      if (!['queued', 'running'].includes(status)) {
        assert.equal(status, want, `${mode}: ${size} bytes`);
        break;
      }
      assert.ok(Date.now() - t0 < 120_000, 'the run did not finish in 2 minutes');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    clearInterval(sampler);
    await worker.stop();
    detach();
  }
  const run = c.store.sqlite.prepare('select id, error_code as error, mode from runs where job_id = ?').get(jobId) as { id: number; error: string | null; mode: string };
  assert.equal(run.mode, mode);
  const stored = storedOutput(c.store.sqlite, c.info.dataDir, run.id, 'stdout').length;
  return { stored, secs: (Date.now() - t0) / 1000, grewMb: (peak - rss0) / 1024 / 1024, error: run.error };
}

test('100 MB of output: every byte stored, memory flat', async () => {
  const MB = 1024 * 1024;
  // The garbage collector lets a few tens of MB of spent buffers pile up before it runs,
  // whatever the output size. Flat means: five times the output costs no more memory.
  const small = await printBytes(20 * MB);
  assert.equal(small.stored, 20 * MB);
  const big = await printBytes(100 * MB);
  assert.equal(big.stored, 100 * MB, 'every byte is stored');
  console.log(`# 100 MB in ${big.secs.toFixed(1)} s (${(100 / big.secs).toFixed(0)} MB/s); peak RSS growth ${big.grewMb.toFixed(0)} MB (20 MB run: ${small.grewMb.toFixed(0)} MB)`);
  assert.ok(big.grewMb - small.grewMb < 48, `memory grew with the output: ${small.grewMb.toFixed(0)} MB for 20 MB, ${big.grewMb.toFixed(0)} MB for 100 MB`);
  assert.ok(big.grewMb < 100, `peak RSS grew by ${big.grewMb.toFixed(0)} MB during 100 MB of output`);
});

test('runner mode (protocol 4): 100 MB stored byte for byte', async () => {
  const MB = 1024 * 1024;
  const big = await printBytes(100 * MB, 'runner');
  assert.equal(big.stored, 100 * MB);
  console.log(`# runner mode: 100 MB in ${big.secs.toFixed(1)} s (${(100 / big.secs).toFixed(0)} MB/s); peak RSS growth ${big.grewMb.toFixed(0)} MB`);
  assert.ok(big.grewMb < 100, `peak RSS grew by ${big.grewMb.toFixed(0)} MB during 100 MB of output`);
});

test('the output limit cuts at exactly that many bytes and stops the run, in both modes', async () => {
  const MB = 1024 * 1024;
  await call(core!.dispatch, 'settings.set', { execution: { maxOutputBytes: 3 * MB } }, ctx);
  try {
    for (const mode of ['direct', 'runner'] as const) {
      const r = await printBytes(5 * MB, mode, 'failed');
      assert.deepEqual([r.error, r.stored], ['OUTPUT_LIMIT', 3 * MB], mode);
    }
  } finally {
    await call(core!.dispatch, 'settings.set', { execution: { maxOutputBytes: 256 * MB } }, ctx);
  }
});
