import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type Store } from '../../../../electron/core/db/database';
import { LogService, type LogBatch, type LogServiceOptions } from '../../../../electron/core/logs/log-service';
import { SecretMasker } from '../../../../electron/core/logs/secret-masker';
import { tempDir } from '../../../helpers/temp';

function setup(t: TestContext, runs = 1, options: LogServiceOptions = {}): { store: Store; logs: LogService; runIds: number[]; dir: string } {
  const dir = tempDir(t);
  const store = openStore(dir);
  const logs = new LogService(store, { batchMs: 5, ...options });
  t.after(async () => {
    await logs.close();
    store.close();
  });
  const db = store.sqlite;
  const jobId = Number(db.prepare("insert into jobs (kind, interpreter, script_body, target, mode, status, requested_by, created_at) values ('adhoc', 'bash', 'true', '{}', 'auto', 'queued', 'cli', 0)").run().lastInsertRowid);
  const runIds = Array.from({ length: runs }, (_, i) => Number(db.prepare("insert into runs (job_id, host_name, status, queued_at) values (?, ?, 'queued', 0)").run(jobId, `h${i}`).lastInsertRowid));
  return { store, logs, runIds, dir };
}

const text = (chunks: { data: Buffer }[]) => Buffer.concat(chunks.map((c) => c.data)).toString();

test('the masker hides secrets, also across chunk boundaries, and releases everything else', () => {
  const m = new SecretMasker(['hunter2', 'x']);
  const out = [m.push(Buffer.from('pass=hun')), m.push(Buffer.from('ter2; again hunter2')), m.push(Buffer.from(' end hun')), m.end()];
  assert.equal(Buffer.concat(out).toString(), 'pass=***; again *** end hun');
  const none = new SecretMasker([]);
  const chunk = Buffer.from('fast path');
  assert.equal(none.push(chunk), chunk, 'no copy without secrets');
});

test('chunks get sequence numbers, are stored once, and read back in order', async (t) => {
  const { logs, runIds } = setup(t);
  const [run] = runIds as [number];
  const w = await logs.openWriter(run);
  w.write('stdout', Buffer.from('one\n'));
  w.write('stderr', Buffer.from('two\n'));
  await w.close();
  assert.deepEqual((await logs.read(run)).map((c) => [c.seq, c.stream, c.data.toString()]), [[1, 'stdout', 'one\n'], [2, 'stderr', 'two\n']]);
  // A reattached runner replays from seq 2: nothing is stored twice, and new output continues.
  const again = await logs.openWriter(run);
  assert.equal(again.lastSeq, 2);
  again.append({ seq: 2, stream: 'stderr', ts: 0, data: Buffer.from('two\n') });
  again.append({ seq: 3, stream: 'stdout', ts: 0, data: Buffer.from('three\n') });
  await again.close();
  assert.equal(text(await logs.read(run)), 'one\ntwo\nthree\n');
  assert.equal(text(await logs.read(run, 3)), 'three\n');
});

test('secrets are masked in stored and streamed output', async (t) => {
  const { logs, runIds } = setup(t);
  const [run] = runIds as [number];
  const batches: LogBatch[] = [];
  logs.subscribe(run, (b) => batches.push(b));
  const w = await logs.openWriter(run, ['s3cr3t-token']);
  w.write('stdout', Buffer.from('token=s3cr'));
  w.write('stdout', Buffer.from('3t-token\n'));
  w.append({ seq: 10, stream: 'stdout', ts: 0, data: Buffer.from('again s3cr3t-token\n') });
  await w.close();
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(text(await logs.read(run)), 'token=***\nagain ***\n');
  assert.equal(text(batches.flatMap((b) => b.chunks)), 'token=***\nagain ***\n');
});

