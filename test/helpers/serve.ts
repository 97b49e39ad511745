/** `cronium serve --json` as a process of a test: started, its printed URL awaited, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli';
import { until } from './workspace';

/** A running `cronium serve`. */
export interface Served {
  child: ChildProcess;
  /** The URL it printed, without a trailing slash. */
  url: string;
  /** What it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, and its exit. */
  stop(): Promise<void>;
}

/** Starts `cronium serve --json ARGS` with `env` over this process's; resolves once it printed its URL. */
export async function spawnServe(args: string[], env: NodeJS.ProcessEnv, what = 'serve'): Promise<Served> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/cronium.mjs'), 'serve', '--json', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  };
  try {
    const printed = await until(`${what} to print its URL`, () => (out.includes('\n') ? (JSON.parse(out.split('\n')[0]!) as { url: string }) : undefined), 30_000);
    return { child, url: printed.url.replace(/\/$/, ''), stderr: () => err, stop };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}: ${err}`, { cause: e });
  }
}
