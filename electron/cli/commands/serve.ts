/** `cronium serve`: the headless door. */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { assetPath } from '../../core/paths';
import { CroniumError } from '../../shared/errors';
import { openCliCore, openTeamCliCore, type CliContext } from '../context';
import { say } from '../output';
import { ownerName } from '../../core/queue/owner';

/** Registers `serve`. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve the app in a browser on 127.0.0.1 (prints the URL with its token)')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', '0')
    .option('--database <url>', 'a team server: the PostgreSQL database shared with the other servers (postgres://user@host/db; the password in CRONIUM_DATABASE_URL, PGPASSWORD or ~/.pgpass); default: CRONIUM_DATABASE_URL, else this data dir\'s SQLite file')
    .option('--listen <address>', 'a team server: the address to listen on (default 127.0.0.1; any other needs --tls-cert and --tls-key)')
    .option('--tls-cert <file>', 'a team server: serve HTTPS with this certificate (PEM, the chain included)')
    .option('--tls-key <file>', 'a team server: the private key of --tls-cert (PEM)')
    .option('--public-url <url>', "a team server: the address people open when it is not the listening one (a DNS name, a reverse proxy's https:// URL)")
    .option('--oidc-issuer <url>', 'a team server: sign-in with OpenID Connect at this identity provider (the client secret in CRONIUM_OIDC_CLIENT_SECRET)')
    .option('--oidc-client-id <id>', "a team server: this server's client id at the identity provider")
    .action(async (o: ServeFlags) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) {
        throw new CroniumError('INVALID_INPUT', `invalid --port: ${JSON.stringify(o.port)} must be 0-65535`, 'e.g. cronium serve --port 7420');
      }
      const databaseUrl = teamDatabase(o.database, process.env.CRONIUM_DATABASE_URL);
      const listen = teamListen(o, databaseUrl !== undefined);
      const oidc = teamOidc(o, databaseUrl !== undefined);
      const core = databaseUrl ? await openTeamCliCore(ctx.dataDir, databaseUrl) : openCliCore(ctx.dataDir, 'headless');
      // The scheduler fires into the queue (one active scheduler per data dir), the worker runs it.
      const [{ startExecution }, { startHeadlessServer }] = await Promise.all([import('../../core/exec/runtime'), import('../headless-server')]);
      const execution = startExecution(core, ownerName('serve'));
      try {
        const team = core.accounts ? { accounts: core.accounts, ...listen, ...(oidc ? { oidc: { settings: oidc, secrets: core.secrets } } : {}) } : undefined;
        const server = await startHeadlessServer({ core, staticDir: assetPath('renderer', 'dist/renderer'), port: Number(o.port), ...(team ? { team } : {}) });
        // The `cronium` command on this data dir then runs through this process (local-door.ts).
        const { startLocalDoor } = await import('../local-door');
        const door = await startLocalDoor(core, core.info.dataDir).catch(async (e: unknown) => {
          await server.close();
          throw e;
        });
        if (ctx.json) process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port })}\n`);
        else {
          process.stdout.write(`${server.url}\n`);
          if (team) {
            say(`Cronium is serving the team database ${core.database!.url} on ${listen.host ?? '127.0.0.1'}:${server.port}${listen.tls ? ' (HTTPS)' : ''}. People open the URL above and sign in; Ctrl-C stops.`);
            if ((await team.accounts.count()) === 0) say('No accounts yet: add the first admin with `cronium users add NAME --role admin` (same --database or CRONIUM_DATABASE_URL).');
          } else say(`Cronium is serving ${core.info.dataDir} on 127.0.0.1:${server.port}. Open the URL above (it carries the access token); Ctrl-C stops.`);
        }
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await door.close();
        await server.close();
      } finally {
        await execution.stop();
        core.close();
      }
    });
}

interface ServeFlags {
  port: string;
  oidcIssuer?: string;
  oidcClientId?: string;
  database?: string;
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  publicUrl?: string;
}

/**
 * Where a team server listens: 127.0.0.1 unless --listen says otherwise, and then only with
 * TLS (passwords and session cookies never cross a network in clear; behind a reverse proxy
 * that terminates TLS, stay on 127.0.0.1 and give --public-url). A one-person server (no
 * database) stays on 127.0.0.1 with its token: these flags are refused there.
 */