test('live batches are coalesced; a slow subscriber is told where to catch up, losing nothing', async (t) => {
  const { logs, runIds } = setup(t);
  const [run] = runIds as [number];
  const fast: LogBatch[] = [];
  const slow: LogBatch[] = [];
  let slowReady = false;
  logs.subscribe(run, (b) => fast.push(b));
  logs.subscribe(run, (b) => slow.push(b), () => slowReady);
  const w = await logs.openWriter(run);
  const line = Buffer.alloc(64 * 1024, 'a');
  for (let i = 0; i < 10; i++) w.write('stdout', line);
  await new Promise((r) => setTimeout(r, 30));
  assert.ok(fast.length >= 1 && fast.length < 10, `coalesced into ${fast.length} batches`);
  assert.equal(fast.flatMap((b) => b.chunks).length, 10);
  for (let i = 0; i < 30; i++) {
    w.write('stdout', line); // the slow one falls 2.5 MB behind, over its 1 MB limit
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(slow.length, 0, 'nothing delivered while not ready');
  slowReady = true;
  w.write('stdout', Buffer.from('tail'));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(slow.length, 1);
  assert.equal(slow[0]!.gapFrom, 1, 'read the store from seq 1');
  assert.equal((await logs.read(slow[0]!.runId, slow[0]!.gapFrom, 100)).length, 41, 'everything is in the store');
  // The ready one never got a gap: 4 MB in one window reached it in early batches of at most 1 MB, every chunk once.
  assert.ok(fast.every((b) => b.gapFrom === undefined));
  assert.deepEqual(fast.flatMap((b) => b.chunks.map((c) => c.seq)), Array.from({ length: 41 }, (_, i) => i + 1));
  const before = fast.length;
  for (let i = 0; i < 64; i++) w.write('stdout', line);
  assert.ok(fast.length - before >= 3, `a fast writer's window went out early, in ${fast.length - before} batches`);
  assert.ok(fast.slice(before).every((b) => b.chunks.reduce((n, c) => n + c.data.length, 0) <= 1024 * 1024));
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(fast.flatMap((b) => b.chunks.map((c) => c.seq)), Array.from({ length: 105 }, (_, i) => i + 1));
  assert.ok(fast.every((b) => b.gapFrom === undefined));
  await w.close();
});

test('buffered output is stored synchronously at the high-water mark, so memory stays bounded', async (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const db = store.sqlite;
  const jobId = Number(db.prepare("insert into jobs (kind, interpreter, script_body, target, mode, status, requested_by, created_at) values ('adhoc', 'bash', 'true', '{}', 'auto', 'queued', 'cli', 0)").run().lastInsertRowid);
  const run = Number(db.prepare("insert into runs (job_id, host_name, status, queued_at) values (?, 'h', 'queued', 0)").run(jobId).lastInsertRowid);
  const logs = new LogService(store, { highWaterBytes: 100 });
  t.after(async () => {
    await logs.close();
  });
  const w = await logs.openWriter(run);
  assert.equal(w.write('stdout', Buffer.alloc(60, 'x')), true);
  // Crossing the mark stores synchronously, so memory never holds more than the mark.
  assert.equal(w.write('stdout', Buffer.alloc(60, 'y')), true);
  assert.equal((await logs.read(run)).length, 2);
  await w.drain();
});

test('tail first, full download, retention by age, count and size', async (t) => {
  const { store, logs, runIds } = setup(t, 4);
  const now = Date.parse('2026-06-01T00:00:00Z');
  for (const [i, run] of runIds.entries()) {
    const w = await logs.openWriter(run);
    for (let k = 0; k < 10; k++) w.write('stdout', Buffer.from(`run${i} line${k}\n`.padEnd(100, '.')));
    await w.close();
    store.sqlite.prepare("update runs set status = 'succeeded', finished_at = ? where id = ?").run(now - (4 - i) * 86_400_000, run);
  }
  const tail = await logs.tail(runIds[0]!, 250);
  assert.deepEqual(tail.map((c) => c.seq), [8, 9, 10]);
  let downloaded = 0;
  for await (const _ of logs.download(runIds[0]!)) downloaded++;
  assert.equal(downloaded, 10);
  assert.equal(await logs.prune({ maxAgeDays: 3 }, now), 1, 'the run finished 4 days ago');
  assert.equal((await logs.read(runIds[0]!)).length, 0);
  assert.equal(await logs.prune({ maxRuns: 2 }, now), 1);
  assert.equal((await logs.read(runIds[1]!)).length, 0);
  assert.equal(await logs.prune({ maxTotalBytes: 1500 }, now), 1, 'keeps the newest run within 1,500 bytes');
  assert.equal((await logs.read(runIds[3]!)).length, 10);
  assert.equal((await logs.read(runIds[2]!)).length, 0);
});

/** A run's rows: where each chunk is (inline bytes, or its span in the run's file). */
const placement = (store: Store, run: number) =>
  store.sqlite.prepare('select seq, length(bytes) as inline, file_off as off, file_len as len from log_chunks where run_id = ? order by seq').all(run) as { seq: number; inline: number; off: number | null; len: number | null }[];

test("a run's output beyond its inline share goes to its own file; every way of reading it gives the same bytes", async (t) => {
  const { store, logs, runIds, dir } = setup(t, 2, { inlineBytes: 1000, highWaterBytes: 700 });
  const [small, big] = runIds as [number, number];
  const printed: Buffer[] = [];
  const w = await logs.openWriter(big);
  const s = await logs.openWriter(small);
  for (let k = 0; k < 40; k++) {
    const line = Buffer.from(`line ${k} `.padEnd(99, String.fromCharCode(97 + (k % 26))) + '\n');
    printed.push(line);
    w.write(k % 3 ? 'stdout' : 'stderr', line);
    if (k < 5) s.write('stdout', Buffer.from(`small ${k}\n`));
  }
  await w.close();
  await s.close();
  const rows = placement(store, big);
  assert.ok(rows[0]!.len === null && rows[0]!.inline === 100, 'the first chunks stay in the rows');
  assert.ok(rows.at(-1)!.len === 100 && rows.at(-1)!.inline === 0, 'the last ones are in the file');
  const inFile = rows.filter((r) => r.len !== null);
  assert.deepEqual(inFile.map((r) => r.off), inFile.map((_, i) => i * 100), 'appended in order, no gap');
  const file = join(dir, 'logs', '0', `${big}.log`);
  assert.equal(statSync(file).size, inFile.length * 100);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(placement(store, small).every((r) => r.len === null), 'a small run has no file');
  assert.ok(!existsSync(join(dir, 'logs', '0', `${small}.log`)));
  const all = Buffer.concat(printed).toString();
  assert.equal(text(await logs.read(big)), all);
  assert.equal(text(await logs.read(big, 20, 5)), printed.slice(19, 24).join(''));
  assert.equal(text(await logs.tail(big, 250)), printed.slice(37).join(''));
  const down: Buffer[] = [];
  for await (const c of logs.download(big)) down.push(c.data);
  assert.equal(Buffer.concat(down).toString(), all);
  assert.deepEqual((await logs.read(big)).map((c) => c.stream), printed.map((_, k) => (k % 3 ? 'stdout' : 'stderr')));
});

test("bytes count once their rows are committed: a failed flush's retry writes the same place, a crash's leftovers are cut, a short file reads short", async (t) => {
  const { store, logs, runIds, dir } = setup(t, 1, { inlineBytes: 0 });
  const run = runIds[0]!;
  const db = store.sqlite;
  const file = join(dir, 'logs', '0', `${run}.log`);
  const w = await logs.openWriter(run);
  w.write('stdout', Buffer.from('one\n'));
  await logs.flush();
  // The index refuses the next rows once: their bytes reached the file, the rows did not.
  db.exec("create trigger refuse before insert on log_chunks when new.seq = 3 begin select raise(fail, 'refused'); end");
  w.write('stdout', Buffer.from('two\n'));
  w.write('stdout', Buffer.from('three\n'));
  await assert.rejects(logs.flush(), /refused/);
  assert.equal(statSync(file).size, 14, 'written, not yet indexed');
  db.exec('drop trigger refuse');
  await logs.flush();
  assert.equal(statSync(file).size, 14, 'the retry wrote the same place, not again after it');
  assert.equal(text(await logs.read(run)), 'one\ntwo\nthree\n');
  await w.close();
  // A crash between a write and its index leaves bytes past the indexed end: cut when the run's file is opened again.
  appendFileSync(file, 'never indexed\n');
  const again = await logs.openWriter(run);
  again.append({ seq: 4, stream: 'stdout', ts: 0, data: Buffer.from('four\n') });
  await again.close();
  assert.equal(readFileSync(file, 'utf8'), 'one\ntwo\nthree\nfour\n');
  assert.equal(text(await logs.read(run)), 'one\ntwo\nthree\nfour\n');
  // A power cut can leave the index ahead of the file: the chunks read as what is there.
  truncateSync(file, 9);
  assert.equal(text(await logs.read(run)), 'one\ntwo\nt');
  rmSync(file);
  assert.deepEqual((await logs.read(run)).map((c) => c.data.length), [0, 0, 0, 0]);
});

test('retention removes the files of pruned runs, and files no row points into once they are old', async (t) => {
  const { store, logs, runIds: runs, dir } = setup(t, 2, { inlineBytes: 0 });
  const db = store.sqlite;
  const now = Date.parse('2026-06-01T00:00:00Z');
  for (const [i, run] of runs.entries()) {
    const w = await logs.openWriter(run);
    w.write('stdout', Buffer.alloc(500, 'x'));
    await w.close();
    db.prepare("update runs set status = 'succeeded', finished_at = ? where id = ? ").run(now - (2 - i) * 86_400_000, run);
  }
  const fileOf = (id: number) => join(dir, 'logs', String(Math.floor(id / 1000)), `${id}.log`);
  // Leftovers of a crash before their first index: one old, one just written; and one of run 5,000 (another shard).
  mkdirSync(join(dir, 'logs', '5'), { recursive: true });
  for (const id of [900, 901, 5000]) writeFileSync(fileOf(id), 'orphan');
  const old = new Date(Date.now() - 2 * 3_600_000);
  utimesSync(fileOf(900), old, old);
  utimesSync(fileOf(5000), old, old);
  assert.equal(await logs.prune({ maxAgeDays: 1.5 }, now), 1, 'the run finished 2 days ago');
  assert.ok(!existsSync(fileOf(runs[0]!)), "the pruned run's file is gone");
  assert.equal(readFileSync(fileOf(runs[1]!)).length, 500, "the kept run's file is whole");
  assert.ok(!existsSync(fileOf(900)) && !existsSync(fileOf(5000)), 'old orphans are removed');
  assert.ok(existsSync(fileOf(901)), 'a young one is kept: another process may be about to index it');
  assert.equal((await logs.read(runs[1]!))[0]!.data.length, 500);
});

test('storing starts once flushBytes wait, off the main thread, while writers go on until the high-water mark', async (t) => {
  const { store, logs, runIds, dir } = setup(t, 1, { inlineBytes: 0, flushBytes: 100, highWaterBytes: 1000 });
  const run = runIds[0]!;
  const w = await logs.openWriter(run);
  assert.equal(w.write('stdout', Buffer.alloc(150, 'a')), true);
  // Well before the 50 ms timer: the flush began at 100 bytes.
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(placement(store, run).length, 1, 'stored without waiting for the timer or the mark');
  const accepted: boolean[] = [];
  for (let i = 0; i < 12; i++) accepted.push(w.write('stdout', Buffer.alloc(100, 'b')));
  assert.deepEqual(accepted.slice(0, 9), Array(9).fill(true), 'writers go on below the mark');
  assert.equal(accepted.at(-1), false, 'and wait past it');
  await w.drain();
  await w.close();
  assert.equal(readFileSync(join(dir, 'logs', '0', `${run}.log`)).length, 1350);
});
