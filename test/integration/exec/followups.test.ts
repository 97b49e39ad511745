// Saved scripts, outputs, follow-ups and secret masking on a real fleet (subnet 220), in direct
// mode: a script's marked output line becomes its run's output and the input of its `success`
// follow-up on another host (which echoes its stdin); `cronium run --script-name --json` runs the
// chain and prints both; jobs.tree shows parent and child; a failing script fires `failure` and
// not `success`; a `condition` follow-up fires only when the run's condition was set true; a
// secret variable printed by a real script (split across writes) never reaches log_chunks or
// run.log, in direct mode and in runner mode, where the runner masks it on the host before any
// frame or its spool sees it. Needs root (the fleet starts sshd on port 22), a built dist/ and
// (runner mode) runner artifacts (`npm run build:runner`).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import type { Core } from '../../../electron/core/core';
import { runnerRunId } from '../../../electron/core/exec/runner-mode';
import { Worker } from '../../../electron/core/exec/worker';
import { InstallationKeys } from '../../../electron/core/runner/payload';
import { setRunCondition } from '../../../electron/core/scripts/runs';
import type { JobTreeNode, JobView } from '../../../electron/shared/api';
import { cronium, ROOT } from '../../helpers/cli';
import { startWorkspace, until, type Workspace } from '../../helpers/workspace';
import { decodeFrameStream } from '../../../electron/core/runner/frames';
import { storedOutput } from '../../helpers/stored-log';

// Other integration suites use 201-207 and their own subnets.
const SUBNET = 220;
const ctx = { door: 'cli' as const };

let ws: Workspace | undefined;
let home = '';
let dataDir = '';

function open(): Core {
  assert.ok(ws, 'workspace not started');
  return ws.open();
}

/** Runs a job and the follow-ups it fires in-process (a worker of its chain, with the core's hooks). */
async function runChain(core: Core, args: Record<string, unknown>, during?: (jobId: number, runIds: number[]) => Promise<void>): Promise<{ jobId: number; tree: JobTreeNode; logs: string[] }> {
  const { jobId, runIds } = await call(core.dispatch, 'jobs.run', { mode: 'direct', ...args }, ctx);
  const logs: string[] = [];
  const off = core.events.on('run.log', (e) => logs.push(...e.chunks.map((c) => Buffer.from(c.data, 'base64').toString())));
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `followups-test:${process.pid}`, jobId, followups: true, ...core.runHooks });
  const detach = core.jobs.attach(worker);
  worker.start();
  try {
    if (during) await during(jobId, runIds);
    const open = `with recursive t(id) as (select ? union all select j.id from jobs j join t on j.parent_job_id = t.id) select count(*) from t join jobs j on j.id = t.id where j.status in ('queued', 'running')`;
    await until('the chain to end', () => (core.store.sqlite.prepare(open).pluck().get(jobId) as number) === 0, 60_000);
    await worker.idle();
  } finally {
    await worker.stop();
    detach();
    await new Promise((r) => setTimeout(r, 60));
    off();
  }
  return { jobId, tree: await call(core.dispatch, 'jobs.tree', { id: jobId }, ctx), logs };
}

async function job(core: Core, id: number): Promise<JobView> {
  return call(core.dispatch, 'jobs.get', { id }, ctx);
}

async function stdoutOf(core: Core, runId: number): Promise<string> {
  const page = await call(core.dispatch, 'runs.logs', { runId, limit: 10_000 }, ctx);
  return page.chunks.filter((c) => c.stream === 'stdout').map((c) => Buffer.from(c.data, 'base64').toString()).join('');
}

before(async () => {
  ws = await startWorkspace('followups-test', { subnet: SUBNET, hosts: [{ name: 'alpha', profile: 'default' }, { name: 'beta', profile: 'nobash' }] });
  ({ home, dataDir } = ws);
  const core = open();
  try {
    await ws.addFleetHosts(core);
    // The follow-ups: each echoes its stdin (its input) and says where it ran.
    await call(core.dispatch, 'scripts.save', { name: 'echo-input', interpreter: 'sh', body: 'printf "got:%s on:%s\\n" "$(cat)" "$(id -un)"\n' }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'on-failure', interpreter: 'sh', body: 'echo "failure follow-up: $(cat)"\n' }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'on-condition', interpreter: 'sh', body: 'echo "condition follow-up: $(cat)"\n' }, ctx);
    const followups = [
      { on: 'success', script: 'echo-input', hosts: ['beta'] },
      { on: 'failure', script: 'on-failure' },
      { on: 'condition', script: 'on-condition', hosts: ['beta'] },
    ];
    await call(core.dispatch, 'scripts.save', { name: 'produce', body: 'echo working\necho \'@@cronium:output {"rows":3,"ok":true}\'\nexit 0\n', followups }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'breaks', body: 'echo \'@@cronium:output {"why":"disk full"}\'\nexit 4\n', followups }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'waits', body: 'sleep 1.5\necho \'@@cronium:output "decided"\'\n', followups }, ctx);
  } finally {
    core.close();
  }
});

