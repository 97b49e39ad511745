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

/** Registers the commands still pending: none in this version (vars arrived with issue 6). */
export function registerPending(_program: Command, _ctx: CliContext): void {}
