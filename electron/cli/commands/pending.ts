/**
 * The commands of the CLI contract that later issues build. They exist now, with their
 * flags and --help, and fail clearly with NOT_IMPLEMENTED: never a silent no-op.
 */
import type { Command } from 'commander';
import { CroniumError } from '../../shared/errors';
import type { CliContext } from '../context';

/** Fails a command that this version does not have yet. */
export function notImplemented(command: string, hint: string): never {
  throw new CroniumError('NOT_IMPLEMENTED', `\`cronium ${command}\` is not implemented yet in this version`, hint);
}

/** Registers vars. */
export function registerPending(program: Command, _ctx: CliContext): void {
  const later = (name: string, what: string) => () => notImplemented(name, `${what} arrives in a later release; see README "Status"`);

  const vars = program.command('vars').description('variables for scripts');
  vars.command('set').description('set a variable').argument('<key>').argument('<value>').action(later('vars set', 'variables'));
  vars.command('get').description('get a variable').argument('<key>').action(later('vars get', 'variables'));
  vars.command('list').description('list variables').action(later('vars list', 'variables'));
}
