/** `cronium serve`: the headless door. */
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
    .action(async (o: { port: string; database?: string }) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) {
        throw new CroniumError('INVALID_INPUT', `invalid --port: ${JSON.stringify(o.port)} must be 0-65535`, 'e.g. cronium serve --port 7420');
      }
      const databaseUrl = teamDatabase(o.database, process.env.CRONIUM_DATABASE_URL);
      const core = databaseUrl ? await openTeamCliCore(ctx.dataDir, databaseUrl) : openCliCore(ctx.dataDir, 'headless');
      // The scheduler fires into the queue (one active scheduler per data dir), the worker runs it.
      const [{ startExecution }, { startHeadlessServer }] = await Promise.all([import('../../core/exec/runtime'), import('../headless-server')]);
      const execution = startExecution(core, ownerName('serve'));
      try {
        const server = await startHeadlessServer({ core, staticDir: assetPath('renderer', 'dist/renderer'), port: Number(o.port) });
        // The `cronium` command on this data dir then runs through this process (local-door.ts).
        const { startLocalDoor } = await import('../local-door');
        const door = await startLocalDoor(core, core.info.dataDir).catch(async (e: unknown) => {
          await server.close();
          throw e;
        });
        if (ctx.json) process.stdout.write(`${JSON.stringify({ url: server.url, port: server.port })}\n`);
        else {
          process.stdout.write(`${server.url}\n`);
          say(`Cronium is serving ${core.database ? `the team database ${core.database.url}` : core.info.dataDir} on 127.0.0.1:${server.port}. Open the URL above (it carries the access token); Ctrl-C stops.`);
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
