/**
 * Output files: where a run's output goes once it outgrows the store's rows (SQLite only).
 * One append-only file per run (`logs/<run id / 1000>/<run id>.log`, 0600), written with
 * positioned writes; the index (log_chunks rows with the offset and length of each chunk) is
 * what makes bytes part of the log. Guards these invariants:
 * - bytes count only once their index row is committed: a file is written at the end its index
 *   covers, so a write whose index failed is overwritten by the retry, and bytes past the indexed
 *   end (a crash between the write and its index) are cut when the run's file is opened again;
 * - reading never fails on a short or missing file (a power cut can leave the index ahead of the
 *   file): a chunk reads as the bytes that are there;
 * - a file without any index row (a crash before its first index) is removed by `sweep`, once it
 *   is old enough that no process can be about to index it.
 */
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writev } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** A chunk's place in its run's file. */
export interface Span {
  off: number;
  len: number;
}

/** A run's file open for writing, and the end its index covers. */
export type FileHandle = { fd: number; end: number };

/** The output files under one directory. */
export class LogFiles {
  private readonly handles = new Map<number, FileHandle>();

  constructor(readonly dir: string) {}

  /** The file of a run. */
  path(runId: number): string {
    return join(this.dir, String(Math.floor(runId / 1000)), `${runId}.log`);
  }

  /** True while the run's file is open for writing. */
  isOpen(runId: number): boolean {
    return this.handles.has(runId);
  }

  /**
   * The run's file open for writing, at the end its index covers (`indexedEnd`, asked only when
   * the file is opened); anything past that end is cut.
   */
  handle(runId: number, indexedEnd: () => number): FileHandle {
    let h = this.handles.get(runId);
    if (h) return h;
    const path = this.path(runId);
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    // Not O_APPEND: Linux would ignore the positions and append a retried write after its first try.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const end = indexedEnd();
      if (fstatSync(fd).size > end) ftruncateSync(fd, end);
      h = { fd, end };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    this.handles.set(runId, h);
    return h;
  }

  /**
   * Writes `data` at the handle's end, in order, by the thread pool (the main thread goes on while
   * the bytes are copied); returns the span of each. The end moves only by `commit` (after the
   * index is stored), so a write whose index failed is overwritten by the retry.
   */
  async write(h: FileHandle, data: readonly Buffer[]): Promise<Span[]> {
    const spans: Span[] = [];
    let at = h.end;
    for (const d of data) {
      spans.push({ off: at, len: d.length });
      at += d.length;
    }
    // writev takes at most IOV_MAX (1,024 on Linux) buffers at once and may write less than asked.
    let pending = data.slice();
    let pos = h.end;
    while (pending.length) {
      const batch = pending.slice(0, 1024);
      let wrote = await new Promise<number>((resolve, reject) => writev(h.fd, batch, pos, (e, n) => (e ? reject(e) : resolve(n))));
      pos += wrote;
      let done = 0;
      while (done < batch.length && wrote >= batch[done]!.length) wrote -= batch[done++]!.length;
      pending = pending.slice(done);
      if (wrote > 0) pending[0] = pending[0]!.subarray(wrote);
    }
    return spans;
  }

  /** Moves the handle's end past what the index now covers. */
  commit(h: FileHandle, end: number): void {
    h.end = Math.max(h.end, end);
  }

  /** Closes the run's file (its writer is done). */
  close(runId: number): void {
    const h = this.handles.get(runId);
    if (!h) return;
    this.handles.delete(runId);
    closeSync(h.fd);
  }

  /** Closes every open file. */
  closeAll(): void {
    for (const id of [...this.handles.keys()]) this.close(id);
  }

  /** Reads spans of a run's file, in one read per stretch of adjacent spans; a span past the file's end reads short. */
  async read(runId: number, spans: readonly Span[]): Promise<Buffer[]> {
    if (spans.length === 0) return [];
    let fh;
    try {
      fh = await open(this.path(runId), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return spans.map(() => Buffer.alloc(0));
      throw e;
    }
    try {
      const out: Buffer[] = [];
      for (let i = 0; i < spans.length; ) {
        let j = i + 1;
        while (j < spans.length && spans[j]!.off === spans[j - 1]!.off + spans[j - 1]!.len) j++;
        const from = spans[i]!.off;
        const to = spans[j - 1]!.off + spans[j - 1]!.len;
        const buf = Buffer.allocUnsafe(to - from);
        let got = 0;
        while (got < buf.length) {
          const { bytesRead } = await fh.read(buf, got, buf.length - got, from + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        for (let k = i; k < j; k++) {
          const s = spans[k]!;
          const a = Math.min(s.off - from, got);
          out.push(buf.subarray(a, Math.min(a + s.len, got)));
        }
        i = j;
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  /** Removes the files of these runs. */
  remove(runIds: Iterable<number>): void {
    for (const id of runIds) {
      this.close(id);
      rmSync(this.path(id), { force: true });
    }
  }

  /**
   * Removes every file no index row points into (`indexed`: the runs with rows in files), last
   * written more than `minAgeMs` ago and not open here; returns how many. The files are listed
   * before the index is asked, and a young file is kept: another process on the same data dir may
   * have written a file whose first rows it is committing right now.
   */
  async sweep(indexed: () => Promise<ReadonlySet<number>>, minAgeMs = 3_600_000, now = Date.now()): Promise<number> {
    if (!existsSync(this.dir)) return 0;
    const candidates: { id: number; path: string }[] = [];
    for (const shard of readdirSync(this.dir)) {
      if (!/^\d+$/.test(shard)) continue;
      for (const name of readdirSync(join(this.dir, shard))) {
        const m = /^(\d+)\.log$/.exec(name);
        if (!m) continue;
        const path = join(this.dir, shard, name);
        const id = Number(m[1]);
        try {
          if (now - statSync(path).mtimeMs > minAgeMs && !this.handles.has(id)) candidates.push({ id, path });
        } catch {
          // Gone meanwhile.
        }
      }
    }
    if (candidates.length === 0) return 0;
    const keep = await indexed();
    let removed = 0;
    for (const c of candidates) {
      if (keep.has(c.id)) continue;
      rmSync(c.path, { force: true });
      removed++;
    }
    return removed;
  }
}
