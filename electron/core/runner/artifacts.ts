/**
 * Builds, signs and verifies the cronium-runner artifacts.
 *
 * Invariant: a published artifact always has a manifest entry whose size,
 * SHA-256 and cosign-format signature (ECDSA P-256 over SHA-256, base64 DER,
 * PEM public key in cosign.pub) match it. Binaries are built under temporary
 * names and published only once every target has built and been signed, so a
 * failed or cancelled build leaves the previous one intact. manifest.json is
 * written last. A build may keep what it does not rebuild (`keep`, `ifStale`):
 * only entries that verify and share the build's version, protocol and signer;
 * entries another key signed are rebuilt along (one manifest never mixes keys).
 * Each entry records the hash of the sources and Go it was built from: `ifStale`
 * skips a target whose verified entry has the same (whichever key signed it).
 * Expected failures throw CroniumError: INVALID_INPUT (bad version, target or
 * key), RUNNER_BUILD_FAILED (no Go, compile error), NOT_FOUND (no manifest:
 * nothing built yet, details.reason "not-built") and RUNNER_INTEGRITY_FAILED (an
 * unreadable or malformed manifest); cancellation rejects with the signal's reason.
 */
import { spawn } from 'node:child_process';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CroniumError, isCroniumError } from '../../shared/errors';

/** A Go cross-compilation target of the runner. */
export interface RunnerTarget {
  readonly id: string;
  readonly goos: string;
  readonly goarch: string;
  readonly goarm?: string;
}

/** Every target the runner is built for, in manifest order. */
export const RUNNER_TARGETS: readonly RunnerTarget[] = Object.freeze([
  { id: 'linux-amd64', goos: 'linux', goarch: 'amd64' },
  { id: 'linux-arm64', goos: 'linux', goarch: 'arm64' },
  { id: 'linux-armv7', goos: 'linux', goarch: 'arm', goarm: '7' },
  { id: 'linux-386', goos: 'linux', goarch: '386' },
  { id: 'darwin-amd64', goos: 'darwin', goarch: 'amd64' },
  { id: 'darwin-arm64', goos: 'darwin', goarch: 'arm64' },
  { id: 'freebsd-amd64', goos: 'freebsd', goarch: 'amd64' },
]);

/** One signed binary in the manifest; paths are relative to the artifact dir, '/'-separated. */
export interface ManifestEntry {
  target: string;
  path: string;
  sha256: string;
  size: number;
  signature: string;
  /** SHA-256 over the runner's sources and the Go version it was built with (absent in older manifests). */
  source?: string;
}

/** Who signed a build: the release key from the environment or this machine's development key. */
export type SignerKind = 'release' | 'development';

/** The manifest.json written next to the artifacts. */
export interface RunnerManifest {
  version: string;
  protocol: number;
  builtAt: string;
  signer: { kind: SignerKind; publicKeyPath: 'cosign.pub'; fingerprint: string };
  artifacts: ManifestEntry[];
}

/** Options of buildRunnerArtifacts. */
export interface BuildRunnerOptions {
  outDir: string;
  version: string;
  dataDir: string;
  runnerSrcDir: string;
  goBin?: string;
  targets?: string[];
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onProgress?: (msg: string) => void;
  /** Keep the entries of targets this build does not rebuild (when they verify and share its version, protocol and signer). */
  keep?: boolean;
  /** Rebuild only the selected targets that are missing or stale (other sources, Go, version or key); implies keep. */
  ifStale?: boolean;
}

/** The verdict on one manifest entry. */
export interface ArtifactCheck {
  target: string;
  ok: boolean;
  reason?: string;
}

/** The verdict of verifyRunnerArtifacts; `ok` only when every artifact verifies. */
export interface RunnerVerification {
  ok: boolean;
  signer: RunnerManifest['signer'];
  results: ArtifactCheck[];
}

