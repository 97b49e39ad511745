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

test('a run faster than the terminal: the oldest output waiting is left out, counted and marked; the newest and system lines always shown, nothing twice', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [], maxBacklogBytes: 1000, maxBatchBytes: 4096 });
  const line = (i: number) => `line ${String(i).padStart(3, '0')} ${'x'.repeat(90)}\n`;
  pump.push([chunk(1, line(1))]); // written at once
  // The terminal is busy: 50 more lines of 100 bytes arrive, a system line, and one more line.
  pump.push([...Array.from({ length: 50 }, (_, i) => chunk(i + 2, line(i + 2))), chunk(52, 'note\n', 'system'), chunk(53, 'after\n')]);
  assert.equal(pump.lastSeq, 53);
  s.done();
  const written = s.writes.slice(1).join('');
  const notice = /\[(\d+\.\d) KB of output not shown here, to keep up; the whole log is stored: Full log\]/.exec(written);
  assert.ok(notice, written);
  const kept = [...written.matchAll(/line (\d{3}) /g)].map((m) => Number(m[1]));
  assert.ok(kept.length >= 5, `${kept.length} lines kept`);
  // The newest lines are the ones kept, in order, after the notice; the rest is counted.
  assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 51 - kept.length + 1 + i));
  assert.ok(written.indexOf(notice[0]) < written.indexOf(`line ${String(kept[0]).padStart(3, '0')}`));
  assert.equal(pump.bytesSkipped, (50 - kept.length) * 100);
  assert.equal(notice[1], (pump.bytesSkipped / 1024).toFixed(1));
  assert.ok(written.includes('note\n'), 'system lines are never left out');
  assert.ok(written.endsWith('after\n'), 'the newest output is shown');
  // Left out only while behind: once caught up, everything is written again.
  while (s.callbacks.length) s.done();
  pump.push([chunk(54, 'tail\n')]);
  assert.equal(s.writes.at(-1), 'tail\n');
});

test('the end of the output is shown even when the terminal is behind', () => {
  const s = sink();
  const pump = new LogPump(s, { fill: async () => [], maxBacklogBytes: 250 });
  pump.push([chunk(1, 'a'.repeat(100))]);
  pump.push([chunk(2, 'b'.repeat(100)), chunk(3, 'c'.repeat(100)), chunk(4, 'd'.repeat(99) + '!')]);
  assert.equal(pump.bytesSkipped, 200);
  while (s.callbacks.length) s.done();
  const written = s.writes.join('');
  assert.match(written, /\[200 bytes of output not shown here/);
  assert.ok(written.endsWith('d'.repeat(99) + '!'));
});

test('under load the pump writes at most paceBytes once per paceMs, on a frame; a quiet run writes at once', () => {
  const s = sink();
  const frames: (() => void)[] = [];
  const waits: number[] = [];
  const pump = new LogPump(s, {
    fill: async () => [],
    paceBytes: 1000,
    paceMs: 120,
    maxBacklogBytes: 100_000,
    nextFrame: (cb, ms) => {
      waits.push(ms);
      frames.push(cb);
    },
  });
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
  assert.ok(waits.length >= 6 && waits.every((w) => w === 120), `each paced write waited paceMs: ${waits.join(',')}`);
});

test('ranges the live feed left out are counted, not read, and marked where they were; a chunk for a skipped seq is dropped', async () => {
  const s = sink();
  const asked: number[] = [];
  const pump = new LogPump(s, {
    fill: async (from) => {
      asked.push(from);
      return [];
    },
  });
  pump.push([chunk(1, 'first\n')]);
  s.done();
  // The feed left out 2..40 (2 MB) and sends 41 on; gapFrom says 2 for clients that read the store.
  pump.push([chunk(41, 'newest\n')], 2, [{ from: 2, to: 40, bytes: 2 * 1024 * 1024 }]);
  assert.equal(pump.lastSeq, 41);
  assert.equal(pump.bytesSkipped, 2 * 1024 * 1024);
  assert.deepEqual(s.writes, ['first\n', '\r\n\x1b[0;2m[2.0 MB of output not shown here, to keep up; the whole log is stored: Full log]\x1b[0m\r\nnewest\n']);
  // A late chunk inside the skipped range (a store read racing the feed) is not written.
  pump.push([chunk(7, 'late\n')]);
  s.done();
  await tick();
  assert.deepEqual(asked, [], 'nothing read from the store');
  assert.equal(s.writes.length, 2);
  // A range that arrives ahead of its turn waits for the chunks before it; the notice follows at the end.
  pump.push([], undefined, [{ from: 43, to: 50, bytes: 800 }]);
  assert.equal(pump.lastSeq, 41);
  pump.push([chunk(42, 'x\n')]);
  assert.equal(pump.lastSeq, 50);
  assert.deepEqual(s.writes.slice(2), ['x\n\r\n\x1b[0;2m[800 bytes of output not shown here, to keep up; the whole log is stored: Full log]\x1b[0m\r\n']);
  await tick();
  assert.deepEqual(asked, [42], 'the hole before 42 arrived was read once');
});
