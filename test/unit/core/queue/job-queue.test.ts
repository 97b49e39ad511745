import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import { openStore, type Store } from '../../../../electron/core/db/database';
import { JobQueue, retryDelayMs, type NewJob } from '../../../../electron/core/queue/job-queue';
import { ROOT } from '../../../helpers/cli';
import { tempDir } from '../../../helpers/temp';

function setup(t: TestContext, hostCount = 3): { store: Store; queue: JobQueue; hosts: { id: number; name: string }[]; dir: string } {
  const dir = tempDir(t);
  const store = openStore(dir);
  t.after(() => store.close());
  const hosts = [];
  for (let i = 1; i <= hostCount; i++) {
    const id = Number(store.sqlite.prepare(`insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)`).run(`h${i}`).lastInsertRowid);
    hosts.push({ id, name: `h${i}` });
  }
  return { store, queue: new JobQueue(store), hosts, dir };
}

const job = (hosts: { id: number; name: string }[], extra: Partial<NewJob> = {}): NewJob => ({
  kind: 'adhoc', requestedBy: 'cli', interpreter: 'bash', scriptBody: 'true', mode: 'auto', hosts, ...extra,
});

const runStatus = (store: Store, id: number) => store.sqlite.prepare('select status from runs where id = ?').pluck().get(id);
const jobStatus = (store: Store, id: number) => store.sqlite.prepare('select status from jobs where id = ?').pluck().get(id);
const base = { leaseMs: 30_000, perHostLimit: 10, globalLimit: 100 };

test('a job gets one run per host; claims, starts and completions settle the job', (t) => {
  const { store, queue, hosts } = setup(t);
  const jobId = queue.enqueue(job(hosts));
  const claimed = queue.claim({ ...base, owner: 'w1', limit: 10 });
  assert.deepEqual(claimed.map((c) => c.hostName), ['h1', 'h2', 'h3']);
  assert.deepEqual(queue.claim({ ...base, owner: 'w2', limit: 10 }), [], 'a claimed run is not claimed twice');
  for (const c of claimed) assert.equal(queue.start(c.runId, 'w1'), true);
  assert.equal(queue.start(claimed[0]!.runId, 'w2'), false);
  assert.equal(jobStatus(store, jobId), 'running');
  queue.complete(claimed[0]!.runId, 'w1', { status: 'succeeded', exitCode: 0 });
  queue.complete(claimed[1]!.runId, 'w1', { status: 'succeeded', exitCode: 0 });
  assert.equal(jobStatus(store, jobId), 'running');
  const last = queue.complete(claimed[2]!.runId, 'w1', { status: 'failed', exitCode: 3 });
  assert.equal(last.jobStatus, 'partial');
  assert.equal(jobStatus(store, jobId), 'partial');
  assert.equal(store.sqlite.prepare('select exit_code from runs where id = ?').pluck().get(claimed[2]!.runId), 3);
});

test('job status: all succeeded, all failed, all cancelled', (t) => {
  const { store, queue, hosts } = setup(t, 2);
  const a = queue.enqueue(job(hosts));
  for (const c of queue.claim({ ...base, owner: 'w', limit: 10 })) queue.complete(c.runId, 'w', { status: 'succeeded', exitCode: 0 });
  assert.equal(jobStatus(store, a), 'succeeded');
  const b = queue.enqueue(job(hosts, { maxAttempts: 1 }));
  for (const c of queue.claim({ ...base, owner: 'w', limit: 10 })) queue.complete(c.runId, 'w', { status: 'timed_out' });
  assert.equal(jobStatus(store, b), 'failed');
  const c = queue.enqueue(job(hosts));
  assert.deepEqual(queue.cancel(c), []);
  assert.equal(jobStatus(store, c), 'cancelled');
});

test('per-host and global limits hold across workers', (t) => {
  const { queue, hosts } = setup(t, 2);
  for (let i = 0; i < 5; i++) queue.enqueue(job(hosts));
  const first = queue.claim({ ...base, owner: 'w1', limit: 100, perHostLimit: 2, globalLimit: 3 });
  assert.equal(first.length, 3);
  const second = queue.claim({ ...base, owner: 'w2', limit: 100, perHostLimit: 2, globalLimit: 10 });
  assert.equal(second.length, 1, 'h1 and h2 each hold at most 2 in flight');
  const all = [...first, ...second];
  assert.equal(all.filter((c) => c.hostName === 'h1').length, 2);
  assert.equal(all.filter((c) => c.hostName === 'h2').length, 2);
});

test('priorities go first; a busy host does not starve the others', (t) => {
  const { queue, hosts } = setup(t, 2);
  const [h1, h2] = hosts as [{ id: number; name: string }, { id: number; name: string }];
  for (let i = 0; i < 10; i++) queue.enqueue(job([h1]));
  const urgent = queue.enqueue(job([h2], { priority: 5 }));
  const claimed = queue.claim({ ...base, owner: 'w', limit: 3, perHostLimit: 1 });
  assert.deepEqual(claimed.map((c) => c.hostName), ['h2', 'h1']);
  assert.equal(claimed[0]!.jobId, urgent);
});

