// Runtime helpers end to end on a real fleet with the real runner: bash, sh, python3 and node
// scripts use every helper over the SSH reverse tunnel (a host that forwards) and in-band (a
// host whose sshd forbids forwarding), through `cronium run` and through schedules; a schedule fires a python script
// whose condition starts a follow-up on another host that receives its output; token abuse
// over the real tunnel gets its codes; the token is never on any process's command line.
// Needs root (sshd on port 22), Go-built runner artifacts and a built dist/.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { HelperHttpDoor } from '../../../electron/core/helper-api/http-door';
import { HelperRuntime } from '../../../electron/core/helper-api/runtime';
import { Worker } from '../../../electron/core/exec/worker';
import { Scheduler } from '../../../electron/core/scheduler/scheduler';
import { cronium, ROOT } from '../../helpers/cli';
import { startWorkspace, until, type Workspace } from '../../helpers/workspace';

// Other integration suites use 201-216 and 220-226.
const SUBNET = 230;
const ctx = { door: 'cli' as const };

let ws: Workspace | undefined;
let scratch = '';
let dataDir = '';
let env: NodeJS.ProcessEnv = {};

function w(): Workspace {
  assert.ok(ws, 'workspace not started');
  return ws;
}

const open = () => w().open();

/** A running job on a host, straight in the store, and a way to add running runs to it (for HelperRuntime sessions). */
function runningJob(core: ReturnType<typeof open>, host: string, now: number): { hostId: number; job: number; mkRun: () => number } {
  const db = core.store.sqlite;
  const hostId = db.prepare(`select id from hosts where name = ?`).pluck().get(host) as number;
  const job = Number(db.prepare(`insert into jobs (kind, interpreter, script_body, target, mode, status, requested_by, created_at) values ('adhoc', 'bash', 'true', '{}', 'runner', 'running', 'cli', ?)`).run(now).lastInsertRowid);
  const mkRun = () => Number(db.prepare(`insert into runs (job_id, host_id, host_name, status, queued_at) values (?, ?, ?, 'running', ?)`).run(job, hostId, host, now).lastInsertRowid);
  return { hostId, job, mkRun };
}

before(async () => {
  assert.ok(existsSync(join(ROOT, 'resources/runner/manifest.json')), 'runner artifacts are not built: run `npm run build:runner`');
  ws = await startWorkspace('helpers-test', { subnet: SUBNET, hosts: [{ name: 'fwd', profile: 'default' }, { name: 'nofwd', profile: 'noforward' }, { name: 'other', profile: 'nosftp' }] });
  ({ scratch, dataDir, env } = ws);
  const core = open();
  try {
    await ws.addFleetHosts(core);
    await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'eu' }, ctx);
    await call(core.dispatch, 'vars.set', { key: 'REGION', value: 'eu-west', host: 'fwd' }, ctx);
  } finally {
    core.close();
  }
});

after(async () => {
  await ws?.stop();
});

/** Every helper, once, in each language; the output names what each returned. */
const SCRIPTS: Record<'bash' | 'sh' | 'python3' | 'node', string> = {
  bash: `in=$(cronium input)
region=$(cronium get-var REGION)
cronium set-var LAST_bash "$region"
cronium condition true
ev=$(cronium event)
cronium get-var MISSING 2>/dev/null; miss=$?
cronium output "{\\"input\\":$in,\\"region\\":\\"$region\\",\\"host\\":$(printf '%s' "$ev" | sed 's/.*"host":\\("[^"]*"\\).*/\\1/'),\\"miss\\":$miss}"
`,
  sh: `in=$(cronium input)
region=$(cronium get-var REGION)
cronium set-var LAST_sh "$region" && cronium condition true
ev=$(cronium event)
cronium get-var MISSING 2>/dev/null; miss=$?
cronium output "{\\"input\\":$in,\\"region\\":\\"$region\\",\\"host\\":$(printf '%s' "$ev" | sed 's/.*"host":\\("[^"]*"\\).*/\\1/'),\\"miss\\":$miss}"
`,
  python3: `import cronium
inp = cronium.input()
region = cronium.getVariable("REGION")
cronium.setVariable("LAST_python3", region)
cronium.setCondition(True)
ev = cronium.event()
cronium.output({"input": inp, "region": region, "host": ev["host"], "miss": cronium.getVariable("MISSING")})
`,
  node: `const cronium = require('cronium');
const input = cronium.input();
const region = cronium.getVariable('REGION');
cronium.setVariable('LAST_node', region);
cronium.setCondition(true);
const ev = cronium.event();
cronium.output({ input, region, host: ev.host, miss: cronium.getVariable('MISSING') });
`,
};

