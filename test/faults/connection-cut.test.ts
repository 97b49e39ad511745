// Faults: the SSH connection cut in the middle of a run (SIGKILL of the host's per-connection
// sshd processes: the TCP connection drops with no goodbye), and the host's sshd crashing and
// coming back while a detached run goes on. For each mode the run ends in a true status with its
// reason, the log holds every line that was printed before the cut exactly once (a detached run:
// every line), nothing is left running, and the next run on that host works.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import { ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, until, type Workspace } from '../helpers/workspace';
import { storedOutput } from '../helpers/stored-log';

// Other suites use 201-242, 121-122.
const SUBNET = 123;
const LINES = 40;
let ws: Workspace | undefined;
const figures = { tried: 0, survived: 0, lost: 0, stuck: 0 };

before(async () => {
  ws = await startWorkspaceWithHosts('connection-cut', { subnet: SUBNET, hosts: [{ name: 'host', profile: 'default' }] });
});
after(async () => {
  await ws?.stop();
  console.log(`fault-figures: connection cut / sshd crash | tried ${figures.tried} | survived ${figures.survived} | lines lost ${figures.lost} | runs stuck ${figures.stuck}`);
});

// The script's shell records its pid, so the test can tell whether it still runs on the host.
const PID_FILE = `/tmp/cronium-fault-cut-${process.pid}.pid`;
const SCRIPT = `echo $$ > ${PID_FILE}; for i in $(seq 1 ${LINES}); do echo "line $i"; sleep 0.1; done`;

interface Row {
  id: number;
  status: string;
  error_code: string | null;
  error_message: string | null;
  error_hint: string | null;
}

/** Runs the real CLI in-process (no app), calls `cut` once the run has stored `after` lines; returns the run and its stored lines. */
async function runAndCut(mode: 'runner' | 'direct', detach: boolean, after: number, cut: () => Promise<void> | void): Promise<{ run: Row; lines: string[]; code: number | null }> {
  const w = ws!;
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', w.dataDir, '--json', 'run', '--host', 'host', '--mode', mode, ...(detach ? ['--detach'] : []), '--command', SCRIPT], { env: { ...w.env, CRONIUM_USE_APP: 'never' }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.resume();
  child.stderr.resume();
  const exited = new Promise<number | null>((r) => child.on('close', r));
  const core = w.open();
  try {
    const runId = await until('the run to start', () => core.store.sqlite.prepare("select id from runs where status = 'running' order by id desc limit 1").pluck().get() as number | undefined, 30_000);
    const stored = () => storedOutput(core.store.sqlite, core.info.dataDir, runId, 'stdout').toString();
    await until(`${after} lines`, () => stored().split('\n').length > after, 30_000);
    await cut();
    const code = await exited;
    // As every door shows it: the code with its hint (the stored one, or the code's default).
    const jobId = core.store.sqlite.prepare('select job_id from runs where id = ?').pluck().get(runId) as number;
    const view = (await call(core.dispatch, 'jobs.get', { id: jobId }, { door: 'cli' })).runs.find((r) => r.id === runId)!;
    const run: Row = { id: runId, status: view.status, error_code: view.errorCode, error_message: view.errorMessage, error_hint: view.errorHint };
    const lines = stored().split('\n').filter(Boolean);
    return { run, lines, code };
  } finally {
    core.close();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** The lines 1..n in order, each once. */
function prefixOf(lines: string[]): number {
  lines.forEach((l, i) => assert.equal(l, `line ${i + 1}`, `line ${i + 1} is "${l}": a line was lost, doubled or reordered`));
  return lines.length;
}

async function afterwards(label: string): Promise<void> {
  const w = ws!;
  const core = w.open();
  try {
    const open = core.store.sqlite.prepare("select count(*) from runs where status in ('queued', 'claimed', 'running')").pluck().get() as number;
    figures.stuck += open;
    assert.equal(open, 0, `${label}: nothing is left running`);
  } finally {
    core.close();
  }
  // The script is not left running on the host (its shell's pid, as it recorded it).
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  rmSync(PID_FILE, { force: true });
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 10_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(alive(), false, `${label}: the script (pid ${pid}) still runs on the host`);
  // The next run on that host works.
  const next = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', w.dataDir, 'run', '--host', 'host', '--command', 'echo next'], { env: { ...w.env, CRONIUM_USE_APP: 'never' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  next.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => next.on('close', r));
  assert.equal(code, 0, `${label}: the next run fails`);
  assert.equal(out.trim(), 'next');
}

for (const mode of ['direct', 'runner'] as const) {
  test(`${mode} mode: the connection cut mid-run ends the run with a coded reason and no line lost or doubled`, async () => {
    figures.tried++;
    const { run, lines, code } = await runAndCut(mode, false, 5, () => {
      assert.ok(ws!.fleet.killSessions('host') >= 1, 'a connection was cut');
    });
    assert.notEqual(code, 0);
    assert.equal(run.status, 'failed', JSON.stringify(run));
    assert.equal(run.error_code, 'CONNECTION_LOST', JSON.stringify(run));
    assert.ok(run.error_hint, 'the failure carries a hint');
    assert.ok(prefixOf(lines) >= 5, 'the lines before the cut are stored');
    await afterwards(`${mode} cut`);
    figures.survived++;
  });
}

test('runner mode, detached: the connection cut mid-run, the run reattaches and every line is stored once', async () => {
  figures.tried++;
  const { run, lines, code } = await runAndCut('runner', true, 5, () => {
    assert.ok(ws!.fleet.killSessions('host') >= 1);
  });
  assert.equal(code, 0);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(prefixOf(lines), LINES);
  await afterwards('detached cut');
  figures.survived++;
});

test('runner mode, detached: sshd crashes mid-run and comes back 2 s later; the run reattaches and completes', async () => {
  figures.tried++;
  const { run, lines, code } = await runAndCut('runner', true, 5, async () => {
    await ws!.fleet.crash('host');
    await new Promise((r) => setTimeout(r, 2000));
    await ws!.fleet.start('host');
  });
  assert.equal(code, 0);
  assert.equal(run.status, 'succeeded', JSON.stringify(run));
  assert.equal(prefixOf(lines), LINES);
  await afterwards('sshd crash');
  figures.survived++;
});
