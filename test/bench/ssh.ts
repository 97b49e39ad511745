/**
 * SSH figures, measured against OpenSSH on the same fleet host in the same run:
 * - handshake: a fresh pool connection (TCP + key exchange + host-key check + auth),
 *   against `ssh host true` (a new ssh process: its own handshake plus one command);
 * - warm exec round trip of `true` through the pooled connection, against `ssh host true`
 *   and against `ssh` reusing a warm ControlMaster (the best stock OpenSSH does).
 * Needs root (the test fleet runs sshd on 127.x addresses); otherwise it reports why it skipped.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseKnownHosts, checkKnownHosts } from '../../electron/core/ssh/known-hosts';
import type { HostKeyStore } from '../../electron/core/ssh/host-key-store';
import { Ssh2Pool } from '../../electron/core/ssh/ssh2-pool';
import type { SshTarget } from '../../electron/core/ssh/types';
import { startFleet } from '../fleet/fleet';
import { samplePeerSync, timePeerSync, startControlMaster } from './peers';

/** Its own fleet subnet, so a bench never collides with a test run. */
const SUBNET = 206;

/** Samples in milliseconds. */
export interface SshFigures {
  handshake: number[];
  sshTrue: number[];
  warmExec: number[];
  controlMaster: number[];
  /** A peer that failed or timed out: what its baseline says instead of a figure. */
  failures: { sshTrue?: string; controlMaster?: string };
}

/** Runs the SSH benchmark, or says why it cannot run here. */
export async function benchSsh(opts: { handshakes?: number; execs?: number; sshRuns?: number } = {}): Promise<SshFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  if (spawnSync('ssh', ['-V']).status !== 0) return { skipped: 'the OpenSSH client is not installed' };
  const handshakes = opts.handshakes ?? 30;
  const execs = opts.execs ?? 300;
  const sshRuns = opts.sshRuns ?? 30;
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'bench', profile: 'default' }] });
  let master: ChildProcess | undefined;
  try {
    const h = fleet.host('bench');
    const entries = parseKnownHosts(fleet.knownHosts(), 'fleet').entries;
    const trust: HostKeyStore = {
      trustFor: async (q) => ({
        verify: (key) => (checkKnownHosts(entries, q.address, q.port, key).status === 'match' ? { state: 'trusted', source: 'known_hosts' } : { state: 'unknown' }),
        preferredKeyTypes: () => ['ssh-ed25519'],
      }),
      pinned: async () => [],
      pin: async () => undefined,
    };
    const target: SshTarget = { name: 'bench', address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, jumps: [] };
    const pool = new Ssh2Pool(trust, { agentSocket: null });
    const figures: SshFigures = { handshake: [], sshTrue: [], warmExec: [], controlMaster: [], failures: {} };
    try {
      // Handshake: each sample dials a new connection (the previous one is closed first).
      for (let i = 0; i < handshakes + 3; i++) {
        const t0 = performance.now();
        const conn = await pool.connect(target);
        const ms = performance.now() - t0;
        if (i >= 3) figures.handshake.push(ms);
        conn.close();
      }
      const conn = await pool.connect(target);
      for (let i = 0; i < 20; i++) await conn.exec('true');
      for (let i = 0; i < execs; i++) {
        const t0 = performance.now();
        const r = await conn.exec('true');
        figures.warmExec.push(performance.now() - t0);
        if (r.code !== 0) throw new Error(`bench: true exited ${r.code}`);
      }
    } finally {
      await pool.close();
    }

    const config = join(fleet.dir, 'ssh_config');
    const base = ['-F', config, '-o', 'BatchMode=yes'];
    const timeSsh = (args: string[]): number => timePeerSync('ssh', [...base, ...args, 'bench', 'true']);
    const plain = samplePeerSync(sshRuns, 2, () => timeSsh([]));
    figures.sshTrue = plain.samples;
    if (plain.failure) figures.failures.sshTrue = plain.failure;
    const controlPath = join(fleet.dir, 'cm-bench');
    const cm = await startControlMaster(base, 'bench', controlPath);
    master = cm.child;
    const mux = cm.mux;
    if (cm.failure) figures.failures.controlMaster = cm.failure;
    if (!figures.failures.controlMaster) {
      const muxed = samplePeerSync(sshRuns, 2, () => timeSsh(mux));
      figures.controlMaster = muxed.samples;
      if (muxed.failure) figures.failures.controlMaster = muxed.failure;
      spawnSync('ssh', [...base, ...mux, '-O', 'exit', 'bench'], { stdio: 'ignore', timeout: 10_000 });
    }
    return figures;
  } finally {
    master?.kill('SIGTERM');
    await fleet.stop();
  }
}
