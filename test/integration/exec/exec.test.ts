// Direct-mode execution on a real fleet: exit codes, streaming, env and input on stdin only,
// timeout and cancel leaving no process of the script on the host, fan-out with a host down,
// the CLI end to end, bounded memory on big output, and a per-second schedule that never
// fires twice. Needs root (the fleet starts sshd on port 22) and a built dist/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import type { Core } from '../../../electron/core/core';
import { Worker } from '../../../electron/core/exec/worker';
import { Scheduler } from '../../../electron/core/scheduler/scheduler';
import type { JobView } from '../../../electron/shared/api';
import type { Fleet } from '../../fleet/fleet';
import { cronium, ROOT } from '../../helpers/cli';
import { startWorkspace, until, type Workspace } from '../../helpers/workspace';
import { storedOutput } from '../../helpers/stored-log';

// Other integration suites use 201-206.
const SUBNET = 207;
/** Nothing listens here. */
const DOWN = `127.${SUBNET}.250.250`;
const ctx = { door: 'cli' as const };

let ws: Workspace | undefined;
let scratch = '';
let home = '';
let dataDir = '';

function f(): Fleet {
  assert.ok(ws, 'fleet not started');
  return ws.fleet;
}

function open(): Core {
  assert.ok(ws, 'workspace not started');
  return ws.open();
}

/** Processes of the machine (the fleet's sshds share its pid namespace): pid, pgid, uid-less args. */
function processes(): { pid: number; pgid: number; args: string }[] {
  const out: { pid: number; pgid: number; args: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(name), pgid: Number(fields[2]), args });
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

interface Ran {
  job: JobView;
  log: Map<string, string>;
  ms: number;
}

/** Runs a job in-process with a worker of its own; `during` runs once the job is queued. */
async function runJob(core: Core, args: Record<string, unknown>, opts: { graceMs?: number; during?: (jobId: number) => Promise<void> } = {}): Promise<Ran> {
  const t0 = Date.now();
  const { jobId } = await call(core.dispatch, 'jobs.run', { mode: 'direct', ...args }, ctx);
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `test:${process.pid}`, jobId, ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}) });
  const detach = core.jobs.attach(worker);
  worker.start();
  try {
    if (opts.during) await opts.during(jobId);
    await until('the job to end', () => !['queued', 'running'].includes(core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string), 60_000);
    await worker.idle();
  } finally {
    await worker.stop();
    detach();
  }
  const job = await call(core.dispatch, 'jobs.get', { id: jobId }, ctx);
  const log = new Map<string, string>();
  for (const r of job.runs) {
    const page = await call(core.dispatch, 'runs.logs', { runId: r.id, limit: 10_000 }, ctx);
    log.set(r.host, page.chunks.map((c) => `[${c.stream}]${Buffer.from(c.data, 'base64').toString('utf8')}`).join(''));
  }
  return { job, log, ms: Date.now() - t0 };
}

before(async () => {
  ws = await startWorkspace('exec-test', { subnet: SUBNET });
  ({ scratch, home, dataDir } = ws);
  const core = open();
  try {
    await ws.addFleetHosts(core, { tags: ['fleet'] });
    await call(core.dispatch, 'hosts.add', { name: 'down', address: DOWN, user: 'nobody', useAgent: false, tags: ['fleet'] }, ctx);
  } finally {
    core.close();
  }
});

after(async () => {
  await ws?.stop();
});

