/**
 * OpenID Connect sign-in on a team server (issue #16), end to end against a real identity
 * provider: panva's oidc-provider (a certified OpenID Provider implementation, its development
 * login pages; started here on 127.0.0.1) and `cronium serve --database` on its own loopback
 * address (127.0.0.24), Chromium doing what a person does. The identity an admin linked to an
 * account signs in as that account; another identity of the same provider is refused and the
 * page says so; a callback that was not started by this browser is refused too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Provider from 'oidc-provider';
import { launchChromium } from '../../e2e/harness';
import { cronium } from '../../helpers/cli';
import { spawnServe, type Served } from '../../helpers/serve';
import { startPgCluster, type PgCluster } from '../../pg/cluster';

const CLIENT_SECRET = 'a client secret only the test knows, 32+ characters';
let cluster: PgCluster | undefined;
let scratch = '';
let serve: Served | undefined;
let idp: Server | undefined;
let base = '';
let issuer = '';

/** A free port on 127.0.0.1 (the IdP's issuer URL must be known before serve starts). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

before(async () => {
  cluster = await startPgCluster();
  scratch = mkdtempSync(join(tmpdir(), 'cronium-oidc-'));
  await cluster.psql('create database oidc');
  const idpPort = await freePort();
  issuer = `http://127.0.0.1:${idpPort}`;
  const env = { CRONIUM_HOME: join(scratch, 'home'), CRONIUM_DATABASE_URL: cluster.url('oidc') };
  const added = await cronium(['users', 'add', 'olga', '--role', 'operator', '--oidc-subject', `${issuer} olga-at-idp`], { env });
  assert.equal(added.code, 0, added.stderr);
  serve = await spawnServe(['--listen', '127.0.0.24', '--oidc-issuer', issuer, '--oidc-client-id', 'cronium'], { ...env, CRONIUM_OIDC_CLIENT_SECRET: CLIENT_SECRET });
  base = serve.url;
  // The identity provider, with this server registered as its client (PKCE required).
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'cronium', client_secret: CLIENT_SECRET, redirect_uris: [`${base}/auth/oidc/callback`], token_endpoint_auth_method: 'client_secret_post' }],
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
    pkce: { required: () => true },
  });
  idp = createServer(provider.callback());
  await new Promise<void>((r) => idp!.listen(idpPort, '127.0.0.1', () => r()));
});

after(async () => {
  await serve?.stop();
  idp?.closeAllConnections();
  await new Promise((r) => (idp ? idp.close(r) : r(undefined)));
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test('single sign-on: the linked identity signs in as its account; an unlinked one and a forged callback are refused', async () => {
  const browser = await launchChromium();
  try {
    const signInAs = async (login: string) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${base}/`);
      await page.getByRole('link', { name: 'Sign in with single sign-on' }).click();
      // The provider's own pages: its login, then its consent.
      await page.waitForURL((u) => u.origin === issuer);
      await page.fill('input[name=login]', login);
      await page.fill('input[name=password]', 'anything');
      await page.click('button[type=submit]');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL((u) => u.origin === base);
      return { context, page };
    };
    const olga = await signInAs('olga-at-idp');
    await olga.page.getByText('Signed in as').waitFor({ timeout: 15_000 });
    assert.match(((await olga.page.locator('.team-bar').textContent()) ?? '').replace(/\s+/g, ' '), /Signed in as olga \(operator\)/);
    const cookies = await olga.context.cookies();
    assert.ok(cookies.some((c) => c.name.startsWith('cronium_session_') && c.httpOnly && c.sameSite === 'Strict'));
    assert.ok(!cookies.some((c) => c.name.endsWith('_oidc') && c.value !== ''), 'the pending sign-in cookie is gone');
    await olga.context.close();

    const mallory = await signInAs('mallory');
    const alert = mallory.page.getByRole('alert');
    await alert.waitFor();
    assert.equal(await alert.getAttribute('data-code'), 'SIGN_IN_FAILED');
    assert.match(await alert.innerText(), /no account here is linked to that identity/);
    await mallory.context.close();

    // A callback this browser never started (no pending cookie): refused, no session.
    const forged = await browser.newContext();
    const page = await forged.newPage();
    await page.goto(`${base}/auth/oidc/callback?code=stolen&state=guess`);
    await page.getByRole('alert').waitFor();
    assert.equal(await page.getByRole('alert').getAttribute('data-code'), 'SIGN_IN_FAILED');
    assert.ok(!(await forged.cookies()).some((c) => c.name.startsWith('cronium_session_') && c.value !== ''));
    await forged.close();
  } finally {
    await browser.close();
  }
});

test('serve refuses OpenID Connect without its client secret in the environment, or on a one-person server', async () => {
  const env = { CRONIUM_HOME: join(scratch, 'home'), CRONIUM_DATABASE_URL: cluster!.url('oidc') };
  const noSecret = await cronium(['serve', '--oidc-issuer', issuer, '--oidc-client-id', 'cronium'], { env });
  assert.equal(noSecret.code, 2);
  assert.match(noSecret.stderr, /error\[INVALID_INPUT\]: CRONIUM_OIDC_CLIENT_SECRET is not set/);
  const solo = await cronium(['serve', '--oidc-issuer', issuer, '--oidc-client-id', 'cronium'], { env: { CRONIUM_HOME: join(scratch, 'solo'), CRONIUM_DATABASE_URL: '' } });
  assert.equal(solo.code, 2);
  assert.match(solo.stderr, /only a team server has accounts/);
});
