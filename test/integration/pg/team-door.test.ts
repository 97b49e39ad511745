/**
 * A team server's door end to end (issue #16): a real PostgreSQL (a private cluster), the
 * accounts made with the `cronium users` command as an administrator would, and `cronium serve
 * --database` itself listening with TLS on its own loopback address (127.0.0.23; a certificate
 * made by openssl for it). A client signs in over HTTPS, gets an HttpOnly Secure SameSite=Strict
 * cookie and a CSRF token, and opens the API's WebSocket with both; each refusal is checked: a
 * wrong password, another site's Origin, a WebSocket without the CSRF token, a viewer's run
 * (FORBIDDEN), a session ended by a new role (SIGNED_OUT on the next call), a sign-out without
 * the CSRF token. The audit trail exported as JSON lines names each person and where from.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { launchChromium } from '../../e2e/harness';
import { cronium } from '../../helpers/cli';
import { spawnServe, type Served } from '../../helpers/serve';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

const ADDRESS = '127.0.0.23';
const PASSWORDS = { alice: 'alice has a long password', vic: 'vic reads but never runs', bea: 'bea reads from her terminal' };
let cluster: PgCluster | undefined;
let scratch = '';
let serve: Served | undefined;
let base = '';
let ca: Buffer;
let env: NodeJS.ProcessEnv = {};

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function https(method: string, path: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = request(`${base}${path}`, { method, ca, headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...opts.headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens the API's WebSocket; resolves to a caller, or rejects with the refusal's status. */
function socket(path: string, headers: Record<string, string>): Promise<{ call: (method: string, args?: unknown) => Promise<{ ok: boolean; result?: unknown; error?: { code: string; message: string } }>; closed: Promise<number>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace('https', 'wss')}${path}`, { ca, headers });
    let next = 1;
    const waiting = new Map<number, (m: { ok: boolean; result?: unknown; error?: { code: string; message: string } }) => void>();
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { type: string; id: number; ok: boolean };
      if (m.type === 'reply') waiting.get(m.id)?.(m);
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused ${res.statusCode}`)));
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        call: (method, args = {}) =>
          new Promise((r) => {
            const id = next++;
            waiting.set(id, r);
            ws.send(JSON.stringify({ id, method, args }));
          }),
        closed,
        close: () => ws.terminate(),
      }),
    );
  });
}

async function users(args: string[], input = ''): Promise<string> {
  const r = await cronium(['users', ...args], { env, input });
  assert.equal(r.code, 0, `cronium users ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  cluster = await startPgCluster();
  scratch = mkdtempSync(join(tmpdir(), 'cronium-team-door-'));
  await cluster.psql('create database door');
  env = { CRONIUM_HOME: join(scratch, 'home'), CRONIUM_DATABASE_URL: cluster.url('door') };
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(scratch, 'key.pem'), '-out', join(scratch, 'cert.pem'), '-days', '1', '-subj', `/CN=${ADDRESS}`, '-addext', `subjectAltName=IP:${ADDRESS}`], { stdio: 'ignore' });
  ca = readFileSync(join(scratch, 'cert.pem'));
  // The first admin, made on the server machine with the database's URL, as docs/team-server.md says.
  await users(['add', 'alice', '--role', 'admin'], `${PASSWORDS.alice}\n`);
  await users(['add', 'vic', '--role', 'viewer'], `${PASSWORDS.vic}\n`);
  await users(['add', 'bea', '--role', 'viewer'], `${PASSWORDS.bea}\n`);
  serve = await spawnServe(['--listen', ADDRESS, '--tls-cert', join(scratch, 'cert.pem'), '--tls-key', join(scratch, 'key.pem')], env);
  base = serve.url;
  assert.match(base, new RegExp(`^https://${ADDRESS.replace(/\./g, '\\.')}:\\d+$`));
});

