/** `cronium schedules add NAME ... | list | show NAME | rm NAME | pause NAME | resume NAME`. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { printJson, table } from '../output';
import { parseDuration, readScript } from './run';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const when = (ms: number | undefined | null) => (ms === undefined || ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

interface AddFlags {
  cron: string;
  tz: string;
  host: string[];
  tag?: string;
  script?: string;
  scriptName?: string;
  interpreter: string;
  mode: string;
  timeout?: string;
  concurrency?: string;
  overlap: string;
  catchup: string;
  secret: string[];
  globalVars?: boolean;
  sudo?: boolean;
}

/** Registers `schedules`. */
export function registerSchedules(program: Command, ctx: CliContext): void {
  const schedules = program.command('schedules').description('cron schedules (fired by the desktop app or `cronium serve`)');
  schedules
    .command('add')
    .description('add a schedule')
    .argument('<name>', 'schedule name')
    .requiredOption('--cron <expr>', 'cron expression (5 fields, or 6 with seconds first)')
    .option('--tz <zone>', 'IANA time zone', 'UTC')
    .option('--host <name>', 'a host (repeatable)', collect, [])
    .option('--tag <tag>', 'every host with this tag (when it fires)')
    .option('--script <file>', "script file ('-': stdin)")
    .option('--script-name <name>', 'a saved script instead (cronium scripts): runs its body as it is when it fires, and its follow-ups')
    .option('--interpreter <name>', 'bash | sh | python3 | node', 'bash')
    .option('--mode <mode>', 'auto | runner | direct', 'auto')
    .option('--timeout <duration>', "the script's timeout, e.g. 30s, 5m")
    .option('--concurrency <n>', 'hosts at once')
    .option('--overlap <policy>', 'skip | queue | parallel (when the previous job still runs)', 'skip')
    .option('--catchup <policy>', 'skip | run-once (fires missed while the app was closed)', 'skip')
    .option('--secret <name>', 'a secret variable its script may read with get-var (repeatable; others are refused to it)', collect, [])
    .option('--global-vars', 'set-var writes global variables (shared by all hosts) instead of the host\'s own')
    .option('--sudo', "its jobs run the script as root, by each host's elevation setting")
    .action(async (name: string, o: AddFlags) => {
      const s = await ctx.call('schedules.add', {
        name,
        cron: o.cron,
        tz: o.tz,
        ...(o.host.length ? { hosts: o.host } : {}),
        ...(o.tag ? { tag: o.tag } : {}),
        ...(o.script !== undefined ? { script: readScript(o.script) } : {}),
        ...(o.scriptName !== undefined ? { scriptName: o.scriptName } : {}),
        interpreter: o.interpreter,
        mode: o.mode,
        ...(o.timeout !== undefined ? { timeoutMs: parseDuration(o.timeout) } : {}),
        ...(o.concurrency !== undefined ? { concurrency: Number(o.concurrency) } : {}),
        overlap: o.overlap,
        catchup: o.catchup,
        ...(o.secret.length ? { secrets: o.secret } : {}),
        ...(o.globalVars ? { globalVars: true } : {}),
        ...(o.sudo ? { elevated: true } : {}),
      });
      if (ctx.json) return printJson(s);
      process.stdout.write(`schedule ${s.name}: ${s.description} (${s.tz}); next: ${when(s.nextRuns[0])}\n`);
    });
  schedules
    .command('list')
    .description('list schedules with their next run')
    .action(async () => {
      const list = await ctx.call('schedules.list', {});
      if (ctx.json) return printJson(list);
      process.stdout.write(
        `${table(
          ['NAME', 'CRON', 'TZ', 'TARGET', 'STATE', 'NEXT', 'LAST'],
          list.map((s) => [s.name, s.cron, s.tz, [...(s.target.hosts ?? []), ...(s.target.tags ?? []).map((t) => `tag:${t}`)].join(','), s.paused ? 'paused' : 'active', when(s.nextRuns[0]), when(s.lastFireAt)]),
        )}\n`,
      );
    });
  schedules
    .command('show')
    .description('show a schedule and its next runs')
    .argument('<name>', 'schedule name')
    .action(async (name: string) => {
      const s = await ctx.call('schedules.get', { name });
      if (ctx.json) return printJson(s);
      process.stdout.write(`${s.name}: ${s.description} (${s.cron}, ${s.tz})${s.paused ? ', paused' : ''}\nnext: ${s.nextRuns.map(when).join(', ') || '-'}\n`);
    });
  schedules
    .command('rm')
    .description('remove a schedule (its past jobs stay)')
    .argument('<name>', 'schedule name')
    .action(async (name: string) => {
      const r = await ctx.call('schedules.remove', { name });
      if (ctx.json) printJson(r);
      else process.stdout.write(`removed schedule ${name}\n`);
    });
  for (const verb of ['pause', 'resume'] as const) {
    schedules
      .command(verb)
      .description(`${verb} a schedule`)
      .argument('<name>', 'schedule name')
      .action(async (name: string) => {
        const s = await ctx.call(verb === 'pause' ? 'schedules.pause' : 'schedules.resume', { name });
        if (ctx.json) printJson(s);
        else process.stdout.write(`schedule ${s.name}: ${s.paused ? 'paused' : `active, next ${when(s.nextRuns[0])}`}\n`);
      });
  }
}
