/**
 * The runner artifacts on this machine, as deployment sees them: verified against the trusted
 * signing key before any byte is uploaded.
 *
 * Invariant: `artifact(target)` returns bytes only when the whole manifest verified with the
 * trusted key (verifyRunnerArtifacts) and the bytes handed out are the very bytes whose SHA-256
 * matched the manifest; anything else is RUNNER_INTEGRITY_FAILED. Verification is memoised on the
 * files' stat (size, mtime, ctime, inode), so a changed file is always re-verified while the
 * per-run path costs a few stat calls.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { CroniumError } from '../../shared/errors';
import { verifyRunnerArtifacts, type ManifestEntry, type RunnerManifest, type RunnerVerification } from './artifacts';

const gzipAsync = promisify(gzip);

/** Where the trust in the artifacts comes from. */
export type ArtifactTrust = 'pinned' | 'artifact-dir';

/** The verdict on the artifacts directory, for `runner.artifacts`. */
export interface ArtifactsStatus {
  dir: string;
  version: string;
  protocol: number;
  builtAt: string;
  signer: { kind: 'release' | 'development'; fingerprint: string };
  /** pinned: checked against a key the app was given; artifact-dir: against the dir's own cosign.pub (development builds). */
  trust: ArtifactTrust;
  ok: boolean;
  artifacts: (ManifestEntry & { status: 'verified' | 'invalid'; error: string | null })[];
}

/** One verified artifact, ready to upload. */
export interface VerifiedArtifact {
  version: string;
  protocol: number;
  entry: ManifestEntry;
  bytes: Buffer;
  /** gzip of bytes, computed once per artifact. */
  gzipped(): Promise<Buffer>;
}

/** Options of LocalArtifacts. */
export interface LocalArtifactsOptions {
  dir: string;
  /** The trusted signing key (PEM); without it the dir's own cosign.pub is used, which proves integrity, not origin. */
  trustedPublicKeyPem?: string;
}

interface Verified {
  key: string;
  manifest: RunnerManifest;
  verification: RunnerVerification;
}

/** Verified access to one artifacts directory. */
export class LocalArtifacts {
  readonly dir: string;
  readonly trust: ArtifactTrust;
  readonly #trustedPem: string | undefined;
  #verified: Promise<Verified> | undefined;
  #verifiedKey = '';
  /** One read per artifact, shared by every concurrent deploy (200 at once must not read it 200 times). */
  readonly #bytes = new Map<string, Promise<Buffer>>();
  readonly #gz = new Map<string, Promise<Buffer>>();

  constructor(opts: LocalArtifactsOptions) {
    this.dir = opts.dir;
    this.#trustedPem = opts.trustedPublicKeyPem;
    this.trust = opts.trustedPublicKeyPem ? 'pinned' : 'artifact-dir';
  }

  /** The manifest, verified (memoised while no file changed). */
  async status(): Promise<ArtifactsStatus> {
    const { manifest, verification } = await this.#verify();
    const byTarget = new Map(verification.results.map((r) => [r.target, r]));
    return {
      dir: this.dir,
      version: manifest.version,
      protocol: manifest.protocol,
      builtAt: manifest.builtAt,
      signer: { kind: manifest.signer.kind, fingerprint: manifest.signer.fingerprint },
      trust: this.trust,
      ok: verification.ok,
      artifacts: manifest.artifacts.map((e) => {
        const r = byTarget.get(e.target);
        return { ...e, status: r?.ok ? ('verified' as const) : ('invalid' as const), error: r?.ok ? null : (r?.reason ?? 'not verified') };
      }),
    };
  }