after(async () => {
  await ws?.stop();
});

test('success: the output becomes the input of the follow-up on another host; jobs.tree shows parent and child', async () => {
  const core = open();
  try {
    const ran = await runChain(core, { hosts: ['alpha'], scriptName: 'produce' });
    const parent = await job(core, ran.jobId);
    assert.equal(parent.runs[0]!.status, 'succeeded');
    assert.deepEqual(parent.runs[0]!.output, { rows: 3, ok: true });
    assert.equal(parent.scriptName, 'produce');
    assert.equal(ran.tree.job.id, ran.jobId);
    assert.equal(ran.tree.children.length, 1, `expected one follow-up: ${JSON.stringify(ran.tree)}`);
    const child = ran.tree.children[0]!;
    assert.deepEqual(child.trigger, { on: 'success', runId: parent.runs[0]!.id, host: 'alpha' });
    assert.equal(child.job.scriptName, 'echo-input');
    assert.equal(child.job.parentJobId, ran.jobId);
    assert.equal(child.job.status, 'succeeded');
    const childJob = await job(core, child.job.id);
    assert.equal(childJob.runs[0]!.host, 'beta');
    const betaUser = ws!.fleet.host('beta').user;
    assert.equal(await stdoutOf(core, childJob.runs[0]!.id), `got:{"rows":3,"ok":true} on:${betaUser}\n`, 'the follow-up read the output on its stdin, on beta');
    // The child's tree is the same chain, from the root.
    assert.equal((await call(core.dispatch, 'jobs.tree', { id: child.job.id }, ctx)).job.id, ran.jobId);
  } finally {
    core.close();
  }
});

test('failure fires `failure` (on the same host) and not `success`; no condition set, no condition follow-up', async () => {
  const core = open();
  try {
    const ran = await runChain(core, { hosts: ['alpha'], scriptName: 'breaks' });
    const parent = await job(core, ran.jobId);
    assert.equal(parent.runs[0]!.status, 'failed');
    assert.equal(parent.runs[0]!.exitCode, 4);
    assert.equal(parent.runs[0]!.condition, null);
    assert.deepEqual(ran.tree.children.map((c) => [c.trigger?.on, c.job.scriptName]), [['failure', 'on-failure']]);
    const childRun = (await job(core, ran.tree.children[0]!.job.id)).runs[0]!;
    assert.equal(childRun.host, 'alpha', 'neither hosts nor tag: the host of the run that fired it');
    assert.equal(await stdoutOf(core, childRun.id), 'failure follow-up: {"why":"disk full"}\n');
  } finally {
    core.close();
  }
});

test('a condition follow-up fires only when the run set its condition true', async () => {
  const core = open();
  try {
    const setTrue = await runChain(core, { hosts: ['alpha'], scriptName: 'waits' }, async (_jobId, runIds) => {
      await until('the run to start', () => core.store.sqlite.prepare('select status from runs where id = ?').pluck().get(runIds[0]!) === 'running');
      // What the helper API does for `cronium condition true`.
      await setRunCondition(core.store.data, runIds[0]!, true);
    });
    assert.equal((await job(core, setTrue.jobId)).runs[0]!.condition, true);
    assert.deepEqual(setTrue.tree.children.map((c) => c.trigger?.on).sort(), ['condition', 'success']);
    const cond = setTrue.tree.children.find((c) => c.trigger?.on === 'condition')!;
    assert.equal(await stdoutOf(core, (await job(core, cond.job.id)).runs[0]!.id), 'condition follow-up: "decided"\n');

    const setFalse = await runChain(core, { hosts: ['alpha'], scriptName: 'waits' }, async (_jobId, runIds) => {
      await until('the run to start', () => core.store.sqlite.prepare('select status from runs where id = ?').pluck().get(runIds[0]!) === 'running');
      await setRunCondition(core.store.data, runIds[0]!, false);
    });
    assert.equal((await job(core, setFalse.jobId)).runs[0]!.condition, false);
    assert.deepEqual(setFalse.tree.children.map((c) => c.trigger?.on), ['success']);
  } finally {
    core.close();
  }
});

test('CLI: run --script-name --json runs the chain and prints the output of each run', async () => {
  const env = { HOME: home, SSH_AUTH_SOCK: '' };
  const r = await cronium(['--data-dir', dataDir, 'run', '--host', 'alpha', '--script-name', 'produce', '--mode', 'direct', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string; output: unknown; jobId: number; parentJobId?: number; trigger?: { on: string } });
  assert.equal(lines.length, 2, r.stdout);
  assert.deepEqual([lines[0]!.host, lines[0]!.status, lines[0]!.output], ['alpha', 'succeeded', { rows: 3, ok: true }]);
  assert.deepEqual([lines[1]!.host, lines[1]!.status, lines[1]!.parentJobId, lines[1]!.trigger?.on], ['beta', 'succeeded', lines[0]!.jobId, 'success']);
  const human = await cronium(['--data-dir', dataDir, 'run', '--host', 'alpha', '--script-name', 'produce', '--mode', 'direct'], { env });
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^working$/m);
  assert.match(human.stdout, /^beta \| got:\{"rows":3,"ok":true\} on:/m);
  assert.match(human.stderr, /follow-up job \d+ \(echo-input, on success of alpha\): succeeded/);
});

