/**
 * The runner artifacts the benches deploy: built once per bench process from the current source
 * (linux-amd64 only, the same `go build` flags as `cronium runner build`), so the runner always
 * speaks this app's protocol even when resources/runner is older; without Go, the built
 * resources/runner. The temp dir is removed when the process exits.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appVersion } from '../../electron/core/core';
import { buildRunnerArtifacts } from '../../electron/core/runner/artifacts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let built: Promise<string> | undefined;

/** The artifacts dir to deploy from, or null when there is neither Go nor resources/runner. */
export async function benchArtifacts(): Promise<string | null> {
  if (spawnSync('go', ['version']).status !== 0) {
    const shipped = join(ROOT, 'resources', 'runner');
    return existsSync(join(shipped, 'manifest.json')) ? shipped : null;
  }
  built ??= (async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'cronium-bench-artifacts-'));
    process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));
    const outDir = join(scratch, 'artifacts');
    await buildRunnerArtifacts({ outDir, version: appVersion(), dataDir: join(scratch, 'build-key'), runnerSrcDir: join(ROOT, 'runner'), targets: ['linux-amd64'] });
    return outDir;
  })();
  return built;
}
