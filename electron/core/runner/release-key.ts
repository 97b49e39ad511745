/**
 * The runner release key a release build trusts, and where the runner artifacts come from.
 *
 * A release build (the release workflow's `npm run build` with CRONIUM_RELEASE_PUBLIC_KEY_FILE)
 * carries the release signing key's public half, compiled in: every artifacts dir, the installed
 * one or CRONIUM_RUNNER_DIR, must be signed by it, so an altered runner re-signed with another
 * key is refused by deploy and by `runner verify` alike. A development build (a source checkout,
 * the tests) has none and trusts the artifacts dir's own cosign.pub: that proves integrity, not
 * origin, and says so (`signer: artifact-dir`).
 */
import { assetPath } from '../paths';

declare const __CRONIUM_RELEASE_KEY__: string | undefined;

/** The compiled-in release public key (PEM), or undefined in a development build. */
export function releasePublicKey(): string | undefined {
  const pem = typeof __CRONIUM_RELEASE_KEY__ === 'string' ? __CRONIUM_RELEASE_KEY__ : '';
  return pem.trim() ? pem : undefined;
}

/** Where this process takes runner artifacts from, and the key they must be signed with. */
export interface RunnerSource {
  dir: string;
  /** Set in release builds: the artifacts must be signed with exactly this key. */
  trustedPublicKeyPem?: string;
  /** CRONIUM_RUNNER_DIR named the dir. */
  custom: boolean;
  /** One line for the user when the source is not the installed artifacts, else undefined. */
  notice?: string;
}

/** The runner artifacts of this process: the installed ones, or CRONIUM_RUNNER_DIR, with the key rule of this build. */
export function runnerSource(env: NodeJS.ProcessEnv = process.env): RunnerSource {
  const pinned = releasePublicKey();
  const custom = env.CRONIUM_RUNNER_DIR?.trim() ? env.CRONIUM_RUNNER_DIR : undefined;
  const dir = custom ?? assetPath('runner', 'resources/runner');
  return {
    dir,
    ...(pinned ? { trustedPublicKeyPem: pinned } : {}),
    custom: custom !== undefined,
    ...(custom
      ? {
          notice: pinned
            ? `cronium: runner artifacts from CRONIUM_RUNNER_DIR=${custom}, accepted only if signed with this release's key`
            : `cronium: runner artifacts from CRONIUM_RUNNER_DIR=${custom} (development build: trusted by that folder's own cosign.pub)`,
        }
      : {}),
  };
}
