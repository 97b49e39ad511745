// Fault: a script that writes an endless line with no newline (20 MB here) on a real sshd host, in
// direct and runner mode: the run ends succeeded, every byte is stored once (no byte lost or
// doubled), and the CLI, which streams it, stays within a bounded memory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import { ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../helpers/workspace';
import { storedOutput } from '../helpers/stored-log';

// Other suites use 201-233 and 242.
const SUBNET = 234;
const BYTES = 20 * 1024 * 1024;
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspaceWithHosts('endless-line', { subnet: SUBNET, hosts: [{ name: 'host', profile: 'default' }] });
});
after(async () => {
  await ws?.stop();
});

/** Runs the CLI, counting stdout bytes without keeping them, and its peak RSS from /proc. */
function runCounting(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; bytes: number; peakKb: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    let peakKb = 0;
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // gone
      }
    }, 100);
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      clearInterval(sample);
      resolve({ code, bytes, peakKb, stderr });
    });
  });
}

for (const mode of ['direct', 'runner'] as const) {
  test(`${mode} mode: a 20 MB line without a newline is stored whole, once, and streamed in bounded memory`, async () => {
    const w = ws!;
    const r = await runCounting(['--data-dir', w.dataDir, 'run', '--host', 'host', '--mode', mode, '--command', `head -c ${BYTES} /dev/zero | tr '\\0' x`], { ...w.env, CRONIUM_USE_APP: 'never' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.bytes, BYTES, 'every byte printed once');
    assert.ok(r.peakKb > 0 && r.peakKb < 400 * 1024, `peak RSS ${Math.round(r.peakKb / 1024)} MB`);
    const core = w.open();
    try {
      const runId = core.store.sqlite.prepare('select id from runs order by id desc limit 1').pluck().get() as number;
      const stored = storedOutput(core.store.sqlite, core.info.dataDir, runId, 'stdout');
      assert.equal(stored.length, BYTES, 'every byte stored once');
      assert.ok(stored.every((b) => b === 0x78), 'every stored byte is the x printed');
      const job = await call(core.dispatch, 'jobs.list', {}, { door: 'cli' });
      assert.equal(job[0]?.status, 'succeeded');
    } finally {
      core.close();
    }
  });
}