/** A signing key ready to use; the private half is never serialised by this module. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  kind: SignerKind;
}

const BINARY = 'cronium-runner';
const MANIFEST_FILE = 'manifest.json';
const PUBLIC_KEY_FILE = 'cosign.pub';
const VERSION_PKG = 'github.com/cronium/desktop/runner/internal/version';
const PROTOCOL_SOURCE = path.join('internal', 'version', 'version.go');
const KEY_ENV = 'CRONIUM_RUNNER_SIGNING_KEY';
const KEY_FILE_ENV = 'CRONIUM_RUNNER_SIGNING_KEY_FILE';
const DEV_KEY_FILE = 'runner-signing.dev.pem';
const BUILD_CONCURRENCY = 2;
// Safe to pass inside -ldflags (no spaces or quotes) and as a path segment on hosts.
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
const P256_HINT =
  'use an unencrypted ECDSA P-256 key in PEM (PKCS#8 or SEC1), e.g. from `openssl ecparam -name prime256v1 -genkey -noout`';

/**
 * Returns the key that signs runner artifacts: the release key from
 * CRONIUM_RUNNER_SIGNING_KEY (PEM) or CRONIUM_RUNNER_SIGNING_KEY_FILE (path),
 * else this data dir's development key, generated on first use.
 */
export function loadSigningKey(dataDir: string, env: NodeJS.ProcessEnv): SigningKey {
  const inline = env[KEY_ENV];
  const file = env[KEY_FILE_ENV];
  if (inline && file) {
    throw new CroniumError('INVALID_INPUT', `both ${KEY_ENV} and ${KEY_FILE_ENV} are set`, 'set only one of them');
  }
  if (inline) {
    // CI secret stores sometimes flatten newlines to a literal "\n".
    const pem = inline.includes('\n') ? inline : inline.replace(/\\n/g, '\n');
    return { ...parseP256(pem, `$${KEY_ENV}`), kind: 'release' };
  }
  if (file) {
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      throw new CroniumError('INVALID_INPUT', `cannot read ${KEY_FILE_ENV} (${file}): ${errnoCode(err)}`);
    }
    return { ...parseP256(pem, file), kind: 'release' };
  }
  return { ...developmentKey(dataDir), kind: 'development' };
}

/** What buildRunnerArtifacts did, besides the manifest: the targets it built and those it found up to date. */
export interface BuildOutcome {
  built: string[];
  upToDate: string[];
}

/**
 * Builds, signs and publishes the runner for the given targets (default: all) and returns the
 * manifest it wrote (or, when every selected target was up to date with `ifStale`, the one in place).
 * `outcome`, when given, is filled with what was built and what was kept as up to date.
 */