test('every helper in bash, sh, python3 and node, over the tunnel and in-band, through `cronium run`', async () => {
  for (const [interpreter, body] of Object.entries(SCRIPTS)) {
    const file = join(scratch, `helpers.${interpreter}`);
    writeFileSync(file, body);
    const r = await cronium(['--data-dir', dataDir, 'run', '--host', 'fwd', '--host', 'nofwd', '--script', file, '--interpreter', interpreter, '--mode', 'runner', '--input', '{"n":1}', '--json'], { env });
    assert.equal(r.code, 0, `${interpreter}: ${r.stdout}\n${r.stderr}`);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { host: string; status: string; mode: string; output: Record<string, unknown> });
    for (const host of ['fwd', 'nofwd']) {
      const row = rows.find((x) => x.host === host);
      assert.ok(row, `${interpreter}: no row for ${host}`);
      assert.equal(row.mode, 'runner');
      const miss = interpreter === 'bash' || interpreter === 'sh' ? 1 : null;
      assert.deepEqual(row.output, { input: { n: 1 }, region: host === 'fwd' ? 'eu-west' : 'eu', host, miss }, `${interpreter} on ${host}`);
    }
  }
  const core = open();
  try {
    const rows = core.store.sqlite.prepare('select host_name as host, helper_transport as t, condition from runs order by id').all() as { host: string; t: string; condition: number }[];
    assert.equal(rows.length, 8);
    for (const row of rows) {
      assert.equal(row.t, row.host === 'fwd' ? 'tunnel' : 'in-band', JSON.stringify(row));
      assert.equal(row.condition, 1);
    }
    for (const lang of ['bash', 'sh', 'python3', 'node']) {
      // setVariable writes the host's own variable (the job did not allow global writes): each
      // host kept what it read, and no global variable of that name exists.
      for (const [host, region] of [['fwd', 'eu-west'], ['nofwd', 'eu']] as const) {
        const v = await call(core.dispatch, 'vars.get', { key: `LAST_${lang}`, host }, ctx);
        assert.deepEqual([v.host, v.value], [host, region], `${lang} on ${host}`);
      }
      await assert.rejects(call(core.dispatch, 'vars.get', { key: `LAST_${lang}` }, ctx), /no variable/);
    }
    const audit = core.store.sqlite.prepare(`select count(*) from audit_log where actor = 'helper' and action = 'helper.getVariable'`).pluck().get() as number;
    assert.equal(audit, 16, 'two getVariable calls per run, each audited');
  } finally {
    core.close();
  }
});

