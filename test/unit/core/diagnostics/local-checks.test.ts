// This machine's side of a diagnosis (data dir, key files, runner artifacts), on real files and a
// real signed artifacts dir; the fleet-backed report is test/integration/diagnostics.
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { localChecks } from '../../../../electron/core/diagnostics/local-checks';
import { LocalArtifacts } from '../../../../electron/core/runner/local-artifacts';
import { tempDir } from '../../../helpers/temp';

const BUILT = fileURLToPath(new URL('../../../../resources/runner', import.meta.url));

function side(t: TestContext, artifactsDir?: string) {
  const dir = tempDir(t);
  const dataDir = join(dir, 'data');
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  writeFileSync(join(dataDir, 'secret.key'), Buffer.alloc(32), { mode: 0o600 });
  writeFileSync(join(dataDir, 'keys', 'payload-signing.pem'), 'x', { mode: 0o600 });
  const artifacts = artifactsDir ?? join(dir, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  return { dataDir, artifactsDir: artifacts, side: { dataDir, artifacts: new LocalArtifacts({ dir: artifacts }), buildsOnDemand: false } };
}

const byId = (checks: { id: string; status: string; detail: string; hint: string | null }[]) => Object.fromEntries(checks.map((c) => [c.id, c]));

test('private data dir and keys pass; built artifacts for the host\'s target pass', async (t) => {
  const s = side(t, BUILT);
  const out = await localChecks(s.side, 'linux-amd64');
  const c = byId(out.checks);
  assert.deepEqual(out.checks.map((x) => x.id), ['data-dir', 'key-files', 'artifacts']);
  assert.equal(c['data-dir']!.status, 'pass', c['data-dir']!.detail);
  assert.equal(c['key-files']!.status, 'pass', c['key-files']!.detail);
  assert.match(c['key-files']!.detail, /^2 key file\(s\)/);
  assert.equal(c.artifacts!.status, 'pass', c.artifacts!.detail);
  assert.match(c.artifacts!.detail, /including this host's linux-amd64/);
  assert.equal(out.runnerBlocked, undefined);
});

test('no artifacts: the artifacts check fails with `cronium runner build`, and the runner is blocked', async (t) => {
  const s = side(t);
  const out = await localChecks(s.side, 'linux-amd64');
  const c = byId(out.checks);
  assert.equal(c.artifacts!.status, 'fail');
  assert.match(c.artifacts!.detail, /no runner artifacts in/);
  assert.match(c.artifacts!.hint ?? '', /cronium runner build/);
  assert.match(out.runnerBlocked?.hint ?? '', /cronium runner build/);
  const onDemand = await localChecks({ ...s.side, buildsOnDemand: true }, 'linux-amd64');
  assert.match(byId(onDemand.checks).artifacts!.hint ?? '', /the first run .* also builds it/);
});

test('artifacts without the host\'s target fail for that host; a tampered one fails as not verifying', async (t) => {
  const s = side(t);
  cpSync(BUILT, s.artifactsDir, { recursive: true });
  const other = await localChecks(s.side, 'solaris-sparc');
  assert.equal(byId(other.checks).artifacts!.status, 'fail');
  assert.match(byId(other.checks).artifacts!.detail, /but not for this host's solaris-sparc/);
  assert.match(other.runnerBlocked?.hint ?? '', /--target solaris-sparc/);
  writeFileSync(join(s.artifactsDir, 'linux-amd64', 'cronium-runner'), 'changed');
  const tampered = await localChecks({ ...s.side, artifacts: new LocalArtifacts({ dir: s.artifactsDir }) }, 'linux-amd64');
  assert.equal(byId(tampered.checks).artifacts!.status, 'fail');
  assert.match(byId(tampered.checks).artifacts!.detail, /do not verify: linux-amd64: hash mismatch/);
});

test('key files or a keys dir others can read fail; a data dir others can enter warns; an unwritable one fails', async (t) => {
  const s = side(t, BUILT);
  chmodSync(join(s.dataDir, 'secret.key'), 0o644);
  chmodSync(join(s.dataDir, 'keys'), 0o755);
  chmodSync(s.dataDir, 0o755);
  const c = byId((await localChecks(s.side, undefined)).checks);
  assert.equal(c['key-files']!.status, 'fail');
  assert.match(c['key-files']!.detail, /secret\.key has mode 644 \(want 600\)/);
  assert.match(c['key-files']!.detail, /keys has mode 755 \(want 700\)/);
  assert.match(c['key-files']!.hint ?? '', /chmod 600/);
  assert.equal(c['data-dir']!.status, 'warn');
  assert.match(c['data-dir']!.hint ?? '', /chmod 700/);
  const gone = byId((await localChecks({ ...s.side, dataDir: join(s.dataDir, 'nope') }, undefined)).checks);
  assert.equal(gone['data-dir']!.status, 'fail');
  assert.match(gone['data-dir']!.detail, /is not writable: ENOENT/);
});
