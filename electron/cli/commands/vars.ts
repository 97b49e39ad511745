/**
 * `cronium vars set K V | get K | list | rm K`, each with `--host NAME` for a per-host
 * variable. A secret's value is never printed (`(secret)`); `--value-stdin` reads the value
 * from stdin (or a hidden prompt), which keeps a secret out of the shell's history.
 */
import type { Command } from 'commander';
import type { VariableView } from '../../shared/api';
import { fieldError } from '../../shared/errors';
import type { CliContext } from '../context';
import { printJson, say, table } from '../output';
import { readSecret } from '../stdin';

/** What a variable's value prints as: secrets never. */
export const SECRET_SHOWN = '(secret)';

const shown = (v: VariableView) => (v.secret ? SECRET_SHOWN : (v.value ?? ''));

interface SetFlags {
  host?: string;
  secret?: boolean;
  valueStdin?: boolean;
}

/** Registers `vars`. */
export function registerVars(program: Command, ctx: CliContext): void {
  const vars = program.command('vars').description('variables for scripts: global, or per host (per host wins); secret ones are stored sealed and masked in logs');
  vars
    .command('set')
    .description('set a variable (create or replace)')
    .argument('<key>', 'variable key')
    .argument('[value]', 'the value (or --value-stdin)')
    .option('--host <name>', 'a per-host variable of this host')
    .option('--secret', 'store it sealed, never show it, mask it in run logs (stays secret once set)')
    .option('--value-stdin', 'read the value from stdin (or a hidden prompt), not from the command line')
    .action(async (key: string, value: string | undefined, o: SetFlags) => {
      if (value !== undefined && o.valueStdin) throw fieldError('value', 'give VALUE or --value-stdin, not both');
      if (value === undefined && !o.valueStdin) throw fieldError('value', 'missing', 'give VALUE, or --value-stdin to read it from stdin');
      if (value !== undefined && o.secret) say('warning: a secret given on the command line stays in your shell history and is visible to other local users while the command runs; prefer --value-stdin');
      const v = value ?? (await readSecret(`value of ${key}: `));
      const r = await ctx.call('vars.set', { key, value: v, secret: o.secret === true, ...(o.host !== undefined ? { host: o.host } : {}) });
      if (ctx.json) return printJson(r);
      say(`set ${r.scope === 'host' ? `per-host variable ${key} of ${r.host}` : `global variable ${key}`}${r.secret ? ' (secret)' : ''}`);
    });
  vars
    .command('get')
    .description('print a variable (with --host: the value that host sees, per-host over global)')
    .argument('<key>', 'variable key')
    .option('--host <name>', 'the value this host sees')
    .action(async (key: string, o: { host?: string }) => {
      const r = await ctx.call('vars.get', { key, ...(o.host !== undefined ? { host: o.host } : {}) });
      if (ctx.json) return printJson(r);
      process.stdout.write(`${shown(r)}\n`);
    });
  vars
    .command('list')
    .description('list variables (with --host: the set that host sees)')
    .option('--host <name>', 'the variables this host sees')
    .action(async (o: { host?: string }) => {
      const list = await ctx.call('vars.list', o.host !== undefined ? { host: o.host } : {});
      if (ctx.json) return printJson(list);
      process.stdout.write(`${table(['KEY', 'SCOPE', 'HOST', 'VALUE'], list.map((v) => [v.key, v.scope, v.host ?? '-', shown(v)]))}\n`);
    });
  vars
    .command('rm')
    .description('remove a variable (global, or with --host the per-host one)')
    .argument('<key>', 'variable key')
    .option('--host <name>', 'the per-host variable of this host')
    .action(async (key: string, o: { host?: string }) => {
      const r = await ctx.call('vars.remove', { key, ...(o.host !== undefined ? { host: o.host } : {}) });
      if (ctx.json) return printJson(r);
      say(`removed ${o.host !== undefined ? `per-host variable ${key} of ${o.host}` : `global variable ${key}`}`);
    });
}
