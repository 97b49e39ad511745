// The build scripts' view of the runner artifacts (scripts/runner-artifacts.mjs): the same targets
// as the core, this machine's own target, and the installers' check that all seven are there.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RUNNER_TARGETS } from '../../../electron/core/runner/artifacts';
import { tempDir } from '../../helpers/temp';
// @ts-expect-error: a plain ESM script of the build, without types
import { checkRunnerArtifacts, localRunnerTargets, RUNNER_TARGET_IDS } from '../../../scripts/runner-artifacts.mjs';

const BUILT = fileURLToPath(new URL('../../../resources/runner', import.meta.url));

test('the scripts know the same targets as the core, in the same order', () => {
  assert.deepEqual(RUNNER_TARGET_IDS, RUNNER_TARGETS.map((t) => t.id));
});

test("this machine's target: its own OS and CPU, else linux-amd64 (Windows)", () => {
  assert.deepEqual(localRunnerTargets('linux', 'x64'), ['linux-amd64']);
  assert.deepEqual(localRunnerTargets('linux', 'arm64'), ['linux-arm64']);
  assert.deepEqual(localRunnerTargets('linux', 'arm'), ['linux-armv7']);
  assert.deepEqual(localRunnerTargets('darwin', 'arm64'), ['darwin-arm64']);
  assert.deepEqual(localRunnerTargets('freebsd', 'x64'), ['freebsd-amd64']);
  assert.deepEqual(localRunnerTargets('win32', 'x64'), ['linux-amd64']);
});

test('the installers check passes on all seven verified artifacts and names what is missing or wrong', (t) => {
  assert.equal(checkRunnerArtifacts(BUILT), null, 'resources/runner must hold all seven (npm run build:runner)');
  const dir = join(tempDir(t), 'runner');
  assert.match(checkRunnerArtifacts(dir), /no readable manifest\.json/);
  cpSync(BUILT, dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { artifacts: { target: string }[] };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, artifacts: manifest.artifacts.filter((a) => a.target !== 'darwin-arm64') }));
  assert.match(checkRunnerArtifacts(dir), /lacks darwin-arm64/);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'linux-386', 'cronium-runner'), 'changed');
  assert.match(checkRunnerArtifacts(dir), /^linux-386: .* does not match its size and SHA-256/);
  rmSync(join(dir, 'cosign.pub'));
  assert.match(checkRunnerArtifacts(dir), /no readable cosign\.pub/);
});
