/**
 * The peers a benchmark measures Cronium against (ssh, xargs over ssh, parallel-ssh, Ansible):
 * each run is bounded in time, and a peer that fails or runs past its limit becomes a recorded
 * outcome ("ansible -f 50: timed out after 120 s") instead of an exception that ends the whole
 * `npm run bench` with no table. A peer that timed out has its whole process group killed, so a
 * hung `ssh` under `xargs` or Ansible's forks cannot outlive the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** How one timed peer run ended. */
export type PeerRun = { ok: true; ms: number } | { ok: false; failure: string };

/** Default limit of one peer run. */
export const PEER_TIMEOUT_MS = 120_000;

/** A duration as the table says it: "120 s", "0.3 s". */
export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${s >= 10 ? s.toFixed(0) : s.toFixed(1)} s`;
}

/** The last line of a process's stderr, for a failure's cell (one line, bounded). */
function lastLine(stderr: string): string {
  const line = stderr.trim().split('\n').at(-1)?.trim() ?? '';
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** Runs one peer command and times it; never rejects: a failure or a timeout is its result. */
export function timePeer(cmd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<PeerRun> {
  const timeoutMs = opts.timeoutMs ?? PEER_TIMEOUT_MS;
  return new Promise((resolve) => {
    const t0 = performance.now();
    let stderr = '';
    let timedOut = false;
    // Its own process group, so that a timeout ends the peer's children too (by the group's id).
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...(opts.env ? { env: opts.env } : {}) });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
    const kill = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // Gone already.
      }
    };
    let hard: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      kill('SIGTERM');
      hard = setTimeout(() => kill('SIGKILL'), 2000);
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, failure: `could not start ${cmd}: ${e.code ?? e.message}` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      const ms = performance.now() - t0;
      if (timedOut) return resolve({ ok: false, failure: `timed out after ${seconds(timeoutMs)}` });
      if (code === 0) return resolve({ ok: true, ms });
      const why = lastLine(stderr);
      resolve({ ok: false, failure: `${signal ? `killed by ${signal}` : `exited ${code}`}${why ? `: ${why}` : ''}` });
    });
  });
}

/** timePeer for the short, synchronous peers (one `ssh host true`); the failure is thrown as PeerFailure. */
export function timePeerSync(cmd: string, args: string[], timeoutMs = 30_000): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  const ms = performance.now() - t0;
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') throw new PeerFailure(`timed out after ${seconds(timeoutMs)}`);
  if (r.error) throw new PeerFailure(`could not start ${cmd}: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`);
  if (r.status !== 0) {
    const why = lastLine(r.stderr ?? '');
    throw new PeerFailure(`${r.signal ? `killed by ${r.signal}` : `exited ${r.status}`}${why ? `: ${why}` : ''}`);
  }
  return ms;
}

/** A peer's run failed; the message is what its row says. */
export class PeerFailure extends Error {
  override readonly name = 'PeerFailure';
}

/** Samples of one peer, or why it has none (or fewer than asked). */
export interface PeerSamples {
  samples: number[];
  failure?: string;
}

/** Collects `n` samples of a synchronous peer; stops at the first failure and records it. */
export function samplePeerSync(n: number, warmup: number, once: () => number): PeerSamples {
  const out: PeerSamples = { samples: [] };
  for (let i = 0; i < n + warmup; i++) {
    try {
      const ms = once();
      if (i >= warmup) out.samples.push(ms);
    } catch (e) {
      if (!(e instanceof PeerFailure)) throw e;
      out.failure = e.message;
      break;
    }
  }
  return out;
}

/** A warm OpenSSH ControlMaster for a host of an ssh_config, the best stock OpenSSH does. */
export interface ControlMaster {
  child: ChildProcess;
  /** The options that make an `ssh` call use it. */
  mux: string[];
  /** Why it did not come up (within 10 s), if it did not. */
  failure?: string;
}

/** Starts `ssh -N` as ControlMaster on `controlPath` and waits (up to 10 s) until `ssh -O check` answers. */
export async function startControlMaster(base: string[], host: string, controlPath: string): Promise<ControlMaster> {
  const child = spawn('ssh', [...base, '-o', 'ControlMaster=yes', '-o', `ControlPath=${controlPath}`, '-N', host], { stdio: 'ignore' });
  const mux = ['-o', 'ControlMaster=no', '-o', `ControlPath=${controlPath}`];
  const deadline = Date.now() + 10_000;
  while (spawnSync('ssh', [...base, ...mux, '-O', 'check', host], { stdio: 'ignore', timeout: 10_000 }).status !== 0) {
    if (Date.now() > deadline) return { child, mux, failure: 'the ControlMaster did not come up within 10 s' };
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, mux };
}