export async function buildRunnerArtifacts(opts: BuildRunnerOptions, outcome?: BuildOutcome): Promise<RunnerManifest> {
  const { outDir, version, dataDir, runnerSrcDir, goBin = 'go', env = process.env, signal, onProgress } = opts;
  if (!VERSION_RE.test(version)) {
    throw new CroniumError('INVALID_INPUT', `invalid runner version "${version}"`, 'use a semver-like string, e.g. 0.1.0');
  }
  const selected = selectTargets(opts.targets);
  signal?.throwIfAborted();

  const key = loadSigningKey(dataDir, env);
  const fingerprint = fingerprintOf(createPublicKey(key.privateKey));
  const protocol = await readProtocol(runnerSrcDir);
  const goVersion = await probeGo(goBin, runnerSrcDir, env, signal);
  const source = await runnerSourceHash(runnerSrcDir, goVersion);
  const existing = opts.keep || opts.ifStale ? await keepableEntries(outDir, { version, protocol }) : { entries: new Map<string, ManifestEntry>(), signer: '' };
  // Up to date: a verified entry built from the same sources and Go, whoever signed it.
  let targets = opts.ifStale ? selected.filter((t) => existing.entries.get(t.id)?.source !== source) : selected;
  const upToDate = selected.filter((t) => !targets.includes(t)).map((t) => t.id);
  if (upToDate.length) onProgress?.(`up to date (same sources, Go and version): ${upToDate.join(', ')}`);
  if (targets.length === 0) {
    if (outcome) Object.assign(outcome, { built: [], upToDate });
    return readExistingManifest(outDir);
  }
  // One manifest, one key: what another key signed is rebuilt with this one rather than dropped.
  const sameKey = existing.signer === fingerprint;
  if (!sameKey && existing.entries.size) targets = RUNNER_TARGETS.filter((t) => targets.includes(t) || existing.entries.has(t.id));
  const kept = sameKey ? [...existing.entries.values()].filter((e) => !targets.some((t) => t.id === e.target)) : [];
  if (outcome) Object.assign(outcome, { built: targets.map((t) => t.id), upToDate: upToDate.filter((id) => !targets.some((t) => t.id === id)) });
  onProgress?.(`${goVersion}: building ${targets.length} target(s), signing with the ${key.kind} key ${fingerprint.slice(0, 16)}`);

  await mkdir(outDir, { recursive: true });
  const tmps: string[] = [];
  const built: { entry: ManifestEntry; tmp: string; signature: string }[] = [];
  try {
    await mapPool(targets, BUILD_CONCURRENCY, signal, async (target, poolSignal) => {
      const dir = path.join(outDir, target.id);
      await mkdir(dir, { recursive: true });
      const tmp = path.join(dir, `.${BINARY}.${randomBytes(6).toString('hex')}.tmp`);
      tmps.push(tmp);
      const started = Date.now();
      await goBuild(goBin, runnerSrcDir, target, version, tmp, env, poolSignal);
      const data = await readFile(tmp);
      const signature = sign('sha256', data, { key: key.privateKey, dsaEncoding: 'der' }).toString('base64');
      built.push({ entry: { ...manifestEntry(target, sha256Hex(data), data.length), source }, tmp, signature });
      onProgress?.(`built ${target.id} (${(data.length / 1048576).toFixed(1)} MB) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    });

    const order = RUNNER_TARGETS.map((t) => t.id);
    built.sort((a, b) => order.indexOf(a.entry.target) - order.indexOf(b.entry.target));
    await writeAtomic(path.join(outDir, PUBLIC_KEY_FILE), key.publicKeyPem);
    for (const b of built) {
      await rename(b.tmp, path.join(outDir, b.entry.path));
      await writeAtomic(path.join(outDir, b.entry.signature), b.signature);
    }
    const manifest: RunnerManifest = {
      version,
      protocol,
      builtAt: new Date().toISOString(),
      signer: { kind: key.kind, publicKeyPath: PUBLIC_KEY_FILE, fingerprint },
      artifacts: [...kept, ...built.map((b) => b.entry)].sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target)),
    };
    await writeAtomic(path.join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    onProgress?.(`wrote ${MANIFEST_FILE} for ${manifest.artifacts.length} artifact(s)`);
    return manifest;
  } finally {
    await Promise.all(tmps.map((tmp) => rm(tmp, { force: true })));
  }
}

/**
 * Re-hashes every artifact of outDir's manifest and checks its signature with
 * cosign.pub. Pass `publicKeyPem` to also require cosign.pub to be that
 * (pinned) key; without it the check proves integrity, not origin.
 */
export async function verifyRunnerArtifacts(outDir: string, opts: { publicKeyPem?: string } = {}): Promise<RunnerVerification> {
  const manifest = parseManifest(await readManifestText(outDir));
  let publicKey: KeyObject | undefined;
  let keyProblem: string | undefined;
  try {
    publicKey = createPublicKey(await readFile(path.join(outDir, PUBLIC_KEY_FILE), 'utf8'));
    const fingerprint = fingerprintOf(publicKey);
    if (fingerprint !== manifest.signer.fingerprint) {
      keyProblem = `bad signature: ${PUBLIC_KEY_FILE} (${fingerprint.slice(0, 16)}) is not the manifest's signer (${manifest.signer.fingerprint.slice(0, 16)})`;
    } else if (opts.publicKeyPem !== undefined && fingerprintOf(createPublicKey(opts.publicKeyPem)) !== fingerprint) {
      keyProblem = `bad signature: ${PUBLIC_KEY_FILE} is not the trusted signing key`;
    }
  } catch (err) {
    keyProblem = `bad signature: cannot load ${PUBLIC_KEY_FILE} (${errnoCode(err)})`;
  }
  const results = await Promise.all(manifest.artifacts.map((e) => checkEntry(outDir, e, publicKey, keyProblem)));
  return { ok: results.length > 0 && results.every((r) => r.ok), signer: manifest.signer, results };
}

/** The entries of outDir's manifest that verify and match the given version and protocol, by target, and its signer; none without a usable manifest. */
async function keepableEntries(outDir: string, want: { version: string; protocol: number }): Promise<{ entries: Map<string, ManifestEntry>; signer: string }> {
  const entries = new Map<string, ManifestEntry>();
  let manifest: RunnerManifest;
  let verification: RunnerVerification;
  try {
    manifest = parseManifest(await readManifestText(outDir));
    verification = await verifyRunnerArtifacts(outDir);
  } catch {
    return { entries, signer: '' };
  }
  if (manifest.version !== want.version || manifest.protocol !== want.protocol) return { entries, signer: '' };
  const ok = new Set(verification.results.filter((r) => r.ok).map((r) => r.target));
  for (const e of manifest.artifacts) if (ok.has(e.target) && RUNNER_TARGETS.some((t) => t.id === e.target)) entries.set(e.target, e);
  return { entries, signer: manifest.signer.fingerprint };
}

async function readExistingManifest(outDir: string): Promise<RunnerManifest> {
  return parseManifest(await readManifestText(outDir));
}

/**
 * SHA-256 over what a runner binary is built from: every file of the runner's source dir except
 * tests, test data and docs (path and bytes, in a fixed order), and the Go version.
 */
export async function runnerSourceHash(runnerSrcDir: string, goVersion: string): Promise<string> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(path.join(runnerSrcDir, rel), { withFileTypes: true });
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== 'testdata' && !e.name.startsWith('.')) await walk(child);
      } else if (e.isFile() && !e.name.endsWith('_test.go') && !e.name.endsWith('.md')) {
        files.push(child);
      }
    }
  };
  await walk('');
  files.sort();
  const h = createHash('sha256').update(`go ${goVersion}\n`);
  for (const f of files) {
    const data = await readFile(path.join(runnerSrcDir, ...f.split('/')));
    h.update(`${f}\0${data.length}\0`).update(data);
  }
  return h.digest('hex');
}

