// Faults during a runner deploy: the connection is cut while the binary is being written on the
// host (caught with inotify the moment the temporary file appears), and a half-written binary
// is left where the runner lives. Neither is ever executed: the deploy writes a temporary,
// checks its SHA-256 and renames it; every run checks the cached binary's hash before it starts
// it and replaces a bad one. The script runs exactly once, its output is complete.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, readFileSync, readdirSync, statSync, truncateSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../electron/core/api/dispatcher';
import { ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../helpers/workspace';

// Its own host account (crfd-default), so no other suite's runner cache is touched.
process.env.CRONIUM_FLEET_ACCOUNT_PREFIX ??= 'crfd';
const SUBNET = 124;
let ws: Workspace | undefined;
let home = '';
const figures = { tried: 0, survived: 0, lost: 0, stuck: 0 };
const signed = JSON.parse(readFileSync(join(ROOT, 'resources/runner/manifest.json'), 'utf8')) as { artifacts?: { target: string; sha256: string }[] } & Record<string, unknown>;

before(async () => {
  ws = await startWorkspaceWithHosts('deploy-cut', { subnet: SUBNET, hosts: [{ name: 'host', profile: 'default' }] });
  const user = ws.fleet.host('host').user;
  home = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`))!.split(':')[5]!;
});
after(async () => {
  await ws?.stop();
  console.log(`fault-figures: deploy cut / half-written binary | tried ${figures.tried} | survived ${figures.survived} | lines lost ${figures.lost} | runs stuck ${figures.stuck}`);
});

const cache = () => join(home, '.cache', 'cronium');

/** The SHA-256 the signed manifest gives this machine's runner. */
function signedSha(): string {
  const raw = JSON.stringify(signed);
  const m = new RegExp(`"linux-amd64"[^}]*?"sha256"\\s*:\\s*"([0-9a-f]{64})"`).exec(raw) ?? new RegExp(`"sha256"\\s*:\\s*"([0-9a-f]{64})"[^}]*?"linux-amd64"`).exec(raw);
  assert.ok(m, 'the manifest names the linux-amd64 runner and its sha256');
  return m[1]!;
}

/** Every cached runner binary (the final name, not temporaries). */
function cachedRunners(): string[] {
  if (!existsSync(cache())) return [];
  return readdirSync(cache(), { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join(cache(), d.name, 'cronium-runner'))).map((d) => join(cache(), d.name, 'cronium-runner'));
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), '--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  return { code, stdout, stderr };
}

async function lastRun(): Promise<{ status: string; output: string }> {
  const core = ws!.open();
  try {
    const jobs = await call(core.dispatch, 'jobs.list', { limit: 1 }, { door: 'cli' });
    const job = await call(core.dispatch, 'jobs.get', { id: jobs[0]!.id }, { door: 'cli' });
    const run = job.runs[0]!;
    const page = await call(core.dispatch, 'runs.logs', { runId: run.id, limit: 1000 }, { door: 'cli' });
    const output = Buffer.concat(page.chunks.filter((c) => c.stream === 'stdout').map((c) => Buffer.from(c.data, 'base64'))).toString();
    const open = core.store.sqlite.prepare("select count(*) from runs where status in ('queued', 'claimed', 'running')").pluck().get() as number;
    figures.stuck += open;
    assert.equal(open, 0, 'nothing is left running');
    return { status: run.status, output };
  } finally {
    core.close();
  }
}

test('the connection cut while the runner is written on the host: the run fails before its script, the half-written file never runs, the next run deploys and runs once', async () => {
  figures.tried++;
  const w = ws!;
  const cleaned = await cli(['runner', 'clean', 'host']);
  assert.equal(cleaned.code, 0, cleaned.stderr);
  // The cache root exists (0700, the account's), so inotify can watch for the deploy's temporary.
  mkdirSync(cache(), { recursive: true, mode: 0o700 });
  const { uid, gid } = statSync(home);
  chownSync(join(home, '.cache'), uid, gid);
  chownSync(cache(), uid, gid);
  let cut = 0;
  const temporaries = new Set<string>();
  const watcher: FSWatcher = watch(cache(), { recursive: true }, (_event, name) => {
    if (!name || !/\.cronium-runner\..*\.tmp$/.test(name.toString())) return;
    temporaries.add(join(cache(), name.toString()));
    if (cut === 0) cut = w.fleet.killSessions('host');
  });
  let first;
  try {
    first = await cli(['--json', 'run', '--host', 'host', '--mode', 'runner', '--command', 'echo ran-once']);
  } finally {
    watcher.close();
  }
  assert.ok(cut >= 1, 'the deploy was cut: the watcher saw the temporary file');
  assert.equal(first.code, 255, first.stderr);
  const failed = JSON.parse(first.stdout) as { status: string; error: { code: string; message: string; hint: string } };
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error.code, 'CONNECT_FAILED', failed.error.message);
  assert.match(failed.error.message, /was lost/);
  assert.ok(failed.error.hint);
  const before = await lastRun();
  assert.equal(before.output, '', 'the script did not run');
  // What the cut left behind is never executable, and no unverified binary sits where the runner lives.
  for (const t of temporaries) if (existsSync(t)) assert.equal(statSync(t).mode & 0o111, 0, `${t} is executable`);
  for (const p of cachedRunners()) assert.equal(createHash('sha256').update(readFileSync(p)).digest('hex'), signedSha(), `${p} is not the signed binary`);

  const next = await cli(['--json', 'run', '--host', 'host', '--mode', 'runner', '--command', 'echo ran-once']);
  assert.equal(next.code, 0, next.stderr);
  const run = await lastRun();
  assert.equal(run.status, 'succeeded');
  assert.equal(run.output, 'ran-once\n', 'the script ran exactly once');
  const runners = cachedRunners();
  assert.ok(runners.length >= 1);
  for (const p of runners) assert.equal(createHash('sha256').update(readFileSync(p)).digest('hex'), signedSha(), `${p} is the signed binary`);
  figures.survived++;
});

test('a half-written binary where the runner lives is never executed: the run replaces it and goes on', async () => {
  figures.tried++;
  const [runner] = cachedRunners();
  assert.ok(runner, 'a runner is cached');
  truncateSync(runner, Math.floor(statSync(runner).size / 2));
  const r = await cli(['--json', 'run', '--host', 'host', '--mode', 'runner', '--command', 'echo after-truncation']);
  assert.equal(r.code, 0, r.stderr);
  const run = await lastRun();
  assert.equal(run.status, 'succeeded');
  assert.equal(run.output, 'after-truncation\n');
  assert.equal(createHash('sha256').update(readFileSync(runner)).digest('hex'), signedSha(), 'replaced with the signed binary');
  figures.survived++;
});
