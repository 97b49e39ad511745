// A release build pins the runner release key: the CLI, built as the release workflow builds
// it (esbuild with __CRONIUM_RELEASE_KEY__), verifies and deploys only artifacts signed with
// it, wherever they come from (the installed folder or CRONIUM_RUNNER_DIR); a development
// build trusts the folder's own key and says so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';
import { ROOT } from '../../../helpers/cli';
import { tempDir } from '../../../helpers/temp';

const ARTIFACTS = join(ROOT, 'resources', 'runner');

/** Builds the CLI like scripts/build.mjs does, with `releaseKey` compiled in; returns its path. */
async function cliWithKey(releaseKey: string): Promise<string> {
  const out = join(ROOT, 'dist', 'cli', `.pinned-${randomBytes(4).toString('hex')}.mjs`);
  await build({ bundle: true, platform: 'node', target: 'node20', format: 'esm', packages: 'external', absWorkingDir: ROOT, logLevel: 'error', entryPoints: ['electron/cli/entry.ts'], outfile: out, define: { __CRONIUM_RELEASE_KEY__: JSON.stringify(releaseKey) } });
  return out;
}

function verify(cli: string, dataDir: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, '--data-dir', dataDir, 'runner', 'verify'], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('a release build accepts only runners signed with its pinned key, from the installed folder and from CRONIUM_RUNNER_DIR', async (t) => {
  const own = readFileSync(join(ARTIFACTS, 'cosign.pub'), 'utf8');
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const pinnedToOwn = await cliWithKey(own);
  const pinnedToOther = await cliWithKey(other);
  t.after(() => {
    rmSync(pinnedToOwn, { force: true });
    rmSync(pinnedToOther, { force: true });
  });
  const data = tempDir(t);
  const ok = verify(pinnedToOwn, data, { CRONIUM_RUNNER_DIR: ARTIFACTS });
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /accepted only if signed with this release's key/);
  // The same folder (signed, consistent, but by another key than the release's): refused, both ways.
  for (const env of [{}, { CRONIUM_RUNNER_DIR: ARTIFACTS }] as Record<string, string>[]) {
    const refused = verify(pinnedToOther, data, env);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /FAIL linux-amd64: bad signature: cosign\.pub is not the trusted signing key/);
    assert.match(refused.out, /error\[RUNNER_INTEGRITY_FAILED\]/);
  }
});

test('a development build trusts the folder\'s own key and says so when CRONIUM_RUNNER_DIR names it', async (t) => {
  const dev = await cliWithKey('');
  t.after(() => rmSync(dev, { force: true }));
  const r = verify(dev, tempDir(t), { CRONIUM_RUNNER_DIR: ARTIFACTS });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /development build: trusted by that folder's own cosign\.pub/);
});
