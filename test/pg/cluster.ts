/**
 * A private PostgreSQL cluster for the team-mode tests (issue #16): Debian's postgresql package,
 * `initdb` into a temp dir of its own, the server listening on 127.0.0.1 only, at a free port
 * (its unix socket inside that dir, not /var/run), scram-sha-256 with a random password that
 * never appears on a command line; stopped by its postmaster's PID (checked against its start
 * time, so a recycled PID is never signalled), and its dir removed.
 * As root the server runs as the `postgres` user (initdb refuses root); otherwise as the caller.
 * Durability is off (fsync, synchronous_commit, full_page_writes): these clusters live for one test file.
 */
import { after, before } from 'node:test';
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isRunning, processStartTime } from '../fleet/proc';

/** A running cluster. */
export interface PgCluster {
  host: '127.0.0.1';
  port: number;
  /** The superuser initdb made (not `postgres`, so nothing relies on the OS user's name). */
  user: string;
  password: string;
  /** The cluster's own dir: data/, the socket, the server log. */
  dir: string;
  pid: number;
  /** A postgres:// URL for a database of the cluster (the password in it: keep it out of logs). */
  url(database?: string): string;
  /** Runs SQL through psql (-At: bare values, one row per line) and returns its stdout. */
  psql(sql: string, database?: string, password?: string): Promise<string>;
  /** The server's log so far (for a failing test's message). */
  log(): string;
  /** Restarts the server on the same port (fast shutdown: every session is cut); `pid` is the new postmaster's. */
  restart(): Promise<void>;
  /** Stops the server (fast shutdown, then SIGKILL by PID) and removes its dir. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin dir (Debian: /usr/lib/postgresql/<major>/bin), if any. */
export function pgBinDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** A port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The uid and gid of a local user, from /etc/passwd. */
function userIds(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** Starts a cluster; throws with the reason (and initdb's or the server's words) when it cannot. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = pgBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (Debian: apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? userIds('postgres') : undefined;
  if (asRoot && !owner) throw new Error('running as root, but there is no postgres user to run the server as');
  const dir = mkdtempSync(join(tmpdir(), 'cronium-pg-'));
  const data = join(dir, 'data');
  const user = 'cronium';
  const password = randomBytes(18).toString('base64url');
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwFile, owner.uid, owner.gid);
  }
  const as = (cmd: string, args: string[]) => (owner ? run('runuser', ['-u', 'postgres', '--', cmd, ...args]) : run(cmd, args));
  const fail = (what: string, r: { stdout: string; stderr: string }): never => {
    const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').slice(-2000) : '';
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${what} failed: ${(r.stderr || r.stdout).trim().slice(-2000)}${log ? `\nserver log: ${log}` : ''}`);
  };
  const init = await as(join(bin, 'initdb'), ['-D', data, '-U', user, '--auth=scram-sha-256', `--pwfile=${pwFile}`, '-E', 'UTF8', '--no-locale', '--no-sync']);
  if (init.code !== 0) fail('initdb', init);
  rmSync(pwFile);
  // Two tries: another process may take the free port between the check and the server's bind.
  let port = 0;
  const serverOptions = () => [`-c listen_addresses=127.0.0.1`, `-c port=${port}`, `-c unix_socket_directories=${dir}`, '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off', '-c max_connections=300'].join(' ');
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    const started = await as(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', serverOptions(), 'start']);
    if (started.code === 0) break;
    if (attempt >= 1) fail('pg_ctl start', started);
  }
  const postmaster = () => {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return { pid, startTime: processStartTime(pid) ?? '' };
  };
  let { pid, startTime } = postmaster();
  const url = (database = 'postgres') => `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    get pid() {
      return pid;
    },
    url,
    async psql(sql, database = 'postgres', pw = password) {
      const r = await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', database, '-c', sql], { PGPASSWORD: pw, PGCONNECT_TIMEOUT: '10' });
      if (r.code !== 0) throw new Error(`psql: ${r.stderr.trim()}`);
      return r.stdout;
    },
    log: () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : ''),
    async restart() {
      const r = await as(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-m', 'fast', '-w', '-t', '30', '-o', serverOptions(), 'restart']);
      if (r.code !== 0) throw new Error(`pg_ctl restart failed: ${(r.stderr || r.stdout).trim()}`);
      ({ pid, startTime } = postmaster());
    },
    async stop() {
      if (isRunning({ pid, startTime })) {
        await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '20', 'stop']);
        if (isRunning({ pid, startTime })) process.kill(pid, 'SIGKILL');
        for (let i = 0; i < 100 && isRunning({ pid, startTime }); i++) await new Promise((r) => setTimeout(r, 50));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A test file's private cluster: started before its tests, stopped after them; and fresh databases on it. */
export interface FileCluster {
  /** The running cluster (inside tests). */
  cluster(): PgCluster;
  /** Creates an empty database and returns its URL. */
  freshDatabase(): Promise<string>;
}

/** Registers the file's before/after hooks for a private cluster (see FileCluster). */
export function fileCluster(): FileCluster {
  let cluster: PgCluster | undefined;
  let databases = 0;
  before(async () => {
    cluster = await startPgCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  const running = (): PgCluster => {
    if (!cluster) throw new Error('the cluster is not started (use fileCluster() at the top of a test file)');
    return cluster;
  };
  return {
    cluster: running,
    freshDatabase: async () => {
      const name = `d${++databases}`;
      await running().psql(`create database ${name}`);
      return running().url(name);
    },
  };
}
