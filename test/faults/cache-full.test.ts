// Faults: the host's disk is full where the runner lives. Two real sshd hosts whose account's
// ~/.cache is a small tmpfs in sshd's own mount namespace: cachetiny (2 MiB) cannot take the
// runner; cachesmall (8 MiB) takes it with ~3 MiB to spare, and a run then prints far more than
// that, so its spool fills the disk. Each ends with a true status, its code and a hint; no line
// that was stored is doubled, nothing stays running, and the next run on that host works.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import { cronium } from '../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../helpers/workspace';
import { storedOutput } from '../helpers/stored-log';

const SUBNET = 125;
let ws: Workspace | undefined;
const figures = { tried: 0, survived: 0, lost: 0, stuck: 0 };

before(async () => {
  ws = await startWorkspaceWithHosts('cache-full', { subnet: SUBNET, hosts: [{ name: 'tiny', profile: 'cachetiny' }, { name: 'small', profile: 'cachesmall' }] });
});
after(async () => {
  await ws?.stop();
  console.log(`fault-figures: host disk full (deploy, spool) | tried ${figures.tried} | survived ${figures.survived} | lines lost ${figures.lost} | runs stuck ${figures.stuck}`);
});

interface Line {
  status: string;
  mode: string | null;
  modeReason: string | null;
  error: { code: string; message: string; hint?: string } | null;
}

async function run(host: string, mode: string, command: string, more: string[] = []): Promise<{ code: number | null; line: Line; stderr: string }> {
  const r = await cronium(['--data-dir', ws!.dataDir, '--json', 'run', '--host', host, '--mode', mode, '--timeout', '120s', ...more, '--command', command], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });
  return { code: r.code, line: JSON.parse(r.stdout.trim().split('\n').pop()!) as Line, stderr: r.stderr };
}

async function nothingRunning(): Promise<void> {
  const core = ws!.open();
  try {
    const open = core.store.sqlite.prepare("select count(*) from runs where status in ('queued', 'claimed', 'running')").pluck().get() as number;
    figures.stuck += open;
    assert.equal(open, 0, 'nothing is left running');
  } finally {
    core.close();
  }
}

test('no room for the runner: runner mode says so with HOST space in the message, auto mode runs directly and says why', async () => {
  figures.tried++;
  const forced = await run('tiny', 'runner', 'echo hi');
  assert.equal(forced.code, 255);
  assert.equal(forced.line.status, 'failed');
  assert.equal(forced.line.error?.code, 'RUNNER_DEPLOY_FAILED');
  assert.match(forced.line.error!.message, /no space left for the runner in .*\.cache\/cronium.* \(it needs about \d+ MiB\)/);
  assert.match(forced.line.error!.hint ?? '', /free space there, or run with --mode direct/);
  const auto = await run('tiny', 'auto', 'echo hi');
  assert.equal(auto.code, 0, auto.stderr);
  assert.equal(auto.line.status, 'succeeded');
  assert.equal(auto.line.mode, 'direct');
  assert.match(auto.line.modeReason ?? '', /no space left for the runner/);
  await nothingRunning();
  figures.survived++;
});

test('a foreground run prints twice the room left on the disk: its backlog never leaves memory, every line is stored', async () => {
  figures.tried++;
  // ~6.9 MB of numbered lines with ~3 MiB free: under the runner's 8 MiB memory budget, so not
  // one byte of it needs the spool file, however far behind the app falls.
  const ran = await run('small', 'runner', 'seq 1 1000000');
  assert.equal(ran.code, 0, `${JSON.stringify(ran.line)} ${ran.stderr}`);
  assert.equal(ran.line.status, 'succeeded');
  const core = ws!.open();
  try {
    const jobs = await call(core.dispatch, 'jobs.list', { limit: 1 }, { door: 'cli' });
    const job = await call(core.dispatch, 'jobs.get', { id: jobs[0]!.id }, { door: 'cli' });
    const lines = storedOutput(core.store.sqlite, core.info.dataDir, job.runs[0]!.id, 'stdout').toString().split('\n');
    assert.equal(lines.length, 1_000_001);
    lines.slice(0, -1).forEach((l, i) => {
      if (l !== String(i + 1)) figures.lost++;
      assert.equal(l, String(i + 1), `line ${i + 1}: stored "${l}"`);
    });
  } finally {
    core.close();
  }
  await nothingRunning();
  figures.survived++;
});

test('the spool fills the disk mid-run: HOST_DISK_FULL, the script stopped, the stored output a clean prefix, the next run works', async () => {
  figures.tried++;
  // ~14 MB of numbered lines into a 3 MiB spool. Detached: a detached run's spool is on disk from
  // its first frame (a foreground run's backlog stays in memory up to 8 MiB; see below).
  const full = await run('small', 'runner', 'seq 1 2000000; echo never-reached', ['--detach']);
  assert.equal(full.code, 255, `${JSON.stringify(full.line)} ${full.stderr}`);
  assert.equal(full.line.status, 'failed');
  assert.equal(full.line.error?.code, 'HOST_DISK_FULL', JSON.stringify(full.line));
  assert.match(full.line.error!.message, /ran out of disk space for the run's log/);
  const core = ws!.open();
  try {
    const jobs = await call(core.dispatch, 'jobs.list', { limit: 1 }, { door: 'cli' });
    const job = await call(core.dispatch, 'jobs.get', { id: jobs[0]!.id }, { door: 'cli' });
    assert.ok(job.runs[0]!.errorHint?.includes('free space there'), 'the hint says what to do');
    const text = storedOutput(core.store.sqlite, core.info.dataDir, job.runs[0]!.id, 'stdout').toString();
    const lines = text.split('\n');
    const whole = lines.slice(0, -1);
    assert.ok(whole.length > 10_000, `${whole.length} lines were kept`);
    whole.forEach((l, i) => assert.equal(l, String(i + 1), `line ${i + 1}: stored "${l}" (a line lost, doubled or reordered)`));
    assert.ok(!text.includes('never-reached'), 'the script was stopped');
  } finally {
    core.close();
  }
  await nothingRunning();
  // The spool of the failed run is gone or small enough: the next run on that host works, in runner mode.
  const next = await run('small', 'runner', 'echo next');
  assert.equal(next.code, 0, JSON.stringify(next.line));
  assert.equal(next.line.status, 'succeeded');
  figures.survived++;
});