export function teamListen(o: Omit<ServeFlags, 'port' | 'database'>, team: boolean): { host?: string; tls?: { cert: Buffer; key: Buffer }; publicUrl?: string } {
  const given = (['listen', 'tlsCert', 'tlsKey', 'publicUrl'] as const).filter((k) => o[k] !== undefined);
  if (!team && given.length > 0) {
    throw new CroniumError('INVALID_INPUT', `invalid --${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: only a team server listens beyond 127.0.0.1`, 'a team server has a database: cronium serve --database postgres://… (docs/team-server.md)');
  }
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new CroniumError('INVALID_INPUT', 'invalid --tls-cert: give --tls-cert and --tls-key together', 'both PEM files: the certificate (with its chain) and its private key');
  const host = o.listen;
  if (host !== undefined && isIP(host) === 0) throw new CroniumError('INVALID_INPUT', `invalid --listen: ${JSON.stringify(host)} is not an IP address`, 'e.g. --listen 0.0.0.0 (every interface) or --listen 10.0.0.5');
  const loopback = host === undefined || host === '::1' || host.startsWith('127.');
  if (!loopback && o.tlsCert === undefined) {
    throw new CroniumError('INVALID_INPUT', `invalid --listen: ${host} is reachable from the network, and without TLS passwords and session cookies would cross it in clear`, 'give --tls-cert FILE --tls-key FILE, or stay on 127.0.0.1 behind a reverse proxy that terminates TLS (with --public-url https://…)');
  }
  if (!loopback && o.publicUrl === undefined) {
    throw new CroniumError('INVALID_INPUT', `invalid --listen: ${host} needs --public-url, the address people open`, 'e.g. --public-url https://cronium.example.com:8443 (requests are checked to name it: Host and Origin)');
  }
  let publicUrl: string | undefined;
  if (o.publicUrl !== undefined) {
    let u: URL;
    try {
      u = new URL(o.publicUrl);
    } catch {
      throw new CroniumError('INVALID_INPUT', 'invalid --public-url: not a URL', 'e.g. --public-url https://cronium.example.com');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new CroniumError('INVALID_INPUT', 'invalid --public-url: not http(s)', 'e.g. --public-url https://cronium.example.com');
    publicUrl = u.href;
  }
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new CroniumError('INVALID_INPUT', `invalid ${flag}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read'} (${file})`, 'give the path of a PEM file');
    }
  };
  const tls = o.tlsCert !== undefined && o.tlsKey !== undefined ? { cert: read(o.tlsCert, '--tls-cert'), key: read(o.tlsKey, '--tls-key') } : undefined;
  return { ...(host !== undefined ? { host } : {}), ...(tls ? { tls } : {}), ...(publicUrl ? { publicUrl } : {}) };
}

/** OpenID Connect sign-in of a team server: the issuer and client id given together, the secret from the environment. */
export function teamOidc(o: Pick<ServeFlags, 'oidcIssuer' | 'oidcClientId'>, team: boolean, env: NodeJS.ProcessEnv = process.env): { issuer: string; clientId: string; clientSecret: string } | undefined {
  if (o.oidcIssuer === undefined && o.oidcClientId === undefined) return undefined;
  if (!team) throw new CroniumError('INVALID_INPUT', 'invalid --oidc-issuer: only a team server has accounts to sign in to', 'a team server has a database: cronium serve --database postgres://…');
  if (o.oidcIssuer === undefined || o.oidcClientId === undefined) throw new CroniumError('INVALID_INPUT', 'invalid --oidc-issuer: give --oidc-issuer and --oidc-client-id together', 'both as registered at your identity provider');
  try {
    new URL(o.oidcIssuer);
  } catch {
    throw new CroniumError('INVALID_INPUT', 'invalid --oidc-issuer: not a URL', 'e.g. --oidc-issuer https://login.example.com/realms/ops');
  }
  const clientSecret = env.CRONIUM_OIDC_CLIENT_SECRET ?? '';
  if (clientSecret === '') throw new CroniumError('INVALID_INPUT', 'CRONIUM_OIDC_CLIENT_SECRET is not set', "put the client's secret from your identity provider in CRONIUM_OIDC_CLIENT_SECRET (never on the command line)");
  return { issuer: o.oidcIssuer, clientId: o.oidcClientId, clientSecret };
}

/**
 * The team database a `serve` uses: --database, else CRONIUM_DATABASE_URL, else none (SQLite).
 * A URL must be postgres:// or postgresql://; one on the command line must not carry a password
 * (every user of the machine sees command lines): CRONIUM_DATABASE_URL, PGPASSWORD or ~/.pgpass.
 */
export function teamDatabase(flag: string | undefined, env: string | undefined): string | undefined {
  const url = flag ?? (env === '' ? undefined : env);
  if (url === undefined) return undefined;
  const from = flag !== undefined ? '--database' : 'CRONIUM_DATABASE_URL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CroniumError('INVALID_INPUT', `invalid ${from}: not a URL`, 'give postgres://USER@HOST:PORT/DATABASE');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new CroniumError('INVALID_INPUT', `invalid ${from}: ${parsed.protocol}// is not PostgreSQL`, 'give postgres://USER@HOST:PORT/DATABASE (a team server runs on PostgreSQL)');
  }
  if (flag !== undefined && parsed.password !== '') {
    throw new CroniumError('INVALID_INPUT', 'invalid --database: it carries a password, which every user of this machine can read on the command line', 'put the URL with its password in CRONIUM_DATABASE_URL, or the password in PGPASSWORD or ~/.pgpass');
  }
  return url;
}
