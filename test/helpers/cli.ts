/** Runs the real `cronium` command (bin/cronium.mjs over the built dist/) as a child process. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What a CLI run produced. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cronium ...args` with optional stdin and environment; never rejects on a non-zero exit. */
export function cronium(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${ROOT}/bin/cronium.mjs`, ...args], {
      cwd: ROOT,
      env: { ...process.env, CRONIUM_HOME: '', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** One `run --json` line of a host. */
export interface RunLine {
  host: string;
  status: string;
  mode: string;
  modeReason: string | null;
  transport: string | null;
  runnerVersion: string | null;
  error: { code: string; message: string } | null;
}

/** Runs `run --json ...args` through `cli` and parses the last line it printed (one host's outcome). */
export async function runJson(cli: (args: string[]) => Promise<CliResult>, args: string[]): Promise<RunLine> {
  const r = await cli(['--json', 'run', ...args]);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as RunLine;
  } catch {
    throw new Error(`run ${args.join(' ')} printed no JSON line (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
  }
}
