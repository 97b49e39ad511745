import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openStore, type Store } from '../../../../electron/core/db/database';
import { JobQueue, sqliteQueue, type NewJob } from '../../../../electron/core/queue/job-queue';
import { queueContract } from '../../../contract/queue-contract';
import { ROOT } from '../../../helpers/cli';
import { tempDir } from '../../../helpers/temp';

/** Hosts h1..hN in a store. */
function seedHosts(store: Store, count: number): { id: number; name: string }[] {
  const hosts = [];
  for (let i = 1; i <= count; i++) {
    const id = Number(store.sqlite.prepare(`insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)`).run(`h${i}`).lastInsertRowid);
    hosts.push({ id, name: `h${i}` });
  }
  return hosts;
}

function setup(t: TestContext, hostCount = 3): { store: Store; queue: JobQueue; hosts: { id: number; name: string }[]; dir: string } {
  const dir = tempDir(t);
  const store = openStore(dir);
  t.after(() => store.close());
  return { store, queue: new JobQueue(store), hosts: seedHosts(store, hostCount), dir };
}

const job = (hosts: { id: number; name: string }[], extra: Partial<NewJob> = {}): NewJob => ({
  kind: 'adhoc', requestedBy: 'cli', interpreter: 'bash', scriptBody: 'true', mode: 'auto', hosts, ...extra,
});

// The queue's contract (the same cases run against PostgreSQL: test/integration/pg/queue.test.ts).
queueContract('sqlite', async (hostCount) => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-queue-'));
  const store = openStore(dir);
  return {
    queue: sqliteQueue(store, new JobQueue(store)),
    hosts: seedHosts(store, hostCount),
    run: async (id, column) => store.sqlite.prepare(`select ${column} from runs where id = ?`).pluck().get(id),
    job: async (id, column) => store.sqlite.prepare(`select ${column} from jobs where id = ?`).pluck().get(id),
    markDetached: async (id) => void store.sqlite.prepare('update runs set detached = 1 where id = ?').run(id),
    close: async () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('two processes claiming at once never claim the same run', async (t) => {
  const { queue, hosts, dir } = setup(t, 4);
  for (let i = 0; i < 50; i++) queue.enqueue(job(hosts));
  const worker = (owner: string) =>
    new Promise<number[]>((resolve, reject) => {
      const script = `import { openStore } from './electron/core/db/database.ts'; import { JobQueue } from './electron/core/queue/job-queue.ts';
        const s = openStore(${JSON.stringify(dir)}); const q = new JobQueue(s); const ids = [];
        for (;;) { const c = q.claim({ owner: ${JSON.stringify(owner)}, limit: 7, leaseMs: 60000, perHostLimit: 1000, globalLimit: 100000 }); if (!c.length) break;
          for (const r of c) { ids.push(r.runId); q.complete(r.runId, ${JSON.stringify(owner)}, { status: 'succeeded', exitCode: 0 }); } }
        console.log(JSON.stringify(ids)); s.close();`;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(err))));
    });
  const [a, b] = await Promise.all([worker('A'), worker('B')]);
  const all = [...a, ...b];
  assert.equal(all.length, 200);
  assert.equal(new Set(all).size, 200, 'no run claimed twice');
});
