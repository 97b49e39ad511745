/** Lease owners proven dead by pid and start time (real processes), and recovery taking their runs over at once. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import { openStore } from '../../../../electron/core/db/database';
import { ownerIsDead, ownerName, processStart } from '../../../../electron/core/queue/owner';
import { JobQueue } from '../../../../electron/core/queue/job-queue';
import { tempDir } from '../../../helpers/temp';

const me = ownerName('serve');
const machine = me.split('@')[1]!;

/** A real child process and the owner name it would have. */
async function child(t: TestContext): Promise<{ proc: ChildProcess; owner: string }> {
  const proc = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => proc.kill('SIGKILL'));
  await once(proc, 'spawn');
  const start = processStart(proc.pid!);
  assert.ok(start, 'the child has a start time');
  return { proc, owner: `serve:${proc.pid}:${start}@${machine}` };
}

test('an owner name carries pid, start time and machine; this process is alive', () => {
  assert.match(me, new RegExp(`^serve:${process.pid}:\\d+@[0-9a-f-]+\\.\\d+$`));
  assert.equal(ownerIsDead(me), false);
});

test('a live process is not dead; killed (even unreaped) it is; a reused pid is; other machines and old names are never judged', async (t) => {
  const { proc, owner } = await child(t);
  assert.equal(ownerIsDead(owner), false);
  const [pid, start] = owner.split('@')[0]!.split(':').slice(1);
  assert.equal(ownerIsDead(`serve:${pid}:${Number(start) + 1}@${machine}`), true, 'same pid, another start time: the pid was reused');
  assert.equal(ownerIsDead(`serve:${pid}:${start}@another-boot.4026531836`), false, 'another machine: only the lease expiry decides');
  assert.equal(ownerIsDead(`serve:${pid}`), false, 'an owner named the old way is never judged');
  proc.kill('SIGKILL');
  await once(proc, 'exit');
  assert.equal(ownerIsDead(owner), true);
});

test('recover takes a dead owner\'s unexpired runs at once and leaves a live owner\'s alone', async (t) => {
  const store = openStore(tempDir(t));
  t.after(() => store.close());
  const queue = new JobQueue(store);
  const hosts = ['a', 'b', 'c'].map((n) => ({ id: Number(store.sqlite.prepare("insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', 0, 0)").run(n).lastInsertRowid), name: n }));
  const jobId = queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'bash', scriptBody: 'true', mode: 'auto', hosts });
  const live = await child(t);
  const dead = await child(t);
  const base = { limit: 1, leaseMs: 30_000, perHostLimit: 10, globalLimit: 10 };
  const [r1] = queue.claim({ ...base, owner: dead.owner });
  const [r2] = queue.claim({ ...base, owner: dead.owner });
  const [r3] = queue.claim({ ...base, owner: live.owner });
  queue.start(r1!.runId, dead.owner);
  queue.start(r3!.runId, live.owner);
  store.sqlite.prepare('update runs set detached = 1 where id = ?').run(r1!.runId);
  dead.proc.kill('SIGKILL');
  await once(dead.proc, 'exit');
  const rec = queue.recover();
  assert.deepEqual(rec.reattach, [{ runId: r1!.runId, deadOwner: dead.owner }], 'the detached run is handed back at once, with the dead owner it may be taken from');
  assert.deepEqual(rec.requeued, [r2!.runId], 'the claimed, unstarted run goes back to the queue');
  assert.deepEqual(rec.lost, []);
  const status = (id: number) => store.sqlite.prepare('select status, lease_owner from runs where id = ?').get(id) as { status: string; lease_owner: string };
  assert.deepEqual(status(r3!.runId), { status: 'running', lease_owner: live.owner }, 'a live owner keeps its run');
  // A running run that is not detached cannot be reattached: it is lost, saying why.
  store.sqlite.prepare('update runs set detached = 0 where id = ?').run(r1!.runId);
  const again = queue.recover();
  assert.deepEqual(again.lost, [r1!.runId]);
  assert.match(store.sqlite.prepare('select error_message from runs where id = ?').pluck().get(r1!.runId) as string, /is gone/);
  void jobId;
});
