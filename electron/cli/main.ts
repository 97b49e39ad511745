/**
 * The `cronium` command. Wires commander to the core and holds no domain logic:
 * each command parses its flags, calls the core, and prints. Exit codes: 0 success,
 * 1 failure, 2 invalid input or usage (see docs/cli.md).
 */
import { Command, CommanderError, Option } from 'commander';
import { CroniumError, isCroniumError, type ApiErrorBody } from '../shared/errors';
import { appVersion } from '../core/version';
import { printError, reportError } from './output';
import { registerDiagnose } from './commands/diagnose';
import { registerHosts } from './commands/hosts';
import { registerJobs } from './commands/jobs';
import { registerScripts } from './commands/scripts';
import { registerVars } from './commands/vars';
import { registerPush, registerRun } from './commands/run';
import { registerRunner } from './commands/runner';
import { registerSchedules } from './commands/schedules';
import { registerSettings } from './commands/settings';
import { registerServe } from './commands/serve';
import { registerUsers } from './commands/users';
import { registerServer } from './commands/server';
import { CliContext, loadCore } from './context';

/** Builds the command tree (exported for tests and --help checks). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('cronium')
    .description('Schedule and run scripts on fleets of SSH hosts.')
    .version(appVersion(), '-V, --version', 'print the version')
    .addOption(new Option('--data-dir <dir>', 'data directory (default: $CRONIUM_HOME, else the desktop app\'s data dir)'))
    .option('--json', 'machine-readable output on stdout (messages stay on stderr)')
    .addOption(new Option('--server <name>', 'a team server signed in with `cronium server login` (its name or URL; default: $CRONIUM_SERVER): the command runs there, as you'))
    .exitOverride()
    .configureOutput({ outputError: () => undefined });
  // The core (store, SSH, schemas) loads only for a command that runs: --help and --version stay light.
  // `run` loads it itself, and only when no running app takes the run (a thin client needs none).
  program.hook('preAction', (_root, action) => (action.name() === 'run' ? undefined : loadCore()));
  ctx.bind(program);
  registerHosts(program, ctx);
  registerDiagnose(program, ctx);
  registerRun(program, ctx);
  registerPush(program, ctx);
  registerSchedules(program, ctx);
  registerSettings(program, ctx);
  registerJobs(program, ctx);
  registerScripts(program, ctx);
  registerVars(program, ctx);
  registerRunner(program, ctx);
  registerServe(program, ctx);
  registerUsers(program, ctx);
  registerServer(program, ctx);
  // Every command inherits the error handling and the option checks of the root.
  const harden = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ outputError: () => undefined });
    cmd.commands.forEach(harden);
  };
  program.commands.forEach(harden);
  return program;
}

/** The deepest command that argv names, as the user would type it (`cronium hosts add`). */
function commandPath(program: Command, argv: string[]): string {
  const names = [program.name()];
  let cmd = program;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    // Global flags may come first: `cronium --data-dir D hosts add …`.
    if (word === '--data-dir') i++;
    if (word.startsWith('-')) continue;
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    names.push(next.name());
    cmd = next;
  }
  return names.join(' ');
}

/** Maps an error to the process exit code. */
export function exitCodeFor(code: ApiErrorBody['code']): number {
  return code === 'INVALID_INPUT' ? 2 : 1;
}

/** Runs the CLI with argv (without node and script); resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const ctx = new CliContext();
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      const message = e.message.replace(/^error: /, '');
      const hint = `run \`${commandPath(program, argv)} --help\` for usage`;
      printError(new CroniumError('INVALID_INPUT', message, hint).toJSON(), ctx.json);
      return 2;
    }
    // Arguments the contract refused: the command's usage helps a CLI user more than the contract's file.
    const refused = isCroniumError(e) && e.code === 'INVALID_INPUT' && typeof e.details?.method === 'string';
    const error = refused ? new CroniumError('INVALID_INPUT', e.message, `run \`${commandPath(program, argv)} --help\` for usage`, e.details) : e;
    return exitCodeFor(reportError(error, ctx.json).code);
  } finally {
    ctx.close();
  }
}
