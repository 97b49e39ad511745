/**
 * The data dir's blob store: files that push jobs send (blobs/<sha256>, mode 0600). A file is
 * copied in while it is hashed and renamed into place under its hash, so any worker (the CLI's,
 * serve's, the app's) sends the same bytes, and a re-run sends them again. Blobs that no job
 * names any more (log retention removed their jobs) are pruned when the store opens.
 *
 * On a team server (`shared`: the team's database), a blob added is also stored in the database
 * (1 MiB chunks, one transaction, so another server sees all of it or nothing), and a server that
 * has no copy of a job's file fetches it once into its data dir, checking its SHA-256, before the
 * run sends it (issue #16).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import { fieldError } from '../../shared/errors';
import type { Db } from '../db/database';
import type { DataStore } from '../db/store';

/** The largest file a push job sends. */
export const MAX_BLOB_BYTES = 2 * 1024 ** 3;

const CHUNK_BYTES = 1024 * 1024;

export class BlobStore {
  constructor(
    readonly dir: string,
    private readonly shared?: DataStore,
  ) {}

  /** Where a blob's bytes are, fetched from the team's database first when this server has no copy. */
  async path(sha256: string): Promise<string> {
    const p = this.pathOf(sha256);
    if (!this.shared || existsSync(p)) return p;
    const [b] = await this.shared.rows<{ size: number; chunks: number }>(sql`select size, chunks from blobs where sha256 = ${sha256}`);
    if (!b) throw new Error(`the file ${sha256.slice(0, 12)}… is neither in this server's data dir nor in the team's database`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.incoming-${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    const out = openSync(tmp, 'w', 0o600);
    try {
      // One chunk at a time: memory stays at a chunk whatever the file's size.
      for (let seq = 0; seq < Number(b.chunks); seq++) {
        const [c] = await this.shared.rows<{ bytes: Buffer }>(sql`select bytes from blob_chunks where sha256 = ${sha256} and seq = ${seq}`);
        if (!c) throw new Error(`the team's copy of ${sha256.slice(0, 12)}… lacks chunk ${seq}`);
        const bytes = Buffer.from(c.bytes);
        hash.update(bytes);
        writeSync(out, bytes);
      }
    } catch (e) {
      closeSync(out);
      rmSync(tmp, { force: true });
      throw e;
    }
    closeSync(out);
    if (hash.digest('hex') !== sha256) {
      rmSync(tmp, { force: true });
      throw new Error(`the team's copy of ${sha256.slice(0, 12)}… does not match its SHA-256`);
    }
    renameSync(tmp, p);
    return p;
  }

  /** Stores a blob this server has in the team's database (once: another server may have stored it). */
  private async share(sha256: string, size: number): Promise<void> {
    const store = this.shared!;
    const known = async (tx?: Db) => (await store.rows(sql`select 1 from blobs where sha256 = ${sha256}`, tx)).length > 0;
    if (await known()) return;
    await store.tx(async (tx) => {
      await store.lock(tx, `blob:${sha256}`);
      if (await known(tx)) return;
      const chunks = Math.ceil(size / CHUNK_BYTES);
      await tx.insert(store.schema.blobs).values({ sha256, size, chunks, createdAt: Date.now() });
      const fd = openSync(this.pathOf(sha256), 'r');
      try {
        const buf = Buffer.alloc(CHUNK_BYTES);
        for (let seq = 0; seq < chunks; seq++) {
          const n = readSync(fd, buf, 0, CHUNK_BYTES, seq * CHUNK_BYTES);
          await tx.insert(store.schema.blobChunks).values({ sha256, seq, bytes: Buffer.from(buf.subarray(0, n)) });
        }
      } finally {
        closeSync(fd);
      }
    });
  }

  /** Where a blob's bytes are. */
  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
    return join(this.dir, sha256);
  }

  /** Copies a local file in (INVALID_INPUT naming `field` when it cannot be read); its name, hash and size. */
  async add(path: string, field = 'path'): Promise<{ name: string; sha256: string; size: number }> {
    if (!isAbsolute(path)) throw fieldError(field, 'must be an absolute path on the machine that runs Cronium');
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw fieldError(field, `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the file name');
    }
    if (!st.isFile()) throw fieldError(field, 'is not a regular file', 'send one file; pack a directory with tar first');
    if (st.size > MAX_BLOB_BYTES) throw fieldError(field, `is ${st.size} bytes, larger than the limit of ${MAX_BLOB_BYTES}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.incoming-${process.pid}-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        createReadStream(path),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp, { mode: 0o600 }),
      );
    } catch (e) {
      rmSync(tmp, { force: true });
      throw fieldError(field, `cannot be read: ${(e as Error).message}`);
    }
    const sha256 = hash.digest('hex');
    renameSync(tmp, join(this.dir, sha256));
    if (this.shared) await this.share(sha256, size);
    return { name: basename(path), sha256, size };
  }

  /** Removes blobs that no longer appear in `keep` (and incoming files older than a day). */
  prune(keep: ReadonlySet<string>): number {
    let removed = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const n of names) {
      const p = join(this.dir, n);
      const stale = n.startsWith('.incoming-') && Date.now() - statSync(p).mtimeMs > 86_400_000;
      if ((/^[0-9a-f]{64}$/.test(n) && !keep.has(n)) || stale) {
        rmSync(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
