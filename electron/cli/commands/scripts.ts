/**
 * `cronium scripts add|save NAME --file F [--interpreter I] [--followup ON:SCRIPT[@h1,h2|#tag]]...`,
 * `scripts list | show NAME | rm NAME`. `add` refuses a name in use; `save` creates or
 * replaces (the script and all its follow-ups).
 */
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Followup, ScriptView } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readScript } from './run';

const collect = (value: string, previous: string[] = []) => [...previous, value];
const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const BY_EXTENSION: Record<string, string> = { '.sh': 'bash', '.bash': 'bash', '.py': 'python3', '.js': 'node', '.mjs': 'node', '.cjs': 'node' };

/** Parses `ON:SCRIPT`, `ON:SCRIPT@host1,host2` or `ON:SCRIPT#tag` (the API validates the names). */
export function parseFollowup(text: string): Followup {
  const m = /^([a-z]+):([^@#]+)(?:@(.+)|#(.+))?$/.exec(text);
  const hint = 'e.g. success:notify, failure:page@ops1,ops2, always:cleanup#web, condition:deploy';
  if (!m) throw fieldError('followup', `"${text}" is not ON:SCRIPT[@host1,host2|#tag]`, hint);
  const on = m[1]!;
  if (!['success', 'failure', 'always', 'condition'].includes(on)) throw fieldError('followup', `"${on}" is not success, failure, always or condition`, hint);
  return {
    on: on as Followup['on'],
    script: m[2]!,
    ...(m[3] !== undefined ? { hosts: m[3].split(',').filter(Boolean) } : {}),
    ...(m[4] !== undefined ? { tag: m[4] } : {}),
  };
}

/** A follow-up as the CLI writes it (the form --followup takes). */
export function formatFollowup(f: Followup): string {
  return `${f.on}:${f.script}${f.hosts ? `@${f.hosts.join(',')}` : ''}${f.tag !== undefined ? `#${f.tag}` : ''}`;
}

interface SaveFlags {
  file: string;
  interpreter?: string;
  followup: string[];
  sudo?: boolean;
  push: string[];
}

function describe(s: ScriptView): string {
  const lines = [`${s.name} (${s.interpreter}, ${Buffer.byteLength(s.body)} bytes, updated ${when(s.updatedAt)})`];
  lines.push(s.followups.length ? `follow-ups: ${s.followups.map(formatFollowup).join(' ')}` : 'follow-ups: none');
  lines.push('---', s.body.endsWith('\n') ? s.body.slice(0, -1) : s.body);
  return `${lines.join('\n')}\n`;
}

/** Registers `scripts`. */
export function registerScripts(program: Command, ctx: CliContext): void {
  const scripts = program.command('scripts').description('saved scripts and their follow-ups (run them with `cronium run --script-name NAME`)');
  for (const verb of ['add', 'save'] as const) {
    scripts
      .command(verb)
      .description(verb === 'add' ? 'save a new script (refuses a name in use)' : 'save a script, creating or replacing it and its follow-ups')
      .argument('<name>', 'script name')
      .requiredOption('--file <file>', "the script's file ('-': stdin)")
      .option('--interpreter <name>', 'bash | sh | python3 | node (default: by the file extension, else bash)')
      .option('--followup <spec>', 'ON:SCRIPT[@host1,host2|#tag]: start SCRIPT on success, failure, always or condition, on those hosts or the same host (repeatable)', collect, [])
      .option('--sudo', "its runs start as root, by each host's elevation setting")
      .option('--push <local=remote>', 'a file it needs: LOCAL=REMOTE[,MODE], pushed to each host (verified, skipped where already there) before it runs; {host} in REMOTE is the host\'s name (repeatable)', collect, [])
      .action(async (name: string, o: SaveFlags) => {
        const followups = o.followup.map(parseFollowup);
        const body = readScript(o.file);
        const interpreter = o.interpreter ?? BY_EXTENSION[extname(o.file).toLowerCase()] ?? 'bash';
        if (verb === 'add' && (await ctx.call('scripts.list', {})).some((s) => s.name === name)) {
          throw new CroniumError('ALREADY_EXISTS', `a script named "${name}" already exists`, `replace it with: cronium scripts save ${name} --file F`, { fields: [{ field: 'name', message: 'is already taken' }] });
        }
        const files = o.push.map((spec, i) => {
          const m = /^([^=]+)=(\/[^,]*)(?:,(0?[0-7]{3,4}))?$/.exec(spec);
          if (!m) throw fieldError(`push.${i}`, `"${spec}" is not LOCAL=REMOTE[,MODE] (REMOTE absolute, MODE octal)`);
          return { path: resolve(m[1]!), to: m[2]!, ...(m[3] ? { mode: parseInt(m[3], 8) } : {}) };
        });
        const s = await ctx.call('scripts.save', { name, interpreter, body, followups, elevated: o.sudo === true, ...(files.length ? { files } : {}) });
        if (ctx.json) return printJson(s);
        say(`saved script ${s.name} (${s.interpreter}${s.elevated ? ', runs as root' : ''}${s.files.length ? `, pushes ${s.files.map((f) => `${f.name} to ${f.to}`).join(', ')} first` : ''}${s.followups.length ? `; follow-ups: ${s.followups.map(formatFollowup).join(' ')}` : ''})`);
      });
  }
  scripts
    .command('list')
    .description('list saved scripts')
    .action(async () => {
      const list = await ctx.call('scripts.list', {});
      if (ctx.json) return printJson(list);
      process.stdout.write(`${table(['NAME', 'INTERPRETER', 'FOLLOW-UPS', 'UPDATED'], list.map((s) => [s.name, s.interpreter, s.followups.map(formatFollowup).join(' ') || '-', when(s.updatedAt)]))}\n`);
    });
  scripts
    .command('show')
    .description('show a script, its follow-ups and its body')
    .argument('<name>', 'script name')
    .action(async (name: string) => {
      const s = await ctx.call('scripts.get', { name });
      if (ctx.json) return printJson(s);
      process.stdout.write(describe(s));
    });
  scripts
    .command('rm')
    .description('remove a script (refused while a schedule or a follow-up uses it)')
    .argument('<name>', 'script name')
    .action(async (name: string) => {
      const r = await ctx.call('scripts.remove', { name });
      if (ctx.json) return printJson(r);
      say(`removed script ${name}`);
    });
}
