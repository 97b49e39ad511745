/**
 * Scheduler leadership on a real PostgreSQL (issue #16): three server processes (each a
 * PgLeadership on its own session) elect exactly one leader; SIGKILL the leader and another
 * takes over within seconds (the figure is printed); restart PostgreSQL and the leader steps
 * down with its session, then one server leads again once the database is back. At no moment
 * do two live processes both say they lead, and the database shows one holder of the lock.
 * Needs root (the cluster runs as the postgres user) and Debian's postgresql package.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { LEADER_LOCK_KEY } from '../../../electron/core/scheduler/pg-leadership';
import { ROOT } from '../../helpers/cli';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

let cluster: PgCluster | undefined;
const children: ChildProcess[] = [];

before(async () => {
  cluster = await startPgCluster();
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await cluster?.stop();
});

interface Server {
  child: ChildProcess;
  /** Leader or not, with when each change was reported. */
  changes: { leader: boolean; t: number }[];
  leads(): boolean;
  alive(): boolean;
}

/** Starts a server process that only takes part in the election (the password travels in its environment). */
function server(): Server {
  const script = `import pg from 'pg'; import { PgLeadership } from './electron/core/scheduler/pg-leadership.ts';
    const l = new PgLeadership({ retryMs: 200, connect: async () => { const c = new pg.Client({ connectionString: process.env.PG_URL, connectionTimeoutMillis: 2000 }); await c.connect(); return c; },
      onChange: (leader) => console.log(JSON.stringify({ leader, t: Date.now() })) });
    l.start();
    process.on('SIGTERM', async () => { await l.stop(); process.exit(0); });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, PG_URL: cluster!.url() }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const s: Server = {
    child,
    changes: [],
    leads: () => s.changes.at(-1)?.leader === true,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      s.changes.push(JSON.parse(buf.slice(0, i)) as { leader: boolean; t: number });
      buf = buf.slice(i + 1);
    }
  });
  return s;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sessions holding the leadership lock, as the database sees them. */
async function holders(): Promise<number> {
  const key = BigInt(LEADER_LOCK_KEY);
  const [hi, lo] = [Number(key >> 32n), Number(key & 0xffffffffn)];
  return Number((await cluster!.psql(`select count(*) from pg_locks where locktype = 'advisory' and classid = ${hi} and objid = ${lo} and granted`)).trim());
}

test('one leader among three servers; SIGKILL it and another takes over within seconds; a PostgreSQL restart is survived', async () => {
  const servers = [server(), server(), server()];
  // Never two live leaders, checked all along.
  let overlap = '';
  const watch = setInterval(() => {
    const live = servers.filter((s) => s.alive() && s.leads());
    if (live.length > 1) overlap ||= `two leaders at ${Date.now()}`;
  }, 5);
  try {
    await until('a leader', () => servers.some((s) => s.leads()));
    await new Promise((r) => setTimeout(r, 600)); // three tries each: still one
    assert.equal(servers.filter((s) => s.leads()).length, 1);
    assert.equal(await holders(), 1);

    const first = servers.find((s) => s.leads())!;
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    const rest = servers.filter((s) => s !== first);
    await until('a new leader after SIGKILL', () => rest.some((s) => s.leads()));
    const second = rest.find((s) => s.leads())!;
    const takeoverMs = second.changes.at(-1)!.t - killedAt;
    assert.ok(takeoverMs < 5000, `takeover took ${takeoverMs} ms`);
    assert.equal(await holders(), 1);

    // PostgreSQL restarts (every session cut): the leader steps down, then one leads again.
    const before = second.changes.length;
    await cluster!.restart();
    await until('the leader stepping down with its session', () => second.changes.slice(before).some((c) => !c.leader));
    await until('a leader again after the restart', () => rest.some((s) => s.leads()));
    assert.equal(rest.filter((s) => s.leads()).length, 1);
    assert.equal(await holders(), 1);
    assert.equal(overlap, '', overlap);
    console.log(`# leadership: takeover after SIGKILL of the leader in ${takeoverMs} ms (followers try every 200 ms)`);
  } finally {
    clearInterval(watch);
    for (const s of servers) if (s.alive()) s.child.kill('SIGTERM');
  }
});
