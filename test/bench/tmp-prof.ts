import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFleet } from '../fleet/fleet';
const fleet = await startFleet({ subnet: 226, hosts: [{ name: 'bench', profile: 'default' }] });
try {
  const h = fleet.host('bench');
  const s = mkdtempSync(join(tmpdir(), 'prof-'));
  mkdirSync(join(s, 'home/.ssh'), { recursive: true });
  writeFileSync(join(s, 'home/.ssh/known_hosts'), fleet.knownHosts());
  const env = { ...process.env, HOME: join(s, 'home'), SSH_AUTH_SOCK: '', CRONIUM_HOME: '' };
  const cli = (args: string[], extra: string[] = []) => { const t0 = performance.now(); const r = spawnSync(process.execPath, [...extra, 'bin/cronium.mjs', '--data-dir', join(s, 'data'), ...args], { env, encoding: 'utf8' }); return { ms: performance.now() - t0, out: r.stdout, err: r.stderr }; };
  cli(['hosts', 'add', 'bench', '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!, '--no-agent']);
  for (let i = 0; i < 4; i++) { const r = cli(['run', '--host', 'bench', '--mode', 'direct', '--command', 'true', '--json']); console.log(r.ms.toFixed(0), r.out.trim().slice(0, 400)); }
  const t0 = performance.now(); spawnSync('ssh', ['-F', join(fleet.dir, 'ssh_config'), 'bench', 'true']); console.log('ssh', (performance.now() - t0).toFixed(0));
  cli(['run', '--host', 'bench', '--mode', 'direct', '--command', 'true'], ['--cpu-prof', '--cpu-prof-dir=/tmp/prof2']);
} finally { await fleet.stop(); }