test('execStream: backpressure, stdin kept open, signals, and the session slot under MaxSessions 1', async () => {
  const core = open();
  try {
    const conn = await core.ssh.connect(await core.hosts.sshTarget('maxsessions1'));
    let echoed = '';
    const h1 = await conn.execStream('cat', { keepStdinOpen: true, onStdout: (c) => void (echoed += c.toString()) });
    h1.write('hello\n');
    await until('the echo', () => echoed === 'hello\n');
    // MaxSessions 1: a second command waits for the slot while the first runs.
    let second = false;
    const p2 = conn.execStream('echo two').then((h) => {
      second = true;
      return h;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(second, false, 'the second session opened while the first held the only slot');
    h1.endStdin();
    assert.deepEqual(await h1.done, { code: 0, signal: null });
    assert.deepEqual(await (await p2).done, { code: 0, signal: null });

    // A pending callback pauses the channel: never two deliveries at once, nothing lost.
    let pending = 0;
    let peak = 0;
    let bytes = 0;
    const big = await conn.execStream('head -c 4000000 /dev/zero', {
      onStdout: async (c) => {
        pending++;
        peak = Math.max(peak, pending);
        bytes += c.length;
        await new Promise((r) => setTimeout(r, 1));
        pending--;
      },
    });
    assert.equal((await big.done).code, 0);
    assert.equal(bytes, 4_000_000);
    assert.equal(peak, 1);

    let out = '';
    const trapped = await conn.execStream('sleep 10 & p=$!; trap "kill $p; echo got-term; exit 5" TERM; wait', { keepStdinOpen: true, onStdout: (c) => void (out += c.toString()) });
    await new Promise((r) => setTimeout(r, 200));
    trapped.signal('TERM');
    assert.deepEqual(await trapped.done, { code: 5, signal: null });
    assert.equal(out, 'got-term\n');
  } finally {
    core.close();
  }
});

test('exit code, ordered streams, env and input on stdin only, output captured', async () => {
  const core = open();
  const secret = `s3cr3t-${Date.now()}-v`;
  const script = [
    'echo out1',
    'echo err1 >&2',
    'sleep 0.3',
    'echo out2',
    'echo "env=$MY_SECRET"',
    'echo "input=$(cat)"',
    'echo \'@@cronium:output {"answer":42}\'',
    'sleep 1',
    'exit 3',
  ].join('\n');
  let leaked: string[] = [];
  try {
    const ran = await runJob(core, { hosts: ['default'], script, env: { MY_SECRET: secret }, input: { hello: "it's" } }, {
      during: async () => {
        // While it runs, no command line on the machine carries the secret.
        await until('the script to start', () => processes().some((p) => /\/cronium\.[0-9a-f]{16}\.script\b/.test(p.args)));
        leaked = processes().filter((p) => p.args.includes(secret) && p.pid !== process.pid).map((p) => p.args);
      },
    });
    assert.deepEqual(leaked, [], 'the secret appeared in a command line');
    const run = ran.job.runs[0]!;
    assert.equal(run.status, 'failed');
    assert.equal(run.exitCode, 3);
    assert.equal(run.signal, null);
    assert.equal(run.mode, 'direct');
    assert.deepEqual(run.output, { answer: 42 });
    const log = ran.log.get('default')!;
    assert.ok(!log.includes('@@cronium'), `markers leaked into the log: ${log}`);
    const stdout = log.split('[').filter((s) => s.startsWith('stdout]')).map((s) => s.slice(7)).join('');
    assert.equal(stdout, `out1\nout2\nenv=${secret}\ninput={"hello":"it's"}\n`);
    assert.ok(log.includes('[stderr]err1\n'));
    assert.ok(log.indexOf('out1') < log.indexOf('err1') || log.indexOf('err1') < log.indexOf('out2'), 'stderr streamed between stdout lines');
    assert.ok(run.timings.connect !== null && run.timings.start !== null && run.timings.exec !== null && run.timings.total !== null);
    assert.ok(run.timings.exec! >= 1300, `exec ${run.timings.exec}`);
  } finally {
    core.close();
  }
});

test('auto mode runs direct where the runner cannot run (noexec) and records why', async () => {
  const core = open();
  try {
    const ran = await runJob(core, { hosts: ['noexec'], command: 'echo hi', mode: 'auto' });
    const run = ran.job.runs[0]!;
    assert.equal(run.status, 'succeeded');
    assert.equal(run.mode, 'direct');
    assert.match(run.modeReason ?? '', /no runner cache location/);
    assert.ok(ran.log.get('noexec')!.includes('[stdout]hi\n'));
  } finally {
    core.close();
  }
});

/** Direct-mode run files in /tmp when this file started: other suites' (unit tests run the prelude as root). */
const RUN_FILES_BEFORE = new Set(listRunFiles().map((d) => d.name));

function listRunFiles(): { name: string; uid: number }[] {
  return readdirSync('/tmp')
    .filter((n) => /^cronium\.[0-9a-f]{16}\.(script|input|v|h|env|wrap)$/.test(n))
    .flatMap((name) => {
      try {
        return [{ name, uid: statSync(join('/tmp', name)).uid }];
      } catch {
        return []; // removed between the listing and the stat
      }
    });
}

/**
 * Files of this file's direct-mode runs left in /tmp (the default host's /tmp is this machine's):
 * made since the file started, by the default host's account (not root's, nor another fleet's).
 */
function runFiles(): string[] {
  const uid = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${f().host('default').user}:`))?.split(':')[2] ?? -1);
  assert.notEqual(uid, userInfo().uid, 'the default host account is not the test runner');
  return listRunFiles().filter((d) => d.uid === uid && !RUN_FILES_BEFORE.has(d.name)).map((d) => d.name);
}

/** Asserts that no process of the group that ran `marker` is left, and returns that group. */
async function expectGroupGone(pgid: number): Promise<void> {
  await until(`process group ${pgid} to be gone`, () => !processes().some((p) => p.pgid === pgid), 3000).catch(() => {
    assert.fail(`left on the host: ${JSON.stringify(processes().filter((p) => p.pgid === pgid))}`);
  });
  await until('the run files to be removed', () => runFiles().length === 0, 3000).catch(() => assert.fail(`run files left: ${runFiles().join(' ')}`));
}

test('timeout: timed_out, and no process of the script is left on the host', async () => {
  const core = open();
  const marker = `60.${Date.now() % 100000}`;
  let pgid = 0;
  try {
    const ran = await runJob(core, { hosts: ['default'], script: `sleep ${marker} & sleep ${marker}\n`, timeoutMs: 1000 }, {
      graceMs: 1000,
      during: async () => {
        const p = await until('the sleep to start', () => processes().find((x) => x.args === `sleep ${marker}`));
        pgid = p.pgid;
      },
    });
    const run = ran.job.runs[0]!;
    assert.equal(run.status, 'timed_out');
    assert.ok(run.timings.exec! < 3000, `exec ${run.timings.exec} ms for a 1 s timeout and a 1 s grace`);
    assert.ok(pgid > 1);
    await expectGroupGone(pgid);
    assert.ok(!processes().some((p) => p.args.includes(`sleep ${marker}`)));
  } finally {
    core.close();
  }
});

test('cancel: cancelled, and no process of the script is left on the host', async () => {
  const core = open();
  const marker = `61.${Date.now() % 100000}`;
  let pgid = 0;
  try {
    const ran = await runJob(core, { hosts: ['default'], script: `sleep ${marker}\n` }, {
      during: async (jobId) => {
        const p = await until('the sleep to start', () => processes().find((x) => x.args === `sleep ${marker}`));
        pgid = p.pgid;
        const r = await call(core.dispatch, 'jobs.cancel', { id: jobId }, ctx);
        assert.equal(r.stopping.length, 1);
      },
    });
    assert.equal(ran.job.status, 'cancelled');
    assert.equal(ran.job.runs[0]!.status, 'cancelled');
    await expectGroupGone(pgid);
  } finally {
    core.close();
  }
});

test('a script that ignores TERM is KILLed after the grace period', async () => {
  const core = open();
  const marker = `62.${Date.now() % 100000}`;
  let pgid = 0;
  try {
    const ran = await runJob(core, { hosts: ['default'], script: `trap '' TERM\nsleep ${marker}\necho never\n`, timeoutMs: 500 }, {
      graceMs: 1000,
      during: async () => {
        const p = await until('the sleep to start', () => processes().find((x) => x.args === `sleep ${marker}`));
        pgid = p.pgid;
      },
    });
    assert.equal(ran.job.runs[0]!.status, 'timed_out');
    await expectGroupGone(pgid);
    assert.ok(ran.ms < 6000, `took ${ran.ms} ms`);
  } finally {
    core.close();
  }
});

test('python3 and node scripts read the input on stdin and set the output', async () => {
  const core = open();
  try {
    const py = await runJob(core, { hosts: ['default'], interpreter: 'python3', input: { n: 20 }, script: 'import json, sys\nv = json.load(sys.stdin)\nprint("py", v["n"])\nprint("@@cronium:output " + json.dumps({"double": v["n"] * 2}))\n' });
    assert.equal(py.job.runs[0]!.status, 'succeeded', py.log.get('default'));
    assert.deepEqual(py.job.runs[0]!.output, { double: 40 });
    assert.ok(py.log.get('default')!.includes('[stdout]py 20\n'));
    const js = await runJob(core, { hosts: ['default'], interpreter: 'node', input: [1, 2], script: 'let s = "";\nprocess.stdin.on("data", (d) => (s += d)).on("end", () => { const v = JSON.parse(s); console.log("@@cronium:output " + JSON.stringify({ sum: v[0] + v[1] })); process.exitCode = 4; });\n' });
    assert.equal(js.job.runs[0]!.exitCode, 4, js.log.get('default'));
    assert.deepEqual(js.job.runs[0]!.output, { sum: 3 });
  } finally {
    core.close();
  }
});

test('INTERPRETER_MISSING: bash on the host without bash', async () => {
  const core = open();
  try {
    const ran = await runJob(core, { hosts: ['nobash'], script: 'echo hi\n', interpreter: 'bash' });
    const run = ran.job.runs[0]!;
    assert.equal(run.status, 'failed');
    assert.equal(run.errorCode, 'INTERPRETER_MISSING');
    const ok = await runJob(core, { hosts: ['nobash'], script: 'echo "hi from $0"\n', interpreter: 'sh' });
    assert.equal(ok.job.runs[0]!.status, 'succeeded');
  } finally {
    core.close();
  }
});

test('fan-out over every profile with one host down: partial, and the down host slows nobody', async () => {
  const core = open();
  try {
    const ran = await runJob(core, { tag: 'fleet', interpreter: 'sh', script: 'echo "ok $(id -un)"\n', concurrency: 20 });
    const byHost = new Map(ran.job.runs.map((r) => [r.host, r]));
    assert.equal(ran.job.status, 'partial');
    assert.equal(byHost.get('down')!.status, 'failed');
    assert.equal(byHost.get('down')!.errorCode, 'CONNECT_FAILED');
    for (const h of f().hosts) {
      const r = byHost.get(h.name);
      assert.ok(r, `no run for ${h.name}`);
      assert.equal(r.status, 'succeeded', `${h.name}: ${r.errorCode} ${r.errorMessage}`);
      assert.ok(ran.log.get(h.name)!.includes(`[stdout]ok ${h.user}\n`), `${h.name}: ${ran.log.get(h.name)}`);
    }
    const slowest = Math.max(...ran.job.runs.filter((r) => r.host !== 'down').map((r) => r.timings.total ?? 0));
    assert.ok(slowest < 5000, `slowest run ${slowest} ms`);
    assert.ok(ran.ms < 8000, `fan-out took ${ran.ms} ms`);
  } finally {
    core.close();
  }
});

test('10 MB of output passes with bounded memory and every byte stored', async () => {
  const core = open();
  try {
    const rss0 = process.memoryUsage().rss;
    const ran = await runJob(core, { hosts: ['default'], script: "head -c 10485760 /dev/zero | tr '\\0' 'a'\n" });
    assert.equal(ran.job.runs[0]!.status, 'succeeded');
    const bytes = storedOutput(core.store.sqlite, core.info.dataDir, ran.job.runs[0]!.id, 'stdout');
    assert.equal(bytes.length, 10 * 1024 * 1024);
    assert.ok(bytes.every((b) => b === 0x61), 'every stored byte is the a printed');
    const grew = (process.memoryUsage().rss - rss0) / 1024 / 1024;
    assert.ok(grew < 150, `RSS grew by ${grew.toFixed(0)} MB`);
  } finally {
    core.close();
  }
});

test('CLI: run --json and the exit codes 0, 3, 1, 124, 255', async () => {
  const env = { HOME: home, SSH_AUTH_SOCK: '' };
  const base = ['--data-dir', dataDir];
  const ok = await cronium([...base, 'run', '--host', 'default', '--command', 'echo hello', '--mode', 'direct', '--json'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  const o = JSON.parse(ok.stdout.trim()) as Record<string, unknown>;
  assert.equal(o.host, 'default');
  assert.equal(o.status, 'succeeded');
  assert.equal(o.exitCode, 0);
  assert.equal(o.mode, 'direct');
  assert.ok(o.timings && typeof (o.timings as { total: number }).total === 'number');

  const three = await cronium([...base, 'run', '--host', 'default', '--command', 'echo out; exit 3'], { env });
  assert.equal(three.code, 3, three.stderr);
  assert.equal(three.stdout, 'out\n');

  const several = await cronium([...base, 'run', '--host', 'default', '--host', 'noisy', '--command', `echo "$(id -un)"; [ "$(id -un)" = ${f().host('default').user} ]`, '--json'], { env });
  assert.equal(several.code, 1, several.stderr);
  const lines = several.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string });
  assert.deepEqual(lines.map((l) => [l.host, l.status]).sort(), [['default', 'succeeded'], ['noisy', 'failed']]);

  const prefixed = await cronium([...base, 'run', '--host', 'default', '--host', 'noforward', '--command', 'echo hi'], { env });
  assert.equal(prefixed.code, 0, prefixed.stderr);
  assert.deepEqual(prefixed.stdout.trim().split('\n').sort(), ['default | hi', 'noforward | hi']);

  const timeout = await cronium([...base, 'run', '--host', 'default', '--command', 'sleep 30', '--timeout', '1s'], { env });
  assert.equal(timeout.code, 124, timeout.stderr);

  const missing = await cronium([...base, 'run', '--host', 'nobash', '--script', '-', '--interpreter', 'bash'], { env, input: 'echo hi\n' });
  assert.equal(missing.code, 255);
  assert.match(missing.stderr, /INTERPRETER_MISSING/);

  const down = await cronium([...base, 'run', '--host', 'down', '--command', 'true'], { env });
  assert.equal(down.code, 255);
  assert.match(down.stderr, /CONNECT_FAILED/);

  const bad = await cronium([...base, 'run', '--host', 'default', '--command', 'true', '--input', '{nope'], { env });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /invalid input/);

  const list = await cronium([...base, 'jobs', 'list', '--json'], { env });
  assert.equal(list.code, 0);
  assert.ok((JSON.parse(list.stdout) as unknown[]).length >= 6);
});

test('CLI: Ctrl-C cancels the job, kills the script on the host, and exits 130', async () => {
  const marker = `64.${Date.now() % 100000}`;
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', dataDir, 'run', '--host', 'default', '--mode', 'direct', '--command', `sleep ${marker}`], {
    env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const p = await until('the sleep to start', () => processes().find((x) => x.args === `sleep ${marker}`), 15_000);
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  await expectGroupGone(p.pgid);
});

test('the app killed with SIGKILL mid-run: the host kills the script (EOF on the channel), and recovery leaves no run running', async () => {
  const marker = `63.${Date.now() % 100000}`;
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', dataDir, 'run', '--host', 'default', '--mode', 'direct', '--command', `sleep ${marker}`], {
    env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '' },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  const p = await until('the sleep to start', () => processes().find((x) => x.args === `sleep ${marker}`), 15_000);
  child.kill('SIGKILL');
  await exited;
  await expectGroupGone(p.pgid);
  // The run is left `running` with a lease; once it expires, recovery resolves it (lost, with a reason).
  const core = open();
  try {
    const run = core.store.sqlite.prepare("select id, status from runs where status = 'running'").get() as { id: number } | undefined;
    assert.ok(run, 'the killed CLI left its run running');
    const rec = await core.queue.recover(Date.now() + 60_000);
    assert.ok(rec.lost.includes(run.id));
    assert.equal(core.store.sqlite.prepare("select count(*) from runs where status in ('running', 'claimed')").pluck().get(), 0);
  } finally {
    core.close();
  }
});

test('CLI: jobs show, logs and schedules add/list/pause/resume/rm', async () => {
  const env = { HOME: home, SSH_AUTH_SOCK: '' };
  const base = ['--data-dir', dataDir];
  const r = await cronium([...base, 'run', '--host', 'default', '--host', 'maxsessions1', '--command', 'echo line-a; echo line-b >&2', '--json'], { env });
  assert.equal(r.code, 0, r.stderr);
  const jobId = (JSON.parse(r.stdout.split('\n')[0]!) as { jobId: number }).jobId;
  const logs = await cronium([...base, 'jobs', 'logs', String(jobId), '--follow'], { env });
  assert.equal(logs.code, 0, logs.stderr);
  assert.deepEqual(logs.stdout.trim().split('\n').sort(), ['default | line-a', 'maxsessions1 | line-a']);
  assert.match(logs.stderr, /default \| line-b/);
  const show = await cronium([...base, 'jobs', 'show', String(jobId)], { env });
  assert.match(show.stdout, /succeeded/);
  const script = join(scratch, 'tick.sh');
  writeFileSync(script, 'echo tick\n');
  const add = await cronium([...base, 'schedules', 'add', 'nightly', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--host', 'default', '--script', script, '--json'], { env });
  assert.equal(add.code, 0, add.stderr);
  assert.equal((JSON.parse(add.stdout) as { tz: string }).tz, 'Europe/Berlin');
  const badCron = await cronium([...base, 'schedules', 'add', 'bad', '--cron', '61 * * * *', '--host', 'default', '--script', script], { env });
  assert.equal(badCron.code, 2);
  assert.match(badCron.stderr, /invalid cron/);
  assert.equal((await cronium([...base, 'schedules', 'pause', 'nightly'], { env })).code, 0);
  const list = await cronium([...base, 'schedules', 'list'], { env });
  assert.match(list.stdout, /nightly.*paused/);
  assert.equal((await cronium([...base, 'schedules', 'resume', 'nightly'], { env })).code, 0);
  assert.equal((await cronium([...base, 'schedules', 'rm', 'nightly'], { env })).code, 0);
  assert.equal((await cronium([...base, 'schedules', 'rm', 'nightly'], { env })).code, 1);
});

test('a schedule every second under a Scheduler and a Worker fires every second, never twice', async () => {
  const core = open();
  const owner = `test-serve:${process.pid}`;
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner });
  const scheduler = new Scheduler({ store: core.store.data, queue: core.queue, owner, resolveTargets: (t) => core.jobs.resolveTargets(t), onFire: () => worker.poke() });
  try {
    await call(core.dispatch, 'schedules.add', { name: 'every-second', cron: '* * * * * *', hosts: ['default'], script: 'echo tick\n', interpreter: 'sh', mode: 'direct', overlap: 'parallel' }, ctx);
    worker.start();
    scheduler.start(200);
    await new Promise((r) => setTimeout(r, 4200));
    await scheduler.stop();
    await until('the runs to end', () => (core.store.sqlite.prepare("select count(*) from jobs j join schedules s on s.id = j.schedule_id where s.name = 'every-second' and j.status in ('queued', 'running')").pluck().get() as number) === 0, 10_000);
    const jobs = await call(core.dispatch, 'jobs.list', { schedule: 'every-second', limit: 100 }, ctx);
    assert.ok(jobs.length >= 3 && jobs.length <= 5, `${jobs.length} jobs in ~4.2 s`);
    const seconds = jobs.map((j) => Math.floor(j.createdAt / 1000));
    assert.equal(new Set(seconds).size, seconds.length, `two fires in one second: ${seconds.join(',')}`);
    for (const j of jobs) assert.equal(j.status, 'succeeded');
  } finally {
    await scheduler.stop();
    await worker.stop();
    core.close();
  }
});

test('`cronium serve` fires a per-second schedule on time, never twice, and stops on SIGTERM', async () => {
  const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '' };
  const script = join(scratch, 'serve-tick.sh');
  writeFileSync(script, 'echo tick\n');
  const add = await cronium(['--data-dir', dataDir, 'schedules', 'add', 'serve-tick', '--cron', '* * * * * *', '--host', 'default', '--script', script, '--interpreter', 'sh', '--mode', 'direct', '--overlap', 'parallel'], { env });
  assert.equal(add.code, 0, add.stderr);
  const serve = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', dataDir, 'serve', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  serve.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => serve.once('exit', (code) => r(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      serve.stdout.once('data', () => resolve());
      serve.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    await new Promise((r) => setTimeout(r, 4200));
    // Pause first, so that no fire is in flight when serve stops.
    assert.equal((await cronium(['--data-dir', dataDir, 'schedules', 'pause', 'serve-tick'], { env })).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    serve.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  const jobs = JSON.parse((await cronium(['--data-dir', dataDir, 'jobs', 'list', '--schedule', 'serve-tick', '--json'], { env })).stdout) as { status: string; createdAt: number }[];
  assert.ok(jobs.length >= 3 && jobs.length <= 6, `${jobs.length} jobs in ~4.5 s`);
  const seconds = jobs.map((j) => Math.floor(j.createdAt / 1000));
  assert.equal(new Set(seconds).size, seconds.length, `two fires in one second: ${seconds.join(',')}`);
  // On time: each fire within a fraction of its second (the scheduler sleeps until the due time).
  const late = jobs.map((j) => j.createdAt % 1000);
  assert.ok(late.every((ms) => ms < 500), `fired late by ${late.join(', ')} ms`);
  for (const j of jobs) assert.equal(j.status, 'succeeded', JSON.stringify(j));
});