  /** The targets the manifest has. */
  async targets(): Promise<ManifestEntry[]> {
    return (await this.#verify()).manifest.artifacts;
  }

  /** The verified artifact of a target; RUNNER_INTEGRITY_FAILED when it does not verify, RUNNER_DEPLOY_FAILED when there is none. */
  async artifact(target: string): Promise<VerifiedArtifact> {
    const { manifest, verification } = await this.#verify();
    const entry = manifest.artifacts.find((a) => a.target === target);
    if (!entry) throw targetNotBuilt(this.dir, target);
    const check = verification.results.find((r) => r.target === target);
    if (!check?.ok) {
      throw new CroniumError(
        'RUNNER_INTEGRITY_FAILED',
        `the local runner artifact for ${target} does not verify: ${check?.reason ?? 'not checked'}; nothing was uploaded`,
        'rebuild the runner (cronium runner build) or reinstall Cronium',
        { reason: 'local-artifact', target },
      );
    }
    let bytes = this.#bytes.get(entry.sha256);
    if (!bytes) {
      const file = path.join(this.dir, ...entry.path.split('/'));
      bytes = readFile(file).then((data) => {
        if (data.length !== entry.size || sha256Hex(data) !== entry.sha256) {
          throw new CroniumError('RUNNER_INTEGRITY_FAILED', `the local runner artifact for ${target} changed while it was being verified; nothing was uploaded`, 'run the deploy again', {
            reason: 'local-artifact',
            target,
          });
        }
        return data;
      });
      this.#bytes.set(entry.sha256, bytes);
      // A failed read is not memoised.
      bytes.catch(() => this.#bytes.delete(entry.sha256));
    }
    const data = await bytes;
    return {
      version: manifest.version,
      protocol: manifest.protocol,
      entry,
      bytes: data,
      gzipped: () => {
        let gz = this.#gz.get(entry.sha256);
        if (!gz) {
          gz = gzipAsync(data, { level: 6 });
          this.#gz.set(entry.sha256, gz);
        }
        return gz;
      },
    };
  }

  #verify(): Promise<Verified> {
    const key = this.#statKey();
    if (!this.#verified || key !== this.#verifiedKey) {
      this.#verifiedKey = key;
      this.#bytes.clear();
      this.#gz.clear();
      this.#verified = (async () => {
        // verifyRunnerArtifacts throws NOT_FOUND (not built) for a missing manifest, RUNNER_INTEGRITY_FAILED for a malformed one.
        const verification = await verifyRunnerArtifacts(this.dir, this.#trustedPem ? { publicKeyPem: this.#trustedPem } : {});
        const manifest = JSON.parse(await readFile(path.join(this.dir, 'manifest.json'), 'utf8')) as RunnerManifest;
        return { key, manifest, verification };
      })();
      this.#verified.catch(() => {
        // A failed verification is not memoised.
        if (this.#verifiedKey === key) this.#verified = undefined;
      });
    }
    return this.#verified;
  }

  /** The files verification reads, by the stat of manifest.json they were listed from. */
  #listed: { manifest: string; files: string[] } | undefined;

  /** A fingerprint of the stat of every file verification reads (the list re-read only when manifest.json changes). */
  #statKey(): string {
    const stat = (f: string) => {
      try {
        const s = statSync(path.join(this.dir, ...f.split('/')));
        return `${f}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.ino}`;
      } catch {
        return `${f}:-`;
      }
    };
    const manifestKey = stat('manifest.json');
    if (this.#listed?.manifest !== manifestKey) {
      const files = ['cosign.pub'];
      try {
        const manifest = JSON.parse(readFileSync(path.join(this.dir, 'manifest.json'), 'utf8')) as { artifacts?: { path?: unknown; signature?: unknown }[] };
        for (const a of manifest.artifacts ?? []) {
          if (typeof a.path === 'string') files.push(a.path);
          if (typeof a.signature === 'string') files.push(a.signature);
        }
      } catch {
        // verifyRunnerArtifacts reports it.
      }
      this.#listed = { manifest: manifestKey, files };
    }
    return [manifestKey, ...this.#listed.files.map(stat)].join('|');
  }
}

/** Why `auto` runs directly when nothing is built here (the run's modeReason); see DIRECT_FALLBACK_REASONS. */
export const NOT_BUILT_REASON = 'runner artifacts are not built here; build them with: cronium runner build';
const NOT_BUILT_HINT = 'the build needs Go 1.25 or later (https://go.dev/dl/); until it is done, run with --mode direct, or in auto mode (the default), which runs scripts directly meanwhile';

/** No runner artifacts at all in dir: RUNNER_DEPLOY_FAILED "no-artifacts" (auto mode runs directly; runner mode fails with this). */
export function artifactsNotBuilt(dir: string, buildError?: string): CroniumError {
  return new CroniumError('RUNNER_DEPLOY_FAILED', buildError ? `${NOT_BUILT_REASON} (building them failed: ${buildError})` : NOT_BUILT_REASON, NOT_BUILT_HINT, {
    reason: 'no-artifacts',
    dir,
    ...(buildError ? { buildError } : {}),
  });
}

/** The artifacts here have no build for the host's target: RUNNER_DEPLOY_FAILED "no-artifact" (auto mode runs directly). */
export function targetNotBuilt(dir: string, target: string, buildError?: string): CroniumError {
  const base = `runner artifacts are not built here for ${target}; build them with: cronium runner build`;
  return new CroniumError('RUNNER_DEPLOY_FAILED', buildError ? `${base} (building it failed: ${buildError})` : base, NOT_BUILT_HINT, {
    reason: 'no-artifact',
    target,
    dir,
    ...(buildError ? { buildError } : {}),
  });
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