test('the token is only in the script environment: never on a command line, in the log or in the store', async () => {
  const marker = join('/tmp', `cronium-token-${process.pid}-${Date.now()}`);
  const file = join(scratch, 'token.sh');
  writeFileSync(file, `umask 077; printf '%s' "$CRONIUM_HELPER_TOKEN" > ${marker}.tmp && mv ${marker}.tmp ${marker}\ncronium get-var REGION\nsleep 2\necho done\n`);
  const running = cronium(['--data-dir', dataDir, 'run', '--host', 'fwd', '--host', 'nofwd', '--script', file, '--mode', 'runner', '--json'], { env });
  try {
    const token = await until('the script to write its token', () => existsSync(marker) && readFileSync(marker, 'utf8'), 20_000);
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    let inEnviron = 0;
    let scanned = 0;
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`);
        scanned++;
        assert.ok(!cmdline.includes(token), `the token is on the command line of pid ${pid}: ${cmdline.toString().split('\0').join(' ')}`);
        try {
          if (readFileSync(`/proc/${pid}/environ`).includes(token)) inEnviron++;
        } catch (e) {
          // Some processes' environments are closed even to root here (pid 1 of a container).
          if ((e as { code?: string }).code !== 'EACCES') throw e;
        }
      } catch (e) {
        if ((e as { code?: string }).code !== 'ENOENT' && (e as { code?: string }).code !== 'ESRCH') throw e;
      }
    }
    assert.ok(scanned > 10 && inEnviron >= 1, `scanned ${scanned} processes, the token in ${inEnviron} environments`);
    const r = await running;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token));
    const core = open();
    try {
      const last = core.store.sqlite.prepare('select id from runs order by id desc limit 1').pluck().get() as number;
      const page = await call(core.dispatch, 'runs.logs', { runId: last, limit: 1000 }, ctx);
      assert.ok(!page.chunks.some((c) => Buffer.from(c.data, 'base64').toString().includes(token)));
    } finally {
      core.close();
    }
    for (const name of readdirSync(dataDir)) {
      if (name.startsWith('cronium.db')) assert.ok(!readFileSync(join(dataDir, name)).includes(token), `the token is in ${name}`);
    }
  } finally {
    // Both hosts' scripts write the marker: remove it (and a half-written one) once both ended.
    await running.catch(() => undefined);
    rmSync(marker, { force: true });
    rmSync(`${marker}.tmp`, { force: true });
  }
});

test('token abuse over the real tunnel: wrong, foreign-run, expired and revoked tokens, tool actions, bad bodies', async () => {
  const core = open();
  try {
    const now = Date.now();
    const { hostId, job, mkRun } = runningJob(core, 'fwd', now);
    const [a, b] = [mkRun(), mkRun()];
    const runtime = new HelperRuntime({ api: core.helperApi, door: new HelperHttpDoor(core.helperApi), tokens: core.helperApi.tokens });
    const conn = await core.ssh.connect(await core.hosts.sshTarget('fwd'));
    const sa = await runtime.begin(conn, { runId: a, jobId: job, hostId }, now + 60_000);
    const sb = await runtime.begin(conn, { runId: b, jobId: job, hostId }, now + 60_000);
    assert.equal(sa.transport, 'tunnel');
    assert.ok(sa.settings.transport === 'tunnel' && sb.settings.transport === 'tunnel' && sa.settings.port !== sb.settings.port);
    const tokenA = sa.settings.transport === 'tunnel' ? sa.settings.token : '';
    const portA = sa.settings.transport === 'tunnel' ? sa.settings.port : 0;
    const portB = sb.settings.transport === 'tunnel' ? sb.settings.port : 0;
    const expired = (await core.helperApi.tokens.issue({ runId: a, jobId: job, hostId }, now - 5_000)).token;
    // Requests made on the host itself (python3 over its loopback), as a script there could.
    const post = async (port: number, op: string, token: string, body: string): Promise<string> => {
      const py = `import http.client,sys\nc=http.client.HTTPConnection("127.0.0.1",${port},timeout=10)\nc.request("POST","/v1/${op}",body=sys.stdin.read(),headers={"Authorization":"Bearer ${token}","Content-Type":"application/json"})\nr=c.getresponse()\nprint(r.status, r.read().decode())`;
      const r = await conn.exec(`python3 -c '${py.replace(/'/g, `'\\''`)}'`, { stdin: body });
      return r.stdout.toString().trim();
    };
    // (The token is on this test's own command line here only because the test plays an attacker.)
    assert.match(await post(portA, 'getVariable', tokenA, '{"key":"REGION"}'), /^200 \{"found":true,"value":"eu-west"\}$/);
    assert.match(await post(portA, 'input', 'x.y.z', '{}'), /^401 .*HELPER_TOKEN_INVALID/);
    assert.match(await post(portB, 'input', tokenA, '{}'), /^403 .*HELPER_FORBIDDEN.*another run/);
    assert.match(await post(portA, 'input', expired, '{}'), /^401 .*HELPER_TOKEN_EXPIRED/);
    assert.match(await post(portA, 'toolAction', tokenA, '{}'), /^403 .*TOOL_ACTION_FORBIDDEN/);
    assert.match(await post(portA, 'setCondition', tokenA, '{"value":"maybe"}'), /^400 .*INVALID_INPUT/);
    sa.end();
    const revokedReply = await sa.answer({ id: 1, op: 'input', token: tokenA, body: {} });
    assert.equal((revokedReply.body.error as { code: string }).code, 'HELPER_TOKEN_REVOKED');
    // The ended run's tunnel is closed on the host: the connection is refused there.
    let last = 'not tried';
    for (let i = 0; i < 50 && last !== ''; i++) last = await post(portA, 'input', tokenA, '{}');
    assert.equal(last, '', 'the port of an ended run still answers');
    sb.end();
  } finally {
    core.close();
  }
});

