// Fault: a laptop sleeps for three hours under a running `cronium serve`. The real serve runs
// under libfaketime (Debian's faketime package) with a timestamp file: its wall clock jumps 3 h
// forward while its monotonic clock goes on, as after a suspend. Two hourly schedules on a real
// sshd host missed three fires: the `run-once` one fires once, the `skip` one not at all, and
// neither fires again for those missed hours.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { cronium, ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, until, type Workspace } from '../helpers/workspace';

const SUBNET = 128;
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
let ws: Workspace | undefined;
let serve: ChildProcess | undefined;

before(async () => {
  assert.ok(existsSync(LIBFAKETIME), `${LIBFAKETIME} is missing: install Debian's faketime package`);
  ws = await startWorkspaceWithHosts('clock-jump', { subnet: SUBNET, hosts: [{ name: 'h', profile: 'default' }] });
  // Away from an hour boundary, so no regular fire comes due between adding the schedules and the
  // jump (their first fire is the next full hour; the test needs well under 90 s before the jump).
  while (Date.now() % 3_600_000 > 3_600_000 - 90_000) await new Promise((r) => setTimeout(r, 1000));
  const script = join(ws.scratch, 'fired.sh');
  writeFileSync(script, 'echo fired\n');
  for (const catchup of ['run-once', 'skip']) {
    const r = await cronium(['--data-dir', ws.dataDir, 'schedules', 'add', catchup, '--cron', '0 * * * *', '--host', 'h', '--mode', 'direct', '--catchup', catchup, '--script', script], { env: { ...ws.env, CRONIUM_USE_APP: 'never' } });
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  if (serve && serve.exitCode === null) serve.kill('SIGKILL');
  await ws?.stop();
});

test('the wall clock jumps 3 h forward under serve: run-once fires once, skip does not, nothing fires twice', async () => {
  const w = ws!;
  const clockFile = join(w.scratch, 'faketime');
  writeFileSync(clockFile, '+0\n');
  serve = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', w.dataDir, 'serve', '--port', '0'], {
    env: { ...w.env, LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  serve.stdout!.resume();
  serve.stderr!.resume();
  const db = () => new Database(join(w.dataDir, 'cronium.db'), { readonly: true, fileMustExist: true });
  const jobs = (): Record<string, number> => {
    const d = db();
    try {
      const out: Record<string, number> = { 'run-once': 0, skip: 0 };
      for (const r of d.prepare('select s.name, count(j.id) as n from schedules s left join jobs j on j.schedule_id = s.id group by s.name').all() as { name: string; n: number }[]) out[r.name] = r.n;
      return out;
    } finally {
      d.close();
    }
  };
  await new Promise((r) => setTimeout(r, 3000));
  assert.deepEqual(jobs(), { 'run-once': 0, skip: 0 }, 'nothing is due before the jump');

  writeFileSync(clockFile, '+3h\n');
  await until('the run-once schedule to catch up', () => jobs()['run-once'] === 1, 20_000);
  // Long enough for any second fire of the missed hours to show.
  await new Promise((r) => setTimeout(r, 4000));
  assert.deepEqual(jobs(), { 'run-once': 1, skip: 0 });
  const d = db();
  try {
    const next = d.prepare('select name, next_fire_at from schedules').all() as { name: string; next_fire_at: number }[];
    for (const s of next) assert.ok(s.next_fire_at > Date.now() + 2 * 3_600_000, `${s.name}: the next fire is after the jump (${new Date(s.next_fire_at).toISOString()})`);
    await until('the catch-up job to run', () => (d.prepare("select status from jobs where status = 'succeeded'").all().length === 1 ? true : false), 20_000);
  } finally {
    d.close();
  }
  serve.kill('SIGTERM');
  console.log('fault-figures: a 3-hour clock jump under serve (sleep) | tried 1 | survived 1 | lines lost 0 | runs stuck 0 (run-once fired 1 for 3 missed, skip 0)');
});
