// The helper API on a real SQLite store: tokens (jose), every refusal with its code, each
// operation's effect, the per-run rate limit, the audit trail, and the HTTP face over a real
// loopback socket (standing in for a tunnel channel: both are byte streams handed to the door).
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SignJWT } from 'jose';
import { AuditLog } from '../../electron/core/audit/audit-log';
import { openStore } from '../../electron/core/db/database';
import { HelperApi, REFUSAL_AUDIT, type HelperVariables } from '../../electron/core/helper-api/helper-api';
import { HelperHttpDoor } from '../../electron/core/helper-api/http-door';
import { HelperTokens } from '../../electron/core/helper-api/tokens';
import { tempDir } from '../helpers/temp';

function setup(t: TestContext, rate?: { burst: number; perSecond: number }) {
  const dir = tempDir(t);
  const store = openStore(dir);
  t.after(() => store.close());
  const db = store.sqlite;
  const now = Date.now();
  const host = (name: string) => Number(db.prepare(`insert into hosts (name, address, created_at, updated_at) values (?, '127.0.0.1', ?, ?)`).run(name, now, now).lastInsertRowid);
  const h1 = host('web1');
  const h2 = host('web2');
  const job = Number(
    db
      .prepare(`insert into jobs (kind, interpreter, script_body, target, mode, input, status, requested_by, created_at) values ('adhoc', 'bash', 'true', '{}', 'runner', ?, 'running', 'cli', ?)`)
      .run(JSON.stringify({ n: 42 }), now).lastInsertRowid,
  );
  const run = (hostId: number, name: string, status = 'running') =>
    Number(db.prepare(`insert into runs (job_id, host_id, host_name, status, queued_at) values (?, ?, ?, ?, ?)`).run(job, hostId, name, status, now).lastInsertRowid);
  const r1 = run(h1, 'web1');
  const r2 = run(h2, 'web2');
  const vars = new Map<string, string>([['g:REGION', 'eu'], [`${h1}:REGION`, 'eu-west']]);
  const varsApi: HelperVariables = {
    getForRun: async (hostId, key) => {
      const v = vars.get(`${hostId}:${key}`) ?? vars.get(`g:${key}`);
      return v === undefined ? null : { value: v, secret: key.startsWith('SECRET_') };
    },
    setFromScript: async (_hostId, key, value) => void vars.set(`g:${key}`, value),
    setForHostFromScript: async (hostId, key, value) => void vars.set(`${hostId}:${key}`, value),
    secretValuesFor: async () => ['s3cr3t-token-value'],
  };
  const tokens = new HelperTokens(dir);
  const api = new HelperApi({ store: store.data, tokens, vars: varsApi, audit: new AuditLog(store.data, 'helper'), ...(rate ? { rate } : {}) });
  return { dir, db, tokens, api, h1, h2, job, r1, r2, vars };
}

test('tokens: the key file is private; a token names its run, host and operations', async (t) => {
  const s = setup(t);
  assert.equal(statSync(join(s.dir, 'helper-token.key')).mode & 0o777, 0o600);
  const { token } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000);
  const c = await s.tokens.verify(token);
  assert.equal(c.runId, s.r1);
  assert.equal(c.hostId, s.h1);
  assert.deepEqual(c.ops, ['input', 'output', 'getVariable', 'setVariable', 'setCondition', 'event']);
});

