/**
 * The desktop's SecretBox: seals with Electron's safeStorage (the OS keychain) and
 * still opens what the CLI or headless door sealed with the data dir's key file.
 * Where safeStorage has no real keychain (Linux without a secret service falls back
 * to a hard-coded password), sealing uses the key file instead, which is no weaker.
 */
import { movedSeal, SEALED_BY, KeyFileSecretBox, type SecretBox } from '../core/secrets/secret-box';
import { CroniumError } from '../shared/errors';

/** The part of Electron's safeStorage this module uses. */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(encrypted: Buffer): string;
  getSelectedStorageBackend?(): string;
}

/** Seals with safeStorage; opens both kinds. */
export class SafeStorageSecretBox implements SecretBox {
  readonly kind = SEALED_BY.safeStorage;
  private keyFileBox?: KeyFileSecretBox;

  constructor(
    private readonly safeStorage: SafeStorageLike,
    private readonly dataDir: string,
  ) {}

  /** Whether sealing really goes to an OS keychain here. */
  get usesKeychain(): boolean {
    if (!this.safeStorage.isEncryptionAvailable()) return false;
    const backend = this.safeStorage.getSelectedStorageBackend?.();
    return backend !== 'basic_text' && backend !== 'unknown';
  }

  private keyFile(): KeyFileSecretBox {
    this.keyFileBox ??= new KeyFileSecretBox(this.dataDir);
    return this.keyFileBox;
  }

  seal(plain: string, context: string): Buffer {
    if (!this.usesKeychain) return this.keyFile().seal(plain, context);
    // safeStorage takes no associated data: the context travels inside, and must match on open.
    return Buffer.concat([Buffer.from([SEALED_BY.safeStorageBound]), this.safeStorage.encryptString(JSON.stringify([context, plain]))]);
  }

  open(sealed: Buffer, context: string): string {
    if (sealed[0] === SEALED_BY.keyFileBound || sealed[0] === SEALED_BY.keyFile) return this.keyFile().open(sealed, context);
    if (sealed[0] === SEALED_BY.safeStorage) throw movedSeal();
    if (sealed[0] !== SEALED_BY.safeStorageBound) throw new CroniumError('SECRET_UNAVAILABLE', 'a stored secret is damaged', 'store the secret again');
    const [bound, plain] = this.#decrypt(sealed) as [unknown, unknown];
    if (bound !== context || typeof plain !== 'string') throw movedSeal();
    return plain;
  }

  openLegacy(sealed: Buffer): string {
    if (sealed[0] === SEALED_BY.keyFile) return this.keyFile().openLegacy(sealed);
    if (sealed[0] !== SEALED_BY.safeStorage) throw new CroniumError('SECRET_UNAVAILABLE', 'a stored secret is damaged', 'store the secret again');
    return this.#decrypt(sealed, false) as string;
  }

  #decrypt(sealed: Buffer, bound = true): unknown {
    let text: string;
    try {
      text = this.safeStorage.decryptString(sealed.subarray(1));
    } catch {
      throw new CroniumError('SECRET_UNAVAILABLE', 'the OS keychain could not open a stored secret', 'unlock your keychain, or store the secret again');
    }
    if (!bound) return text;
    try {
      const v = JSON.parse(text) as unknown;
      if (Array.isArray(v) && v.length === 2) return v;
    } catch {
      // fall through
    }
    throw new CroniumError('SECRET_UNAVAILABLE', 'a stored secret is damaged', 'store the secret again');
  }
}
