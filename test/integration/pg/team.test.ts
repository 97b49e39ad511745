/**
 * Team mode end to end (issue #16): two servers' cores on one real PostgreSQL (a private cluster)
 * and real sshd hosts (fleet subnet 160), each core opened as `cronium serve --database` opens it
 * (openTeamCore: migrations under the lock, the services on the store port, the PostgreSQL queue).
 * What one server writes the other reads; a job queued through one server runs on the other's
 * worker, woken by NOTIFY, and its log reads the same from both; a settings change on one applies
 * on the other within a second; two servers' schedulers fire a per-second schedule once per second
 * between them, also when the firing one stops without a word and the other takes over. Then
 * `cronium serve --database` itself, and its refusals.
 * Needs root (the cluster runs as the postgres user; the fleet), Debian's postgresql package, a build.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { call } from '../../../electron/core/api/dispatcher';
import { openTeamCore, type Core } from '../../../electron/core/core';
import { startExecution } from '../../../electron/core/exec/runtime';
import { Scheduler, type FireResult } from '../../../electron/core/scheduler/scheduler';
import { startFleet, type Fleet } from '../../fleet/fleet';
import { cronium } from '../../helpers/cli';
import { spawnServe } from '../../helpers/serve';
import { until } from '../../helpers/workspace';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

const SUBNET = 160;
const ADMIN_PASSWORD = 'the admin of the team test';
const ctx = { door: 'headless' as const };

let cluster: PgCluster | undefined;
let fleet: Fleet | undefined;
let scratch = '';
let knownHosts = '';
const cores: Core[] = [];

before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'cronium-team-'));
  cluster = await startPgCluster();
  await cluster.psql('create database team');
  fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'web1', profile: 'default' }, { name: 'web2', profile: 'default' }] });
  knownHosts = join(scratch, 'known_hosts');
  writeFileSync(knownHosts, fleet.knownHosts());
});

after(async () => {
  for (const c of cores) c.close();
  await fleet?.stop();
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A server: its own data dir (key files, sockets), the team's database. */
async function server(name: string): Promise<Core> {
  const core = await openTeamCore({ dataDir: join(scratch, name), door: 'headless', databaseUrl: cluster!.url('team'), poolSize: 4, ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
  cores.push(core);
  return core;
}


test('two servers on one database: one writes, the other reads; a job queued through one runs on the other, its log the same from both', async () => {
  const a = await server('a');
  const b = await server('b');
  for (const name of ['web1', 'web2']) {
    const h = fleet!.host(name);
    await call(a.dispatch, 'hosts.add', { name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: ['web'] }, ctx);
  }
  assert.deepEqual((await call(b.dispatch, 'hosts.list', { tag: 'web' }, ctx)).map((h) => h.name), ['web1', 'web2'], 'b sees what a added');
  await assert.rejects(call(b.dispatch, 'hosts.add', { name: 'web1', address: '127.0.0.1' }, ctx), { code: 'ALREADY_EXISTS' });

  // Only a runs a worker; the job is queued through b.
  const execution = startExecution(a, 'serve:a');
  try {
    const { jobId } = await call(b.dispatch, 'jobs.run', { tag: 'web', command: 'echo "hi from $(whoami)"', mode: 'direct' }, ctx);
    const job = await until('the job to end', async () => {
      const j = await call(b.dispatch, 'jobs.get', { id: jobId }, ctx);
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.runs.map((r) => [r.host, r.status, r.errorMessage])));
    for (const run of job.runs) {
      const fromA = await call(a.dispatch, 'runs.logs', { runId: run.id, limit: 100 }, ctx);
      const fromB = await call(b.dispatch, 'runs.logs', { runId: run.id, limit: 100 }, ctx);
      const text = (l: typeof fromA) => l.chunks.filter((c) => c.stream === 'stdout').map((c) => Buffer.from(c.data, 'base64').toString()).join('');
      assert.equal(text(fromB), `hi from ${fleet!.host(run.host).user}\n`);
      assert.deepEqual(fromB, fromA, 'the same log from either server');
    }
    // The audit trail is the team's: b's request is there for a to see.
    const audited = await a.store.data.rows<{ action: string; actor: string }>(
      (await import('drizzle-orm')).sql`select action, actor from audit_log where action in ('host.add', 'job.run') order by id`,
    );
    assert.deepEqual(audited.map((r) => r.action), ['host.add', 'host.add', 'job.run']);
  } finally {
    await execution.stop();
  }

  // A setting changed through a applies on b within a second (and b announces it).
  const seen: number[] = [];
  const off = b.events.on('settings.changed', (s) => seen.push(s.execution.perHostConcurrency));
  await call(a.dispatch, 'settings.set', { execution: { perHostConcurrency: 3 } }, ctx);
  await until('b to see the setting', async () => b.settings.execution().perHostConcurrency === 3, 3000);
  off();
  assert.deepEqual(seen, [3]);
});

test("a file pushed through one server is sent by another server's worker: the team's database carries it, checked by its SHA-256", async () => {
  const a = await server('pa');
  const b = await server('pb');
  const h = fleet!.host('web2');
  await call(a.dispatch, 'hosts.add', { name: 'push1', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false }, ctx);
  const file = join(scratch, 'payload.bin');
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  writeFileSync(file, bytes);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const { jobId } = await call(a.dispatch, 'jobs.push', { hosts: ['push1'], path: file, to: '/tmp/cronium-team-push.bin' }, ctx);
  const stored = await a.store.data.rows<{ size: number; chunks: number }>((await import('drizzle-orm')).sql`select size, chunks from blobs where sha256 = ${sha}`);
  assert.deepEqual(stored.map((r) => [Number(r.size), Number(r.chunks)]), [[bytes.length, 4]], 'in the database, in 1 MiB chunks');
  assert.ok(!existsSync(join(scratch, 'pb', 'blobs', sha)), 'b has no copy of its own yet');
  // Only b runs a worker: it fetches the file from the database, then sends it.
  const execution = startExecution(b, 'serve:pb');
  try {
    const job = await until('the push to end', async () => {
      const j = await call(b.dispatch, 'jobs.get', { id: jobId }, ctx);
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.runs.map((r) => [r.host, r.status, r.errorMessage])));
    assert.equal(createHash('sha256').update(readFileSync(join(scratch, 'pb', 'blobs', sha))).digest('hex'), sha, "b's copy");
    const check = await call(b.dispatch, 'jobs.run', { hosts: ['push1'], command: 'sha256sum /tmp/cronium-team-push.bin && rm /tmp/cronium-team-push.bin', mode: 'direct' }, ctx);
    const done = await until('the check to end', async () => {
      const j = await call(b.dispatch, 'jobs.get', { id: check.jobId }, ctx);
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    const out = await call(b.dispatch, 'runs.logs', { runId: done.runs[0]!.id, limit: 100 }, ctx);
    assert.match(out.chunks.map((c) => Buffer.from(c.data, 'base64').toString()).join(''), new RegExp(`^${sha} `, 'm'), 'the host has the very bytes');
  } finally {
    await execution.stop();
  }
});

test('a client of server B follows a run executing on server A live: every line once, in order, and its end', async (t) => {
  const a = await server('la');
  const b = await server('lb');
  const h = fleet!.host('web1');
  await call(a.dispatch, 'hosts.add', { name: 'live1', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false }, ctx);
  const received: { seq: number; text: string; lagMs: number }[] = [];
  const statuses: string[] = [];
  const offLog = b.events.on('run.log', (e) => {
    const at = Date.now();
    for (const c of e.chunks) if (c.stream === 'stdout') received.push({ seq: c.seq, text: Buffer.from(c.data, 'base64').toString(), lagMs: at - c.ts });
  });
  const offStatus = b.events.on('run.status', (e) => statuses.push(e.jobStatus ?? e.status));
  const execution = startExecution(a, 'serve:la');
  try {
    // 60 lines 20 ms apart, then one burst far larger than a notification (it goes as a pointer).
    const script = 'for i in $(seq 1 60); do echo "line $i"; sleep 0.02; done; head -c 200000 /dev/zero | tr "\\0" x; echo; echo done';
    const { jobId } = await call(b.dispatch, 'jobs.run', { hosts: ['live1'], command: script, mode: 'direct' }, ctx);
    await until('b to hear the job end', async () => statuses.includes('succeeded'), 30_000);
    const stored = await call(b.dispatch, 'runs.logs', { runId: (await call(b.dispatch, 'jobs.get', { id: jobId }, ctx)).runs[0]!.id, limit: 10_000 }, ctx);
    const text = (cs: { stream: string; data: string }[]) => cs.filter((c) => c.stream === 'stdout').map((c) => Buffer.from(c.data, 'base64').toString()).join('');
    await until('the last output on b', async () => received.map((r) => r.text).join('') === text(stored.chunks) || undefined, 5000).catch(() => undefined);
    const seqs = received.map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in order');
    assert.equal(new Set(seqs).size, seqs.length, 'each once');
    assert.equal(received.map((r) => r.text).join(''), text(stored.chunks), 'live on b, byte for byte what a stored');
    // Anyone who can reach the database can NOTIFY: what does not match the event's contract never reaches a client.
    const before = received.length;
    const forged = (await import('drizzle-orm')).sql`select pg_notify('cronium_events', ${JSON.stringify({ o: 'forger', e: 'run.log', p: { runId: 1, jobId: 1, host: 'live1', chunks: [{ seq: 'one', stream: 'stdout', ts: 0, data: 'eA==' }] } })})`;
    await a.store.data.rows(forged);
    await call(b.dispatch, 'hosts.update', { name: 'live1', port: h.port }, ctx); // an event after it, to wait for
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(received.length, before, 'the forged batch was dropped');
    const lags = received.slice(0, -3).map((r) => r.lagMs).sort((x, y) => x - y);
    t.diagnostic(`lag from a's write to b's client over ${lags.length} batches: p50 ${lags[Math.floor(lags.length / 2)]} ms, p99 ${lags[Math.floor(lags.length * 0.99)]} ms`);
  } finally {
    offLog();
    offStatus();
    await execution.stop();
  }
});

test('two servers\' schedulers fire a per-second schedule once per second between them, also when the firing one stops without a word', async () => {
  const a = await server('sa');
  const b = await server('sb');
  await call(a.dispatch, 'schedules.add', { name: 'every-second', cron: '* * * * * *', hosts: ['web1'], script: 'true', mode: 'direct', overlap: 'parallel' }, ctx);
  const fires: { by: string; dueAt: number }[] = [];
  const scheduler = (core: Core, by: string) =>
    new Scheduler({
      store: core.store.data,
      queue: core.queue,
      owner: `team-test:${by}`,
      leaseMs: 1500,
      resolveTargets: (t) => core.jobs.resolveTargets(t),
      onFire: (r: FireResult) => {
        if (r.outcome === 'fired') fires.push({ by, dueAt: r.dueAt });
      },
    });
  const sa = scheduler(a, 'a');
  const sb = scheduler(b, 'b');
  sa.start(200);
  sb.start(200);
  await new Promise((r) => setTimeout(r, 3500));
  // a dies without releasing its lease (a SIGKILL would do the same): b takes over once it expires.
  const firstBy = fires[0]?.by;
  const dying = firstBy === 'a' ? sa : sb;
  const other = firstBy === 'a' ? sb : sa;
  (dying as unknown as { stopped: boolean; timer?: NodeJS.Timeout }).stopped = true;
  clearTimeout((dying as unknown as { timer?: NodeJS.Timeout }).timer);
  const stoppedAt = Date.now();
  await new Promise((r) => setTimeout(r, 4500));
  await other.stop();
  const dues = fires.map((f) => f.dueAt);
  assert.ok(dues.length >= 6, `fired ${dues.length} times`);
  assert.equal(new Set(dues).size, dues.length, `no second fired twice: ${JSON.stringify(fires)}`);
  const sorted = [...dues].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i]! - sorted[i - 1]!, 1000, `no second lost: ${JSON.stringify(sorted)}`);
  const takers = new Set(fires.filter((f) => f.dueAt > stoppedAt).map((f) => f.by));
  assert.deepEqual([...takers], [other === sa ? 'a' : 'b'], 'the other server fired after the takeover');
  // Every fire is one job in the shared database.
  const jobs = await a.store.data.rows<{ n: number }>((await import('drizzle-orm')).sql`select count(*) as n from jobs where kind = 'schedule'`);
  assert.equal(Number(jobs[0]!.n), dues.length);
});

test('`cronium serve --database` serves the team database; a password on the command line and a non-PostgreSQL URL are refused', async () => {
  const url = new URL(cluster!.url('team'));
  const password = decodeURIComponent(url.password);
  url.password = '';
  const refused = await cronium(['serve', '--database', cluster!.url('team')], { env: { CRONIUM_HOME: join(scratch, 'cli') } });
  assert.equal(refused.code, 2, 'a usage error');
  assert.match(refused.stderr, /error\[INVALID_INPUT\]: invalid --database: it carries a password/);
  assert.doesNotMatch(refused.stderr, new RegExp(password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the password is not echoed');
  const mysql = await cronium(['serve', '--database', 'mysql://u@127.0.0.1/db'], { env: { CRONIUM_HOME: join(scratch, 'cli') } });
  assert.equal(mysql.code, 2);
  assert.match(mysql.stderr, /error\[INVALID_INPUT\]: invalid --database: mysql:\/\/ is not PostgreSQL/);

  // A host another server added: serve must list it (the team's database, not a SQLite file of its own).
  const other = await server('sc');
  const admin = await cronium(['users', 'add', 'admin', '--role', 'admin', '--database', url.toString()], { env: { CRONIUM_HOME: join(scratch, 'cli'), PGPASSWORD: password }, input: `${ADMIN_PASSWORD}\n` });
  assert.equal(admin.code, 0, admin.stderr);
  await call(other.dispatch, 'hosts.add', { name: 'added-elsewhere', address: '127.0.0.1' }, ctx);
  // The password from PGPASSWORD, as a user would keep it off the command line.
  const served = await spawnServe(['--database', url.toString()], { CRONIUM_HOME: join(scratch, 'cli'), PGPASSWORD: password });
  try {
    // A team server: no token in its URL; a person signs in (a client without an Origin gets a bearer token).
    const api = new URL(served.url);
    assert.equal(api.searchParams.get('token'), null, 'a team server prints no token');
    const signIn = await fetch(new URL('/auth/sign-in', api), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: ADMIN_PASSWORD }) });
    assert.equal(signIn.status, 200);
    const { token } = (await signIn.json()) as { token: string };
    const ws = new WebSocket(`ws://${api.host}/api`, { headers: { Authorization: `Bearer ${token}` } });
    const reply = await new Promise<{ ok: boolean; result?: { name: string }[] }>((resolve, reject) => {
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as { type: string; id?: number; ok: boolean; result?: { name: string }[] };
        if (msg.type === 'reply' && msg.id === 1) resolve(msg);
      });
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'hosts.list', args: {} })));
      ws.once('error', reject);
    });
    ws.terminate();
    assert.ok(reply.ok, JSON.stringify(reply));
    assert.ok(reply.result!.some((h) => h.name === 'added-elsewhere'), 'the team database, not a local SQLite file');
    assert.doesNotMatch(served.stderr(), new RegExp(password.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'the password is never printed');
  } finally {
    await served.stop();
  }
});