test('every operation on a valid token, bound to its host', async (t) => {
  const s = setup(t);
  const { token } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000);
  const via = { transport: 'tunnel' as const, hostId: s.h1 };
  assert.deepEqual(await s.api.handle({ op: 'input', token, body: {} }, via), { status: 200, body: { value: { n: 42 } } });
  assert.deepEqual((await s.api.handle({ op: 'output', token, body: { value: { ok: [1, 2] } } }, via)).status, 200);
  assert.equal(s.db.prepare('select output from runs where id = ?').pluck().get(s.r1), '{"ok":[1,2]}');
  assert.deepEqual((await s.api.handle({ op: 'getVariable', token, body: { key: 'REGION' } }, via)).body, { found: true, value: 'eu-west' });
  assert.deepEqual((await s.api.handle({ op: 'getVariable', token, body: { key: 'NOPE' } }, via)).body, { found: false, value: null });
  assert.equal((await s.api.handle({ op: 'setVariable', token, body: { key: 'LAST', value: 'x' } }, via)).status, 200);
  assert.equal(s.vars.get(`${s.h1}:LAST`), 'x', 'the host\'s own variable (the job did not allow global writes)');
  assert.equal(s.vars.get('g:LAST'), undefined);
  assert.equal((await s.api.handle({ op: 'setCondition', token, body: { value: true } }, via)).status, 200);
  assert.equal(s.db.prepare('select condition from runs where id = ?').pluck().get(s.r1), 1);
  const ev = await s.api.handle({ op: 'event', token, body: {} }, via);
  assert.equal(ev.body.runId, s.r1);
  assert.equal(ev.body.host, 'web1');
  assert.equal(ev.body.trigger, 'adhoc');
  const audit = s.db.prepare(`select action, detail from audit_log where actor = 'helper' order by id`).all() as { action: string; detail: string }[];
  assert.deepEqual(audit.map((a) => a.action), ['helper.input', 'helper.output', 'helper.getVariable', 'helper.getVariable', 'helper.setVariable', 'helper.setCondition', 'helper.event']);
  assert.ok(!audit.some((a) => a.detail.includes('eu-west') || a.detail.includes('"x"')), 'values never reach the audit log');
});

test('abuse: each refusal has its status and code', async (t) => {
  const s = setup(t);
  const exp = Date.now() + 60_000;
  const { token } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, exp);
  const via = { transport: 'tunnel' as const, hostId: s.h1 };
  const code = async (call: { op: string; token: string; body?: unknown }, v: Parameters<HelperApi['handle']>[1] = via) => {
    const r = await s.api.handle({ body: {}, ...call }, v);
    return `${r.status} ${(r.body.error as { code: string } | undefined)?.code ?? 'ok'}`;
  };
  assert.equal(await code({ op: 'input', token: 'not-a-jwt' }), '401 HELPER_TOKEN_INVALID');
  assert.equal(await code({ op: 'input', token: `${token.slice(0, -3)}abc` }), '401 HELPER_TOKEN_INVALID');
  // Signed with another key (another installation).
  const foreign = await new SignJWT({ job: s.job, host: s.h1, ops: ['input'] }).setProtectedHeader({ alg: 'HS256' }).setIssuer('cronium').setAudience('cronium-helper-api').setSubject(`run:${s.r1}`).setJti('abcdefghij').setExpirationTime('1h').sign(new Uint8Array(32).fill(7));
  assert.equal(await code({ op: 'input', token: foreign }), '401 HELPER_TOKEN_INVALID');
  const { token: old } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() - 10_000);
  assert.equal(await code({ op: 'input', token: old }), '401 HELPER_TOKEN_EXPIRED');
  // Another host's tunnel, another run's channel.
  assert.equal(await code({ op: 'input', token }, { transport: 'tunnel', hostId: s.h2 }), '403 HELPER_FORBIDDEN');
  assert.equal(await code({ op: 'input', token }, { transport: 'in-band', runId: s.r2, hostId: s.h1 }), '403 HELPER_FORBIDDEN');
  assert.equal(await code({ op: 'toolAction', token }), '403 TOOL_ACTION_FORBIDDEN');
  assert.equal(await code({ op: 'launchMissiles', token }), '404 NOT_FOUND');
  assert.equal(await code({ op: 'getVariable', token, body: { key: '../etc' } }), '400 INVALID_INPUT');
  assert.equal(await code({ op: 'setCondition', token, body: { value: 'yes' } }), '400 INVALID_INPUT');
  assert.equal(await code({ op: 'output', token, body: { value: 1, extra: 2 } }), '400 INVALID_INPUT');
  const { token: narrow } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, exp, ['input']);
  assert.equal(await code({ op: 'setVariable', token: narrow, body: { key: 'A', value: 'b' } }), '403 HELPER_FORBIDDEN');
  // Revoked: in memory, and by the run's end in the store (another process ended it).
  const { token: t2, jti } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, exp);
  s.tokens.revoke(jti, exp);
  assert.equal(await code({ op: 'input', token: t2 }), '403 HELPER_TOKEN_REVOKED');
  s.db.prepare(`update runs set status = 'succeeded' where id = ?`).run(s.r1);
  assert.equal(await code({ op: 'input', token }), '403 HELPER_TOKEN_REVOKED');
  const refusals = s.db.prepare(`select count(*) from audit_log where actor = 'helper' and detail like '%"code"%'`).pluck().get() as number;
  assert.equal(refusals, 14);
});

