/** `cronium diagnose NAME`: checks a host end to end; exit 0 when no check failed, 1 otherwise. */
import type { Command } from 'commander';
import type { DiagnosticReport } from '../../shared/api';
import type { CliContext } from '../context';
import { printJson } from '../output';

const MARK = { pass: '✔', warn: '!', fail: '✖' } as const;

/** The human form of a report: one line per check, its detail, and a hint where there is something to do. */
export function formatReport(r: DiagnosticReport): string {
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const lines = [`${r.host}: ${r.status === 'pass' ? 'all checks passed' : r.status === 'warn' ? 'passed with warnings' : 'FAILED'} (${r.durationMs} ms)`];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.id.padEnd(width)}  ${c.detail}`);
    if (c.hint && c.status !== 'pass') lines.push(`  ${' '.repeat(width)}  hint: ${c.hint}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Registers `diagnose`. */
export function registerDiagnose(program: Command, ctx: CliContext): void {
  program
    .command('diagnose')
    .description('check a host: DNS, TCP, SSH, auth, shell, platform, interpreters, cache dirs, SFTP, forwarding, clock, runner')
    .argument('<name>', 'host name')
    .action(async (name: string) => {
      const report = await ctx.call('hosts.diagnose', { name });
      if (ctx.json) printJson(report);
      else process.stdout.write(formatReport(report));
      if (report.status === 'fail') ctx.exitCode = 1;
    });
}
