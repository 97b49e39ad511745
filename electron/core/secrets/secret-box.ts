/**
 * Guards the invariant that credentials and secret variables are stored only sealed.
 * A sealed value starts with one byte naming the box that sealed it, so each door
 * knows whether it can open it: the CLI and headless doors seal with an AES-256-GCM
 * key file (0600) in the data dir; the desktop seals with the OS keychain
 * (Electron safeStorage) and can still open key-file secrets.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CroniumError } from '../../shared/errors';

/**
 * The tag byte at the start of each sealed value. The bound kinds (3, 4) seal a secret to the
 * row it is stored in (its `context`, e.g. "credential:7:password"): moved to another row, it no
 * longer opens. Kinds 1 and 2 are the unbound seals of earlier versions, opened only to be
 * sealed again, bound (resealLegacy).
 */
export const SEALED_BY = { keyFile: 1, safeStorage: 2, keyFileBound: 3, safeStorageBound: 4 } as const;

/** Seals and opens secrets. */
export interface SecretBox {
  /** Which box this is, as stored in the first byte of what it seals. */
  readonly kind: (typeof SEALED_BY)[keyof typeof SEALED_BY];
  /** Seals a secret for storage in the row that `context` names. */
  seal(plain: string, context: string): Buffer;
  /** Opens a sealed secret of the row `context` names, or throws SECRET_UNAVAILABLE (this door cannot, or it was sealed for another row). */
  open(sealed: Buffer, context: string): string;
  /** Opens an unbound seal of an earlier version (kinds 1, 2), to seal it again bound; SECRET_UNAVAILABLE otherwise. */
  openLegacy(sealed: Buffer): string;
}

/** The error of a sealed value stored in another row than the one it was sealed for. */
export function movedSeal(): CroniumError {
  return new CroniumError('SECRET_UNAVAILABLE', 'a stored secret was sealed for another record and is refused here', 'store the secret again where it belongs (the database may have been edited)');
}

/** The key file's name inside the data dir. */
export const KEY_FILE = 'secret.key';

/**
 * Reads a 32-byte key file of the data dir, creating it (0600, random, atomically) on first use.
 * One file per purpose: the SecretBox's `secret.key`, the helper API's token key.
 */
export function loadOrCreateKey(dataDir: string, file: string = KEY_FILE): Buffer {
  const path = join(dataDir, file);
  if (!existsSync(path)) {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fd = openSync(tmp, 'wx', 0o600);
    try {
      writeSync(fd, randomBytes(32));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      // link() fails if the key appeared meanwhile: two racing processes keep the first key.
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  const st = statSync(path);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new CroniumError(
      'SECRET_KEY_INSECURE',
      `the secret key ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8)})`,
      `run: chmod 600 "${path}"`,
    );
  }
  const key = readFileSync(path);
  if (key.length !== 32) {
    throw new CroniumError('SECRET_UNAVAILABLE', `the secret key ${path} is damaged (${key.length} bytes, expected 32)`, 'restore it from a backup; secrets sealed with it cannot be opened without it');
  }
  return key;
}

/** AES-256-GCM with a key file: the box of the CLI and headless doors. */
export class KeyFileSecretBox implements SecretBox {
  readonly kind = SEALED_BY.keyFile;
  private readonly key: Buffer;

  constructor(dataDir: string) {
    this.key = loadOrCreateKey(dataDir);
  }

  seal(plain: string, context: string): Buffer {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([SEALED_BY.keyFileBound]), iv, cipher.getAuthTag(), body]);
  }

  open(sealed: Buffer, context: string): string {
    if (sealed[0] === SEALED_BY.safeStorage || sealed[0] === SEALED_BY.safeStorageBound) {
      throw new CroniumError(
        'SECRET_UNAVAILABLE',
        'this secret was stored by the desktop app in the OS keychain and cannot be read here',
        'open it in the desktop app, or store it again from this door (e.g. `cronium hosts add ... --password-stdin`)',
      );
    }
    if (sealed[0] === SEALED_BY.keyFile) throw movedSeal();
    return this.#decrypt(sealed, SEALED_BY.keyFileBound, context);
  }

  openLegacy(sealed: Buffer): string {
    return this.#decrypt(sealed, SEALED_BY.keyFile, undefined);
  }

  #decrypt(sealed: Buffer, kind: number, context: string | undefined): string {
    if (sealed[0] !== kind || sealed.length < 29) {
      throw new CroniumError('SECRET_UNAVAILABLE', 'a stored secret is damaged', 'store the secret again');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 13));
      if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(sealed.subarray(13, 29));
      return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]).toString('utf8');
    } catch {
      throw new CroniumError(
        'SECRET_UNAVAILABLE',
        "a stored secret cannot be opened with this data dir's key, or was sealed for another record",
        'the key file may have been replaced, or the database edited; store the secret again',
      );
    }
  }
}