after(async () => {
  await serve?.stop();
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('sign-in over HTTPS: an HttpOnly Secure SameSite=Strict cookie and a CSRF token; wrong passwords and other sites refused, coded', async () => {
  const page = await https('GET', '/');
  assert.equal(page.status, 200, 'the page itself needs no sign-in (it holds no data)');
  assert.deepEqual((await https('GET', '/auth/session')).body, { team: true, oidc: false, user: null });
  const wrong = await https('POST', '/auth/sign-in', { body: { name: 'alice', password: 'not her password at all' }, headers: { Origin: base } });
  assert.deepEqual([wrong.status, (wrong.body.error as { code: string }).code], [401, 'SIGN_IN_FAILED']);
  const foreign = await https('POST', '/auth/sign-in', { body: { name: 'alice', password: PASSWORDS.alice }, headers: { Origin: 'https://evil.example' } });
  assert.deepEqual([foreign.status, (foreign.body.error as { code: string }).code], [403, 'FORBIDDEN']);
  const form = await https('POST', '/auth/sign-in', { headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: base } });
  assert.deepEqual([form.status, (form.body.error as { code: string }).code], [400, 'INVALID_INPUT'], 'a cross-site form cannot sign anyone in');

  const ok = await https('POST', '/auth/sign-in', { body: { name: 'Alice', password: PASSWORDS.alice }, headers: { Origin: base } });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.token, undefined, 'a browser never sees the session token');
  const setCookie = String(ok.headers['set-cookie']);
  assert.match(setCookie, /^cronium_session_[\w]+=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
  const cookie = setCookie.split(';')[0]!;
  const csrf = String(ok.body.csrf);
  const session = await https('GET', '/auth/session', { headers: { Cookie: cookie } });
  assert.equal((session.body.user as { name: string; role: string }).role, 'admin');
  assert.equal(session.body.csrf, csrf);

  // The API's WebSocket: the cookie from our own origin AND the CSRF token.
  await assert.rejects(socket('/api', { Cookie: cookie, Origin: base }), /refused 403/, 'no CSRF token');
  await assert.rejects(socket(`/api?csrf=${csrf}`, { Cookie: cookie, Origin: 'https://evil.example' }), /refused 403/, 'another site');
  await assert.rejects(socket(`/api?csrf=${csrf}`, { Cookie: cookie }), /refused 401/, 'a cookie without an Origin');
  const admin = await socket(`/api?csrf=${encodeURIComponent(csrf)}`, { Cookie: cookie, Origin: base });
  const added = await admin.call('hosts.add', { name: 'web1', address: '127.0.0.1', tags: ['prod'] });
  assert.ok(added.ok, JSON.stringify(added));
  const me = await admin.call('account.me');
  assert.equal((me.result as { name: string }).name, 'alice');
  admin.close();

  // Sign-out needs the CSRF token (a cookie rides along on any request to the site).
  assert.equal((await https('POST', '/auth/sign-out', { headers: { Cookie: cookie } })).status, 403);
  const out = await https('POST', '/auth/sign-out', { headers: { Cookie: cookie, 'X-CSRF-Token': csrf } });
  assert.equal(out.status, 200);
  assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
  assert.deepEqual((await https('GET', '/auth/session', { headers: { Cookie: cookie } })).body, { team: true, oidc: false, user: null });
});

test('in Chromium: the page asks to sign in, shows a wrong password coded, then the team\'s hosts with who is signed in; sign-out brings the form back', async () => {
  const browser = await launchChromium();
  try {
    // The test's own certificate: this browser is told to accept it (a user's would trust the team's CA).
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/`);
    const form = page.getByRole('form', { name: 'Sign in' });
    await form.waitFor();
    await page.fill('input[name=name]', 'alice');
    await page.fill('input[name=password]', 'not her password at all');
    await page.click('button[type=submit]');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.getAttribute('data-code'), 'SIGN_IN_FAILED');
    await page.fill('input[name=password]', PASSWORDS.alice);
    await page.click('button[type=submit]');
    await page.getByText('Signed in as').waitFor();
    assert.match(((await page.locator('.team-bar').textContent()) ?? '').replace(/\s+/g, ' '), /Signed in as alice \(admin\)/);
    // The app itself, over the WebSocket opened with the cookie and the CSRF token: the team's hosts.
    await page.getByText('web1').first().waitFor({ timeout: 15_000 });
    const cookies = await context.cookies();
    assert.ok(cookies.every((c) => c.httpOnly && c.secure && c.sameSite === 'Strict'), JSON.stringify(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite])));
    assert.equal(await page.evaluate('document.cookie'), '', 'the page cannot read its session cookie');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await form.waitFor();
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
  }
});

test("the workspace switcher: this computer's app adds the team server in Settings and opens it in a window of its own, where its people sign in", async () => {
  // This computer's app: a one-person `cronium serve` (its token), in Chromium.
  const local = await spawnServe([], { CRONIUM_HOME: join(scratch, 'desk'), CRONIUM_DATABASE_URL: '' }, 'the local serve');
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(local.url);
    await page.getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'Add a team server' });
    await page.getByLabel('Team server name').fill('team');
    await page.getByLabel('Team server address').fill('http://cronium.example.com');
    await form.getByRole('button', { name: 'Add' }).click();
    assert.match(await page.getByRole('alert').innerText(), /https/, 'a plain-http address off loopback is refused');
    await page.getByLabel('Team server address').fill(base);
    await form.getByRole('button', { name: 'Add' }).click();
    const switcher = page.getByRole('combobox', { name: 'Workspace' });
    await switcher.waitFor();
    const [popup] = await Promise.all([context.waitForEvent('page'), switcher.selectOption({ label: 'team' })]);
    await popup.waitForLoadState();
    assert.equal(new URL(popup.url()).origin, base);
    assert.equal(await switcher.inputValue(), '', 'this window stays this computer’s');
    await popup.getByRole('form', { name: 'Sign in' }).waitFor();
    await popup.fill('input[name=name]', 'alice');
    await popup.fill('input[name=password]', PASSWORDS.alice);
    await popup.click('button[type=submit]');
    await popup.getByText('web1').first().waitFor({ timeout: 15_000 });
    assert.equal(await popup.getByRole('combobox', { name: 'Workspace' }).count(), 0, 'the team server’s page has no switcher of its own');
  } finally {
    await browser.close();
    await local.stop();
  }
});

test("in Chromium, a viewer's views: the team's hosts and jobs are there; a run from the Run form is refused with FORBIDDEN, the role named", async () => {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${base}/`);
    await page.fill('input[name=name]', 'vic');
    await page.fill('input[name=password]', PASSWORDS.vic);
    await page.click('button[type=submit]');
    await page.getByText('Signed in as').waitFor();
    assert.match(((await page.locator('.team-bar').textContent()) ?? '').replace(/\s+/g, ' '), /Signed in as vic \(viewer\)/);
    await page.getByText('web1').first().waitFor({ timeout: 15_000 });
    await page.goto(`${base}/#jobs/new/web1`);
    await page.getByRole('heading', { name: 'Run a script', level: 1 }).waitFor();
    const editor = page.getByRole('textbox', { name: 'Script' });
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText('id\n');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    const notice = page.getByRole('alert').filter({ hasText: 'FORBIDDEN' });
    await notice.waitFor({ timeout: 15_000 });
    assert.match(await notice.innerText(), /vic \(viewer\) may not call jobs\.run/);
    assert.match(page.url(), /#jobs\/new\/web1$/, 'no job was made');
  } finally {
    await browser.close();
  }
});

test("a viewer reads and is refused a run (FORBIDDEN); a new role ends the session at the next call; the trail names each person, exported as JSON lines", async () => {
  // A client that is not a browser (no Origin): the token comes back, used as a bearer.
  const signed = await https('POST', '/auth/sign-in', { body: { name: 'vic', password: PASSWORDS.vic } });
  assert.equal(signed.status, 200);
  const token = String(signed.body.token);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const vic = await socket('/api', { Authorization: `Bearer ${token}` });
  const hosts = await vic.call('hosts.list');
  assert.ok(hosts.ok && (hosts.result as { name: string }[]).some((h) => h.name === 'web1'), JSON.stringify(hosts));
  const run = await vic.call('jobs.run', { hosts: ['web1'], command: 'id' });
  assert.deepEqual([run.ok, run.error?.code], [false, 'FORBIDDEN']);
  assert.match(run.error!.message, /vic \(viewer\) may not call jobs\.run/);
  const listing = await vic.call('users.list');
  assert.equal(listing.error?.code, 'FORBIDDEN');

  // The admin makes vic an operator: every session of the account ends, this socket's at its next call.
  await users(['set', 'vic', '--role', 'operator']);
  const after = await vic.call('hosts.list');
  assert.deepEqual([after.ok, after.error?.code], [false, 'SIGNED_OUT']);
  assert.equal(await vic.closed, 4401);

  const lines = (await cronium(['audit', 'export'], { env })).stdout.trim().split('\n').map((l) => JSON.parse(l) as { person: string | null; source: string | null; action: string; target: string | null; time: string });
  const signIn = lines.find((e) => e.action === 'user.signIn' && e.target === 'vic');
  assert.ok(signIn, 'the sign-in is in the trail');
  const hostAdd = lines.find((e) => e.action === 'host.add' && e.target === 'web1');
  assert.equal(hostAdd?.person, 'alice', 'who added the host');
  assert.match(String(hostAdd?.source), /^127\./, "and from where (the client's address)");
  const roleChange = lines.find((e) => e.action === 'user.update' && e.target === 'vic');
  assert.match(String(roleChange?.source), /^local /, 'the administrator on the server machine');
  assert.ok(lines.every((e) => /^\d{4}-\d\d-\d\dT/.test(e.time)));
});

test('the cronium command as a client: server login keeps a 0600 profile; --server runs commands there as the person (a viewer\'s run FORBIDDEN, exit 1); logout ends the session', async () => {
  const cli = (args: string[], input = '') => cronium(args, { env: { ...env, CRONIUM_DATABASE_URL: '' }, input });
  const wrong = await cli(['server', 'login', base, '--user', 'alice', '--ca', join(scratch, 'cert.pem')], 'not her password at all\n');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /error\[SIGN_IN_FAILED\]/);
  const ok = await cli(['server', 'login', base, '--user', 'alice', '--name', 'team', '--ca', join(scratch, 'cert.pem')], `${PASSWORDS.alice}\n`);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /signed in to team .* as alice \(admin\)/);
  const file = join(env.CRONIUM_HOME!, 'servers.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const token = (JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, { token: string }> }).servers.team!.token;
  assert.ok(!ok.stdout.includes(token) && !ok.stderr.includes(token), 'the session token is never printed');
  const hosts = await cli(['--server', 'team', '--json', 'hosts', 'list']);
  assert.equal(hosts.code, 0, hosts.stderr);
  assert.ok((JSON.parse(hosts.stdout) as { name: string }[]).some((h) => h.name === 'web1'), 'the team\'s hosts, not this data dir\'s');
  const listed = await cli(['--server', 'team', 'users', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /alice\s+admin/);
  // A viewer's run through the command: refused by the server, coded, exit 1.
  const viewer = await cli(['server', 'login', base, '--user', 'bea', '--name', 'bea', '--ca', join(scratch, 'cert.pem')], `${PASSWORDS.bea}\n`);
  assert.equal(viewer.code, 0, viewer.stderr);
  const run = await cli(['--server', 'bea', 'run', '--host', 'web1', '--command', 'id']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /error\[FORBIDDEN\]: bea \(viewer\) may not call jobs\.run/);
  const out = await cli(['server', 'logout', 'team']);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(Object.keys((JSON.parse(readFileSync(file, 'utf8')) as { servers: object }).servers), ['bea']);
  // The session ended on the server too: the old token opens nothing.
  await assert.rejects(socket('/api', { Authorization: `Bearer ${token}` }), /refused 401/);
});

test('serve refuses to listen beyond loopback without TLS, and a one-person server beyond 127.0.0.1', async () => {
  const clear = await cronium(['serve', '--listen', '0.0.0.0'], { env });
  assert.equal(clear.code, 2);
  assert.match(clear.stderr, /error\[INVALID_INPUT\]: invalid --listen: 0\.0\.0\.0 is reachable from the network, and without TLS/);
  const solo = await cronium(['serve', '--listen', '127.0.0.5'], { env: { CRONIUM_HOME: join(scratch, 'solo'), CRONIUM_DATABASE_URL: '' } });
  assert.equal(solo.code, 2);
  assert.match(solo.stderr, /only a team server listens beyond 127\.0\.0\.1/);
  const nameless = await cronium(['serve', '--listen', '0.0.0.0', '--tls-cert', join(scratch, 'cert.pem'), '--tls-key', join(scratch, 'key.pem')], { env });
  assert.equal(nameless.code, 2);
  assert.match(nameless.stderr, /invalid --listen: 0\.0\.0\.0 needs --public-url, the address people open/);
  const half = await cronium(['serve', '--tls-cert', join(scratch, 'cert.pem')], { env });
  assert.equal(half.code, 2);
  assert.match(half.stderr, /give --tls-cert and --tls-key together/);
});
