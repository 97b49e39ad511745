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
