/** LogPump: ordered, exactly-once, gap-filling, batched writes with the write callback as backpressure. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogPump, type LogChunk } from '../../../renderer/features/jobs/log-pump';

const chunk = (seq: number, text: string, stream: LogChunk['stream'] = 'stdout'): LogChunk => ({ seq, stream, ts: 0, data: Buffer.from(text).toString('base64') });
const tick = () => new Promise((r) => setImmediate(r));

/** A sink that records writes and completes them only when told (like a busy xterm). */
function sink() {
  const writes: string[] = [];
  const callbacks: (() => void)[] = [];
  return {
    writes,
    callbacks,
    write(data: Uint8Array, cb: () => void) {
      writes.push(Buffer.from(data).toString());
      callbacks.push(cb);
    },
    done() {
      callbacks.shift()?.();
    },
  };
}


test('chunks are written in seq order, once, whatever order they arrive in', async () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [] });
  pump.push([chunk(1, 'a'), chunk(2, 'b')]);
  assert.deepEqual(s.writes, ['ab']);
  // While that write is outstanding, more arrives, some twice, some early.
  pump.push([chunk(2, 'b'), chunk(4, 'd')]);
  pump.push([chunk(3, 'c'), chunk(1, 'a')]);
  assert.equal(s.writes.length, 1, 'no second write before the first completed');
  s.done();
  assert.deepEqual(s.writes, ['ab', 'cd']);
  s.done();
  assert.equal(pump.lastSeq, 4);
  assert.equal(pump.bytesWritten, 4);
  await tick();
});

test('a hole is filled from the store before later chunks are written', async () => {
  const s = sink();
  const asked: number[] = [];
  const pump = new LogPump(s, {
    fill: async (from) => {
      asked.push(from);
      return [chunk(2, 'b'), chunk(3, 'c')];
    },
  });
  pump.push([chunk(1, 'a')]);
  s.done();
  pump.push([chunk(4, 'd')]);
  assert.deepEqual(s.writes, ['a']);
  await tick();
  assert.deepEqual(asked, [2]);
  assert.deepEqual(s.writes, ['a', 'bcd']);
});

test('gapFrom from the live feed makes the pump read from the store', async () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async (from) => (from === 3 ? [chunk(3, 'c'), chunk(4, 'd')] : []) });
  pump.push([chunk(1, 'a'), chunk(2, 'b')]);
  s.done();
  pump.push([], 3);
  await tick();
  assert.deepEqual(s.writes, ['ab', 'cd']);
});

test('startAfter skips what the tail left out; system chunks are dimmed', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [] });
  pump.startAfter(9);
  pump.push([chunk(5, 'old'), chunk(10, 'x'), chunk(11, 'retrying', 'system')]);
  assert.deepEqual(s.writes, ['x\x1b[2;3mretrying\x1b[0m']);
});

test('writes are split at maxBatchBytes, and nothing is written after dispose', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [], maxBatchBytes: 4 });
  pump.push([chunk(1, 'aaa'), chunk(2, 'bb'), chunk(3, 'c')]);
  assert.deepEqual(s.writes, ['aaa']);
  s.done();
  assert.deepEqual(s.writes, ['aaa', 'bbc']);
  pump.dispose();
  s.done();
  pump.push([chunk(4, 'z')]);
  assert.deepEqual(s.writes, ['aaa', 'bbc']);
});

test('multi-byte UTF-8 split across chunks reaches the sink byte for byte', () => {
  const bytes = Buffer.from('héllo ✓');
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [] });
  pump.push([
    { seq: 1, stream: 'stdout', ts: 0, data: bytes.subarray(0, 2).toString('base64') },
    { seq: 2, stream: 'stdout', ts: 0, data: bytes.subarray(2).toString('base64') },
  ]);
  assert.equal(s.writes[0], 'héllo ✓');
});

