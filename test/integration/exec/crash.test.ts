/**
 * The process running the queue dies (SIGKILL) in the middle of two runs: a detached run
 * in runner mode and a plain direct-mode run. A new process (`cronium serve`) must leave
 * no run `running`: the direct run becomes `lost` with its reason, and the detached run is
 * reattached on its host and finishes with every log line stored exactly once. The dead
 * process is provably dead (same machine, its pid gone), so the new one takes over at once,
 * before the dead one's 30-second leases expire.
 * Real components: the CLI and `cronium serve` as processes, an sshd host, the runner.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { cronium, ROOT } from '../../helpers/cli';
import { storedChunks } from '../../helpers/stored-log';

const SUBNET = 216;
let fleet: Fleet | undefined;
let scratch = '';
let env: NodeJS.ProcessEnv = {};
const children: ChildProcess[] = [];

before(async () => {
  assert.ok(existsSync(join(ROOT, 'resources/runner/manifest.json')), 'build the runner first: npm run build:runner');
  scratch = mkdtempSync(join(tmpdir(), 'cronium-crash-'));
  fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'default', profile: 'default' }] });
  const home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(home, '.ssh', 'known_hosts'), fleet.knownHosts(), { mode: 0o600 });
  env = { HOME: home, CRONIUM_HOME: join(scratch, 'data'), SSH_AUTH_SOCK: '' };
  const h = fleet.host('default');
  const add = await cronium(['hosts', 'add', 'default', '--address', h.address, '--user', h.user, '--identity', h.identityFile!, '--no-agent'], { env });
  assert.equal(add.code, 0, add.stderr);
  writeFileSync(join(scratch, 'lines.sh'), 'for i in $(seq 1 40); do echo "line $i"; sleep 0.1; done\n');
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await fleet?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function db(): Database.Database {
  return new Database(join(scratch, 'data', 'cronium.db'), { readonly: true, fileMustExist: true });
}

function query<T>(sql: string, ...args: unknown[]): T[] {
  const d = db();
  try {
    return d.prepare(sql).all(...args) as T[];
  } finally {
    d.close();
  }
}

async function until(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function start(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.resume();
  child.stderr?.resume();
  children.push(child);
  return child;
}

test('SIGKILL of the queue process: no run left running, no log line of the detached run lost', async () => {
  const script = join(scratch, 'lines.sh');
  const detachedCli = start(['run', '--host', 'default', '--mode', 'runner', '--detach', '--script', script, '--timeout', '60s']);
  const directCli = start(['run', '--host', 'default', '--mode', 'direct', '--script', script, '--timeout', '60s']);
  const chunks = (detached: number) =>
    query<{ n: number }>('select count(*) as n from log_chunks c join runs r on r.id = c.run_id where r.detached = ? ', detached)[0]!.n;
  await until('both runs to print', () => existsSync(join(scratch, 'data', 'cronium.db')) && chunks(1) >= 3 && chunks(0) >= 3, 30_000);
  detachedCli.kill('SIGKILL');
  directCli.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(query<{ n: number }>("select count(*) as n from runs where status = 'running'")[0]!.n, 2, 'both runs were running when their process died');

  const leases = query<{ lease_expires_at: number }>("select lease_expires_at from runs where status = 'running'").map((r) => r.lease_expires_at);
  const serve = start(['serve', '--port', '0']);
  // The dead process's owner name proves it is gone: the new process resolves its runs at start-up.
  let resolvedAt = 0;
  await until('the dead process\'s runs to be taken over', () => {
    const open = query<{ n: number }>("select count(*) as n from runs where status in ('claimed', 'queued') or (status = 'running' and lease_owner like 'cli:%')")[0]!.n;
    if (open === 0 && !resolvedAt) resolvedAt = Date.now();
    return open === 0;
  }, 30_000);
  assert.ok(resolvedAt < Math.min(...leases), `taken over ${Math.round((Math.min(...leases) - resolvedAt) / 1000)} s before the dead process's leases expired`);
  await until('no run to be left running', () => query<{ n: number }>("select count(*) as n from runs where status in ('running', 'claimed', 'queued')")[0]!.n === 0, 60_000);
  serve.kill('SIGTERM');

  const runs = query<{ id: number; detached: number; status: string; error_message: string | null }>('select id, detached, status, error_message from runs order by id');
  const direct = runs.find((r) => r.detached === 0)!;
  const detached = runs.find((r) => r.detached === 1)!;
  assert.equal(direct.status, 'lost');
  assert.match(direct.error_message ?? '', /the process running it \(cli:\d+:\d+@[^)]+\) is gone and the script's fate is unknown/);
  assert.equal(detached.status, 'succeeded', detached.error_message ?? '');
  const d = db();
  const stored = storedChunks(d, join(scratch, 'data'), detached.id, 'output').map((c) => ({ ...c, bytes: c.data }));
  d.close();
  const seqs = stored.map((c) => c.seq);
  assert.deepEqual(seqs, [...new Set(seqs)], 'no sequence number stored twice');
  const text = Buffer.concat(stored.map((c) => c.bytes)).toString();
  assert.deepEqual(text.trim().split('\n'), Array.from({ length: 40 }, (_, i) => `line ${i + 1}`), 'every line exactly once, in order');
});
