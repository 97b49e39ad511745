/**
 * Queue throughput: claim-and-complete of runs on a real SQLite file, in batches as
 * a worker does it, against a baseline of the same number of bare single-row
 * UPDATE transactions on the same database (the floor any SQLite queue pays).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openStore } from '../../electron/core/db/database';
import { JobQueue } from '../../electron/core/queue/job-queue';

/** Result of the queue benchmark, per repetition. */
export interface QueueFigures {
  runsPerSecond: number[];
  baselinePerSecond: number[];
}

/** Enqueues `runs` runs over 100 hosts and measures claim+start+complete throughput. */
export function benchQueue(runs = 20_000, repetitions = 3, batch = 50): QueueFigures {
  const out: QueueFigures = { runsPerSecond: [], baselinePerSecond: [] };
  for (let rep = 0; rep < repetitions; rep++) {
    const dir = mkdtempSync(join(tmpdir(), 'cronium-bench-queue-'));
    try {
      const store = openStore(dir);
      const db = store.sqlite;
      const hosts = db.transaction(() =>
        Array.from({ length: 100 }, (_, i) => ({ id: Number(db.prepare("insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)").run(`b${i}`).lastInsertRowid), name: `b${i}` })),
      )();
      const queue = new JobQueue(store);
      for (let i = 0; i < runs / hosts.length; i++) queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'sh', scriptBody: 'true', mode: 'direct', hosts });
      const t0 = performance.now();
      let done = 0;
      for (;;) {
        const claimed = queue.claim({ owner: 'bench', limit: batch, leaseMs: 60_000, perHostLimit: 1000, globalLimit: 100_000 });
        if (claimed.length === 0) break;
        for (const c of claimed) {
          queue.start(c.runId, 'bench');
          queue.complete(c.runId, 'bench', { status: 'succeeded', exitCode: 0 });
          done++;
        }
      }
      const elapsed = (performance.now() - t0) / 1000;
      if (done !== runs) throw new Error(`bench: completed ${done} of ${runs} runs`);
      out.runsPerSecond.push(done / elapsed);

      const touch = db.prepare('update runs set heartbeat_at = ? where id = ?');
      const one = db.transaction((id: number) => touch.run(Date.now(), id));
      const b0 = performance.now();
      for (let id = 1; id <= runs; id++) one.immediate(id);
      out.baselinePerSecond.push(runs / ((performance.now() - b0) / 1000));
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
