/**
 * The data dir's blob store: files that push jobs send (blobs/<sha256>, mode 0600). A file is
 * copied in while it is hashed and renamed into place under its hash, so any worker (the CLI's,
 * serve's, the app's) sends the same bytes, and a re-run sends them again. Blobs that no job
 * names any more (log retention removed their jobs) are pruned when the store opens.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fieldError } from '../../shared/errors';

/** The largest file a push job sends. */
export const MAX_BLOB_BYTES = 2 * 1024 ** 3;

export class BlobStore {
  constructor(readonly dir: string) {}

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
