/**
 * Files to many hosts (issue 18): `cronium push` of a 10 MB file to 100 hosts of the test fleet
 * (cold connections, concurrency 50, SFTP, verified by SHA-256 on every host, renamed into place)
 * against `parallel-scp -p 50` of the same file to the same hosts, measured in the same run; and
 * the same push again, where every host already has the file (nothing is sent). All hosts live on
 * this machine: each writes its own file ({host} in the path); parallel-scp, which cannot name a
 * file per host, writes one path from all 100. Needs root (the fleet).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../electron/core/core';
import { startFleet } from '../fleet/fleet';
import { timedJob } from './fanout';
import { PEER_TIMEOUT_MS, timePeer, type PeerRun } from './peers';
import { peerBaseline, stats, type Row } from './table';

const SUBNET = 217;
const N = 100;
const SIZE = 10 * 1024 * 1024;

/** One cold push (fanout.ts's timedJob), and how many of its runs found the file there already. */
async function pushOnce(open: () => Core, hosts: string[], file: string, to: string): Promise<PeerRun & { skipped?: number }> {
  const r = await timedJob(
    open,
    async (core) => (await call(core.dispatch, 'jobs.push', { path: file, hosts, to, concurrency: 50 }, { door: 'cli' })).jobId,
    PEER_TIMEOUT_MS,
    (core, jobId) => core.store.sqlite.prepare("select count(*) from runs where job_id = ? and json_extract(output, '$.skipped') = 1").pluck().get(jobId) as number,
  );
  return r.ok ? { ok: true, ms: r.ms, ...(r.inspected !== undefined ? { skipped: r.inspected } : {}) } : r;
}

/** The rows: a cold push, a repeated one (all skipped), parallel-scp. */
export async function benchPush(runs = 3): Promise<Row[] | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-push-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [], defaults: N });
  try {
    const knownHosts = join(scratch, 'known_hosts');
    writeFileSync(knownHosts, fleet.knownHosts());
    const cfg = join(scratch, 'ssh_config');
    writeFileSync(cfg, fleet.sshConfig());
    const file = join(scratch, 'payload.bin');
    writeFileSync(file, randomBytes(SIZE));
    const open = () => openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } });
    const core = open();
    for (const h of fleet.hosts) await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
    core.close();
    const names = fleet.hosts.map((h) => h.name);
    const hostsFile = join(scratch, 'hosts');
    writeFileSync(hostsFile, `${names.join('\n')}\n`);
    const cold: number[] = [];
    const warm: number[] = [];
    const scp: number[] = [];
    const failures: string[] = [];
    let scpFailure: string | undefined;
    for (let i = 0; i < runs; i++) {
      // A fresh destination: nothing there yet (cold), then the same again (all skipped).
      const dest = join(tmpdir(), `cronium-bench-push-dest-${i}-${process.pid}`);
      mkdirSync(dest, { mode: 0o777 });
      chmodSync(dest, 0o777);
      try {
        const a = await pushOnce(open, names, file, `${dest}/{host}.bin`);
        if (a.ok) cold.push(a.ms);
        else failures.push(a.failure);
        const b = await pushOnce(open, names, file, `${dest}/{host}.bin`);
        if (b.ok && b.skipped === N) warm.push(b.ms);
        else failures.push(b.ok ? `the repeat skipped only ${b.skipped} of ${N}` : b.failure);
        const c = await timePeer('parallel-scp', ['-h', hostsFile, '-p', '50', '-x', `-F ${cfg}`, '-O', 'BatchMode=yes', file, `${dest}/scp.bin`]);
        if (c.ok) scp.push(c.ms);
        else scpFailure = c.failure;
      } finally {
        rmSync(dest, { recursive: true, force: true });
      }
    }
    const scpBase = peerBaseline('parallel-scp -p 50 (no verification)', { samples: scp, ...(scp.length === 0 ? { failure: scpFailure ?? 'no samples' } : {}) });
    const row = (name: string, xs: number[], target?: { target: string; met: (m: number) => boolean }): Row => {
      if (xs.length === 0) return { name, median: Number.NaN, spread: '-', unit: 'ms', baselines: [{ label: 'cronium push', median: Number.NaN, failed: failures.join('; ') || 'no samples' }] };
      const s = stats(xs);
      return { name, median: s.median, spread: `${s.p25.toFixed(0)}–${s.p75.toFixed(0)}`, unit: 'ms', baselines: [scpBase], ...(target ? { target: target.target, verdict: target.met(s.median) ? ('met' as const) : ('missed' as const) } : {}) };
    };
    return [
      row(`cronium push of a 10 MB file to ${N} hosts, cold connections, concurrency 50 (SFTP, SHA-256 verified on each host, atomic rename)`, cold, { target: 'ahead of parallel-scp', met: (m) => scp.length > 0 && m < stats(scp).median }),
      row(`the same push again: every host already has it (checked by SHA-256, nothing sent)`, warm),
    ];
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