test('a secret variable printed by a real script never reaches log_chunks or run.log', async () => {
  const core = open();
  const secret = `fl33t-secret-${process.pid}-${Date.now()}`;
  const half = Math.floor(secret.length / 2);
  try {
    await call(core.dispatch, 'vars.set', { key: 'DEPLOY_TOKEN', value: secret, secret: true, host: 'alpha' }, ctx);
    // The script gets the value in two env halves (direct mode has no getVariable) and prints it in two writes.
    const ran = await runChain(core, {
      hosts: ['alpha'],
      script: 'printf "token=%s" "$A"; sleep 0.3; printf "%s!\\n" "$B"; echo "again $A$B" >&2\n',
      env: { A: secret.slice(0, half), B: secret.slice(half) },
    });
    const run = (await job(core, ran.jobId)).runs[0]!;
    assert.equal(run.status, 'succeeded');
    const stored = storedOutput(core.store.sqlite, core.info.dataDir, run.id).toString();
    assert.match(stored, /token=\*\*\*!/);
    assert.match(stored, /again \*\*\*/);
    for (const text of [stored, ran.logs.join('')]) assert.ok(!text.includes(secret), `the secret leaked: ${text}`);
    assert.ok(ran.logs.join('').includes('token=***'), 'the live feed carried the masked line');
  } finally {
    core.close();
  }
});

test('runner mode: the runner masks a secret split across writes before any frame or its spool', async () => {
  assert.ok(existsSync(join(ROOT, 'resources/runner/manifest.json')), 'runner artifacts are not built: run `npm run build:runner`');
  const core = open();
  const secret = `fl33t-runner-secret-${process.pid}-${Date.now()}`;
  const half = Math.floor(secret.length / 2);
  try {
    await call(core.dispatch, 'vars.set', { key: 'RUNNER_TOKEN', value: secret, secret: true, host: 'alpha' }, ctx);
    // Detached, so the run's spool stays on the host afterwards for the check below.
    const ran = await runChain(core, {
      hosts: ['alpha'],
      mode: 'runner',
      detach: true,
      script: 'printf "token=%s" "$A"; sleep 0.3; printf "%s!\\n" "$B"; echo "again $A$B" >&2\n',
      env: { A: secret.slice(0, half), B: secret.slice(half) },
    });
    const run = (await job(core, ran.jobId)).runs[0]!;
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.mode, 'runner');
    const streamOf = (stream: 'stdout' | 'stderr') => storedOutput(core.store.sqlite, core.info.dataDir, run.id, stream).toString();
    const stored = streamOf('stdout') + streamOf('stderr');
    // Per stream: the stderr line may come between the two stdout writes.
    assert.match(streamOf('stdout'), /token=\*\*\*!/);
    assert.match(streamOf('stderr'), /again \*\*\*/);
    for (const text of [stored, ran.logs.join('')]) assert.ok(!text.includes(secret), `the secret leaked: ${text}`);
    assert.ok(ran.logs.join('').includes('token='), 'the live feed carried the masked line');

    // What the runner framed, read from its spool on the host: masked at the source. Without the
    // payload's mask, the first write would be a frame of its own ("token=" and the first half).
    const { stateDir } = await call(core.dispatch, 'runner.deploy', { name: 'alpha' }, ctx);
    const conn = await core.ssh.connect(await core.hosts.sshTarget('alpha'));
    // This installation's run dir only: the host account keeps other test runs' spools with the same run id.
    const runDir = runnerRunId(new InstallationKeys(core.info.dataDir).keyId(), run.id, 1);
    const spool = await conn.exec(`cat '${stateDir}'/runs/${runDir}*/frames.spool`);
    assert.equal(spool.code, 0, spool.stderr.toString());
    const frames = decodeFrameStream(spool.stdout);
    const logs = frames.flatMap((f) => (f.type === 'log' ? [{ stream: f.stream, text: f.data.toString() }] : []));
    assert.ok(logs.length > 0 && frames.at(-1)!.type === 'exit', JSON.stringify(frames));
    for (const l of logs) assert.ok(!l.text.includes(secret.slice(0, half)) && !l.text.includes(secret.slice(half)), `a frame holds part of the secret: ${JSON.stringify(l)}`);
    assert.equal(logs.filter((l) => l.stream === 'stdout').map((l) => l.text).join(''), 'token=***!\n');
    assert.equal(logs.filter((l) => l.stream === 'stderr').map((l) => l.text).join(''), 'again ***\n');
  } finally {
    core.close();
  }
});
