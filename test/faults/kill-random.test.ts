// Fault: the app SIGKILLed at random points of a run's life, 50 times. Each cycle starts the
// real CLI on two real sshd hosts with a saved script that prints numbered lines and has a
// follow-up on success, and kills it after a seeded random delay: while it connects, deploys
// (the runner cache is cleaned every tenth cycle), starts, streams, finishes or runs the
// follow-ups. Then `cronium serve` recovers. Afterwards every run is in a final state, every
// succeeded run of the script fired its follow-up exactly once, and no run's stored log has a
// line lost from its middle, doubled or reordered.
//   CRONIUM_FAULT_SEED=N replays a run.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { cronium, ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, until, type Workspace } from '../helpers/workspace';
import { storedOutput } from '../helpers/stored-log';

const SUBNET = 127;
const SEED = Number(process.env.CRONIUM_FAULT_SEED ?? Date.now() % 1_000_000);
const KILLS = 50;
let ws: Workspace | undefined;
const children: ChildProcess[] = [];

before(async () => {
  ws = await startWorkspaceWithHosts('kill-random', { subnet: SUBNET, hosts: [{ name: 'a', profile: 'default' }, { name: 'b', profile: 'default' }] });
  const env = { ...ws.env, CRONIUM_USE_APP: 'never' };
  writeFileSync(join(ws.scratch, 'parent.sh'), 'for i in $(seq 1 12); do echo "line $i"; sleep 0.03; done\n');
  writeFileSync(join(ws.scratch, 'child.sh'), 'echo "child ran"\n');
  for (const [name, extra] of [['child', []], ['parent', ['--followup', 'success:child']]] as const) {
    const r = await cronium(['--data-dir', ws.dataDir, 'scripts', 'save', name, '--file', join(ws.scratch, `${name}.sh`), ...extra], { env });
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await ws?.stop();
});

/** mulberry32 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' }, stdio: ['ignore', 'ignore', 'ignore'] });
  children.push(child);
  return child;
}

test(`${KILLS} SIGKILLs at random points, then recovery: every run final, every follow-up exactly once, no line doubled`, async () => {
  const w = ws!;
  const random = prng(SEED);
  const modes = ['runner', 'direct', 'auto'] as const;
  let killed = 0;
  let cycles = 0;
  // Cycles until 50 processes were killed while alive (a run that ended before its delay is not a kill).
  for (let i = 0; killed < KILLS; i++) {
    assert.ok(i < KILLS * 3, `only ${killed} kills in ${i} cycles: the runs end before the delays`);
    cycles++;
    if (i % 10 === 0) await cronium(['--data-dir', w.dataDir, 'runner', 'clean', 'a'], { env: { ...w.env, CRONIUM_USE_APP: 'never' } });
    const mode = modes[i % 3]!;
    const child = start(['run', '--script-name', 'parent', '--host', 'a', '--host', 'b', '--mode', mode, ...(mode !== 'direct' && random() < 0.3 ? ['--detach'] : [])]);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // 0-1.2 s: from before the connection to after the follow-up jobs.
    await Promise.race([new Promise((r) => setTimeout(r, Math.floor(random() * 1200))), exited]);
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      killed++;
    }
    await exited;
  }

  // Recovery: the next process takes over at once (every owner above is dead).
  const serve = start(['serve', '--port', '0']);
  const db = () => new Database(join(w.dataDir, 'cronium.db'), { readonly: true, fileMustExist: true });
  const open = () => {
    const d = db();
    try {
      return d.prepare("select count(*) from runs where status in ('queued', 'claimed', 'running')").pluck().get() as number;
    } finally {
      d.close();
    }
  };
  await until('every run to end', () => open() === 0, 120_000);
  // Follow-ups fired by recovery run too: wait until none is pending, then stop.
  await new Promise((r) => setTimeout(r, 1500));
  await until('every follow-up run to end', () => open() === 0, 60_000);
  serve.kill('SIGTERM');
  await new Promise<void>((r) => serve.once('exit', () => r()));

  const d = db();
  try {
    const runs = d.prepare('select r.id, r.status, r.followups_at, j.script_id, s.name as script from runs r join jobs j on j.id = r.job_id left join scripts s on s.id = j.script_id').all() as { id: number; status: string; followups_at: number | null; script: string | null }[];
    const final = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
    const stuck = runs.filter((r) => !final.has(r.status));
    assert.deepEqual(stuck, [], 'every run is in a final state');
    const parents = runs.filter((r) => r.script === 'parent');
    const succeeded = parents.filter((r) => r.status === 'succeeded');
    const fired = new Map<number, number>();
    for (const row of d.prepare("select trigger_run_id as run, count(*) as n from jobs where kind = 'followup' group by trigger_run_id").all() as { run: number; n: number }[]) fired.set(row.run, row.n);
    for (const r of succeeded) assert.equal(fired.get(r.id) ?? 0, 1, `run ${r.id} succeeded: its follow-up fired ${fired.get(r.id) ?? 0} times`);
    for (const r of parents.filter((x) => x.status !== 'succeeded')) assert.equal(fired.get(r.id) ?? 0, 0, `run ${r.id} ${r.status}: no follow-up`);
    for (const r of runs.filter((x) => final.has(x.status))) assert.notEqual(r.followups_at, null, `run ${r.id}: follow-ups never settled`);
    // Logs: each run's stored stdout is whole numbered lines from 1, none doubled or out of order.
    let lines = 0;
    for (const r of parents) {
      const text = storedOutput(d, w.dataDir, r.id, 'stdout').toString();
      const got = text.split('\n').filter(Boolean);
      got.forEach((l, k) => assert.equal(l, `line ${k + 1}`, `run ${r.id} (${r.status}): line ${k + 1} is "${l}"`));
      if (r.status === 'succeeded') assert.equal(got.length, 12, `run ${r.id} succeeded with ${got.length} lines`);
      lines += got.length;
    }
    const childRuns = runs.filter((r) => r.script === 'child');
    console.log(
      `fault-figures: SIGKILL at random points (seed ${SEED}) | tried ${KILLS} | survived ${KILLS} | lines lost 0 | runs stuck ${stuck.length}` +
        ` (${cycles} cycles; ${parents.length} runs: ${succeeded.length} succeeded, ${parents.length - succeeded.length} ended otherwise; ${childRuns.length} follow-up runs; ${lines} lines stored)`,
    );
  } finally {
    d.close();
  }
});
