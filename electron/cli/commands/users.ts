/**
 * `cronium users …` and `cronium audit export` (issue #16). `users` manages a team server's
 * accounts on its database (--database or CRONIUM_DATABASE_URL), as the server machine's own
 * administrator: that is how the first admin is made. Passwords are read from stdin or a hidden
 * prompt, never from the command line. With `--server NAME` they run on that team server as the
 * signed-in person (an admin). `audit export` writes the audit trail as JSON lines (one
 * entry per line, oldest first), of the team database or of this data dir's SQLite store.
 */
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import type { MethodName, MethodResult, UserInfo } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { Core } from '../../core/core';
import { callOn, openCliCore, openTeamCliCore, type CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readSecret } from '../stdin';
import { teamDatabase } from './serve';

const DATABASE_HELP = "the team server's PostgreSQL database (default: CRONIUM_DATABASE_URL)";

/** Calls on a core opened for this one command, as this machine's user (recorded as where from). */
async function withCore<T>(open: () => Promise<Core>, fn: (c: Caller) => Promise<T>): Promise<T> {
  const core = await open();
  const source = `local ${userInfo().username}`;
  try {
    return await fn((m, a) => callOn(core, m, a, { door: 'cli', source }));
  } finally {
    core.close();
  }
}

type Caller = <M extends MethodName>(m: M, a: unknown) => Promise<MethodResult<M>>;

/**
 * Calls on the team: on the --server as the signed-in person, else on its database as this
 * machine's administrator; with `orLocal`, this data dir's store when no team database is given.
 */
function onTeam<T>(ctx: CliContext, flag: string | undefined, fn: (c: Caller) => Promise<T>, orLocal = false): Promise<T> {
  if (ctx.server !== undefined) return fn((m, a) => ctx.call(m, a));
  return withCore(teamCore(ctx, flag, orLocal), fn);
}

function teamCore(ctx: CliContext, flag: string | undefined, orLocal = false): () => Promise<Core> {
  return async () => {
    const url = teamDatabase(flag, process.env.CRONIUM_DATABASE_URL);
    if (!url && orLocal) return openCliCore(ctx.dataDir, 'cli');
    if (!url) throw new CroniumError('NOT_IMPLEMENTED', 'accounts belong to a team server, and no team database was given', 'give --database postgres://USER@HOST/DB, or set CRONIUM_DATABASE_URL (docs/team-server.md)');
    return openTeamCliCore(ctx.dataDir, url);
  };
}

function describe(u: UserInfo): string[] {
  const grants = [...u.grants.hosts.map((h) => `host ${h}`), ...u.grants.tags.map((t) => `tag ${t}`)].join(', ');
  const state = u.disabled ? 'disabled' : u.lockedUntil ? `locked until ${new Date(u.lockedUntil).toISOString()}` : 'active';
  return [u.name, u.role, u.totp ? 'password + TOTP' : u.oidc ? 'OpenID Connect' : 'password', state, u.role === 'operator' ? grants || '(nothing granted)' : '-', u.lastSignInAt ? new Date(u.lastSignInAt).toISOString() : 'never'];
}

