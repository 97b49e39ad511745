/**
 * What elevation costs in a fan-out (issue 18): `id -u` to 50 hosts with real sudo (a NOPASSWD
 * rule; and sudo checking the stored password through PAM), direct and runner mode, each against
 * the same fan-out without elevation measured in the same run (its baseline), and against
 * parallel-ssh running `sudo -n id -u` (NOPASSWD only: it cannot answer a prompt in parallel).
 * Needs root (the fleet and its sudoers rules).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore } from '../../electron/core/core';
import { startFleet } from '../fleet/fleet';
import { croniumRun } from './fanout';
import { timePeer } from './peers';
import { peerBaseline, stats, type Row } from './table';

const SUBNET = 216;
const N = 50;

/** The rows: per mode and sudo kind, elevated against not elevated (and parallel-ssh with sudo -n). */
export async function benchElevation(runs = 3): Promise<Row[] | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet and its sudoers rules' };
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-elevation-'));
  const half = N / 2;
  const fleet = await startFleet({
    subnet: SUBNET,
    hosts: [...Array.from({ length: half }, (_, i) => ({ name: `np${i + 1}`, profile: 'sudonopass' as const })), ...Array.from({ length: half }, (_, i) => ({ name: `pw${i + 1}`, profile: 'sudopass' as const }))],
  });
  try {
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, fleet.knownHosts());
    const cfg = join(scratch, 'ssh_config');
    writeFileSync(cfg, fleet.sshConfig());
    const open = () => openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
    const core = open();
    try {
      for (const h of fleet.hosts) {
        const pw = h.profile === 'sudopass';
        await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [], elevation: pw ? 'sudo-password' : 'sudo', ...(pw ? { elevationPassword: h.sudoPassword! } : {}) });
      }
    } finally {
      core.close();
    }
    const groups = { 'sudo NOPASSWD': fleet.hosts.filter((h) => h.profile === 'sudonopass').map((h) => h.name), 'sudo with a password': fleet.hosts.filter((h) => h.profile === 'sudopass').map((h) => h.name) };
    const rows: Row[] = [];
    for (const mode of ['direct', 'runner'] as const) {
      // Deploy once (runner mode) so that both sides of the ratio are warm on the host.
      if (mode === 'runner') await croniumRun(open, fleet.hosts.map((h) => h.name), undefined, { mode });
      for (const [kind, hosts] of Object.entries(groups)) {
        const plain: number[] = [];
        const elevated: number[] = [];
        const failures: string[] = [];
        for (let i = 0; i < runs; i++) {
          const a = await croniumRun(open, hosts, undefined, { mode, command: 'id -u' });
          if (a.ok) plain.push(a.ms);
          else failures.push(`plain: ${a.failure}`);
          const b = await croniumRun(open, hosts, undefined, { mode, command: 'id -u', elevated: true });
          if (b.ok) elevated.push(b.ms);
          else failures.push(`sudo: ${b.failure}`);
        }
        const name = `fan-out of \`id -u\` to ${hosts.length} hosts as root, ${kind}, ${mode} mode (cronium --sudo, cold connections)`;
        if (elevated.length === 0) {
          rows.push({ name, median: Number.NaN, spread: '-', unit: 'ms', baselines: [{ label: 'cronium --sudo', median: Number.NaN, failed: failures.join('; ') || 'no samples' }] });
          continue;
        }
        const s = stats(elevated);
        const baselines = [peerBaseline('same fan-out without --sudo', { samples: plain, ...(plain.length === 0 ? { failure: failures.join('; ') } : {}) })];
        if (kind === 'sudo NOPASSWD' && mode === 'direct' && spawnSync('sh', ['-c', 'command -v parallel-ssh']).status === 0) {
          const hostsFile = join(scratch, 'np-hosts');
          writeFileSync(hostsFile, `${hosts.join('\n')}\n`);
          const peer: number[] = [];
          let failure: string | undefined;
          for (let i = 0; i < runs; i++) {
            const r = await timePeer('parallel-ssh', ['-h', hostsFile, '-p', '50', '-x', `-F ${cfg}`, '-O', 'BatchMode=yes', 'sudo -n id -u']);
            if (r.ok) peer.push(r.ms);
            else failure = r.failure;
          }
          baselines.push(peerBaseline('parallel-ssh -p 50 sudo -n id -u', { samples: peer, ...(failure && peer.length === 0 ? { failure } : {}) }));
        }
        rows.push({ name, median: s.median, spread: `${s.p25.toFixed(0)}–${s.p75.toFixed(0)}`, unit: 'ms', baselines });
      }
    }
    return rows;
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