test('output: a secret the run can see is stored masked, in strings and keys', async (t) => {
  const s = setup(t);
  const token = (await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000)).token;
  const value = { note: 'token=s3cr3t-token-value;', list: ['s3cr3t-token-value'], 's3cr3t-token-value': 1, n: 5 };
  assert.equal((await s.api.handle({ op: 'output', token, body: { value } }, { transport: 'tunnel', hostId: s.h1 })).status, 200);
  const stored = (s.db.prepare('select output from runs where id = ?').get(s.r1) as { output: string }).output;
  assert.ok(!stored.includes('s3cr3t'), stored);
  assert.deepEqual(JSON.parse(stored), { note: 'token=***;', list: ['***'], '***': 1, n: 5 });
});

test('rate limit per run: 429 past the burst, other runs unaffected', async (t) => {
  const s = setup(t, { burst: 5, perSecond: 0.001 });
  const exp = Date.now() + 60_000;
  const a = (await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, exp)).token;
  const b = (await s.tokens.issue({ runId: s.r2, jobId: s.job, hostId: s.h2 }, exp)).token;
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) statuses.push((await s.api.handle({ op: 'input', token: a, body: {} }, { transport: 'tunnel', hostId: s.h1 })).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
  assert.equal((await s.api.handle({ op: 'input', token: b, body: {} }, { transport: 'tunnel', hostId: s.h2 })).status, 200);
});

test('refusals without a valid token are audited at a bounded rate per host, the rest counted; the audit log has a retention', async (t) => {
  const s = setup(t);
  const count = () => (s.db.prepare("select count(*) as n from audit_log where action like 'helper.%'").get() as { n: number }).n;
  // A local user on the host floods the tunnel port with bad tokens (the review saw ~425 rows/s).
  const statuses = new Set<number>();
  for (let i = 0; i < 2000; i++) statuses.add((await s.api.handle({ op: 'input', token: `x.y.${i}`, body: {} }, { transport: 'tunnel', hostId: s.h1 })).status);
  assert.deepEqual([...statuses], [401], 'every one is refused');
  const rows = count();
  assert.ok(rows >= REFUSAL_AUDIT.burst && rows <= REFUSAL_AUDIT.burst + 5, `${rows} audit rows for 2,000 refusals`);
  // Another host's refusals have their own budget, and a valid call is always audited.
  await s.api.handle({ op: 'input', token: 'bad', body: {} }, { transport: 'tunnel', hostId: s.h2 });
  const good = (await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000)).token;
  assert.equal((await s.api.handle({ op: 'input', token: good, body: {} }, { transport: 'tunnel', hostId: s.h1 })).status, 200);
  assert.equal(count(), rows + 2);
  // Once the budget refills, the next refusal's row says how many were left out.
  await new Promise((r) => setTimeout(r, 1100));
  await s.api.handle({ op: 'input', token: 'bad', body: {} }, { transport: 'tunnel', hostId: s.h1 });
  const last = s.db.prepare("select detail from audit_log where target = ? order by id desc limit 1").get(`host:${s.h1}`) as { detail: string };
  assert.ok((JSON.parse(last.detail) as { suppressed?: number }).suppressed! >= 2000 - rows, last.detail);

  // Retention: rows past the age or the count go, oldest first.
  const second = openStore(s.dir);
  t.after(() => second.close());
  const audit = new AuditLog(second.data, 'cli');
  const old = Date.now() - 500 * 86_400_000;
  s.db.prepare("insert into audit_log (ts, actor, action) values (?, 'cli', 'ancient')").run(old);
  const before = count();
  assert.equal(await audit.prune(Date.now(), { maxAgeDays: 400, maxRows: 1_000_000 }), 1, 'the 500-day-old row');
  assert.equal(count(), before);
  const total = (s.db.prepare('select count(*) as n from audit_log').get() as { n: number }).n;
  assert.equal(await audit.prune(Date.now(), { maxAgeDays: 400, maxRows: 10 }), total - 10);
  const left = s.db.prepare('select max(id) - min(id) as span, count(*) as n from audit_log').get() as { span: number; n: number };
  assert.deepEqual([left.n, left.span], [10, 9], 'the newest ten stay');
});

