/**
 * `cronium server login URL --user NAME | list | logout NAME`: the command as a client of team
 * servers (server-client.ts). After a login, `cronium --server NAME …` (or CRONIUM_SERVER=NAME)
 * runs any command there as that person.
 */
import type { Command } from 'commander';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readSecret, readTtyLine } from '../stdin';

/** Registers `server`. */
export function registerServer(program: Command, ctx: CliContext): void {
  const server = program.command('server').description('team servers this command signs in to (then: cronium --server NAME …)');
  server
    .command('login')
    .description('sign in to a team server and keep the session (the password from a hidden prompt or stdin)')
    .argument('<url>', 'the server, e.g. https://cronium.example.com:8443')
    .requiredOption('--user <name>', 'your account on the server')
    .option('--name <name>', 'the name to call it by (default: its host name)')
    .option('--ca <file>', "the server's CA certificate (PEM), for a server whose certificate your system does not trust")
    .option('--code <code>', 'the code of your authenticator app (asked on a terminal when needed)')
    .action(async (url: string, o: { user: string; name?: string; ca?: string; code?: string }) => {
      const { login, profileName, readProfiles, writeProfiles } = await import('../server-client');
      const password = await readSecret(`password for ${o.user} at ${url}: `);
      let signed;
      try {
        signed = await login({ url, user: o.user, password, ...(o.code ? { code: o.code } : {}), ...(o.ca ? { ca: o.ca } : {}) });
      } catch (e) {
        if (!(e instanceof CroniumError && e.code === 'TOTP_REQUIRED' && process.stdin.isTTY)) throw e;
        const code = await readTtyLine('code from your authenticator app: ', { echo: true });
        signed = await login({ url, user: o.user, password, code, ...(o.ca ? { ca: o.ca } : {}) });
      }
      const name = profileName(signed.profile.url, o.name);
      writeProfiles(ctx.dataDir, { ...readProfiles(ctx.dataDir), [name]: signed.profile });
      if (ctx.json) return printJson({ name, url: signed.profile.url, user: signed.user });
      say(`signed in to ${name} (${signed.profile.url}) as ${signed.user.name} (${signed.user.role}); use it with: cronium --server ${name} …`);
    });
  server
    .command('list')
    .description('the team servers signed in to')
    .action(async () => {
      const { readProfiles } = await import('../server-client');
      const servers = readProfiles(ctx.dataDir);
      const rows = Object.entries(servers).map(([name, p]) => ({ name, url: p.url, user: p.user, expiresAt: p.expiresAt }));
      if (ctx.json) return printJson(rows);
      process.stdout.write(rows.length === 0 ? 'no team servers: cronium server login URL --user NAME\n' : `${table(['NAME', 'URL', 'USER', 'SESSION UNTIL'], rows.map((r) => [r.name, r.url, r.user, new Date(r.expiresAt).toISOString()]))}\n`);
    });
  server
    .command('logout')
    .description('sign out of a team server and forget its session')
    .argument('<name>', 'its name or URL')
    .action(async (nameOrUrl: string) => {
      const { findProfile, logout, readProfiles, writeProfiles } = await import('../server-client');
      const { name, profile } = findProfile(ctx.dataDir, nameOrUrl);
      await logout(profile);
      const servers = readProfiles(ctx.dataDir);
      delete servers[name];
      writeProfiles(ctx.dataDir, servers);
      if (ctx.json) return printJson({ name, signedOut: true });
      say(`signed out of ${name}`);
    });
}
