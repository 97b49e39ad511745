/** `cronium schedules add NAME ... | list | show NAME | rm NAME | pause NAME | resume NAME`. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CroniumError, fieldError } from '../../shared/errors';
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
  schedules
    .command('set')
    .description("change a schedule's alerts: grace, expected duration, failing threshold, desktop notifications, webhooks")
    .argument('<name>', 'schedule name')
    .option('--grace <duration>', 'a fire later than this is missed; a job past its expected duration plus this is late (default 1m)')
    .option('--expected <duration>', "a job's expected duration, or none for the median of its recent successes")
    .option('--failing-after <n>', 'this many failed jobs in a row make it failing (default 3)')
    .option('--notify', 'desktop notifications of its health changes (default)')
    .option('--no-notify', 'no desktop notifications')
    .option('--webhook <url>', 'add an outgoing webhook (stored sealed, shown masked)')
    .option('--webhook-format <format>', 'generic (JSON) or slack', 'generic')
    .option('--remove-webhook <id>', 'remove a webhook (its id: cronium schedules health --json)')
    .action(async (name: string, o: { grace?: string; expected?: string; failingAfter?: string; notify?: boolean; webhook?: string; webhookFormat: string; removeWebhook?: string }, cmd: Command) => {
      const notifySet = cmd.getOptionValueSource('notify') === 'cli';
      const whole = (v: string, flag: string) => {
        if (!/^\d+$/.test(v)) throw fieldError(flag, `"${v}" is not a whole number`);
        return Number(v);
      };
      const patch = {
        name,
        ...(o.grace !== undefined ? { graceMs: parseDuration(o.grace, 'grace') } : {}),
        ...(o.expected !== undefined ? { expectedMs: o.expected === 'none' ? null : parseDuration(o.expected, 'expected') } : {}),
        ...(o.failingAfter !== undefined ? { failingAfter: whole(o.failingAfter, 'failing-after') } : {}),
        ...(notifySet ? { notify: o.notify !== false } : {}),
        ...(o.webhook !== undefined ? { addWebhook: { url: o.webhook, format: o.webhookFormat } } : {}),
        ...(o.removeWebhook !== undefined ? { removeWebhook: whole(o.removeWebhook, 'remove-webhook') } : {}),
      };
      if (Object.keys(patch).length === 1) throw new CroniumError('INVALID_INPUT', 'nothing to change', 'see: cronium schedules set --help');
      const h = await ctx.call('schedules.set', patch as never).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') throw new CroniumError('INVALID_INPUT', e.message.replace(/^invalid addWebhook\.url:/, 'invalid --webhook:').replace(/^invalid addWebhook\.format:/, 'invalid --webhook-format:'), e.hint, e.details);
        throw e;
      });
      if (ctx.json) return printJson(h);
      process.stdout.write(`${h.name}: grace ${h.graceMs / 1000} s, expected ${h.expectedMs === null ? '(not known yet)' : `${h.expectedMs / 1000} s (${h.expectedSource})`}, failing after ${h.failingAfter}, notifications ${h.notify ? 'on' : 'off'}, webhooks: ${h.webhooks.map((w) => `#${w.id} ${w.format} ${w.url}`).join(', ') || '-'}\n`);
    });
  schedules
    .command('health')
    .description('every schedule: ok, missed, late or failing, since when and why; last and next fire; streak')
    .action(async () => {
      const list = await ctx.call('schedules.health', {});
      if (ctx.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write('no schedules yet\n');
      process.stdout.write(
        `${table(
          ['NAME', 'HEALTH', 'SINCE', 'LAST FIRE', 'NEXT FIRE', 'STREAK', 'WHY'],
          list.map((h) => [h.name, h.paused ? `${h.health} (paused)` : h.health, when(h.since), when(h.lastFireAt), when(h.nextFireAt), h.streak ? `${h.streak.count} ${h.streak.status}` : '-', (h.reason ?? '-').slice(0, 100)]),
        )}\n`,
      );
    });
  schedules
    .command('events')
    .description("a schedule's health events, newest first")
    .argument('<name>', 'schedule name')
    .option('--limit <n>', 'how many', '20')
    .action(async (name: string, o: { limit: string }) => {
      if (!/^\d+$/.test(o.limit)) throw fieldError('limit', `"${o.limit}" is not a whole number`);
      const list = await ctx.call('schedules.events', { name, limit: Number(o.limit) });
      if (ctx.json) return printJson(list);
      for (const e of list) process.stdout.write(`${when(e.at)}  ${e.kind.padEnd(9)} ${e.reason}${e.jobId !== null ? ` (job ${e.jobId})` : ''}\n`);
    });
  schedules
    .command('alert-test')
    .description("send a test alert to the schedule's webhooks and the desktop")
    .argument('<name>', 'schedule name')
    .action(async (name: string) => {
      const r = await ctx.call('schedules.testAlert', { name });
      if (ctx.json) return printJson(r);
      if (r.results.length === 0) process.stdout.write(`${name}: no webhooks; the desktop app shows the test notification when it runs\n`);
      for (const x of r.results) process.stdout.write(`#${x.id} ${x.url}: ${x.ok ? `delivered (HTTP ${x.status})` : `FAILED: ${x.error}`}\n`);
      if (r.results.some((x) => !x.ok)) process.exitCode = 1;
    });
}
