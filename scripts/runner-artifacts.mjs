// What the build scripts know about the runner artifacts without the TypeScript core: the target
// ids (electron/core/runner/artifacts.ts RUNNER_TARGETS, checked equal by a unit test), this
// machine's own target, and a check that a folder holds all of them, verified. The installers
// ship all seven (`npm run dist`, and electron-builder's beforePack hook, run this check).
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every runner target, in manifest order. */
export const RUNNER_TARGET_IDS = ['linux-amd64', 'linux-arm64', 'linux-armv7', 'linux-386', 'darwin-amd64', 'darwin-arm64', 'freebsd-amd64'];

/**
 * The runner targets of this machine: its own OS and CPU where the runner has a build for them;
 * on Windows (no runner target) linux-amd64, the likeliest target of the hosts it manages.
 */
export function localRunnerTargets(platform = process.platform, arch = process.arch) {
  const goArch = { x64: 'amd64', arm64: 'arm64', arm: 'armv7', ia32: '386' }[arch];
  const id = `${platform}-${goArch}`;
  return RUNNER_TARGET_IDS.includes(id) ? [id] : ['linux-amd64'];
}

/** Null when dir's manifest lists every target and each binary matches its size, SHA-256 and signature; else what is wrong. */
export function checkRunnerArtifacts(dir) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch (e) {
    return `no readable manifest.json in ${dir} (${e.code ?? e.message}): build the runner with \`npm run build:runner\` (needs Go)`;
  }
  let key;
  try {
    key = createPublicKey(readFileSync(join(dir, 'cosign.pub'), 'utf8'));
  } catch (e) {
    return `no readable cosign.pub in ${dir} (${e.code ?? e.message})`;
  }
  const entries = Array.isArray(manifest.artifacts) ? manifest.artifacts : [];
  const missing = RUNNER_TARGET_IDS.filter((t) => !entries.some((a) => a.target === t));
  if (missing.length) return `the manifest in ${dir} lacks ${missing.join(', ')}: build every target with \`npm run build:runner\``;
  for (const a of entries) {
    let data;
    let sig;
    try {
      data = readFileSync(join(dir, ...String(a.path).split('/')));
      sig = readFileSync(join(dir, ...String(a.signature).split('/')), 'utf8').trim();
    } catch (e) {
      return `${a.target}: ${e.code ?? e.message} (${a.path})`;
    }
    if (data.length !== a.size || createHash('sha256').update(data).digest('hex') !== a.sha256) return `${a.target}: ${a.path} does not match its size and SHA-256 in the manifest`;
    if (!verify('sha256', data, { key, dsaEncoding: 'der' }, Buffer.from(sig, 'base64'))) return `${a.target}: the signature does not verify with cosign.pub`;
  }
  return null;
}
