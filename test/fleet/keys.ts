// Key generation for the test fleet (always through ssh-keygen, so files are exactly what OpenSSH writes).
import { createHash } from 'node:crypto';
import { readFile, rename, rm } from 'node:fs/promises';
import { run } from './proc';

/** The public half of a generated key in the forms callers need. */
export interface PublicKeyInfo {
  /** 'ssh-ed25519 AAAA...' without the comment. */
  publicKey: string;
  /** 'SHA256:...' as printed by ssh-keygen -l. */
  fingerprint: string;
}

/** Computes the OpenSSH SHA256 fingerprint of a public key line ('type base64 [comment]'). */
export function fingerprintOf(publicKeyLine: string): string {
  const blob = publicKeyLine.trim().split(/\s+/)[1];
  if (!blob) throw new Error(`not a public key line: ${publicKeyLine}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** Reads '<path>.pub' and returns the key without its comment plus its fingerprint. */
export async function readPublicKey(privatePath: string): Promise<PublicKeyInfo> {
  const line = (await readFile(`${privatePath}.pub`, 'utf8')).trim();
  const [type, blob] = line.split(/\s+/);
  const publicKey = `${type} ${blob}`;
  return { publicKey, fingerprint: fingerprintOf(publicKey) };
}

/** Generates an unencrypted ed25519 key pair at path (and path.pub), replacing any existing one atomically. */
export async function generateKey(path: string, comment: string): Promise<PublicKeyInfo> {
  // Generate beside the target and rename, so a running sshd never reads a half-written key.
  const tmp = `${path}.new`;
  await rm(tmp, { force: true });
  await rm(`${tmp}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', tmp]);
  await rename(`${tmp}.pub`, `${path}.pub`);
  await rename(tmp, path);
  return readPublicKey(path);
}
