/**
 * Runner deployment figures on the test fleet (loopback):
 * - cold deploy: nothing cached on the host and a new SSH connection (handshake included), then
 *   prepare, upload (SFTP on `default`; gzip over exec on `nosftp`), verify on the host, rename;
 * - warm check: the per-run integrity check on a pooled connection (one round trip: the host
 *   re-hashes the cached binary with its own tools).
 * Needs root (the fleet) and built artifacts (resources/runner, else Go to build them into a temp dir).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { appVersion, openCore } from '../../electron/core/core';
import { buildRunnerArtifacts } from '../../electron/core/runner/artifacts';
import { startFleet } from '../fleet/fleet';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Its own fleet subnet (test/bench/ssh.ts uses 206, the deploy integration test too). */
const SUBNET = 207;

/** Samples in milliseconds, per host profile. */
export interface DeployFigures {
  cold: Record<'sftp' | 'exec-gzip', number[]>;
  warm: number[];
  bytes: Record<'sftp' | 'exec-gzip', number>;
}

/** Runs the deployment benchmark, or says why it cannot run here. */
export async function benchDeploy(opts: { runs?: number } = {}): Promise<DeployFigures | { skipped: string }> {
  if (process.getuid?.() !== 0) return { skipped: 'needs root for the test fleet' };
  const runs = opts.runs ?? 7;
  const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-deploy-'));
  const fleet = await startFleet({ subnet: SUBNET, hosts: [{ name: 'default', profile: 'default' }, { name: 'nosftp', profile: 'nosftp' }] });
  try {
    let artifactsDir = join(ROOT, 'resources', 'runner');
    if (!existsSync(join(artifactsDir, 'manifest.json'))) {
      if (spawnSync('go', ['version']).status !== 0) return { skipped: 'no runner artifacts and no Go to build them' };
      artifactsDir = join(scratch, 'artifacts');
      await buildRunnerArtifacts({ outDir: artifactsDir, version: appVersion(), dataDir: scratch, runnerSrcDir: join(ROOT, 'runner'), targets: ['linux-amd64'] });
    }
    const knownHosts = join(scratch, 'known_hosts');
    spawnSync('sh', ['-c', 'cat > "$1"', 'sh', knownHosts], { input: fleet.knownHosts() });
    const core = openCore({ dataDir: join(scratch, 'data'), door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null }, runner: { artifactsDir } });
    try {
      for (const h of fleet.hosts) await core.hosts.add({ name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, useAgent: false, tags: [] });
      const wipe = (user: string) => {
        const uid = statSync(`/home/${user}`).uid;
        for (const d of [`/home/${user}/.cache/cronium`, `/dev/shm/cronium-${uid}`, `/tmp/cronium-${uid}`, `/var/tmp/cronium-${uid}`]) rmSync(d, { recursive: true, force: true });
      };
      const figures: DeployFigures = { cold: { sftp: [], 'exec-gzip': [] }, warm: [], bytes: { sftp: 0, 'exec-gzip': 0 } };
      for (const [name, transport] of [['default', 'sftp'], ['nosftp', 'exec-gzip']] as const) {
        const h = fleet.host(name);
        for (let i = 0; i < runs + 1; i++) {
          wipe(h.user);
          (await core.ssh.connect(await core.hosts.sshTarget(name))).close();
          const t0 = performance.now();
          const r = await core.runner.deploy(name);
          const ms = performance.now() - t0;
          if (r.cached || r.transport !== transport) throw new Error(`bench: ${name} deployed by ${r.transport ?? 'cache'}, expected ${transport}`);
          figures.bytes[transport] = r.uploadedBytes;
          if (i > 0) figures.cold[transport].push(ms);
        }
      }
      for (let i = 0; i < runs * 3 + 3; i++) {
        const t0 = performance.now();
        const r = await core.runner.deploy('default');
        const ms = performance.now() - t0;
        if (!r.cached) throw new Error('bench: the warm check uploaded');
        if (i >= 3) figures.warm.push(ms);
      }
      for (const h of fleet.hosts) wipe(h.user);
      return figures;
    } finally {
      core.close();
    }
  } finally {
    await fleet.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