test('through a schedule: every helper in bash, sh, python3 and node, on both transports', async () => {
  const core = open();
  const owner = `test-helpers-sched:${process.pid}`;
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner, ...core.runHooks });
  const detach = core.jobs.attach(worker);
  const scheduler = new Scheduler({ store: core.store.data, queue: core.queue, owner, resolveTargets: (t) => core.jobs.resolveTargets(t), onFire: () => worker.poke() });
  const langs = Object.keys(SCRIPTS) as (keyof typeof SCRIPTS)[];
  try {
    for (const lang of langs) {
      await call(core.dispatch, 'schedules.add', { name: `every-${lang}`, cron: '* * * * * *', hosts: ['fwd', 'nofwd'], script: SCRIPTS[lang], interpreter: lang, mode: 'runner', overlap: 'skip' }, ctx);
    }
    worker.start();
    scheduler.start(200);
    const fired = new Map<string, number>();
    await until('every schedule to fire', () => {
      for (const lang of langs) {
        if (fired.has(lang)) continue;
        const id = core.store.sqlite.prepare(`select j.id from jobs j join schedules s on s.id = j.schedule_id where s.name = ? order by j.id limit 1`).pluck().get(`every-${lang}`) as number | undefined;
        if (id !== undefined) fired.set(lang, id);
      }
      return fired.size === langs.length;
    }, 20_000);
    await scheduler.stop();
    for (const lang of langs) await call(core.dispatch, 'schedules.pause', { name: `every-${lang}` }, ctx);
    for (const [lang, jobId] of fired) {
      await until(`the ${lang} job to end`, () => !['queued', 'running'].includes(core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string), 30_000);
      const job = await call(core.dispatch, 'jobs.get', { id: jobId }, ctx);
      assert.equal(job.status, 'succeeded', `${lang}: ${JSON.stringify(job.runs.map((r) => [r.errorCode, r.errorMessage]))}`);
      for (const r of job.runs) {
        const miss = lang === 'bash' || lang === 'sh' ? 1 : null;
        assert.deepEqual(r.output, { input: null, region: r.host === 'fwd' ? 'eu-west' : 'eu', host: r.host, miss }, `${lang} on ${r.host}`);
        assert.equal(r.helperTransport, r.host === 'fwd' ? 'tunnel' : 'in-band');
        assert.equal(r.condition, true);
      }
    }
  } finally {
    await scheduler.stop();
    await worker.stop();
    detach();
    core.close();
  }
});

test('a host that refuses forwarding is asked once: a new connection to it goes in-band at once, and says why only the first time', async () => {
  const core = open();
  try {
    const now = Date.now();
    const { hostId, job, mkRun } = runningJob(core, 'nofwd', now);
    const runtime = new HelperRuntime({ api: core.helperApi, door: new HelperHttpDoor(core.helperApi), tokens: core.helperApi.tokens });
    const target = await core.hosts.sshTarget('nofwd');
    // Two separate connections, as a host that takes one channel per connection (TinySSH) gets.
    const first = await core.ssh.connect(target);
    const s1 = await runtime.begin(first, { runId: mkRun(), jobId: job, hostId }, now + 60_000);
    first.close();
    const second = await core.ssh.connect({ ...target });
    const s2 = await runtime.begin(second, { runId: mkRun(), jobId: job, hostId }, now + 60_000);
    assert.equal(s1.transport, 'in-band');
    assert.match(s1.fallbackReason ?? '', /refused the helper tunnel/);
    assert.equal(s1.fallbackNew, true, 'learned by the first run: said');
    assert.equal(s2.transport, 'in-band');
    assert.equal(s2.fallbackReason, s1.fallbackReason);
    assert.equal(s2.fallbackNew, false, 'remembered for the host: not said again');
    s1.end();
    s2.end();
  } finally {
    core.close();
  }
});

