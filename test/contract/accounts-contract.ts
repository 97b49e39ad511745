/**
 * People, roles and the audit trail of a team server (issue #16), run against each store: a
 * SQLite core with accounts (unit suite, test/unit/core/accounts.test.ts) and a team core on a
 * real PostgreSQL (integration, test/integration/pg/accounts.test.ts). Calls go through the
 * dispatcher with the person a door signed in, as a team server's door makes them.
 *
 * TOTP codes come from oathtool (an independent implementation of RFC 6238), never from the
 * library the service uses; the service's clock is set to the time the codes are made for.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { call } from '../../electron/core/api/dispatcher';
import type { Principal } from '../../electron/core/accounts/caller';
import { LOCK_AFTER, SESSION_IDLE_MS } from '../../electron/core/accounts/accounts';
import type { Core } from '../../electron/core/core';

/** A fresh core with accounts, an empty store, and a clock the test moves. */
export interface AccountsRig {
  core: Core;
  clock: { now: number };
  close(): Promise<void>;
}

const PASSWORD = 'correct horse battery staple';

/** The TOTP code of a base32 secret at a time (ms), by oathtool. */
export function oathtool(secret: string, atMs: number): string {
  return execFileSync('oathtool', ['--totp', '-b', secret, '--now', `@${Math.floor(atMs / 1000)}`], { encoding: 'utf8' }).trim();
}

const door = (principal?: Principal) => ({ door: 'headless' as const, ...(principal ? { principal, source: '127.0.0.9' } : {}) });

