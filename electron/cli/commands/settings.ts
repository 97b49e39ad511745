/** `cronium settings`: show and change app settings (log retention). */
import type { Command } from 'commander';
import type { Settings } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson } from '../output';

const RETENTION_KEYS = { 'logs.retention.maxAgeDays': 'maxAgeDays', 'logs.retention.maxRuns': 'maxRuns', 'logs.retention.maxTotalBytes': 'maxTotalBytes' } as const;
type Key = keyof typeof RETENTION_KEYS;

function show(s: Settings): string {
  const r = s.logsRetention;
  const rows: [string, string][] = [
    ['logs.retention.maxAgeDays', r.maxAgeDays === undefined ? 'none' : String(r.maxAgeDays)],
    ['logs.retention.maxRuns', r.maxRuns === undefined ? 'none' : String(r.maxRuns)],
    ['logs.retention.maxTotalBytes', r.maxTotalBytes === undefined ? 'none' : String(r.maxTotalBytes)],
  ];
  return rows.map(([k, v]) => `${k.padEnd(30)} ${v}`).join('\n');
}

/** Registers `settings show` and `settings set KEY VALUE`. */
export function registerSettings(program: Command, ctx: CliContext): void {
  const settings = program.command('settings').description('app settings (log retention)');
  settings
    .command('show')
    .description('show the settings in force')
    .action(async () => {
      const s = await ctx.call('settings.get', {});
      if (ctx.json) printJson(s);
      else process.stdout.write(`${show(s)}\n`);
    });
  settings
    .command('set')
    .description(`set one setting; VALUE "none" removes a limit. Keys: ${Object.keys(RETENTION_KEYS).join(', ')}`)
    .argument('<key>', 'setting key')
    .argument('<value>', 'a whole number, or none')
    .action(async (key: string, value: string) => {
      if (!Object.hasOwn(RETENTION_KEYS, key)) {
        throw new CroniumError('INVALID_INPUT', `invalid KEY: unknown setting "${key}"`, `one of: ${Object.keys(RETENTION_KEYS).join(', ')}`);
      }
      if (value !== 'none' && !/^\d+$/.test(value)) {
        throw new CroniumError('INVALID_INPUT', `invalid VALUE: "${value}" is not a whole number or none`, 'e.g. cronium settings set logs.retention.maxAgeDays 30');
      }
      const field = RETENTION_KEYS[key as Key];
      const current = (await ctx.call('settings.get', {})).logsRetention;
      const next = { ...current, [field]: value === 'none' ? undefined : Number(value) };
      const s = await ctx.call('settings.set', { logsRetention: next }).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') throw new CroniumError('INVALID_INPUT', `invalid VALUE for ${key}: ${e.message.replace(/^invalid [^:]+: /, '')}`, `e.g. cronium settings set ${key} 100 (maxTotalBytes is at least 1048576)`, e.details);
        throw e;
      });
      if (ctx.json) printJson(s);
      else process.stdout.write(`${show(s)}\n`);
    });
}
