/**
 * The CLI as one whole process, side by side with what it is compared to, in the same run,
 * pairs alternating (cronium, then its peer) so that the machine's noise falls on both:
 * - `cronium --version` and `cronium --help` against `node -e 0` (the floor: Node's own start);
 * - one-shot `cronium run --host H --mode direct --command true` (cold: a new process, a new
 *   connection) against `ssh H true` and `ssh` through a warm ControlMaster on the same host;
 * - the same command while `cronium serve` runs on the data dir (a thin client of the app: its
 *   warm pooled connection) against `ssh H true`.
 * Needs root for the test fleet; otherwise the run rows say why they were skipped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from '../fleet/fleet';
import { PeerFailure, timePeerSync, startControlMaster } from './peers';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'bin', 'cronium.mjs');
const SUBNET = 225;

/** Samples (ms) of the CLI and its peers; a peer that failed says how. */
export interface CliFigures {
  version: number[];
  help: number[];
  node: number[];
  run?: number[];
  /** The same run with `cronium serve` on the data dir: the command is a thin client of it. */
  viaApp?: number[];
  sshTrue?: number[];
  /** `ssh host true`, paired with viaApp. */
  sshTrueB?: number[];
  controlMaster?: number[];
  failures: Record<string, string>;
  skipped?: string;
}

/** Alternates `a` and `b` n times (after a warm-up of each), returning both sample sets. */
function pairs(n: number, a: () => number, b: () => number): [number[], number[]] {
  a();
  b();
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < n; i++) {
    xs.push(a());
    ys.push(b());
  }
  return [xs, ys];
}

/** Runs the CLI benchmark. */
export async function benchCli(n = 8): Promise<CliFigures> {
  const node = () => timePeerSync(process.execPath, ['-e', '0']);
  const cli = (args: string[], env?: NodeJS.ProcessEnv) => () => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000, ...(env ? { env } : {}) });
    if (r.status !== 0) throw new Error(`cronium ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().split('\n')[0]}`);
    return performance.now() - t0;
  };
  const [version, nodeA] = pairs(n, cli(['--version']), node);
  const [help, nodeB] = pairs(n, cli(['--help']), node);
  const figures: CliFigures = { version, help, node: [...nodeA, ...nodeB], failures: {} };
  if (process.getuid?.() !== 0) return { ...figures, skipped: 'needs root for the test fleet' };

  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'bench', profile: 'default' }] });
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-cli-'));
  let master: ChildProcess | undefined;
  try {
    const h = fleet.host('bench');
    const home = join(scratch, 'home');
    const data = join(scratch, 'data');
    spawnSync('mkdir', ['-p', join(home, '.ssh')]);
    writeFileSync(join(home, '.ssh', 'known_hosts'), fleet.knownHosts(), { mode: 0o600 });
    const env = { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '' };
    cli(['--data-dir', data, 'hosts', 'add', 'bench', '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!, '--no-agent'], env)();
    const config = join(fleet.dir, 'ssh_config');
    const base = ['-F', config, '-o', 'BatchMode=yes'];
    const ssh = (extra: string[]) => () => timePeerSync('ssh', [...base, ...extra, 'bench', 'true']);
    const run = cli(['--data-dir', data, 'run', '--host', 'bench', '--mode', 'direct', '--command', 'true'], env);
    try {
      [figures.run, figures.sshTrue] = pairs(n, run, ssh([]));
    } catch (e) {
      if (!(e instanceof PeerFailure)) throw e;
      figures.failures.sshTrue = e.message;
    }
    // Through the app: `cronium serve` on the data dir, the command a thin client of it.
    const serve = spawn(process.execPath, [CLI, '--data-dir', data, 'serve', '--json'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('cronium serve did not start within 20 s')), 20_000);
        serve.stdout!.once('data', () => {
          clearTimeout(t);
          resolve();
        });
      });
      const viaApp = cli(['--data-dir', data, 'run', '--host', 'bench', '--mode', 'direct', '--command', 'true'], { ...env, CRONIUM_USE_APP: 'always' });
      [figures.viaApp, figures.sshTrueB] = pairs(n, viaApp, ssh([]));
    } catch (e) {
      figures.failures.viaApp = (e as Error).message;
    } finally {
      serve.kill('SIGTERM');
    }
    const controlPath = join(fleet.dir, 'cm-cli');
    const cm = await startControlMaster(base, 'bench', controlPath);
    master = cm.child;
    const mux = cm.mux;
    if (cm.failure) figures.failures.controlMaster = cm.failure;
    if (!figures.failures.controlMaster) {
      try {
        figures.controlMaster = pairs(n, ssh(mux), ssh(mux))[0];
      } catch (e) {
        if (!(e instanceof PeerFailure)) throw e;
        figures.failures.controlMaster = e.message;
      }
    }
    return figures;
  } finally {
    master?.kill('SIGTERM');
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