test('connection failures are retried with backoff up to maxAttempts; script failures only when asked', (t) => {
  const { store, queue, hosts } = setup(t, 1);
  const now = 1_000_000;
  const jobId = queue.enqueue(job(hosts, { maxAttempts: 2 }), now);
  let [c] = queue.claim({ ...base, owner: 'w', limit: 1, now });
  assert.deepEqual(queue.complete(c!.runId, 'w', { status: 'failed', retryable: true, errorCode: 'CONNECT_FAILED' }, now), { retried: true });
  assert.equal(runStatus(store, c!.runId), 'queued');
  assert.deepEqual(queue.claim({ ...base, owner: 'w', limit: 1, now: now + 100 }), [], 'not before its backoff');
  [c] = queue.claim({ ...base, owner: 'w', limit: 1, now: now + 10 * 60_000 });
  assert.equal(c!.attempt, 2);
  assert.equal(queue.complete(c!.runId, 'w', { status: 'failed', retryable: true, errorCode: 'CONNECT_FAILED' }, now).retried, false, 'attempts exhausted');
  assert.equal(jobStatus(store, jobId), 'failed');

  const scriptFail = queue.enqueue(job(hosts, { maxAttempts: 3 }), now);
  [c] = queue.claim({ ...base, owner: 'w', limit: 1, now });
  assert.equal(queue.complete(c!.runId, 'w', { status: 'failed', exitCode: 1 }, now).retried, false);
  assert.equal(jobStatus(store, scriptFail), 'failed');
  queue.enqueue(job(hosts, { maxAttempts: 3, retryScriptFailures: true }), now);
  [c] = queue.claim({ ...base, owner: 'w', limit: 1, now });
  assert.equal(queue.complete(c!.runId, 'w', { status: 'failed', exitCode: 1 }, now).retried, true);
  for (let a = 2; a <= 6; a++) {
    const d = retryDelayMs(a, () => 0.5);
    assert.ok(d >= 2000 && d <= 300_000, `${a}: ${d}`);
  }
  assert.ok(retryDelayMs(3, () => 0.5) > retryDelayMs(2, () => 0.5));
});

test('a lost lease: heartbeats report it, and completing it is refused', (t) => {
  const { queue, hosts } = setup(t, 1);
  const now = 5_000_000;
  queue.enqueue(job(hosts), now);
  const [c] = queue.claim({ ...base, owner: 'w1', limit: 1, leaseMs: 1000, now });
  assert.deepEqual(queue.heartbeat('w1', [c!.runId], 1000, now + 500), []);
  assert.deepEqual(queue.recover(now + 1000), { requeued: [], lost: [], reattach: [] }, 'the heartbeat extended the lease');
  const recovered = queue.recover(now + 5000);
  assert.deepEqual(recovered.requeued, [c!.runId]);
  const [again] = queue.claim({ ...base, owner: 'w2', limit: 1, now: now + 5000 });
  assert.deepEqual(queue.heartbeat('w1', [c!.runId], 1000, now + 5001), [c!.runId]);
  assert.throws(() => queue.complete(again!.runId, 'w1', { status: 'succeeded' }), /not held by w1/);
});

test('start-up recovery: no run is left running', (t) => {
  const { store, queue, hosts } = setup(t, 3);
  const now = 9_000_000;
  const jobId = queue.enqueue(job(hosts), now);
  const claimed = queue.claim({ ...base, owner: 'dead', limit: 3, leaseMs: 1000, now });
  queue.start(claimed[1]!.runId, 'dead', now);
  queue.start(claimed[2]!.runId, 'dead', now);
  store.sqlite.prepare('update runs set detached = 1 where id = ?').run(claimed[2]!.runId);
  const r = queue.recover(now + 2000);
  assert.deepEqual(r, { requeued: [claimed[0]!.runId], lost: [claimed[1]!.runId], reattach: [{ runId: claimed[2]!.runId, deadOwner: null }] });
  assert.equal(runStatus(store, claimed[1]!.runId), 'lost');
  assert.match(store.sqlite.prepare('select error_message from runs where id = ?').pluck().get(claimed[1]!.runId) as string, /lease expired/);
  assert.equal(jobStatus(store, jobId), 'running', 'the job waits for its requeued and detached runs');
});

test('two processes claiming at once never claim the same run', async (t) => {
  const { queue, hosts, dir } = setup(t, 4);
  for (let i = 0; i < 50; i++) queue.enqueue(job(hosts));
  const worker = (owner: string) =>
    new Promise<number[]>((resolve, reject) => {
      const script = `import { openStore } from './electron/core/db/database.ts'; import { JobQueue } from './electron/core/queue/job-queue.ts';
        const s = openStore(${JSON.stringify(dir)}); const q = new JobQueue(s); const ids = [];
        for (;;) { const c = q.claim({ owner: ${JSON.stringify(owner)}, limit: 7, leaseMs: 60000, perHostLimit: 1000, globalLimit: 100000 }); if (!c.length) break;
          for (const r of c) { ids.push(r.runId); q.complete(r.runId, ${JSON.stringify(owner)}, { status: 'succeeded', exitCode: 0 }); } }
        console.log(JSON.stringify(ids)); s.close();`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(err))));
    });
  const [a, b] = await Promise.all([worker('A'), worker('B')]);
  const all = [...a, ...b];
  assert.equal(all.length, 200);
  assert.equal(new Set(all).size, 200, 'no run claimed twice');
});
