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

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Registers run, schedules, jobs and vars. */
export function registerPending(program: Command, _ctx: CliContext): void {
  const later = (name: string, what: string) => () => notImplemented(name, `${what} arrives in a later release; see README "Status"`);

  program
    .command('run')
    .description('run a script or command on hosts')
    .option('--host <name>', 'a host (repeatable)', collect, [])
    .option('--tag <tag>', 'every host with this tag')
    .option('--script <file>', 'script file to run')
    .option('--command <str>', 'command to run')
    .option('--interpreter <name>', 'bash | sh | python3 | node', 'bash')
    .option('--mode <mode>', 'auto | runner | direct', 'auto')
    .option('--timeout <duration>', 'e.g. 30s, 5m')
    .option('--concurrency <n>', 'hosts at once')
    .option('--env <K=V>', 'environment variable (repeatable)', collect, [])
    .option('--input <json>', 'input for cronium.input()')
    .action(later('run', 'running scripts'));

  const schedules = program.command('schedules').description('cron schedules');
  schedules
    .command('add')
    .description('add a schedule')
    .argument('<name>', 'schedule name')
    .requiredOption('--cron <expr>', 'cron expression (seconds optional)')
    .option('--tz <zone>', 'IANA time zone', 'UTC')
    .option('--host <name>', 'a host (repeatable)', collect, [])
    .option('--tag <tag>', 'every host with this tag')
    .requiredOption('--script <file>', 'script file')
    .action(later('schedules add', 'scheduling'));
  schedules.command('list').description('list schedules').action(later('schedules list', 'scheduling'));
  for (const verb of ['rm', 'pause', 'resume'] as const) {
    schedules.command(verb).description(`${verb} a schedule`).argument('<name>', 'schedule name').action(later(`schedules ${verb}`, 'scheduling'));
  }

  const jobs = program.command('jobs').description('jobs and their runs');
  jobs.command('list').description('list jobs').action(later('jobs list', 'the job queue'));
  jobs.command('show').description('show a job').argument('<id>', 'job id').action(later('jobs show', 'the job queue'));
  jobs
    .command('logs')
    .description('print the logs of a job')
    .argument('<id>', 'job id')
    .option('--follow', 'keep printing as output arrives')
    .action(later('jobs logs', 'the job queue'));
  jobs.command('cancel').description('cancel a job').argument('<id>', 'job id').action(later('jobs cancel', 'the job queue'));

  const vars = program.command('vars').description('variables for scripts');
  vars.command('set').description('set a variable').argument('<key>').argument('<value>').action(later('vars set', 'variables'));
  vars.command('get').description('get a variable').argument('<key>').action(later('vars get', 'variables'));
  vars.command('list').description('list variables').action(later('vars list', 'variables'));
}