test('a chunk that finds no write outstanding is written at once; what arrives during a write is batched into the next', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [] });
  pump.push([chunk(1, 'a')]);
  assert.deepEqual(s.writes, ['a'], 'written at once, without waiting for a frame');
  pump.push([chunk(2, 'b')]);
  pump.push([chunk(3, 'c')]);
  assert.deepEqual(s.writes, ['a'], 'one write outstanding at a time');
  s.done();
  assert.deepEqual(s.writes, ['a', 'bc']);
  s.done();
  pump.push([chunk(4, 'd')]);
  assert.deepEqual(s.writes, ['a', 'bc', 'd']);
});

test('a run faster than the terminal: output beyond the backlog is left out, counted and marked, system lines always shown, nothing twice', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [], maxBacklogBytes: 1000, maxBatchBytes: 4096 });
  const line = 'x'.repeat(99) + '\n';
  pump.push([chunk(1, line)]); // written at once
  // The terminal is busy: 50 more chunks of 100 bytes arrive, and a system line.
  const more = Array.from({ length: 50 }, (_, i) => chunk(i + 2, line));
  pump.push([...more, chunk(52, 'note\n', 'system'), chunk(53, 'after\n')]);
  assert.equal(pump.lastSeq, 53);
  // 11 chunks fit the backlog (the 11th crosses it); the other 39 and 'after' were left out: 3,906 bytes.
  assert.equal(pump.bytesSkipped, 3906);
  s.done();
  const written = s.writes.slice(1).join('');
  assert.match(written, /\[3\.8 KB of output not shown here, to keep up; the whole log is stored: Full log\]/);
  assert.ok(written.includes('note\n'), 'system lines are never left out');
  assert.ok(!written.includes('after'));
  assert.equal(written.split(line).length - 1, 11);
  // Left out only while behind: once caught up, everything is written again.
  while (s.callbacks.length) s.done();
  pump.push([chunk(54, 'tail\n')]);
  assert.equal(s.writes.at(-1), 'tail\n');
  assert.equal(pump.bytesSkipped, 3906);
});

test('output left out at the very end is still marked once the terminal catches up', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [], maxBacklogBytes: 150 });
  pump.push([chunk(1, 'a'.repeat(100))]);
  pump.push([chunk(2, 'b'.repeat(100)), chunk(3, 'c'.repeat(100)), chunk(4, 'd'.repeat(100))]);
  assert.equal(pump.bytesSkipped, 100);
  while (s.callbacks.length) s.done();
  assert.match(s.writes.join(''), /\[100 bytes of output not shown here/);
});

test('under load the pump writes at most paceBytes once per animation frame; a quiet run writes at once', () => {
  const s = sink();
  const frames: (() => void)[] = [];
  const pump = new LogPump(s, { fill: async () => [], paceBytes: 1000, maxBacklogBytes: 100_000, nextFrame: (cb) => frames.push(cb) });
  pump.push([chunk(1, 'quiet\n')]);
  assert.deepEqual(s.writes, ['quiet\n'], 'below the pace: written at once');
  s.done();
  pump.push(Array.from({ length: 20 }, (_, i) => chunk(i + 2, 'y'.repeat(299) + '\n')));
  assert.equal(s.writes.length, 1, 'behind: nothing until the next frame');
  assert.equal(frames.length, 1);
  frames.shift()!();
  assert.equal(s.writes.length, 2);
  assert.ok(s.writes[1]!.length <= 1000, `one paced write: ${s.writes[1]!.length} bytes`);
  s.done();
  assert.equal(s.writes.length, 2, 'the next write waits for the next frame too');
  let n = 0;
  while (frames.length || s.callbacks.length) {
    if (frames.length) frames.shift()!();
    if (s.callbacks.length) s.done();
    assert.ok(++n < 100);
  }
  assert.equal(s.writes.slice(1).join(''), ('y'.repeat(299) + '\n').repeat(20), 'everything written, in order');
});
