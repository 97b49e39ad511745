/**
 * Public-key facts in the forms OpenSSH prints them: the key type read from the
 * wire blob, and the `SHA256:<base64 without padding>` fingerprint of `ssh-keygen -l`.
 */
import { createHash } from 'node:crypto';

/** A fingerprint as OpenSSH prints it: `SHA256:` and 43 base64 characters. */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** A host key as a server presented it (or as a pinned or known_hosts entry holds it). */
export interface PublicKeyFacts {
  /** The key type from the blob, e.g. `ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`. */
  algorithm: string;
  /** `SHA256:...`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** `<type> <base64 blob>`, the known_hosts / authorized_keys form without a comment. */
  publicKey: string;
  /** The wire-format blob. */
  blob: Buffer;
}

/** The OpenSSH SHA256 fingerprint of a key blob. */
export function sha256Fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type stored at the start of a wire-format key blob (an SSH string), or undefined if malformed. */
export function blobKeyType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const type = blob.subarray(4, 4 + len).toString('latin1');
  return /^[A-Za-z0-9@._+-]+$/.test(type) ? type : undefined;
}

/** Facts about a key blob as the server sent it. */
export function describeKeyBlob(blob: Buffer): PublicKeyFacts {
  const algorithm = blobKeyType(blob) ?? 'unknown';
  return { algorithm, fingerprint: sha256Fingerprint(blob), publicKey: `${algorithm} ${blob.toString('base64')}`, blob };
}

/** Parses `<type> <base64> [comment]`; undefined when the line is not a well-formed public key. */
export function parsePublicKeyLine(line: string): PublicKeyFacts | undefined {
  const [type, b64] = line.trim().split(/\s+/);
  if (!type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return undefined;
  const blob = Buffer.from(b64, 'base64');
  if (blobKeyType(blob) !== type) return undefined;
  return { algorithm: type, fingerprint: sha256Fingerprint(blob), publicKey: `${type} ${b64}`, blob };
}

/**
 * The server host-key algorithms that a key type can be negotiated with, best first;
 * used to prefer the algorithm of an already trusted key, as OpenSSH does.
 */
export function hostKeyAlgorithmsFor(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [keyType];
}
