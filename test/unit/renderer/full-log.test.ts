// The plain full-log view: pages read in order until a short one, control sequences dropped, system lines marked.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAGE_CHUNKS, plainText, readLogPage, readWholeLog, type ReadPage } from '../../../renderer/features/jobs/full-log';
import type { LogChunk } from '../../../renderer/features/jobs/log-pump';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A store of `n` chunks "line i\n", read `limit` at a time; records the reads. */
function store(n: number, reads: number[][]): ReadPage {
  const chunks: LogChunk[] = Array.from({ length: n }, (_, i) => ({ seq: i + 1, stream: 'stdout', ts: i, data: b64(`line ${i + 1}\n`) }));
  return async (from, limit) => {
    reads.push([from, limit]);
    return chunks.filter((c) => c.seq >= from).slice(0, limit);
  };
}

test('readWholeLog: every chunk once, in order, page after page', async () => {
  const reads: number[][] = [];
  const n = PAGE_CHUNKS * 2 + 17;
  const text = await readWholeLog(store(n, reads));
  const lines = text.split('\n').filter(Boolean);
  assert.equal(lines.length, n);
  assert.equal(lines[0], 'line 1');
  assert.equal(lines[n - 1], `line ${n}`);
  assert.deepEqual(reads, [[1, PAGE_CHUNKS], [PAGE_CHUNKS + 1, PAGE_CHUNKS], [2 * PAGE_CHUNKS + 1, PAGE_CHUNKS]]);
});

test('readLogPage: a full page points at the next one, a short page ends it', async () => {
  const reads: number[][] = [];
  const first = await readLogPage(store(3, reads), 1, undefined, 2);
  assert.equal(first.text, 'line 1\nline 2\n');
  assert.equal(first.nextSeq, 3);
  const last = await readLogPage(store(3, reads), 3, undefined, 2);
  assert.equal(last.nextSeq, null);
  assert.equal(last.bytes, 7);
});

test('plain text: colours and cursor moves dropped, a character split across chunks kept, system lines marked', async () => {
  assert.equal(plainText(new TextEncoder().encode('\x1b[31mred\x1b[0m\r\n\x1b]0;title\x07ok\tdone\n')), 'red\nok\tdone\n');
  const euro = new TextEncoder().encode('€');
  const read: ReadPage = async () => [
    { seq: 1, stream: 'stdout', ts: 0, data: Buffer.from(euro.slice(0, 2)).toString('base64') },
    { seq: 2, stream: 'stdout', ts: 0, data: Buffer.from(euro.slice(2)).toString('base64') },
    { seq: 3, stream: 'system', ts: 0, data: b64('direct mode: no cache\n') },
  ];
  const page = await readLogPage(read, 1);
  assert.equal(page.text, '€# direct mode: no cache\n');
});
