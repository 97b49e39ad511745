// The direct-mode stdout filter against a whole-stream reference (fast-check, seeded): however a
// stream of plain lines, `@@cronium:output` lines (valid or not) and lines that only start like
// one is cut into chunks, the log gets every byte except the valid output lines, and those are
// reported in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StdoutFilter } from '../../../../electron/core/exec/output-filter';

const SEED = Number(process.env.CRONIUM_FUZZ_SEED ?? String(Date.now() % 2 ** 31));
const RUNS = Math.max(50, Math.round(300 * Number(process.env.CRONIUM_FUZZ_SCALE ?? '1')));

/** What the filter must do, computed on the whole stream at once. */
function reference(stream: string): { log: string; outputs: unknown[] } {
  const lines = stream.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  let log = '';
  const outputs: unknown[] = [];
  for (const l of lines) {
    if (l.startsWith('@@cronium:output ')) {
      try {
        outputs.push(JSON.parse(l.slice('@@cronium:output '.length).replace(/\r?\n$/, '')));
        continue;
      } catch {
        // not JSON: a plain line
      }
    }
    log += l;
  }
  return { log, outputs };
}

const line = fc.oneof(
  fc.constantFrom('plain text', '', '@@x', '@@cro', '@@cronium:', '@@cronium:output', '@@cronium:output ', ' @@cronium:output {"a":1}', '@@cronium:output not json'),
  fc.jsonValue({ maxDepth: 2 }).map((v) => `@@cronium:output ${JSON.stringify(v)}`),
  fc.string({ maxLength: 40 }).map((s) => s.replace(/\n/g, ' ')),
);

test('the filter agrees with the whole-stream reference for any chunking', () => {
  process.stderr.write(`output-filter: seed ${SEED}, ${RUNS} runs\n`);
  fc.assert(
    fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 10 }), (lines, endsWithNewline, sizes) => {
      const stream = lines.join('\n') + (endsWithNewline && lines.length ? '\n' : '');
      const outputs: unknown[] = [];
      const f = new StdoutFilter('n', { onMarker: () => undefined, onOutput: (v) => outputs.push(v) });
      f.push(Buffer.from('@@cronium:n:started 1\n'));
      const bytes = Buffer.from(stream);
      const parts: Buffer[] = [];
      for (let at = 0, i = 0; at < bytes.length; i++) {
        const n = sizes[i % sizes.length]!;
        parts.push(f.push(bytes.subarray(at, at + n)));
        at += n;
      }
      parts.push(f.end());
      const log = Buffer.concat(parts).toString();
      const want = reference(stream);
      assert.equal(log, want.log);
      assert.deepEqual(outputs, want.outputs);
    }),
    { seed: SEED, numRuns: RUNS },
  );
});

test('plain output is passed on without a copy', () => {
  const f = new StdoutFilter('n', { onMarker: () => undefined, onOutput: () => undefined });
  f.push(Buffer.from('@@cronium:n:started 1\n'));
  const chunk = Buffer.from('line one\nline two\nline three\n'.repeat(100));
  assert.equal(f.push(chunk), chunk, 'the same buffer');
});
