/**
 * Team mode on PostgreSQL (issue #16), on a private cluster of Debian's package (test/pg):
 * - queue throughput with three servers: three processes, each a PgJobQueue on a pool of its
 *   own, claim in batches of 50 and start and complete each run (10 at a time per server, as a
 *   worker's slots would), until 20,000 runs over 100 hosts are done; against a baseline of the
 *   same number of bare single-row UPDATE transactions from three processes on the same database
 *   (the floor any PostgreSQL queue pays);
 * - scheduler takeover: three processes elect a leader (PgLeadership, default tries every 1 s);
 *   the leader is SIGKILLed, five times; the time until another leads;
 * - live output across servers (liveLag below), against bare NOTIFYs between two sessions.
 * Needs root and the postgresql package; says why when it cannot run.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { openTeamCore } from '../../electron/core/core';
import { migratePg } from '../../electron/core/db/pg-migrate';
import { pgPool, pgSession } from '../../electron/core/db/pg-store';
import { PgJobQueue } from '../../electron/core/queue/pg-job-queue';
import { ROOT } from '../e2e/harness';
import { pgBinDir, startPgCluster } from '../pg/cluster';

/** What the area measured. */
export interface PgFigures {
  runsPerSecond: number;
  baselinePerSecond: number;
  perServer: number[];
  takeoverMs: number[];
  /** Lag of each live batch from one server's log writer to a client of another server, ms. */
  liveLagMs: number[];
  /** Lag of a bare NOTIFY from one session to a LISTEN on another, ms (the floor). */
  notifyLagMs: number[];
}

/** Runs a module script in a child process with PG_URL in its environment; resolves with its stdout. */
function child(script: string, env: Record<string, string>): { done: Promise<string>; kill: (s: NodeJS.Signals) => void; lines: string[] } {
  const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let out = '';
  let err = '';
  c.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      lines.push(out.slice(0, i));
      out = out.slice(i + 1);
    }
  });
  c.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const done = new Promise<string>((resolve, reject) => c.on('close', (code, signal) => (code === 0 || signal ? resolve(lines.join('\n')) : reject(new Error(`bench child: ${err.slice(-1000)}`)))));
  return { done, kill: (s) => c.kill(s), lines };
}

const SERVER = `import { pgPool } from './electron/core/db/pg-store.ts'; import { PgJobQueue } from './electron/core/queue/pg-job-queue.ts';
const pool = pgPool(process.env.PG_URL, 10); const q = new PgJobQueue(pool); const owner = process.env.OWNER;
while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 1));
let n = 0; const t0 = Date.now();
for (;;) {
  const got = await q.claim({ owner, limit: 50, leaseMs: 60000, perHostLimit: 1000, globalLimit: 1000000 });
  if (!got.length) break;
  for (let i = 0; i < got.length; i += 10) await Promise.all(got.slice(i, i + 10).map(async (r) => { await q.start(r.runId, owner); await q.complete(r.runId, owner, { status: 'succeeded', exitCode: 0 }); n++; }));
}
console.log(JSON.stringify({ n, ms: Date.now() - t0 })); await pool.end();`;

const BASELINE = `import { pgPool } from './electron/core/db/pg-store.ts';
const pool = pgPool(process.env.PG_URL, 10); const from = Number(process.env.FROM), to = Number(process.env.TO);
while (Date.now() < Number(process.env.START_AT)) await new Promise((r) => setTimeout(r, 1));
const ids = []; for (let id = from; id <= to; id++) ids.push(id);
for (let i = 0; i < ids.length; i += 10) await Promise.all(ids.slice(i, i + 10).map((id) => pool.query('update runs set heartbeat_at = $1 where id = $2', [Date.now(), id])));
console.log('done'); await pool.end();`;

const LEADER = `import pg from 'pg'; import { PgLeadership } from './electron/core/scheduler/pg-leadership.ts';
const l = new PgLeadership({ connect: async () => { const c = new pg.Client({ connectionString: process.env.PG_URL }); await c.connect(); return c; }, onChange: (leader) => console.log(JSON.stringify({ leader, t: Date.now() })) });
l.start();`;

