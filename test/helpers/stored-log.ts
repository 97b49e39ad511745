/**
 * A run's stored output read straight from a data dir, by the format the log service documents
 * (log_chunks rows; a row with file_len holds its bytes at file_off in logs/<id / 1000>/<id>.log),
 * not through the service: the tests check what is on disk.
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';

export interface StoredChunk {
  seq: number;
  stream: 'stdout' | 'stderr' | 'system';
  data: Buffer;
}

/** The stored chunks of a run in order (of one stream, or all but `system` with 'output'). */
export function storedChunks(db: Database.Database, dataDir: string, runId: number, stream?: StoredChunk['stream'] | 'output'): StoredChunk[] {
  const where = stream === undefined ? '' : stream === 'output' ? " and stream != 'system'" : ' and stream = ?';
  const args: unknown[] = stream === undefined || stream === 'output' ? [runId] : [runId, stream];
  const rows = db.prepare(`select seq, stream, bytes, file_off, file_len from log_chunks where run_id = ?${where} order by seq`).all(...args) as { seq: number; stream: StoredChunk['stream']; bytes: Buffer; file_off: number | null; file_len: number | null }[];
  const path = join(dataDir, 'logs', String(Math.floor(runId / 1000)), `${runId}.log`);
  const fd = rows.some((r) => r.file_len !== null) && existsSync(path) ? openSync(path, 'r') : undefined;
  try {
    return rows.map((r) => {
      if (r.file_len === null) return { seq: r.seq, stream: r.stream, data: r.bytes };
      const data = Buffer.alloc(r.file_len);
      const got = fd === undefined ? 0 : readSync(fd, data, 0, r.file_len, r.file_off);
      return { seq: r.seq, stream: r.stream, data: data.subarray(0, got) };
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The stored output of a run as one buffer (see storedChunks). */
export function storedOutput(db: Database.Database, dataDir: string, runId: number, stream?: StoredChunk['stream'] | 'output'): Buffer {
  return Buffer.concat(storedChunks(db, dataDir, runId, stream).map((c) => c.data));
}
