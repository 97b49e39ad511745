// The blob store of push jobs: files copied in under their SHA-256, bad paths refused with the
// field named, unreferenced blobs pruned.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BlobStore } from '../../../electron/core/blobs/blob-store';
import { isCroniumError } from '../../../electron/shared/errors';

test('add copies a file under its hash (0600), refuses what is not a readable regular file, prune keeps what jobs name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-blobs-'));
  try {
    const store = new BlobStore(join(dir, 'blobs'));
    const src = join(dir, 'a.txt');
    writeFileSync(src, 'hello\n');
    const got = await store.add(src);
    const sha = createHash('sha256').update('hello\n').digest('hex');
    assert.deepEqual(got, { name: 'a.txt', sha256: sha, size: 6 });
    assert.equal(readFileSync(store.pathOf(sha), 'utf8'), 'hello\n');
    assert.equal(statSync(store.pathOf(sha)).mode & 0o777, 0o600);
    for (const [bad, re] of [['relative.txt', /absolute path/], [join(dir, 'missing'), /ENOENT/], [dir, /not a regular file/]] as const) {
      await assert.rejects(store.add(bad), (e: unknown) => isCroniumError(e) && e.code === 'INVALID_INPUT' && re.test(e.message) && e.message.includes('path'));
    }
    writeFileSync(join(dir, 'b.txt'), 'other\n');
    const b = await store.add(join(dir, 'b.txt'));
    assert.equal(store.prune(new Set([sha])), 1);
    assert.ok(existsSync(store.pathOf(sha)));
    assert.ok(!existsSync(store.pathOf(b.sha256)));
    assert.throws(() => store.pathOf('../etc/passwd'), /not a SHA-256/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