/** Runs the area, or says why it cannot run here. */
export async function benchPgQueue(runs = 20_000): Promise<PgFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root (the cluster runs as the postgres user)' };
  if (!pgBinDir() || !existsSync('/usr/bin/psql')) return { skipped: 'PostgreSQL is not installed (apt-get install postgresql)' };
  const cluster = await startPgCluster();
  try {
    await cluster.psql('create database bench');
    const url = cluster.url('bench');
    const pool = pgPool(url, 4);
    const c = await pool.connect();
    await migratePg(c);
    c.release();
    const hosts: { id: number; name: string }[] = [];
    for (let i = 0; i < 100; i++) hosts.push({ id: (await pool.query(`insert into hosts (name, address, created_at, updated_at) values ($1, '127.0.0.1', 0, 0) returning id`, [`b${i}`])).rows[0]!.id as number, name: `b${i}` });
    const queue = new PgJobQueue(pool);
    for (let i = 0; i < runs / hosts.length; i++) await queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'sh', scriptBody: 'true', mode: 'direct', hosts });

    // Three servers, started together.
    let startAt = Date.now() + 1500;
    const servers = [0, 1, 2].map((i) => child(SERVER, { PG_URL: url, OWNER: `s${i}`, START_AT: String(startAt) }));
    const results = (await Promise.all(servers.map((s) => s.done))).map((o) => JSON.parse(o.trim()) as { n: number; ms: number });
    const done = results.reduce((a, r) => a + r.n, 0);
    if (done !== runs) throw new Error(`bench: completed ${done} of ${runs} runs`);
    const runsPerSecond = runs / (Math.max(...results.map((r) => r.ms)) / 1000);

    startAt = Date.now() + 1500;
    const third = Math.ceil(runs / 3);
    const t0 = Date.now();
    await Promise.all([0, 1, 2].map((i) => child(BASELINE, { PG_URL: url, FROM: String(1 + i * third), TO: String(Math.min(runs, (i + 1) * third)), START_AT: String(startAt) }).done));
    const baselinePerSecond = runs / ((Date.now() - t0 - (startAt - t0)) / 1000);
    await pool.end();

    // Takeover: five times, SIGKILL the leader of three.
    const takeoverMs: number[] = [];
    const electors = [0, 1, 2].map(() => child(LEADER, { PG_URL: url }));
    const leads = (e: (typeof electors)[number]) => {
      const last = e.lines.at(-1);
      return last ? (JSON.parse(last) as { leader: boolean }).leader : false;
    };
    const until = async (ok: () => boolean, what: string) => {
      const end = Date.now() + 20_000;
      while (!ok()) {
        if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    for (let round = 0; round < 5; round++) {
      await until(() => electors.filter(leads).length === 1, 'one leader');
      const leader = electors.find(leads)!;
      const killedAt = Date.now();
      leader.kill('SIGKILL');
      electors.splice(electors.indexOf(leader), 1);
      await until(() => electors.some(leads), 'a new leader');
      takeoverMs.push((JSON.parse(electors.find(leads)!.lines.at(-1)!) as { t: number }).t - killedAt);
      electors.push(child(LEADER, { PG_URL: url }));
    }
    for (const e of electors) e.kill('SIGKILL');
    const lag = await liveLag(url, hosts[0]!);
    return { runsPerSecond, baselinePerSecond, perServer: results.map((r) => r.n), takeoverMs, ...lag };
  } finally {
    await cluster.stop();
  }
}

/**
 * Live output across servers: two team cores on the database; server A writes a run's output
 * (400 lines 5 ms apart, and 4 bursts of 100 KB that go as pointers) and publishes its batches as
 * its worker would; a client of server B receives them. Each batch's lag is B's receipt minus the
 * time A wrote its first chunk. The floor: bare NOTIFYs between two sessions.
 */
async function liveLag(url: string, host: { id: number; name: string }): Promise<{ liveLagMs: number[]; notifyLagMs: number[] }> {
  const dirs = [mkdtempSync(join(tmpdir(), 'cronium-bench-team-')), mkdtempSync(join(tmpdir(), 'cronium-bench-team-'))];
  const open = (dataDir: string) => openTeamCore({ dataDir, door: 'headless', databaseUrl: url, poolSize: 2, ssh: { knownHostsFiles: [], agentSocket: null } });
  const a = await open(dirs[0]!);
  const b = await open(dirs[1]!);
  try {
    const jobId = await a.queue.enqueue({ kind: 'adhoc', requestedBy: 'cli', interpreter: 'sh', scriptBody: 'true', mode: 'direct', hosts: [host] });
    const [run] = await a.store.data.rows<{ id: number }>(sql`select id from runs where job_id = ${jobId}`);
    const runId = Number(run!.id);
    const liveLagMs: number[] = [];
    let lines = 0;
    const off = b.events.on('run.log', (e) => {
      if (e.runId !== runId || e.chunks.length === 0) return;
      liveLagMs.push(Date.now() - e.chunks[0]!.ts);
      for (const c of e.chunks) lines += Buffer.from(c.data, 'base64').toString().split('\n').length - 1;
    });
    // As the worker does: the log service's live batches of the run go on A's bus.
    const unsubscribe = a.logs.subscribe(runId, (batch) =>
      a.events.emit('run.log', { runId, jobId, host: host.name, chunks: batch.chunks.map((c) => ({ seq: c.seq, stream: c.stream, ts: c.ts, data: c.data.toString('base64') })) }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const w = await a.logs.openWriter(runId);
    let expected = 0;
    for (let i = 1; i <= 400; i++) {
      w.write('stdout', Buffer.from(`line ${i}\n`));
      expected++;
      if (i % 100 === 0) {
        w.write('stdout', Buffer.from(`${'x'.repeat(100_000)}\n`));
        expected++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await w.close();
    const end = Date.now() + 10_000;
    while (lines < expected && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    unsubscribe();
    off();
    if (lines !== expected) throw new Error(`bench: server B received ${lines} of ${expected} lines`);

    // The floor: 200 bare notifications between two sessions of the same database.
    const [talk, listen] = await Promise.all([pgSession(url), pgSession(url)]);
    const notifyLagMs: number[] = [];
    listen.on('notification', (n) => notifyLagMs.push(Date.now() - Number(n.payload)));
    await listen.query('listen bench_lag');
    for (let i = 0; i < 200; i++) {
      await talk.query('select pg_notify($1, $2)', ['bench_lag', String(Date.now())]);
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, 200));
    await Promise.all([talk.end(), listen.end()]);
    return { liveLagMs, notifyLagMs };
  } finally {
    a.close();
    b.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
