/**
 * The job queue's contract, run against each store (one schema, two dialects; issue #16): the
 * SQLite queue (test/unit/core/queue/job-queue.test.ts) and the PostgreSQL one
 * (test/integration/pg/queue.test.ts) must pass the same cases. A rig gives a fresh, empty
 * store with `hostCount` hosts; both queues are driven through the one `Queue` interface (the
 * SQLite one through `sqliteQueue`, as the app drives it).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelayMs, type NewJob, type Queue } from '../../electron/core/queue/job-queue';

/** A fresh store with its queue and a way to look at rows. */
export interface QueueRig {
  queue: Queue;
  hosts: { id: number; name: string }[];
  /** A column of a run or a job, as stored. */
  run(id: number, column: 'status' | 'exit_code' | 'error_message'): Promise<unknown>;
  job(id: number, column: 'status'): Promise<unknown>;
  markDetached(runId: number): Promise<void>;
  close(): Promise<void>;
}

const job = (hosts: { id: number; name: string }[], extra: Partial<NewJob> = {}): NewJob => ({
  kind: 'adhoc',
  requestedBy: 'cli',
  interpreter: 'bash',
  scriptBody: 'true',
  mode: 'auto',
  hosts,
  ...extra,
});
const base = { leaseMs: 30_000, perHostLimit: 10, globalLimit: 100 };
const never = () => false;

