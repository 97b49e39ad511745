/**
 * LiveLogFeed with a clock and timer of the test's own: a run printing less than the rate goes
 * out as it comes; a run printing more is paced, its oldest output left out and said so (ranges
 * with sizes, gapFrom), system lines always sent, the order kept, the end of the output always
 * delivered by the timer; a client that is behind gets nothing until it drains, and memory per
 * run stays bounded; idle runs are forgotten.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIENT_LOG_HIGH_WATER, LiveLogFeed, type LiveLogFeedOptions } from '../../../../electron/core/logs/live-log-feed';
import type { EventPayload } from '../../../../electron/shared/api';
import { encodeRunLog, type RawRunLog } from '../../../../electron/core/events/event-bus';

type Batch = EventPayload<'run.log'>;

const chunk = (seq: number, bytes: number, stream: 'stdout' | 'stderr' | 'system' = 'stdout') => ({ seq, stream, ts: 0, data: Buffer.alloc(bytes, 120) });
const batch = (runId: number, chunks: RawRunLog['chunks'], gapFrom?: number): RawRunLog => ({ runId, jobId: 1, host: 'h', chunks, ...(gapFrom !== undefined ? { gapFrom } : {}) });

function rig(opts: Partial<LiveLogFeedOptions> = {}) {
  let now = 0;
  let queued = 0;
  const sent: Batch[] = [];
  const timers: { at: number; cb: () => void }[] = [];
  const feed = new LiveLogFeed({
    rate: 1000,
    burst: 1000,
    queueBytes: 2000,
    ...opts,
    queued: () => queued,
    send: (b) => void sent.push(b),
    now: () => now,
    setTimer: (cb, ms) => {
      const t = { at: now + ms, cb };
      timers.push(t);
      return t;
    },
    clearTimer: (h) => void timers.splice(timers.indexOf(h as (typeof timers)[number]), 1),
  });
  /** Moves the clock, firing the timers that fall due. */
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const t = timers[0];
      if (!t || t.at > end) break;
      timers.shift();
      now = t.at;
      t.cb();
    }
    now = end;
  };
  const seqs = () => sent.flatMap((b) => b.chunks.map((c) => c.seq));
  return { feed, sent, timers, advance, seqs, setQueued: (n: number) => (queued = n) };
}

test('a run printing less than the rate goes out as it comes, unchanged and at once', () => {
  const r = rig();
  r.feed.push(batch(1, [chunk(1, 300), chunk(2, 300)]));
  r.advance(600);
  r.feed.push(batch(1, [chunk(3, 300)]));
  assert.deepEqual(r.sent, [encodeRunLog(batch(1, [chunk(1, 300), chunk(2, 300)])), encodeRunLog(batch(1, [chunk(3, 300)]))], 'the bytes, in base64');
  assert.equal(r.timers.length, 0, 'nothing waits, no timer');
});

test('a flood is paced at the rate; the oldest output beyond the queue is left out and said so; the end always arrives', () => {
  const r = rig();
  // 10,000 bytes in 100-byte chunks at once: the queue keeps the newest 2,000 (81..100), and the
  // bucket (1,000) sends 81..90 now, with what was left out before them.
  r.feed.push(batch(1, Array.from({ length: 100 }, (_, i) => chunk(i + 1, 100))));
  assert.deepEqual(r.sent[0]!.skipped, [{ from: 1, to: 80, bytes: 8000 }]);
  assert.equal(r.sent[0]!.gapFrom, 1, 'a client that wants every byte reads from 1');
  assert.deepEqual(r.seqs(), [81, 82, 83, 84, 85, 86, 87, 88, 89, 90]);
  // The rest goes as the bucket refills (1,000 bytes/s, a chunk of debt at most), by the timer.
  r.advance(500);
  const half = r.seqs();
  assert.ok(half.at(-1)! >= 94 && half.at(-1)! <= 96, `by 500 ms: up to ${half.at(-1)}`);
  r.advance(600);
  assert.deepEqual(r.seqs().slice(-10), [91, 92, 93, 94, 95, 96, 97, 98, 99, 100], 'the end of the output arrives by the timer');
  assert.equal(r.timers.length, 0);
  // Every seq accounted for exactly once: sent or left out.
  const told = r.sent.flatMap((b) => (b.skipped ?? []).flatMap((s) => Array.from({ length: s.to - s.from + 1 }, (_, i) => s.from + i)));
  assert.deepEqual([...r.seqs(), ...told].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1));
});

