/** `cronium settings`: show and change app settings (log retention, execution, notifications, appearance, desktop). */
import type { Command } from 'commander';
import type { MethodArgs, Settings } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson } from '../output';

type Kind = 'count' | 'boolean' | 'mode' | 'theme' | 'channel' | 'hours' | 'check';
/** Every key the CLI sets: its group, field and kind of value. */
const KEYS: Record<string, { group: keyof Settings; field: string; kind: Kind; nullable?: true; example: string }> = {
  'logs.retention.maxAgeDays': { group: 'logsRetention', field: 'maxAgeDays', kind: 'count', nullable: true, example: '30' },
  'logs.retention.maxRuns': { group: 'logsRetention', field: 'maxRuns', kind: 'count', nullable: true, example: '100' },
  'logs.retention.maxTotalBytes': { group: 'logsRetention', field: 'maxTotalBytes', kind: 'count', nullable: true, example: '1073741824 (at least 1048576)' },
  'execution.defaultMode': { group: 'execution', field: 'defaultMode', kind: 'mode', example: 'direct' },
  'execution.defaultTimeoutMs': { group: 'execution', field: 'defaultTimeoutMs', kind: 'count', nullable: true, example: '600000' },
  'execution.globalConcurrency': { group: 'execution', field: 'globalConcurrency', kind: 'count', example: '32' },
  'execution.perHostConcurrency': { group: 'execution', field: 'perHostConcurrency', kind: 'count', example: '4' },
  'execution.runnerCheck': { group: 'execution', field: 'runnerCheck', kind: 'check', example: 'hash' },
  'execution.maxOutputBytes': { group: 'execution', field: 'maxOutputBytes', kind: 'count', example: '1073741824 (1 MiB to 4 GiB)' },
  'notifications.onFailure': { group: 'notifications', field: 'onFailure', kind: 'boolean', example: 'true' },
  'notifications.onSuccess': { group: 'notifications', field: 'onSuccess', kind: 'boolean', example: 'false' },
  'appearance.theme': { group: 'appearance', field: 'theme', kind: 'theme', example: 'dark' },
  'desktop.startAtLogin': { group: 'desktop', field: 'startAtLogin', kind: 'boolean', example: 'true' },
  'desktop.autoUpdate': { group: 'desktop', field: 'autoUpdate', kind: 'boolean', example: 'false' },
  'desktop.updateChannel': { group: 'desktop', field: 'updateChannel', kind: 'channel', example: 'beta' },
  'desktop.updateQuietHours': { group: 'desktop', field: 'updateQuietHours', kind: 'hours', nullable: true, example: '22:00-07:00' },
};

function show(s: Settings): string {
  return Object.entries(KEYS)
    .map(([key, k]) => {
      const v = (s[k.group] as Record<string, unknown>)[k.field];
      return `${key.padEnd(30)} ${v === undefined || v === null ? 'none' : String(v)}`;
    })
    .join('\n');
}

/** Parses VALUE for a key, or INVALID_INPUT naming the key and what it takes. */
function parseValue(key: string, value: string): unknown {
  const k = KEYS[key]!;
  const bad = (what: string) => new CroniumError('INVALID_INPUT', `invalid VALUE for ${key}: "${value}" is not ${what}`, `e.g. cronium settings set ${key} ${k.example}`);
  if (value === 'none') {
    if (!k.nullable) throw bad('allowed to be none');
    return null;
  }
  switch (k.kind) {
    case 'count':
      if (!/^\d+$/.test(value)) throw bad(k.nullable ? 'a whole number or none' : 'a whole number');
      return Number(value);
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw bad('true or false');
      return value === 'true';
    case 'mode':
      if (!['auto', 'runner', 'direct'].includes(value)) throw bad('auto, runner or direct');
      return value;
    case 'theme':
      if (!['system', 'light', 'dark'].includes(value)) throw bad('system, light or dark');
      return value;
    case 'channel':
      if (!['latest', 'beta'].includes(value)) throw bad('latest or beta');
      return value;
    case 'check':
      if (!['stat', 'hash'].includes(value)) throw bad('stat or hash');
      return value;
    case 'hours':
      // The contract checks the times themselves (and says which part is wrong).
      return value;
  }
}

/** Registers `settings show` and `settings set KEY VALUE`. */
export function registerSettings(program: Command, ctx: CliContext): void {
  const settings = program.command('settings').description('app settings (log retention, execution defaults and limits, notifications, theme, desktop: start at login and updates)');
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
    .description(`set one setting; VALUE "none" removes a limit. Keys: ${Object.keys(KEYS).join(', ')}`)
    .argument('<key>', 'setting key')
    .argument('<value>', 'a whole number, true/false, a mode, theme or channel name, HH:MM-HH:MM, or none')
    .action(async (key: string, value: string) => {
      if (!Object.hasOwn(KEYS, key)) {
        throw new CroniumError('INVALID_INPUT', `invalid KEY: unknown setting "${key}"`, `one of: ${Object.keys(KEYS).join(', ')}`);
      }
      const k = KEYS[key]!;
      const parsed = parseValue(key, value);
      let patch: MethodArgs<'settings.set'>;
      if (k.group === 'logsRetention') {
        // Retention is replaced as a whole: start from the limits in force.
        const current = (await ctx.call('settings.get', {})).logsRetention;
        patch = { logsRetention: { ...current, [k.field]: parsed === null ? undefined : parsed } };
      } else {
        patch = { [k.group]: { [k.field]: parsed } } as MethodArgs<'settings.set'>;
      }
      const s = await ctx.call('settings.set', patch).catch((e: unknown) => {
        if (e instanceof CroniumError && e.code === 'INVALID_INPUT') throw new CroniumError('INVALID_INPUT', `invalid VALUE for ${key}: ${e.message.replace(/^invalid [^:]+: /, '')}`, `e.g. cronium settings set ${key} ${k.example}`, e.details);
        throw e;
      });
      if (ctx.json) printJson(s);
      else process.stdout.write(`${show(s)}\n`);
    });
}
