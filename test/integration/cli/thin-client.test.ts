// The `cronium` command as a thin client of the running app: with `cronium serve` on the data
// dir, `cronium run` goes through its local door (unix socket 0600 + key) and the app executes
// it; a stale socket is detected and the command runs in its own process; CRONIUM_USE_APP
// chooses; another user and a wrong key are refused. Real serve, real CLI, real sshd.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium, ROOT } from '../../helpers/cli';
import { startWorkspaceWithHosts, until, type Workspace } from '../../helpers/workspace';

// Other integration suites use 201-231 and 242.
const SUBNET = 232;
let ws: Workspace | undefined;
let serve: ChildProcess | undefined;

const w = () => ws!;
const sock = () => join(w().dataDir, 'cronium.sock');

async function startServe(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', w().dataDir, 'serve', '--json'], { env: w().env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await until('serve to listen on its socket', () => out.includes('"url"') && existsSync(sock()), 20_000).catch(() => assert.fail(`serve did not start: ${out}`));
  return child;
}

/** The actor of the newest job.run audit row: `headless` when serve ran it, `cli` when the command did. */
function lastRunActor(): string {
  const r = spawnSync('sqlite3', [join(w().dataDir, 'cronium.db'), "select actor from audit_log where action = 'job.run' order by id desc limit 1"], { encoding: 'utf8' });
  if (r.status === 0) return r.stdout.trim();
  // No sqlite3 CLI: read it through Node.
  const code = `const D=require('better-sqlite3');const d=new D(${JSON.stringify(join(w().dataDir, 'cronium.db'))},{readonly:true});process.stdout.write(d.prepare("select actor from audit_log where action = 'job.run' order by id desc limit 1").pluck().get())`;
  return spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: ROOT }).stdout.trim();
}

before(async () => {
  ws = await startWorkspaceWithHosts('thin-client', { subnet: SUBNET, hosts: [{ name: 'web', profile: 'default' }] });
});
after(async () => {
  serve?.kill('SIGKILL');
  await ws?.stop();
});

test('with serve running, `cronium run` goes through it: output, exit code and --json as in-process', async () => {
  serve = await startServe();
  assert.equal(statSync(sock()).mode & 0o777, 0o600, 'the socket');
  assert.equal(statSync(join(w().dataDir, 'cronium.sock.key')).mode & 0o777, 0o600, 'the key');
  const r = await cronium(['--data-dir', w().dataDir, 'run', '--host', 'web', '--mode', 'direct', '--command', 'echo hi; echo oops >&2; exit 3'], { env: { ...w().env, CRONIUM_USE_APP: 'always' } });
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, 'hi\n');
  assert.match(r.stderr, /oops/);
  assert.equal(lastRunActor(), 'headless', 'the app ran it');
  const j = await cronium(['--data-dir', w().dataDir, '--json', 'run', '--host', 'web', '--command', 'echo json'], { env: w().env });
  assert.equal(j.code, 0, `${j.stderr}${j.stdout}`);
  const row = JSON.parse(j.stdout) as { host: string; status: string };
  assert.deepEqual([row.host, row.status], ['web', 'succeeded']);
  assert.equal(lastRunActor(), 'headless');
  const local = await cronium(['--data-dir', w().dataDir, 'run', '--host', 'web', '--mode', 'direct', '--command', 'echo here'], { env: { ...w().env, CRONIUM_USE_APP: 'never' } });
  assert.equal(local.code, 0, local.stderr);
  assert.equal(lastRunActor(), 'cli', 'CRONIUM_USE_APP=never runs in the command itself');
});

test('only this data dir\'s owner with its key gets in: a wrong key is refused, another user cannot connect', async () => {
  assert.ok(serve, 'serve runs');
  const answer = await new Promise<string>((resolve) => {
    const s = connect(sock());
    let got = '';
    s.on('connect', () => s.write(`${JSON.stringify({ type: 'hello', key: 'f'.repeat(64) })}\n`));
    s.on('data', (d) => (got += d));
    s.on('close', () => resolve(got));
  });
  assert.match(answer, /APP_UNAUTHORIZED/);
  const uid = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${w().fleet.host('web').user}:`))!.split(':')[2]);
  const other = spawnSync(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sock())}).on('connect',()=>{console.log('connected');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(0)})`], { uid, gid: uid, encoding: 'utf8' });
  assert.match(other.stdout, /EACCES|ENOENT/, `another user: ${other.stdout}${other.stderr}`);
});

test('a stale socket (the app was killed) is detected: auto runs in-process, always says APP_NOT_RUNNING', async () => {
  serve!.kill('SIGKILL');
  await new Promise((r) => serve!.once('exit', r));
  serve = undefined;
  assert.ok(existsSync(sock()), 'the killed app left its socket behind');
  const auto = await cronium(['--data-dir', w().dataDir, 'run', '--host', 'web', '--mode', 'direct', '--command', 'echo still'], { env: w().env });
  assert.equal(auto.code, 0, auto.stderr);
  assert.equal(auto.stdout, 'still\n');
  assert.equal(lastRunActor(), 'cli');
  const always = await cronium(['--data-dir', w().dataDir, 'run', '--host', 'web', '--command', 'true'], { env: { ...w().env, CRONIUM_USE_APP: 'always' } });
  assert.equal(always.code, 1, always.stderr);
  assert.match(always.stderr, /^error\[APP_NOT_RUNNING\]: no Cronium app serves/);
  // A new serve replaces the stale socket.
  serve = await startServe();
  const again = await cronium(['--data-dir', w().dataDir, 'run', '--host', 'web', '--command', 'echo back'], { env: { ...w().env, CRONIUM_USE_APP: 'always' } });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(lastRunActor(), 'headless');
  serve.kill('SIGTERM');
  await new Promise((r) => serve!.once('exit', r));
  serve = undefined;
  assert.ok(!existsSync(join(w().dataDir, 'cronium.sock.key')), 'a clean stop removes the key');
});
