// The benchmark survives its peers: a peer command that fails, one that hangs past its limit and
// one that cannot start are recorded as such (test/bench/peers.ts), the fan-out rows say so in
// their baselines, and the whole table still prints. Real child processes; no fleet, no bench run.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FanoutRecorder, fanoutRows, OURS, type FanoutFigures } from '../../bench/fanout';
import { PeerFailure, samplePeerSync, timePeer, timePeerSync } from '../../bench/peers';
import { failedRow, renderTable } from '../../bench/table';
import { tempDir } from '../../helpers/temp';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a peer that fails, one that hangs and one that cannot start are outcomes, not exceptions', async (t) => {
  assert.deepEqual(await timePeer('sh', ['-c', 'echo "ansible: something broke" >&2; exit 3']), { ok: false, failure: 'exited 3: ansible: something broke' });
  const ok = await timePeer('true', []);
  assert.ok(ok.ok && ok.ms >= 0);
  const missing = await timePeer('no-such-peer-command', []);
  assert.deepEqual(missing, { ok: false, failure: 'could not start no-such-peer-command: ENOENT' });
  // A hung peer with a child of its own: both are gone once its limit has passed.
  const pidFile = join(tempDir(t), 'child.pid');
  const t0 = Date.now();
  const hung = await timePeer('sh', ['-c', `sleep 60 & echo $! > "${pidFile}"; wait`], { timeoutMs: 300 });
  assert.deepEqual(hung, { ok: false, failure: 'timed out after 0.3 s' });
  assert.ok(Date.now() - t0 < 5000, 'the limit held');
  assert.ok(existsSync(pidFile));
  const child = Number(readFileSync(pidFile, 'utf8'));
  for (let i = 0; i < 50 && alive(child); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(child), false, 'the peer\'s own children were killed with it');
});

test('synchronous peers: a failure stops the sampling and is kept with the samples so far', () => {
  assert.throws(() => timePeerSync('sh', ['-c', 'exit 255']), (e: unknown) => e instanceof PeerFailure && e.message === 'exited 255');
  assert.throws(() => timePeerSync('sleep', ['5'], 200), (e: unknown) => e instanceof PeerFailure && e.message === 'timed out after 0.2 s');
  let n = 0;
  const s = samplePeerSync(5, 1, () => {
    n++;
    if (n === 4) throw new PeerFailure('exited 255: Connection refused');
    return n;
  });
  assert.deepEqual(s, { samples: [2, 3], failure: 'exited 255: Connection refused' });
});

test('fan-out rows: a failed and a timed-out peer are shown as such, larger sizes say why they did not run, the table prints whole', async () => {
  const figures: FanoutFigures = { sizes: [10, 50, 100], wall: {}, failures: {}, jitterMs: [3, 4, 5] };
  const rec = new FanoutRecorder(figures);
  let ansibleRuns = 0;
  for (const n of figures.sizes) {
    await rec.measure(OURS, n, () => Promise.resolve({ ok: true, ms: n * 10 }));
    await rec.measure('xargs -P 50 ssh', n, () => Promise.resolve({ ok: true, ms: n * 20 }));
    await rec.measure('parallel-ssh -p 50', n, () => (n === 100 ? timePeer('sh', ['-c', 'echo "pssh: [FAILURE] host" >&2; exit 5']) : Promise.resolve({ ok: true, ms: n * 30 })));
    await rec.measure('ansible -f 50', n, () => {
      ansibleRuns++;
      return n >= 50 ? timePeer('sh', ['-c', 'sleep 30'], { timeoutMs: 200 }) : Promise.resolve({ ok: true, ms: n * 100 });
    });
  }
  assert.equal(ansibleRuns, 2, 'after timing out at 50 hosts, ansible is not run at 100');
  const rows = fanoutRows(figures);
  assert.equal(rows.length, 4, 'one row per size and the jitter');
  const cells = renderTable(rows).split('\n');
  assert.equal(cells.length, 2 + rows.length, 'header, separator and every row');
  const at50 = cells.find((l) => l.includes('to 50 hosts'))!;
  assert.match(at50, /\| 500\.0 ms \|/);
  assert.match(at50, /ansible -f 50: timed out after 0\.2 s/);
  assert.match(at50, /0\.50x \/ 0\.33x \/ -/, 'no ratio against a failed peer');
  const at100 = cells.find((l) => l.includes('to 100 hosts'))!;
  assert.match(at100, /parallel-ssh -p 50: exited 5: pssh: \[FAILURE\] host/);
  assert.match(at100, /ansible -f 50: not run: it failed at 50 hosts \(timed out after 0\.2 s\)/);
  assert.match(at100, /\| met \|$/, 'failed peers do not count as ahead');
  // Cronium itself failing at a size: its row says so and keeps its peers.
  const own: FanoutFigures = { sizes: [10], wall: { 'xargs -P 50 ssh': { 10: [100] } }, failures: { [OURS]: { 10: 'the job ended failed' } }, jitterMs: [] };
  const [row] = fanoutRows(own);
  assert.ok(Number.isNaN(row!.median));
  assert.match(renderTable([row!]), /\| - \| - \| cronium: the job ended failed; xargs -P 50 ssh: 100\.0 ms \| - \/ - \|/);
});

test('an area that throws is a row that says so', () => {
  const line = renderTable([failedRow('fan-out (Ansible takes most of it)', new Error('spawnSync ansible ETIMEDOUT\nstack'))]).split('\n')[2];
  assert.equal(line, '| fan-out (Ansible takes most of it) | - | - | failed: spawnSync ansible ETIMEDOUT | - | - | - |');
});