/** Registers the contract's tests for one store. */
export function queueContract(store: string, makeRig: (hostCount: number) => Promise<QueueRig>): void {
  const withRig = (name: string, hostCount: number, fn: (r: QueueRig) => Promise<void>) =>
    void test(`${store}: ${name}`, async () => {
      const r = await makeRig(hostCount);
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    });

  withRig('a job gets one run per host; claims, starts and completions settle the job', 3, async ({ queue, hosts, run, job: jobOf }) => {
    const jobId = await queue.enqueue(job(hosts));
    const claimed = await queue.claim({ ...base, owner: 'w1', limit: 10 });
    assert.deepEqual(claimed.map((c) => c.hostName), ['h1', 'h2', 'h3']);
    assert.deepEqual(await queue.claim({ ...base, owner: 'w2', limit: 10 }), [], 'a claimed run is not claimed twice');
    for (const c of claimed) assert.equal(await queue.start(c.runId, 'w1'), true);
    assert.equal(await queue.start(claimed[0]!.runId, 'w2'), false);
    assert.equal(await jobOf(jobId, 'status'), 'running');
    await queue.complete(claimed[0]!.runId, 'w1', { status: 'succeeded', exitCode: 0 });
    await queue.complete(claimed[1]!.runId, 'w1', { status: 'succeeded', exitCode: 0 });
    assert.equal(await jobOf(jobId, 'status'), 'running');
    const last = await queue.complete(claimed[2]!.runId, 'w1', { status: 'failed', exitCode: 3 });
    assert.equal(last.jobStatus, 'partial');
    assert.equal(await jobOf(jobId, 'status'), 'partial');
    assert.equal(await run(claimed[2]!.runId, 'exit_code'), 3);
  });

  withRig('job status: all succeeded, all failed, all cancelled', 2, async ({ queue, hosts, job: jobOf }) => {
    const a = await queue.enqueue(job(hosts));
    for (const c of await queue.claim({ ...base, owner: 'w', limit: 10 })) await queue.complete(c.runId, 'w', { status: 'succeeded', exitCode: 0 });
    assert.equal(await jobOf(a, 'status'), 'succeeded');
    const b = await queue.enqueue(job(hosts, { maxAttempts: 1 }));
    for (const c of await queue.claim({ ...base, owner: 'w', limit: 10 })) await queue.complete(c.runId, 'w', { status: 'timed_out' });
    assert.equal(await jobOf(b, 'status'), 'failed');
    const c = await queue.enqueue(job(hosts));
    assert.deepEqual(await queue.cancel(c), []);
    assert.equal(await jobOf(c, 'status'), 'cancelled');
  });

  withRig('per-host and global limits hold across workers', 2, async ({ queue, hosts }) => {
    for (let i = 0; i < 5; i++) await queue.enqueue(job(hosts));
    const first = await queue.claim({ ...base, owner: 'w1', limit: 100, perHostLimit: 2, globalLimit: 3 });
    assert.equal(first.length, 3);
    const second = await queue.claim({ ...base, owner: 'w2', limit: 100, perHostLimit: 2, globalLimit: 10 });
    assert.equal(second.length, 1, 'h1 and h2 each hold at most 2 in flight');
    const all = [...first, ...second];
    assert.equal(all.filter((c) => c.hostName === 'h1').length, 2);
    assert.equal(all.filter((c) => c.hostName === 'h2').length, 2);
  });

  withRig('priorities go first; a busy host does not starve the others', 2, async ({ queue, hosts }) => {
    const [h1, h2] = hosts as [{ id: number; name: string }, { id: number; name: string }];
    for (let i = 0; i < 10; i++) await queue.enqueue(job([h1]));
    const urgent = await queue.enqueue(job([h2], { priority: 5 }));
    const claimed = await queue.claim({ ...base, owner: 'w', limit: 3, perHostLimit: 1 });
    assert.deepEqual(claimed.map((c) => c.hostName), ['h2', 'h1']);
    assert.equal(claimed[0]!.jobId, urgent);
  });

  withRig('connection failures are retried with backoff up to maxAttempts; script failures only when asked', 1, async ({ queue, hosts, run, job: jobOf }) => {
    const now = 1_000_000;
    const jobId = await queue.enqueue(job(hosts, { maxAttempts: 2 }), now);
    let [c] = await queue.claim({ ...base, owner: 'w', limit: 1, now });
    assert.deepEqual(await queue.complete(c!.runId, 'w', { status: 'failed', retryable: true, errorCode: 'CONNECT_FAILED' }, now), { retried: true });
    assert.equal(await run(c!.runId, 'status'), 'queued');
    assert.deepEqual(await queue.claim({ ...base, owner: 'w', limit: 1, now: now + 100 }), [], 'not before its backoff');
    [c] = await queue.claim({ ...base, owner: 'w', limit: 1, now: now + 10 * 60_000 });
    assert.equal(c!.attempt, 2);
    assert.equal((await queue.complete(c!.runId, 'w', { status: 'failed', retryable: true, errorCode: 'CONNECT_FAILED' }, now)).retried, false, 'attempts exhausted');
    assert.equal(await jobOf(jobId, 'status'), 'failed');
    const scriptFail = await queue.enqueue(job(hosts, { maxAttempts: 3 }), now);
    [c] = await queue.claim({ ...base, owner: 'w', limit: 1, now });
    assert.equal((await queue.complete(c!.runId, 'w', { status: 'failed', exitCode: 1 }, now)).retried, false);
    assert.equal(await jobOf(scriptFail, 'status'), 'failed');
    await queue.enqueue(job(hosts, { maxAttempts: 3, retryScriptFailures: true }), now);
    [c] = await queue.claim({ ...base, owner: 'w', limit: 1, now });
    assert.equal((await queue.complete(c!.runId, 'w', { status: 'failed', exitCode: 1 }, now)).retried, true);
    for (let a = 2; a <= 6; a++) {
      const d = retryDelayMs(a, () => 0.5);
      assert.ok(d >= 2000 && d <= 300_000, `${a}: ${d}`);
    }
  });

  withRig('a lost lease: heartbeats report it, and completing it is refused', 1, async ({ queue, hosts }) => {
    const now = 5_000_000;
    await queue.enqueue(job(hosts), now);
    const [c] = await queue.claim({ ...base, owner: 'w1', limit: 1, leaseMs: 1000, now });
    assert.deepEqual(await queue.heartbeat('w1', [c!.runId], 1000, now + 500), []);
    assert.deepEqual(await queue.recover(now + 1000, never), { requeued: [], lost: [], reattach: [] }, 'the heartbeat extended the lease');
    const recovered = await queue.recover(now + 5000, never);
    assert.deepEqual(recovered.requeued, [c!.runId]);
    const [again] = await queue.claim({ ...base, owner: 'w2', limit: 1, now: now + 5000 });
    assert.deepEqual(await queue.heartbeat('w1', [c!.runId], 1000, now + 5001), [c!.runId]);
    await assert.rejects(async () => queue.complete(again!.runId, 'w1', { status: 'succeeded' }), /not held by w1/);
  });

  withRig('recovery: no run is left running; a dead owner\'s lease is taken over before it expires', 3, async ({ queue, hosts, run, job: jobOf, markDetached }) => {
    const now = 9_000_000;
    const jobId = await queue.enqueue(job(hosts), now);
    const claimed = await queue.claim({ ...base, owner: 'dead', limit: 3, leaseMs: 1000, now });
    await queue.start(claimed[1]!.runId, 'dead', now);
    await queue.start(claimed[2]!.runId, 'dead', now);
    await markDetached(claimed[2]!.runId);
    const r = await queue.recover(now + 2000, never);
    assert.deepEqual(r, { requeued: [claimed[0]!.runId], lost: [claimed[1]!.runId], reattach: [{ runId: claimed[2]!.runId, deadOwner: null }] });
    assert.equal(await run(claimed[1]!.runId, 'status'), 'lost');
    assert.match(String(await run(claimed[1]!.runId, 'error_message')), /lease expired/);
    assert.equal(await jobOf(jobId, 'status'), 'running', 'the job waits for its requeued and detached runs');
    // A lease far from expiry whose owner is provably gone is resolved now.
    const j2 = await queue.enqueue(job([hosts[0]!]), now);
    const held = await queue.claim({ ...base, owner: 'gone', limit: 10, leaseMs: 3_600_000, now: now + 2000 });
    assert.deepEqual(held.map((h) => h.runId).sort((x, y) => x - y), [claimed[0]!.runId, held.at(-1)!.runId].sort((x, y) => x - y), 'the requeued run and the new job\'s');
    for (const h of held) await queue.start(h.runId, 'gone', now + 2000);
    const r2 = await queue.recover(now + 2010, (o) => o === 'gone');
    assert.deepEqual([...r2.lost].sort((x, y) => x - y), held.map((h) => h.runId).sort((x, y) => x - y));
    assert.match(String(await run(held[0]!.runId, 'error_message')), /\(gone\) is gone/);
    assert.equal(await jobOf(j2, 'status'), 'failed');
    assert.equal(await jobOf(jobId, 'status'), 'running', 'its detached run is still to be reattached');
  });
}