/** Registers the contract's cases for one store. */
export function accountsContract(name: string, open: () => Promise<AccountsRig>): void {
  const withRig = (title: string, fn: (r: AccountsRig) => Promise<void>) =>
    void test(`accounts (${name}): ${title}`, async () => {
      const r = await open();
      try {
        await fn(r);
      } finally {
        await r.close();
      }
    });

  withRig('accounts: names folded to lower case, passwords kept as argon2id hashes only, refusals coded', async ({ core }) => {
    const a = core.accounts!;
    const added = await call(core.dispatch, 'users.add', { name: 'Alice', role: 'admin', password: PASSWORD }, door());
    assert.deepEqual([added.name, added.role, added.password, added.totp], ['alice', 'admin', true, false]);
    await assert.rejects(call(core.dispatch, 'users.add', { name: 'alice', role: 'viewer', password: PASSWORD }, door()), { code: 'ALREADY_EXISTS' });
    await assert.rejects(call(core.dispatch, 'users.add', { name: 'bob', role: 'viewer', password: 'short' }, door()), { code: 'INVALID_INPUT', message: /too short/ });
    await assert.rejects(call(core.dispatch, 'users.add', { name: 'bob', role: 'root', password: PASSWORD }, door()), { code: 'INVALID_INPUT' });
    await assert.rejects(call(core.dispatch, 'users.add', { name: 'bad name', role: 'viewer', password: PASSWORD }, door()), { code: 'INVALID_INPUT' });
    const [row] = await core.store.data.rows<{ password_hash: string }>(sql`select password_hash from users where name = 'alice'`);
    assert.match(row!.password_hash, /^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    assert.ok(!row!.password_hash.includes(PASSWORD));
    // Against the reference implementation (Debian's argon2, the PHC winners' own code): a hash
    // it made with our costs verifies here, and a wrong password does not.
    const salt = 'cronium-ref-salt';
    const reference = execFileSync('argon2', [salt, '-id', '-t', '3', '-k', '65536', '-p', '1', '-e'], { input: PASSWORD, encoding: 'utf8' }).trim();
    await core.store.data.exec(sql`update users set password_hash = ${reference} where name = 'alice'`);
    assert.equal((await a.signIn({ name: 'alice', password: PASSWORD })).user.name, 'alice', 'a hash by the reference verifies');
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD + '!' }), { code: 'SIGN_IN_FAILED' });
    // The last admin stays.
    await assert.rejects(call(core.dispatch, 'users.update', { name: 'alice', role: 'viewer' }, door()), { code: 'CONFLICT' });
    await assert.rejects(call(core.dispatch, 'users.remove', { name: 'alice' }, door()), { code: 'CONFLICT' });
    assert.equal(await a.count(), 1);
  });

  withRig('sign-in: a session token stored only as its hash; wrong password and unknown name fail alike; ten failures lock the account', async ({ core }) => {
    const a = core.accounts!;
    await a.add({ name: 'alice', role: 'admin', password: PASSWORD });
    const s = await a.signIn({ name: 'ALICE', password: PASSWORD, source: '127.0.0.9' });
    assert.equal(s.user.name, 'alice');
    const stored = await core.store.data.rows<{ id: string }>(sql`select id from user_sessions`);
    assert.deepEqual(stored.map((r) => r.id), [createHash('sha256').update(s.token).digest('hex')]);
    const who = await a.principal(s.token);
    assert.deepEqual([who?.name, who?.role, who?.csrf], ['alice', 'admin', s.csrf]);
    assert.equal(await a.principal(s.token.slice(0, -1) + (s.token.endsWith('A') ? 'B' : 'A')), undefined);
    const wrong = await a.signIn({ name: 'alice', password: 'not the password at all' }).catch((e: unknown) => e);
    const unknown = await a.signIn({ name: 'mallory', password: 'not the password at all' }).catch((e: unknown) => e);
    assert.deepEqual([(wrong as { code: string }).code, (wrong as Error).message], [(unknown as { code: string }).code, (unknown as Error).message]);
    assert.equal((wrong as { code: string }).code, 'SIGN_IN_FAILED');
    for (let i = 1; i < LOCK_AFTER; i++) await assert.rejects(a.signIn({ name: 'alice', password: `wrong ${i} wrong wrong` }), { code: 'SIGN_IN_FAILED' });
    // The tenth failure in a row (the first was above) locks: even the right password is refused now.
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD }), { code: 'ACCOUNT_LOCKED' });
    await a.update('alice', { unlock: true });
    await a.signIn({ name: 'alice', password: PASSWORD });
    await a.signOut(s.token);
    assert.equal(await a.principal(s.token), undefined, 'signed out');
  });

  withRig('TOTP (codes by oathtool): enrolment confirmed by a code; sign-in then needs one; a code signs in once; one step of drift', async ({ core, clock }) => {
    const a = core.accounts!;
    await a.add({ name: 'alice', role: 'admin', password: PASSWORD });
    const me = (await a.principal((await a.signIn({ name: 'alice', password: PASSWORD })).token))!;
    const { secret, uri } = await call(core.dispatch, 'account.totpBegin', {}, door(me));
    assert.match(uri, /^otpauth:\/\/totp\/Cronium:alice\?/);
    await assert.rejects(call(core.dispatch, 'account.totpConfirm', { code: oathtool(secret, clock.now + 5 * 60_000) }, door(me)), { code: 'INVALID_INPUT' });
    assert.equal((await call(core.dispatch, 'account.totpConfirm', { code: oathtool(secret, clock.now) }, door(me))).totp, true);
    const [row] = await core.store.data.rows<{ totp_sealed: Buffer }>(sql`select totp_sealed from users where name = 'alice'`);
    assert.ok(!Buffer.from(row!.totp_sealed).toString('latin1').includes(secret), 'the secret is sealed');
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD }), { code: 'TOTP_REQUIRED' });
    // The code used to confirm does not sign in again (same time step).
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD, code: oathtool(secret, clock.now) }), { code: 'SIGN_IN_FAILED' });
    clock.now += 30_000;
    const code = oathtool(secret, clock.now);
    await a.signIn({ name: 'alice', password: PASSWORD, code });
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD, code }), { code: 'SIGN_IN_FAILED' }, 'a code signs in once');
    clock.now += 60_000;
    await a.signIn({ name: 'alice', password: PASSWORD, code: oathtool(secret, clock.now - 30_000) });
    await assert.rejects(a.signIn({ name: 'alice', password: PASSWORD, code: oathtool(secret, clock.now - 120_000) }), { code: 'SIGN_IN_FAILED' });
    // An admin turns it off (a lost phone).
    await call(core.dispatch, 'users.update', { name: 'alice', totpOff: true }, door());
    await a.signIn({ name: 'alice', password: PASSWORD });
  });

  withRig('sessions end when idle, and with a new role, a new password or a disabled account', async ({ core, clock }) => {
    const a = core.accounts!;
    await a.add({ name: 'alice', role: 'admin', password: PASSWORD });
    await a.add({ name: 'olga', role: 'operator', password: PASSWORD });
    const s1 = await a.signIn({ name: 'olga', password: PASSWORD });
    clock.now += SESSION_IDLE_MS - 1000;
    assert.ok(await a.principal(s1.token), 'still fresh (and touched now)');
    clock.now += SESSION_IDLE_MS - 1000;
    assert.ok(await a.principal(s1.token), 'in use keeps it alive');
    clock.now += SESSION_IDLE_MS + 1;
    assert.equal(await a.principal(s1.token), undefined, 'idle too long');
    const NEW = 'another long password';
    const s2 = await a.signIn({ name: 'olga', password: PASSWORD });
    await a.update('olga', { role: 'viewer' });
    assert.equal(await a.principal(s2.token), undefined, 'ended by a new role');
    const s3 = await a.signIn({ name: 'olga', password: PASSWORD });
    await a.update('olga', { password: NEW });
    assert.equal(await a.principal(s3.token), undefined, 'ended by a new password');
    const s4 = await a.signIn({ name: 'olga', password: NEW });
    await a.update('olga', { disabled: true });
    assert.equal(await a.principal(s4.token), undefined, 'ended by disabling the account');
    await assert.rejects(a.signIn({ name: 'olga', password: NEW }), { code: 'SIGN_IN_FAILED' }, 'a disabled account does not sign in');
  });

  withRig('roles: each refusal a FORBIDDEN; operators run and schedule only where granted, never with secrets or as root', async ({ core }) => {
    const admin = door();
    await call(core.dispatch, 'hosts.add', { name: 'web1', address: '127.0.0.1', tags: ['prod'] }, admin);
    await call(core.dispatch, 'hosts.add', { name: 'web2', address: '127.0.0.1', tags: ['prod'] }, admin);
    await call(core.dispatch, 'hosts.add', { name: 'db1', address: '127.0.0.1', tags: ['db'] }, admin);
    await call(core.dispatch, 'vars.set', { key: 'DB_PASSWORD', value: 's3cret-value', secret: true }, admin);
    await call(core.dispatch, 'schedules.add', { name: 'db-backup', cron: '0 3 * * *', tag: 'db', script: 'true' }, admin);
    const a = core.accounts!;
    await a.add({ name: 'alice', role: 'admin', password: PASSWORD });
    await a.add({ name: 'olga', role: 'operator', password: PASSWORD });
    await a.add({ name: 'vic', role: 'viewer', password: PASSWORD });
    await call(core.dispatch, 'users.grant', { name: 'olga', tags: ['prod'], hosts: ['db1'] }, admin);
    await call(core.dispatch, 'users.revoke', { name: 'olga', hosts: ['db1'] }, admin);
    const who = async (n: string) => (await a.principal((await a.signIn({ name: n, password: PASSWORD })).token))!;
    const [alice, olga, vic] = [await who('alice'), await who('olga'), await who('vic')];
    assert.deepEqual(olga.grants, { hosts: [], tags: ['prod'] });

    const forbidden = async (p: Principal, method: Parameters<typeof call>[1], args: unknown, what: RegExp) => {
      const e = await call(core.dispatch, method, args, door(p)).then(
        () => assert.fail(`${p.name} was let through ${method}`),
        (err: { code: string; message: string; hint: string }) => err,
      );
      assert.equal(e.code, 'FORBIDDEN', `${method} for ${p.name}: ${e.message}`);
      assert.match(e.message, what);
      assert.ok(e.hint.length > 0);
    };
    // The viewer reads, and does nothing else.
    assert.ok(Array.isArray(await call(core.dispatch, 'jobs.list', {}, door(vic))));
    assert.equal((await call(core.dispatch, 'hosts.list', {}, door(vic))).length, 3);
    await forbidden(vic, 'jobs.run', { hosts: ['web1'], command: 'true' }, /vic \(viewer\) may not call jobs.run/);
    await forbidden(vic, 'hosts.add', { name: 'x', address: '127.0.0.1' }, /may not call hosts.add/);
    await forbidden(vic, 'schedules.pause', { name: 'db-backup' }, /may not/);
    await forbidden(vic, 'users.list', {}, /may not/);
    // The operator: on what is granted (by tag here), not elsewhere.
    const run = await call(core.dispatch, 'jobs.run', { hosts: ['web1', 'web2'], command: 'uptime' }, door(olga));
    assert.equal(run.runIds.length, 2);
    assert.equal((await call(core.dispatch, 'jobs.get', { id: run.jobId }, door(vic))).requestedByPerson, 'olga', 'the job names who asked');
    await call(core.dispatch, 'jobs.run', { tag: 'prod', command: 'uptime' }, door(olga));
    await forbidden(olga, 'jobs.run', { hosts: ['web1', 'db1'], command: 'uptime' }, /run scripts on db1/);
    await forbidden(olga, 'jobs.run', { tag: 'db', command: 'uptime' }, /on db1/);
    await forbidden(olga, 'jobs.run', { hosts: ['web1'], command: 'env', secrets: ['DB_PASSWORD'] }, /with secret variables/);
    await forbidden(olga, 'jobs.run', { hosts: ['web1'], command: 'id', elevated: true }, /elevated/);
    await forbidden(olga, 'jobs.push', { hosts: ['web1'], path: '/etc/passwd', to: '/tmp/x' }, /may not call jobs.push/);
    await forbidden(olga, 'schedules.pause', { name: 'db-backup' }, /tag db/);
    await forbidden(olga, 'schedules.add', { name: 'web-all', cron: '* * * * *', hosts: ['web1', 'db1'], script: 'true' }, /on db1/);
    await call(core.dispatch, 'schedules.add', { name: 'web-all', cron: '* * * * *', tag: 'prod', script: 'true' }, door(olga));
    await call(core.dispatch, 'schedules.pause', { name: 'web-all' }, door(olga));
    await forbidden(olga, 'vars.set', { key: 'X', value: 'y' }, /may not call vars.set/);
    await forbidden(olga, 'scripts.save', { name: 's', body: 'true' }, /may not call scripts.save/);
    await forbidden(olga, 'hosts.update', { name: 'web1', port: 2222 }, /may not/);
    await forbidden(olga, 'users.grant', { name: 'olga', tags: ['db'] }, /may not/);
    await forbidden(olga, 'settings.set', { execution: { defaultMode: 'direct' } }, /may not/);
    await forbidden(olga, 'runner.deploy', { name: 'db1' }, /deploy the runner on db1/);
    await forbidden(olga, 'jobs.cancel', { id: (await call(core.dispatch, 'jobs.run', { hosts: ['db1'], command: 'true' }, admin)).jobId }, /cancel jobs on db1/);
    // Secrets: readable by no one (the value never leaves), usable by runs an admin set up.
    const secret = await call(core.dispatch, 'vars.get', { key: 'DB_PASSWORD' }, door(olga));
    assert.ok(!JSON.stringify(secret).includes('s3cret-value'));
    assert.ok(!JSON.stringify(await call(core.dispatch, 'vars.list', {}, door(alice))).includes('s3cret-value'));
    // The audit trail names the person and where from; JSON-ready entries, paged by id.
    const trail = await call(core.dispatch, 'audit.list', { limit: 10_000 }, door(alice));
    const paused = trail.find((e) => e.action === 'schedule.pause' && e.target === 'web-all');
    assert.deepEqual([paused?.person, paused?.source, paused?.actor], ['olga', '127.0.0.9', 'headless']);
    const jobEntry = trail.find((e) => e.person === 'olga' && /^job\./.test(e.action));
    assert.ok(jobEntry, `a run request of olga in the trail: ${JSON.stringify(trail.map((e) => e.action))}`);
    assert.ok(trail.some((e) => e.action === 'user.signIn' && e.target === 'vic'));
    const page = await call(core.dispatch, 'audit.list', { afterId: trail[2]!.id, limit: 2 }, door(alice));
    assert.deepEqual(page.map((e) => e.id), [trail[3]!.id, trail[4]!.id]);
    await forbidden(olga, 'audit.list', {}, /may not call audit.list/);
  });
}