test('system lines are never left out, and a skip is told only once everything before it went out', () => {
  const r = rig({ burst: 100, queueBytes: 300 });
  r.feed.push(batch(1, [chunk(1, 100), chunk(2, 30, 'system'), chunk(3, 100), chunk(4, 100), chunk(5, 100), chunk(6, 100), chunk(7, 100)]));
  // Queue of 300 bytes: 1, 3 and 4 are left out (not 2: a system line); the bucket (100) sends the
  // system line and 5, with both skips before them; 6 and 7 wait for tokens.
  assert.deepEqual(r.seqs(), [2, 5]);
  assert.deepEqual(r.sent[0]!.skipped, [{ from: 1, to: 1, bytes: 100 }, { from: 3, to: 4, bytes: 200 }]);
  r.advance(100);
  assert.deepEqual(r.sent[1]!.chunks.map((c) => c.seq), [6]);
  assert.equal(r.sent[1]!.skipped, undefined);
  // A system line behind waiting output is kept (never trimmed) and sent in order.
  r.feed.push(batch(1, [chunk(8, 100), chunk(9, 10, 'system'), chunk(10, 100), chunk(11, 100), chunk(12, 100)]));
  r.advance(2000);
  const seqs = r.seqs();
  assert.ok(seqs.includes(9), 'the system line went out');
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in order');
});

test('a client that is behind gets nothing until it drains; memory stays at the queue size; then the newest output and the skip', () => {
  const r = rig({ rate: 1e9, burst: 1e9, queueBytes: 1000 });
  r.setQueued(CLIENT_LOG_HIGH_WATER + 1);
  for (let i = 0; i < 50; i++) r.feed.push(batch(1, [chunk(i + 1, 100)]));
  assert.equal(r.sent.length, 0);
  r.advance(200);
  assert.equal(r.sent.length, 0, 'still behind: the timer asks again later');
  r.setQueued(0);
  r.advance(100);
  assert.equal(r.sent.length, 1);
  assert.deepEqual(r.sent[0]!.skipped, [{ from: 1, to: 40, bytes: 4000 }]);
  assert.deepEqual(r.sent[0]!.chunks.map((c) => c.seq), [41, 42, 43, 44, 45, 46, 47, 48, 49, 50]);
});

test('an upstream gap is passed on; runs are paced apart; idle runs are forgotten; close stops everything', () => {
  const r = rig();
  r.feed.push(batch(1, [], 5));
  assert.deepEqual(r.sent[0], batch(1, [], 5));
  r.feed.push(batch(2, [chunk(1, 1000)]));
  r.feed.push(batch(3, [chunk(1, 1000)]));
  assert.equal(r.sent.length, 3, 'each run has a bucket of its own');
  r.feed.push(batch(2, [chunk(2, 500)]));
  assert.equal(r.sent.length, 3, 'run 2 waits for its budget');
  r.advance(600);
  assert.equal(r.sent.length, 4);
  // After a second of quiet every bucket is full again: a new run sweeps the idle ones away.
  r.advance(2000);
  r.feed.push(batch(4, [chunk(1, 10)]));
  assert.deepEqual([...(r.feed as unknown as { runs: Map<number, unknown> }).runs.keys()], [4]);
  r.feed.push(batch(5, Array.from({ length: 30 }, (_, i) => chunk(i + 1, 100))));
  assert.equal(r.timers.length, 1);
  r.feed.close();
  assert.equal(r.timers.length, 0);
  const before = r.sent.length;
  r.feed.push(batch(5, [chunk(31, 10)]));
  r.advance(5000);
  assert.equal(r.sent.length, before);
});

test('an upstream gap is told only after the chunks before it went out', () => {
  const r = rig();
  r.feed.push(batch(1, Array.from({ length: 15 }, (_, i) => chunk(i + 1, 100))));
  assert.deepEqual(r.seqs(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  r.feed.push(batch(1, [], 16));
  assert.ok(r.sent.every((b) => b.gapFrom === undefined), 'not while 11..15 wait');
  r.advance(1000);
  assert.deepEqual(r.seqs(), Array.from({ length: 15 }, (_, i) => i + 1));
  const told = r.sent.findIndex((b) => b.gapFrom === 16);
  assert.ok(told >= 0);
  assert.ok(r.sent.slice(0, told + 1).flatMap((b) => b.chunks.map((c) => c.seq)).includes(15), 'told with or after the last chunk before it');
});