async function checkEntry(outDir: string, e: ManifestEntry, publicKey: KeyObject | undefined, keyProblem: string | undefined): Promise<ArtifactCheck> {
  const fail = (reason: string): ArtifactCheck => ({ target: e.target, ok: false, reason });
  const file = resolveInside(outDir, e.path);
  const sigFile = resolveInside(outDir, e.signature);
  if (!file || !sigFile) return fail('invalid path: manifest entry points outside the artifact directory');
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    return fail(errnoCode(err) === 'ENOENT' ? `missing file: ${e.path}` : `unreadable file: ${e.path} (${errnoCode(err)})`);
  }
  if (data.length !== e.size) return fail(`hash mismatch: ${e.path} is ${data.length} bytes, manifest says ${e.size}`);
  const sha = sha256Hex(data);
  if (sha !== e.sha256) return fail(`hash mismatch: ${e.path} has sha256 ${sha}, manifest says ${e.sha256}`);
  if (keyProblem || !publicKey) return fail(keyProblem ?? 'bad signature: no public key');
  let sig: string;
  try {
    sig = (await readFile(sigFile, 'utf8')).trim();
  } catch (err) {
    return fail(errnoCode(err) === 'ENOENT' ? `missing signature: ${e.signature}` : `unreadable signature: ${e.signature} (${errnoCode(err)})`);
  }
  return verifySignature(data, sig, publicKey)
    ? { target: e.target, ok: true }
    : fail(`bad signature: ${e.signature} does not verify with ${PUBLIC_KEY_FILE}`);
}

function verifySignature(data: Buffer, base64Sig: string, publicKey: KeyObject): boolean {
  // Buffer.from(…, 'base64') skips junk silently; a signature must be exactly base64.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64Sig)) return false;
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, Buffer.from(base64Sig, 'base64'));
  } catch {
    return false;
  }
}

