/** `cronium serve`: the headless door. */
import type { Command } from 'commander';
import { assetPath } from '../../core/paths';
import { CroniumError } from '../../shared/errors';
import { openCliCore, type CliContext } from '../context';
import { say } from '../output';
import { ownerName } from '../../core/queue/owner';

/** Registers `serve`. */
export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve the app in a browser on 127.0.0.1 (prints the URL with its token)')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', '0')
    .action(async (o: { port: string }) => {
      if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) {
        throw new CroniumError('INVALID_INPUT', `invalid --port: ${JSON.stringify(o.port)} must be 0-65535`, 'e.g. cronium serve --port 7420');
      }
      const core = openCliCore(ctx.dataDir, 'headless');
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
          say(`Cronium is serving ${core.info.dataDir} on 127.0.0.1:${server.port}. Open the URL above (it carries the access token); Ctrl-C stops.`);
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