test('a schedule fires a python script whose condition starts a follow-up on another host with its output as input', async () => {
  const core = open();
  const owner = `test-helpers:${process.pid}`;
  const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner, ...core.runHooks });
  const detach = core.jobs.attach(worker);
  const scheduler = new Scheduler({ store: core.store.data, queue: core.queue, owner, resolveTargets: (t) => core.jobs.resolveTargets(t), onFire: () => worker.poke() });
  try {
    await call(core.dispatch, 'scripts.save', { name: 'echo-input', interpreter: 'sh', body: 'cat\n' }, ctx);
    await call(core.dispatch, 'scripts.save', { name: 'never', interpreter: 'sh', body: 'echo should-not-run\n' }, ctx);
    await call(core.dispatch, 'scripts.save', {
      name: 'decide',
      interpreter: 'python3',
      body: 'import cronium\ncronium.output({"disk": 91, "host": cronium.event()["host"]})\ncronium.setCondition(True)\n',
      followups: [
        { on: 'condition', script: 'echo-input', hosts: ['other'] },
        { on: 'failure', script: 'never' },
      ],
    }, ctx);
    await call(core.dispatch, 'schedules.add', { name: 'decide-every-second', cron: '* * * * * *', hosts: ['nofwd'], scriptName: 'decide', mode: 'runner', overlap: 'skip' }, ctx);
    worker.start();
    scheduler.start(200);
    const parent = await until('the schedule to fire', () => core.store.sqlite.prepare(`select j.id from jobs j join schedules s on s.id = j.schedule_id where s.name = 'decide-every-second' order by j.id limit 1`).pluck().get() as number | undefined, 20_000);
    await call(core.dispatch, 'schedules.pause', { name: 'decide-every-second' }, ctx);
    await scheduler.stop();
    const child = await until('the follow-up to run', () => core.store.sqlite.prepare(`select id from jobs where parent_job_id = ? and status in ('succeeded', 'failed')`).pluck().get(parent) as number | undefined, 30_000);
    const tree = await call(core.dispatch, 'jobs.tree', { id: child }, ctx);
    assert.equal(tree.job.id, parent);
    assert.equal(tree.children.length, 1, 'only the condition follow-up fired (not failure)');
    assert.equal(tree.children[0]!.trigger?.on, 'condition');
    const childJob = await call(core.dispatch, 'jobs.get', { id: child }, ctx);
    assert.equal(childJob.status, 'succeeded');
    assert.deepEqual(childJob.hosts, ['other']);
    const page = await call(core.dispatch, 'runs.logs', { runId: childJob.runs[0]!.id, limit: 100 }, ctx);
    const text = page.chunks.filter((c) => c.stream === 'stdout').map((c) => Buffer.from(c.data, 'base64').toString()).join('');
    assert.deepEqual(JSON.parse(text.trim()), { disk: 91, host: 'nofwd' });
  } finally {
    await scheduler.stop();
    await worker.stop();
    detach();
    core.close();
  }
});

test('through the runner on both transports: a forged token and a tool action are refused with their codes', async () => {
  const file = join(scratch, 'abuse.sh');
  writeFileSync(file, `echo '{}' | cronium raw toolAction\nCRONIUM_HELPER_TOKEN=forged.token.x cronium event; echo "forged rc=$?"\ncronium event >/dev/null; echo "own rc=$?"\n`);
  const r = await cronium(['--data-dir', dataDir, 'run', '--host', 'fwd', '--host', 'nofwd', '--script', file, '--mode', 'runner'], { env });
  assert.equal(r.code, 0, r.stderr);
  for (const host of ['fwd', 'nofwd']) {
    const lines = r.stdout.split('\n').filter((l) => l.startsWith(`${host}`)).join('\n');
    const errs = r.stderr.split('\n').filter((l) => l.startsWith(`${host}`)).join('\n');
    assert.match(lines, /"status":403.*TOOL_ACTION_FORBIDDEN/, `${host}: ${lines}`);
    assert.match(lines, /forged rc=3/, host);
    assert.match(errs + lines, /HELPER_TOKEN_INVALID/, `${host}: ${errs}`);
    assert.match(lines, /own rc=0/, host);
  }
});

test('a secret variable reaches a script only when its job declares it (--secret); the value stays masked in the log', async () => {
  const core = open();
  try {
    await call(core.dispatch, 'vars.set', { key: 'DB_PASS', value: 'tr0ub4dor-secret', secret: true }, ctx);
  } finally {
    core.close();
  }
  const script = 'v=$(cronium get-var DB_PASS 2>/tmp/err.$$); rc=$?; cat /tmp/err.$$ >&2; rm -f /tmp/err.$$; [ "$v" = tr0ub4dor-secret ] && echo same; echo "rc=$rc"';
  const refused = await cronium(['--data-dir', dataDir, 'run', '--host', 'fwd', '--host', 'nofwd', '--command', script, '--interpreter', 'sh', '--mode', 'runner'], { env });
  const text = `${refused.stdout}${refused.stderr}`;
  assert.equal((text.match(/rc=3/g) ?? []).length, 2, text);
  assert.equal((text.match(/HELPER_FORBIDDEN/g) ?? []).length >= 2, true, text);
  assert.ok(!text.includes('same'), text);
  const allowed = await cronium(['--data-dir', dataDir, 'run', '--host', 'fwd', '--host', 'nofwd', '--command', script, '--interpreter', 'sh', '--mode', 'runner', '--secret', 'DB_PASS'], { env });
  const ok = `${allowed.stdout}${allowed.stderr}`;
  assert.equal(allowed.code, 0, ok);
  assert.equal((ok.match(/same/g) ?? []).length, 2, `both hosts, tunnel and in-band: ${ok}`);
  assert.equal((ok.match(/rc=0/g) ?? []).length, 2, ok);
  assert.ok(!ok.includes('tr0ub4dor'), 'never printed');
});