function selectTargets(ids: string[] | undefined): RunnerTarget[] {
  if (ids === undefined) return [...RUNNER_TARGETS];
  const known = new Set(RUNNER_TARGETS.map((t) => t.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (ids.length === 0 || unknown.length > 0) {
    throw new CroniumError(
      'INVALID_INPUT',
      ids.length === 0 ? 'no runner targets selected' : `unknown runner target(s): ${unknown.join(', ')}`,
      `known targets: ${[...known].join(', ')}`,
    );
  }
  return RUNNER_TARGETS.filter((t) => ids.includes(t.id));
}

function manifestEntry(target: RunnerTarget, sha256: string, size: number): ManifestEntry {
  const rel = `${target.id}/${BINARY}`;
  return { target: target.id, path: rel, sha256, size, signature: `${rel}.sig` };
}

/** Reads the wire-protocol version from the Go source so the manifest cannot drift from the binary. */
async function readProtocol(runnerSrcDir: string): Promise<number> {
  try {
    await access(path.join(runnerSrcDir, 'go.mod'));
  } catch {
    throw new CroniumError('INVALID_INPUT', `runner source dir has no go.mod: ${runnerSrcDir}`);
  }
  const source = await readFile(path.join(runnerSrcDir, PROTOCOL_SOURCE), 'utf8').catch(() => '');
  const match = /^const Protocol = (\d+)$/m.exec(source);
  if (!match) {
    throw new CroniumError('RUNNER_BUILD_FAILED', `cannot find "const Protocol = N" in ${PROTOCOL_SOURCE} of ${runnerSrcDir}`);
  }
  return Number(match[1]);
}

async function probeGo(goBin: string, cwd: string, env: NodeJS.ProcessEnv, signal: AbortSignal | undefined): Promise<string> {
  const res = await runProcess(goBin, ['env', 'GOVERSION'], cwd, env, signal).catch((err: unknown) => {
    if (signal?.aborted) throw signal.reason;
    throw new CroniumError(
      'RUNNER_BUILD_FAILED',
      `cannot run the Go toolchain "${goBin}": ${errnoCode(err) === 'ENOENT' ? 'not found' : errnoCode(err)}`,
      'install Go 1.25 or later and put it on PATH, or pass goBin',
    );
  });
  if (res.code !== 0) {
    throw new CroniumError('RUNNER_BUILD_FAILED', `"${goBin} env GOVERSION" failed (exit ${res.code}):\n${tail(res.stderr)}`);
  }
  return res.stdout.trim();
}

async function goBuild(
  goBin: string,
  cwd: string,
  target: RunnerTarget,
  version: string,
  outFile: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<void> {
  const ldflags = ['-s', '-w', `-X ${VERSION_PKG}.Version=${version}`];
  if (target.goarm) ldflags.push(`-X ${VERSION_PKG}.Arm=${target.goarm}`);
  const goEnv: NodeJS.ProcessEnv = { ...env, CGO_ENABLED: '0', GOOS: target.goos, GOARCH: target.goarch };
  // Microarchitecture levels from the caller's shell would make binaries that crash on older hosts;
  // the signing key has no business in the compiler's environment.
  for (const k of ['GOARM', 'GOAMD64', 'GO386', 'GOARM64', KEY_ENV]) delete goEnv[k];
  if (target.goarm) goEnv.GOARM = target.goarm;
  const args = ['build', '-trimpath', '-buildvcs=false', '-ldflags', ldflags.join(' '), '-o', path.resolve(outFile), `./cmd/${BINARY}`];
  const res = await runProcess(goBin, args, cwd, goEnv, signal).catch((err: unknown) => {
    if (signal.aborted) throw signal.reason;
    throw new CroniumError('RUNNER_BUILD_FAILED', `go build for ${target.id}: cannot run "${goBin}": ${errnoCode(err)}`);
  });
  if (signal.aborted) throw signal.reason;
  if (res.code !== 0) {
    throw new CroniumError('RUNNER_BUILD_FAILED', `go build for ${target.id} failed (exit ${res.code}):\n${tail(res.stderr)}`);
  }
}

function runProcess(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, signal, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs fn over items, `limit` at a time; the first failure (or the caller's abort) aborts the rest and is rethrown once all have settled. */
async function mapPool<T>(
  items: readonly T[],
  limit: number,
  outer: AbortSignal | undefined,
  fn: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  outer?.throwIfAborted();
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && !ctl.signal.aborted && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item, ctl.signal);
      } catch (error) {
        failure ??= { error };
        ctl.abort(error);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  ctl.signal.throwIfAborted();
}

function parseP256(pem: string, source: string): { privateKey: KeyObject; publicKeyPem: string } {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // The parser's message is not echoed: it could quote part of the input.
    throw new CroniumError('INVALID_INPUT', `${source} is not an unencrypted PEM private key`, P256_HINT);
  }
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const kind = privateKey.asymmetricKeyType === 'ec' ? `an EC ${curve ?? 'unknown-curve'}` : `a ${privateKey.asymmetricKeyType ?? 'unknown'}`;
    throw new CroniumError('INVALID_INPUT', `${source} holds ${kind} key; runner artifacts are signed with ECDSA P-256`, P256_HINT);
  }
  return { privateKey, publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString() };
}

function developmentKey(dataDir: string): { privateKey: KeyObject; publicKeyPem: string } {
  const dir = path.join(dataDir, 'keys');
  const file = path.join(dir, DEV_KEY_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const hint = `delete ${file} to generate a new development key`;
  const existing = readIfExists(file);
  if (existing !== undefined) {
    try {
      return parseP256(existing, file);
    } catch (err) {
      throw isCroniumError(err) ? new CroniumError(err.code, err.message, hint) : err;
    }
  }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
  try {
    // link, not rename: if a concurrent build created the key first, keep its key rather than replace it.
    linkSync(tmp, file);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return parseP256(readFileSync(file, 'utf8'), file);
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

async function readManifestText(outDir: string): Promise<string> {
  try {
    return await readFile(path.join(outDir, MANIFEST_FILE), 'utf8');
  } catch (err) {
    // Nothing built yet is not an integrity failure: there is nothing that could have been tampered with.
    if (errnoCode(err) === 'ENOENT') throw runnerNotBuilt(outDir);
    throw new CroniumError(
      'RUNNER_INTEGRITY_FAILED',
      `cannot read ${MANIFEST_FILE} in ${outDir} (${errnoCode(err)})`,
      'check the folder\'s permissions, or rebuild the runner: cronium runner build',
    );
  }
}

/** No runner artifacts were built in dir (no manifest.json): NOT_FOUND, details.reason "not-built". */
export function runnerNotBuilt(dir: string): CroniumError {
  return new CroniumError('NOT_FOUND', `no runner artifacts in ${dir} (no ${MANIFEST_FILE}): the runner is not built here`, 'build it with: cronium runner build (needs Go 1.25 or later)', {
    reason: 'not-built',
    dir,
  });
}

/** Whether an error says that no runner artifacts were built (see runnerNotBuilt). */
export function isRunnerNotBuilt(err: unknown): err is CroniumError {
  return isCroniumError(err) && err.code === 'NOT_FOUND' && err.details?.reason === 'not-built';
}

function parseManifest(text: string): RunnerManifest {
  const bad = (what: string): never => {
    throw new CroniumError('RUNNER_INTEGRITY_FAILED', `${MANIFEST_FILE} is malformed: ${what}`, 'rebuild the runner: cronium runner build');
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return bad('not JSON');
  }
  if (!isRecord(raw)) return bad('not an object');
  const { version, protocol, builtAt, signer, artifacts } = raw;
  if (typeof version !== 'string' || typeof protocol !== 'number' || typeof builtAt !== 'string') return bad('version, protocol or builtAt');
  if (!isRecord(signer) || (signer.kind !== 'release' && signer.kind !== 'development') || signer.publicKeyPath !== PUBLIC_KEY_FILE) {
    return bad('signer');
  }
  if (typeof signer.fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(signer.fingerprint)) return bad('signer.fingerprint');
  if (!Array.isArray(artifacts)) return bad('artifacts');
  const entries = artifacts.map((a: unknown, i): ManifestEntry => {
    if (
      !isRecord(a) ||
      typeof a.target !== 'string' ||
      typeof a.path !== 'string' ||
      typeof a.signature !== 'string' ||
      typeof a.sha256 !== 'string' ||
      typeof a.size !== 'number'
    ) {
      return bad(`artifacts[${i}]`);
    }
    return { target: a.target, path: a.path, sha256: a.sha256, size: a.size, signature: a.signature, ...(typeof a.source === 'string' ? { source: a.source } : {}) };
  });
  return {
    version,
    protocol,
    builtAt,
    signer: { kind: signer.kind, publicKeyPath: PUBLIC_KEY_FILE, fingerprint: signer.fingerprint },
    artifacts: entries,
  };
}

/** Resolves a manifest-relative '/' path inside root, or undefined when it would escape it. */
function resolveInside(root: string, rel: string): string | undefined {
  if (rel === '' || rel.includes('\\') || path.posix.isAbsolute(rel)) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '..' || p === '.' || p === '')) return undefined;
  return path.join(root, ...parts);
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } finally {
    await rm(tmp, { force: true });
  }
}

function fingerprintOf(publicKey: KeyObject): string {
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n').slice(-4000);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errnoCode(err: unknown): string {
  return (isRecord(err) && typeof err.code === 'string' && err.code) || (err instanceof Error ? err.message : String(err));
}