async function newPassword(name: string): Promise<string> {
  const password = await readSecret(`password for ${name}: `);
  if (password === '') throw fieldError('password', 'empty', 'type it at the prompt, or pipe it on stdin');
  return password;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Registers `users` and `audit`. */
export function registerUsers(program: Command, ctx: CliContext): void {
  const users = program.command('users').description("a team server's accounts: add, list, change, grant, remove (on its database, as the server's administrator)");
  const show = (u: UserInfo, verb: string) => {
    if (ctx.json) return printJson(u);
    say(`${verb} ${u.name} (${u.role})`);
  };
  users
    .command('add')
    .description('add an account; the password is read from stdin or a hidden prompt')
    .argument('<name>', 'the name to sign in with (a-z, 0-9, . _ -)')
    .requiredOption('--role <role>', 'admin, operator (runs and schedules on granted hosts and tags) or viewer (reads jobs and logs)')
    .option('--oidc-subject <subject>', 'signs in with OpenID Connect as this identity ("ISSUER SUBJECT") instead of a password')
    .option('--database <url>', DATABASE_HELP)
    .action(async (name: string, o: { role: string; oidcSubject?: string; database?: string }) => {
      const password = o.oidcSubject === undefined ? await newPassword(name) : undefined;
      const u = await onTeam(ctx, o.database, (c) => c('users.add', { name, role: o.role, ...(password !== undefined ? { password } : {}), ...(o.oidcSubject ? { oidcSubject: o.oidcSubject } : {}) }));
      show(u, 'added');
    });
  users
    .command('list')
    .description('list the accounts')
    .option('--database <url>', DATABASE_HELP)
    .action(async (o: { database?: string }) => {
      const list = await onTeam(ctx, o.database, (c) => c('users.list', {}));
      if (ctx.json) return printJson(list);
      process.stdout.write(list.length === 0 ? 'no accounts yet: cronium users add NAME --role admin\n' : `${table(['NAME', 'ROLE', 'SIGN-IN', 'STATE', 'GRANTS', 'LAST SIGN-IN'], list.map(describe))}\n`);
    });
  users
    .command('set')
    .description('change an account (a new role, password or disabled ends its sessions)')
    .argument('<name>', 'the account')
    .option('--role <role>', 'admin, operator or viewer')
    .option('--password-stdin', 'a new password, from stdin or a hidden prompt')
    .option('--disable', 'no more sign-ins; its sessions end')
    .option('--enable', 'undo --disable')
    .option('--unlock', 'lift the lock after failed sign-ins')
    .option('--totp-off', 'turn its second factor off (a lost phone); it enrols again from the app')
    .option('--database <url>', DATABASE_HELP)
    .action(async (name: string, o: { role?: string; passwordStdin?: boolean; disable?: boolean; enable?: boolean; unlock?: boolean; totpOff?: boolean; database?: string }) => {
      if (o.disable && o.enable) throw fieldError('disable', 'give --disable or --enable, not both');
      const password = o.passwordStdin ? await newPassword(name) : undefined;
      const patch = {
        name,
        ...(o.role !== undefined ? { role: o.role } : {}),
        ...(password !== undefined ? { password } : {}),
        ...(o.disable || o.enable ? { disabled: o.disable === true } : {}),
        ...(o.unlock ? { unlock: true } : {}),
        ...(o.totpOff ? { totpOff: true } : {}),
      };
      if (Object.keys(patch).length === 1) throw fieldError('role', 'nothing to change', 'give --role, --password-stdin, --disable, --enable, --unlock or --totp-off');
      show(await onTeam(ctx, o.database, (c) => c('users.update', patch)), 'changed');
    });
  for (const verb of ['grant', 'revoke'] as const) {
    users
      .command(verb)
      .description(verb === 'grant' ? 'let an operator run and schedule on hosts (by name) and on every host of a tag' : "take back an operator's hosts and tags")
      .argument('<name>', 'the account')
      .option('--host <name>', 'a host (repeatable)', collect)
      .option('--tag <tag>', 'a tag (repeatable)', collect)
      .option('--database <url>', DATABASE_HELP)
      .action(async (name: string, o: { host?: string[]; tag?: string[]; database?: string }) => {
        const u = await onTeam(ctx, o.database, (c) => c(verb === 'grant' ? 'users.grant' : 'users.revoke', { name, hosts: o.host ?? [], tags: o.tag ?? [] }));
        if (ctx.json) return printJson(u);
        say(`${u.name} may run on: ${[...u.grants.hosts.map((h) => `host ${h}`), ...u.grants.tags.map((t) => `tag ${t}`)].join(', ') || 'nothing'}`);
      });
  }
  users
    .command('totp')
    .description('enrol an account in TOTP: prints the otpauth:// URI for an authenticator app, then asks for its first code')
    .argument('<name>', 'the account')
    .option('--database <url>', DATABASE_HELP)
    .action(async (name: string, o: { database?: string }) => {
      const core = await teamCore(ctx, o.database)();
      try {
        const accounts = core.accounts!;
        const { uri, secret } = await accounts.totpBegin(name);
        process.stdout.write(`${uri}\n`);
        say(`secret (to type in instead of the URI): ${secret}`);
        const code = await readSecret('the code the app shows now: ');
        const u = await accounts.totpConfirm(name, code);
        show(u, 'TOTP on for');
      } finally {
        core.close();
      }
    });
  users
    .command('rm')
    .alias('remove')
    .description('remove an account (never the last admin)')
    .argument('<name>', 'the account')
    .option('--database <url>', DATABASE_HELP)
    .action(async (name: string, o: { database?: string }) => {
      await onTeam(ctx, o.database, (c) => c('users.remove', { name }));
      if (ctx.json) return printJson({ removed: true });
      say(`removed ${name}`);
    });

  const audit = program.command('audit').description('the audit trail: who did what, when, from where');
  audit
    .command('export')
    .description('write the audit trail as JSON lines, oldest first (the team database with --database or CRONIUM_DATABASE_URL, else this data dir)')
    .option('--since <time>', 'only entries from this time on (ISO 8601, or ms since the epoch)')
    .option('--person <name>', "only this person's entries")
    .option('--database <url>', DATABASE_HELP)
    .action(async (o: { since?: string; person?: string; database?: string }) => {
      let since: number | undefined;
      if (o.since !== undefined) {
        since = /^\d+$/.test(o.since) ? Number(o.since) : Date.parse(o.since);
        if (!Number.isFinite(since)) throw fieldError('since', `"${o.since}" is not a time`, 'e.g. --since 2026-12-01 or --since 2026-12-01T09:00:00Z');
      }
      await onTeam(ctx, o.database, async (c) => {
        let afterId = 0;
        for (;;) {
          const page = await c('audit.list', { afterId, limit: 1000, ...(since !== undefined ? { since } : {}), ...(o.person ? { person: o.person } : {}) });
          if (page.length === 0) break;
          const text = page.map((e) => JSON.stringify({ ...e, time: new Date(e.ts).toISOString() })).join('\n') + '\n';
          if (!process.stdout.write(text)) await new Promise((r) => process.stdout.once('drain', r));
          afterId = page.at(-1)!.id;
        }
      }, true);
    });
}