/** Sends raw bytes through the door over a loopback socket and returns the raw response. */
async function rawHttp(t: TestContext, door: HelperHttpDoor, hostId: number, request: string | Buffer): Promise<{ status: number; body: Record<string, unknown> }> {
  const server = net.createServer({ allowHalfOpen: true }, (sock) => door.accept(sock, { transport: 'tunnel', hostId }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const text = await new Promise<string>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    let out = '';
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('close', () => resolve(out));
    c.on('error', reject);
    c.end(request);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return { status, body: body ? (JSON.parse(body) as Record<string, unknown>) : {} };
}

test('HTTP door: well-formed calls answer; malformed requests get JSON errors with codes', async (t) => {
  const s = setup(t);
  const door = new HelperHttpDoor(s.api);
  t.after(() => door.close());
  const { token } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000);
  const post = (path: string, body: string, headers: string[] = [`Authorization: Bearer ${token}`]) =>
    `POST ${path} HTTP/1.1\r\nHost: cronium-helper\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
  const ok = await rawHttp(t, door, s.h1, post('/v1/getVariable', '{"key":"REGION"}'));
  assert.deepEqual(ok, { status: 200, body: { found: true, value: 'eu-west' } });
  const code = (r: { status: number; body: Record<string, unknown> }) => `${r.status} ${(r.body.error as { code: string }).code}`;
  assert.equal(code(await rawHttp(t, door, s.h1, post('/v1/input', '{}', []))), '401 HELPER_TOKEN_INVALID');
  assert.equal(code(await rawHttp(t, door, s.h1, post('/v1/input', '{nope'))), '400 INVALID_INPUT');
  assert.equal(code(await rawHttp(t, door, s.h1, post('/etc/passwd', '{}'))), '404 NOT_FOUND');
  assert.equal(code(await rawHttp(t, door, s.h1, `GET /v1/input HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`)), '400 INVALID_INPUT');
  assert.equal(code(await rawHttp(t, door, s.h1, post('/v1/toolAction', '{}'))), '403 TOOL_ACTION_FORBIDDEN');
  assert.equal(code(await rawHttp(t, door, s.h2, post('/v1/input', '{}'))), '403 HELPER_FORBIDDEN');
  const big = `{"value":"${'x'.repeat(1100 * 1024)}"}`;
  assert.equal(code(await rawHttp(t, door, s.h1, post('/v1/output', big))), '413 PAYLOAD_TOO_LARGE');
  const garbage = await rawHttp(t, door, s.h1, Buffer.from('\x00\x01 not http at all\r\n\r\n'));
  assert.equal(garbage.status, 400);
});

test('scopes: a job reads only the secrets it declares, and writes globals only when it allows them', async (t) => {
  const s = setup(t);
  s.vars.set('g:SECRET_DB', 'pw');
  s.vars.set('g:SECRET_OTHER', 'nope');
  const via = { transport: 'tunnel' as const, hostId: s.h1 };
  const { token } = await s.tokens.issue({ runId: s.r1, jobId: s.job, hostId: s.h1 }, Date.now() + 60_000);
  const undeclared = await s.api.handle({ op: 'getVariable', token, body: { key: 'SECRET_DB' } }, via);
  assert.equal(undeclared.status, 403);
  assert.equal((undeclared.body.error as { code: string }).code, 'HELPER_FORBIDDEN');
  assert.match((undeclared.body.error as { hint: string }).hint, /--secret SECRET_DB/);
  s.db.prepare(`update jobs set secret_names = '["SECRET_DB"]', var_scope = 'global' where id = ?`).run(s.job);
  assert.deepEqual((await s.api.handle({ op: 'getVariable', token, body: { key: 'SECRET_DB' } }, via)).body, { found: true, value: 'pw' });
  assert.equal((await s.api.handle({ op: 'getVariable', token, body: { key: 'SECRET_OTHER' } }, via)).status, 403, 'only the declared one');
  assert.equal((await s.api.handle({ op: 'setVariable', token, body: { key: 'SHARED', value: 'y' } }, via)).status, 200);
  assert.equal(s.vars.get('g:SHARED'), 'y', 'a job that allows global writes writes the global variable');
});
