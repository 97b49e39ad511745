import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RUNNER_TARGETS,
  buildRunnerArtifacts,
  loadSigningKey,
  verifyRunnerArtifacts,
  type RunnerManifest,
} from '../../../../electron/core/runner/artifacts';
import { CroniumError } from '../../../../electron/shared/errors';
import { RUNNER_PROTOCOL } from '../../../../electron/shared/runner-protocol';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const runnerSrcDir = join(repoRoot, 'runner');
const brokenSrcDir = join(repoRoot, 'test', 'fixtures', 'runner', 'broken-module');
const VERSION = '0.1.0-test.7';
const QEMU_AARCH64 = '/usr/bin/qemu-aarch64-static';
const QEMU_ARM = '/usr/bin/qemu-arm-static';

let tmp: string;
let outDir: string;
let dataDir: string;
let manifest: RunnerManifest;
let buildSeconds: number;

/** The caller's environment without any signing key, so builds use the development key. */
function devEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('CRONIUM_RUNNER_SIGNING_KEY' in extra)) delete env.CRONIUM_RUNNER_SIGNING_KEY;
  if (!('CRONIUM_RUNNER_SIGNING_KEY_FILE' in extra)) delete env.CRONIUM_RUNNER_SIGNING_KEY_FILE;
  return env;
}

/** sha256 of the DER SPKI, computed from the PEM text rather than through the module under test. */
function pemFingerprint(pem: string): string {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(body, 'base64')).digest('hex');
}

function spkiFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Runs `<cmd> version` and returns its parsed JSON. */
function runVersion(cmd: string, args: string[]): Record<string, unknown> {
  const res = spawnSync(cmd, [...args, 'version'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')} version failed: ${res.stderr}`);
  assert.equal(res.stdout.split('\n').length, 2, `want one line, got ${JSON.stringify(res.stdout)}`);
  return JSON.parse(res.stdout) as Record<string, unknown>;
}

async function rejectsWith(promise: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<CroniumError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof CroniumError, `expected a CroniumError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cronium-artifacts-'));
  outDir = join(tmp, 'out');
  dataDir = join(tmp, 'data');
  const started = performance.now();
  manifest = await buildRunnerArtifacts({ outDir, version: VERSION, dataDir, runnerSrcDir, env: devEnv() });
  buildSeconds = (performance.now() - started) / 1000;
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('builds all 7 targets and writes a manifest that matches them', async (t) => {
  t.diagnostic(`7-target build took ${buildSeconds.toFixed(1)}s`);
  assert.equal(RUNNER_TARGETS.length, 7);
  const onDisk = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as RunnerManifest;
  assert.deepEqual(onDisk, manifest);
  assert.equal(manifest.version, VERSION);
  assert.equal(manifest.protocol, RUNNER_PROTOCOL);
  assert.ok(!Number.isNaN(Date.parse(manifest.builtAt)));
  assert.deepEqual(
    manifest.artifacts.map((a) => a.target),
    ['linux-amd64', 'linux-arm64', 'linux-armv7', 'linux-386', 'darwin-amd64', 'darwin-arm64', 'freebsd-amd64'],
  );
  const pub = await readFile(join(outDir, 'cosign.pub'), 'utf8');
  assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n$/);
  assert.deepEqual(manifest.signer, { kind: 'development', publicKeyPath: 'cosign.pub', fingerprint: pemFingerprint(pub) });
  for (const a of manifest.artifacts) {
    assert.equal(a.path, `${a.target}/cronium-runner`);
    assert.equal(a.signature, `${a.target}/cronium-runner.sig`);
    const data = await readFile(join(outDir, a.path));
    assert.equal(a.size, data.length, a.target);
    assert.ok(a.size > 500_000, `${a.target} is suspiciously small: ${a.size} bytes`);
    assert.equal(a.sha256, createHash('sha256').update(data).digest('hex'), a.target);
  }
  const leftovers = (await readdir(outDir, { recursive: true })).filter((f) => f.endsWith('.tmp'));
  assert.deepEqual(leftovers, []);
  assert.equal((await verifyRunnerArtifacts(outDir)).ok, true);
});

test('openssl verifies every signature (cosign sign-blob format)', async () => {
  const pubFile = join(outDir, 'cosign.pub');
  const derOf = async (a: RunnerManifest['artifacts'][number]): Promise<string> => {
    const der = join(tmp, `${a.target}.sig.der`);
    await writeFile(der, Buffer.from(await readFile(join(outDir, a.signature), 'utf8'), 'base64'));
    return der;
  };
  for (const a of manifest.artifacts) {
    const res = spawnSync('openssl', ['dgst', '-sha256', '-verify', pubFile, '-signature', await derOf(a), join(outDir, a.path)], {
      encoding: 'utf8',
    });
    assert.equal(res.status, 0, `${a.target}: ${res.stdout}${res.stderr}`);
    assert.match(res.stdout, /Verified OK/);
  }
  // The check can fail: one target's signature does not verify another's binary.
  const [first, second] = manifest.artifacts;
  assert.ok(first && second);
  const res = spawnSync('openssl', ['dgst', '-sha256', '-verify', pubFile, '-signature', await derOf(first), join(outDir, second.path)], {
    encoding: 'utf8',
  });
  assert.notEqual(res.status, 0);
  assert.match(res.stdout, /Verification failure/);
});

test('the linux-amd64 binary prints the stamped version', () => {
  const bin = join(outDir, 'linux-amd64', 'cronium-runner');
  const info = runVersion(bin, []);
  assert.equal(info.version, VERSION);
  assert.equal(info.protocol, manifest.protocol);
  assert.equal(info.os, 'linux');
  assert.equal(info.arch, 'amd64');
  assert.equal(info.target, 'linux-amd64');
  assert.equal('arm' in info, false);
  assert.match(String(info.goVersion), /^go1\.\d+/);

  // With no payload on stdin, run refuses with one error frame on stdout.
  const run = spawnSync(bin, ['run'], { encoding: 'utf8', input: '' });
  assert.equal(run.status, 2);
  assert.equal((JSON.parse(run.stdout) as { code: string }).code, 'PAYLOAD_REJECTED');
  const bare = spawnSync(bin, [], { encoding: 'utf8' });
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /^usage: cronium-runner/);
});

test('the linux-arm64 binary runs under qemu', () => {
  const info = runVersion(QEMU_AARCH64, [join(outDir, 'linux-arm64', 'cronium-runner')]);
  assert.deepEqual([info.version, info.os, info.arch, info.target, 'arm' in info], [VERSION, 'linux', 'arm64', 'linux-arm64', false]);
});

test('the linux-armv7 binary runs under qemu and reports ARMv7', () => {
  const info = runVersion(QEMU_ARM, [join(outDir, 'linux-armv7', 'cronium-runner')]);
  assert.deepEqual([info.version, info.os, info.arch, info.arm, info.target], [VERSION, 'linux', 'arm', '7', 'linux-armv7']);
});

test('the development key is generated once, private, and reused', async () => {
  const keyDir = join(dataDir, 'keys');
  const keyFile = join(keyDir, 'runner-signing.dev.pem');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(keyDir).mode & 0o777, 0o700);
  const before = await readFile(keyFile, 'utf8');
  assert.match(before, /^-----BEGIN PRIVATE KEY-----/);

  const out2 = join(tmp, 'out-second');
  const second = await buildRunnerArtifacts({ outDir: out2, version: VERSION, dataDir, runnerSrcDir, env: devEnv(), targets: ['linux-amd64'] });
  assert.deepEqual(second.signer, manifest.signer);
  assert.deepEqual(second.artifacts, manifest.artifacts.slice(0, 1), 'same source, version and key give the same binary');
  assert.equal(await readFile(keyFile, 'utf8'), before);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(keyDir), ['runner-signing.dev.pem']);
  assert.equal((await verifyRunnerArtifacts(out2)).ok, true);
});

test('ifStale builds only missing or stale targets, keeps the others, and never mixes keys in one manifest', async () => {
  const out = join(tmp, 'out-stale');
  const src = join(tmp, 'runner-src-copy');
  await cp(runnerSrcDir, src, { recursive: true });
  const build = (targets: string[], opts: { dataDir?: string; ifStale?: boolean } = {}) => {
    const outcome = { built: [] as string[], upToDate: [] as string[] };
    return buildRunnerArtifacts({ outDir: out, version: VERSION, dataDir: opts.dataDir ?? dataDir, runnerSrcDir: src, env: devEnv(), targets, ifStale: opts.ifStale ?? true }, outcome).then((m) => ({ m, outcome }));
  };
  const first = await build(['linux-amd64']);
  assert.deepEqual(first.outcome, { built: ['linux-amd64'], upToDate: [] });
  assert.match(first.m.artifacts[0]?.source ?? '', /^[0-9a-f]{64}$/);
  // Nothing changed: nothing is built, the manifest stays as it was.
  const again = await build(['linux-amd64']);
  assert.deepEqual(again.outcome, { built: [], upToDate: ['linux-amd64'] });
  assert.equal(again.m.builtAt, first.m.builtAt);
  // Another target: added, the first kept as it was.
  const second = await build(['linux-arm64', 'linux-amd64']);
  assert.deepEqual(second.outcome, { built: ['linux-arm64'], upToDate: ['linux-amd64'] });
  assert.deepEqual(second.m.artifacts.map((a) => a.target), ['linux-amd64', 'linux-arm64']);
  assert.deepEqual(second.m.artifacts[0], first.m.artifacts[0]);
  assert.equal((await verifyRunnerArtifacts(out)).ok, true);
  // Another key (another data dir): an up-to-date target is not rebuilt, whoever signed it...
  const otherKeyDir = join(tmp, 'other-key-data');
  const otherUpToDate = await build(['linux-amd64'], { dataDir: otherKeyDir });
  assert.deepEqual(otherUpToDate.outcome, { built: [], upToDate: ['linux-amd64'] });
  assert.equal(otherUpToDate.m.signer.fingerprint, first.m.signer.fingerprint);
  // ...but a new target with another key rebuilds what the manifest lists, so one key signs all.
  const rekeyed = await build(['linux-386'], { dataDir: otherKeyDir });
  assert.deepEqual(rekeyed.outcome.built, ['linux-amd64', 'linux-arm64', 'linux-386']);
  assert.notEqual(rekeyed.m.signer.fingerprint, first.m.signer.fingerprint);
  assert.equal((await verifyRunnerArtifacts(out)).ok, true);
  // A changed source makes the target stale; what it does not select stays listed.
  await writeFile(join(src, 'internal', 'version', 'extra.go'), 'package version\n\n// Extra changes the sources.\nconst Extra = 1\n');
  const changed = await build(['linux-amd64'], { dataDir: otherKeyDir });
  assert.deepEqual(changed.outcome, { built: ['linux-amd64'], upToDate: [] });
  assert.notEqual(changed.m.artifacts[0]?.source, rekeyed.m.artifacts[0]?.source);
  assert.deepEqual(changed.m.artifacts.map((a) => a.target), ['linux-amd64', 'linux-arm64', 'linux-386']);
  // A test file is not a source of the binary.
  await writeFile(join(src, 'internal', 'version', 'more_test.go'), 'package version\n');
  assert.deepEqual((await build(['linux-amd64'], { dataDir: otherKeyDir })).outcome.built, []);
  // Without ifStale a build replaces the manifest with what it built (the old behaviour).
  const plain = await build(['linux-amd64'], { dataDir: otherKeyDir, ifStale: false });
  assert.deepEqual(plain.m.artifacts.map((a) => a.target), ['linux-amd64']);
});

test('a release key from the environment signs and is marked release', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const releaseData = join(tmp, 'data-release');
  const out3 = join(tmp, 'out-release');
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const progress: string[] = [];
  const built = await buildRunnerArtifacts({
    outDir: out3,
    version: VERSION,
    dataDir: releaseData,
    runnerSrcDir,
    env: devEnv({ CRONIUM_RUNNER_SIGNING_KEY: pkcs8 }),
    targets: ['linux-arm64'],
    onProgress: (m) => progress.push(m),
  });
  assert.equal(built.signer.kind, 'release');
  assert.equal(built.signer.fingerprint, spkiFingerprint(publicKey));
  assert.equal(pemFingerprint(await readFile(join(out3, 'cosign.pub'), 'utf8')), spkiFingerprint(publicKey));
  assert.equal(existsSync(join(releaseData, 'keys')), false, 'a release build creates no development key');
  assert.ok(progress.every((m) => !m.includes('PRIVATE KEY')), 'progress never shows the key');
  const verdict = await verifyRunnerArtifacts(out3);
  assert.deepEqual(verdict, { ok: true, signer: built.signer, results: [{ target: 'linux-arm64', ok: true }] });

  // A SEC1 key through the _FILE variable, and a secret store's flattened newlines, load the same key.
  const sec1File = join(tmp, 'release-sec1.pem');
  await writeFile(sec1File, privateKey.export({ type: 'sec1', format: 'pem' }));
  const fromFile = loadSigningKey(join(tmp, 'unused'), { CRONIUM_RUNNER_SIGNING_KEY_FILE: sec1File });
  assert.equal(fromFile.kind, 'release');
  assert.equal(spkiFingerprint(createPublicKey(fromFile.privateKey)), spkiFingerprint(publicKey));
  const flattened = loadSigningKey(join(tmp, 'unused'), { CRONIUM_RUNNER_SIGNING_KEY: pkcs8.replace(/\n/g, '\\n') });
  assert.equal(flattened.publicKeyPem, publicKey.export({ type: 'spki', format: 'pem' }).toString());

  await rejectsWith(
    () => loadSigningKey(dataDir, { CRONIUM_RUNNER_SIGNING_KEY: pkcs8, CRONIUM_RUNNER_SIGNING_KEY_FILE: sec1File }),
    'INVALID_INPUT',
    /both/,
  );
  await rejectsWith(() => loadSigningKey(dataDir, { CRONIUM_RUNNER_SIGNING_KEY_FILE: join(tmp, 'nope.pem') }), 'INVALID_INPUT', /ENOENT/);
});

test('keys that are not P-256 are refused with a hint', async () => {
  const pems: [string, string][] = [
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['secp256k1', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString()],
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['Ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    [
      'encrypted P-256',
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' })
        .toString(),
    ],
    ['garbage', 'not a key'],
  ];
  for (const [label, pem] of pems) {
    const err = await rejectsWith(() => loadSigningKey(dataDir, { CRONIUM_RUNNER_SIGNING_KEY: pem }), 'INVALID_INPUT');
    assert.match(err.hint ?? '', /P-256/, label);
    assert.ok(!err.message.includes('PRIVATE KEY') && !(err.hint ?? '').includes('PRIVATE KEY'), `${label}: error quotes the key`);
  }
  // Refused before anything is built.
  const out4 = join(tmp, 'out-refused');
  await rejectsWith(
    buildRunnerArtifacts({ outDir: out4, version: VERSION, dataDir, runnerSrcDir, env: devEnv({ CRONIUM_RUNNER_SIGNING_KEY: pems[0]![1] }) }),
    'INVALID_INPUT',
    /secp384r1/,
  );
  assert.equal(existsSync(out4), false);
});

test('verify reports tampered, missing and re-signed artifacts per target', async () => {
  const copy = join(tmp, 'out-tampered');
  await cp(outDir, copy, { recursive: true });
  const bin = join(copy, 'linux-arm64', 'cronium-runner');
  const data = await readFile(bin);
  const mid = data.length >> 1;
  data.writeUInt8(data.readUInt8(mid) ^ 0xff, mid);
  await writeFile(bin, data);
  const amd64Sig = await readFile(join(copy, 'linux-amd64', 'cronium-runner.sig'));
  await writeFile(join(copy, 'darwin-amd64', 'cronium-runner.sig'), amd64Sig); // a valid signature of another blob
  await writeFile(join(copy, 'freebsd-amd64', 'cronium-runner.sig'), 'not base64!');
  await rm(join(copy, 'linux-386', 'cronium-runner'));

  const verdict = await verifyRunnerArtifacts(copy);
  assert.equal(verdict.ok, false);
  assert.deepEqual(verdict.signer, manifest.signer);
  const reasons = Object.fromEntries(verdict.results.map((r) => [r.target, r.ok ? 'ok' : r.reason]));
  assert.match(reasons['linux-arm64'] ?? '', /^hash mismatch/);
  assert.match(reasons['darwin-amd64'] ?? '', /^bad signature/);
  assert.match(reasons['freebsd-amd64'] ?? '', /^bad signature/);
  assert.match(reasons['linux-386'] ?? '', /^missing file/);
  for (const id of ['linux-amd64', 'linux-armv7', 'darwin-arm64']) assert.equal(reasons[id], 'ok', id);

  // Someone who can write the directory re-signs everything with their own key:
  // self-consistent, so only a pinned key catches it.
  const resigned = join(tmp, 'out-resigned');
  await cp(outDir, resigned, { recursive: true });
  const attacker = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  for (const a of manifest.artifacts) {
    const sig = sign('sha256', await readFile(join(resigned, a.path)), { key: attacker.privateKey, dsaEncoding: 'der' });
    await writeFile(join(resigned, a.signature), sig.toString('base64'));
  }
  const attackerPem = attacker.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await writeFile(join(resigned, 'cosign.pub'), attackerPem);
  const forged = { ...manifest, signer: { ...manifest.signer, fingerprint: spkiFingerprint(attacker.publicKey) } };
  await writeFile(join(resigned, 'manifest.json'), JSON.stringify(forged));
  assert.equal((await verifyRunnerArtifacts(resigned)).ok, true);
  const pinned = await verifyRunnerArtifacts(resigned, { publicKeyPem: await readFile(join(outDir, 'cosign.pub'), 'utf8') });
  assert.equal(pinned.ok, false);
  assert.ok(pinned.results.every((r) => !r.ok && /not the trusted signing key/.test(r.reason ?? '')));
  // cosign.pub swapped without touching the manifest: every target fails.
  await writeFile(join(resigned, 'manifest.json'), JSON.stringify(manifest));
  assert.ok((await verifyRunnerArtifacts(resigned)).results.every((r) => !r.ok && /^bad signature/.test(r.reason ?? '')));
});

test('verify refuses manifest paths outside the artifact dir and a missing manifest', async () => {
  const copy = join(tmp, 'out-escape');
  await cp(outDir, copy, { recursive: true });
  const evil = { ...manifest, artifacts: [{ ...manifest.artifacts[0]!, path: '../out/linux-amd64/cronium-runner' }] };
  await writeFile(join(copy, 'manifest.json'), JSON.stringify(evil));
  const verdict = await verifyRunnerArtifacts(copy);
  assert.equal(verdict.ok, false);
  assert.match(verdict.results[0]?.reason ?? '', /^invalid path/);

  await writeFile(join(copy, 'manifest.json'), '{"version":1}');
  await rejectsWith(verifyRunnerArtifacts(copy), 'RUNNER_INTEGRITY_FAILED', /malformed/);
  // Nothing built is not an integrity failure: NOT_FOUND, saying how to build.
  const none = await rejectsWith(verifyRunnerArtifacts(join(tmp, 'nowhere')), 'NOT_FOUND', /no manifest\.json/);
  assert.equal(none.details?.reason, 'not-built');
  assert.match(none.hint, /cronium runner build/);
});

test('build failures carry RUNNER_BUILD_FAILED, the target and go stderr, and publish nothing', async () => {
  const out5 = join(tmp, 'out-broken');
  await rejectsWith(
    buildRunnerArtifacts({ outDir: out5, version: VERSION, dataDir, runnerSrcDir: brokenSrcDir, env: devEnv(), targets: ['linux-amd64', 'linux-arm64'] }),
    'RUNNER_BUILD_FAILED',
    /go build for linux-(amd64|arm64) failed[\s\S]*notDefinedOnPurpose/,
  );
  assert.equal(existsSync(join(out5, 'manifest.json')), false);
  assert.deepEqual((await readdir(out5, { recursive: true })).filter((f) => f.includes('cronium-runner')), []);

  const noGo = await rejectsWith(
    buildRunnerArtifacts({ outDir: out5, version: VERSION, dataDir, runnerSrcDir, env: devEnv(), goBin: join(tmp, 'no-such-go') }),
    'RUNNER_BUILD_FAILED',
    /not found/,
  );
  assert.match(noGo.hint ?? '', /goBin/);
});

test('bad versions and unknown targets are refused as INVALID_INPUT', async () => {
  const opts = { outDir: join(tmp, 'out-invalid'), dataDir, runnerSrcDir, env: devEnv() };
  await rejectsWith(buildRunnerArtifacts({ ...opts, version: '1.0 -X main.evil=1' }), 'INVALID_INPUT', /version/);
  await rejectsWith(buildRunnerArtifacts({ ...opts, version: '' }), 'INVALID_INPUT', /version/);
  await rejectsWith(buildRunnerArtifacts({ ...opts, version: VERSION, targets: ['linux-mips'] }), 'INVALID_INPUT', /linux-mips/);
  await rejectsWith(buildRunnerArtifacts({ ...opts, version: VERSION, targets: [] }), 'INVALID_INPUT', /no runner targets/);
  await rejectsWith(buildRunnerArtifacts({ ...opts, version: VERSION, runnerSrcDir: tmp }), 'INVALID_INPUT', /go\.mod/);
  assert.equal(existsSync(opts.outDir), false);
});

test('cancelling mid-build rejects with the abort reason and leaves the previous build intact', async () => {
  const out6 = join(tmp, 'out-cancel');
  await cp(outDir, out6, { recursive: true });
  const previous = await readFile(join(out6, 'manifest.json'), 'utf8');
  const ctl = new AbortController();
  await assert.rejects(
    buildRunnerArtifacts({
      outDir: out6,
      version: '0.2.0',
      dataDir,
      runnerSrcDir,
      env: devEnv(),
      signal: ctl.signal,
      onProgress: (m) => {
        if (m.startsWith('built ')) ctl.abort();
      },
    }),
    { name: 'AbortError' },
  );
  assert.equal(await readFile(join(out6, 'manifest.json'), 'utf8'), previous);
  assert.deepEqual((await readdir(out6, { recursive: true })).filter((f) => f.endsWith('.tmp')), []);
  assert.equal((await verifyRunnerArtifacts(out6)).ok, true);

  await assert.rejects(
    buildRunnerArtifacts({ outDir: out6, version: VERSION, dataDir, runnerSrcDir, env: devEnv(), signal: AbortSignal.abort() }),
    { name: 'AbortError' },
  );
});
