/**
 * Client authentication: which methods to try, in which order, and a record of what
 * the server offered and what was tried, so that AUTH_FAILED can say exactly that.
 *
 * Order: the host's identity file (the most specific thing the user configured), then
 * the user's ssh-agent, then the stored password (`password`, or `keyboard-interactive`
 * answered with it when the server offers only that). A method is tried only when the
 * server offers it, which keeps agent users with many keys clear of MaxAuthTries.
 * RSA keys sign with rsa-sha2-256/512: ssh2 picks them from the server's
 * `server-sig-algs` extension (it offers `ext-info-c`), as OpenSSH 8.8+ requires.
 */
import { readFile, stat } from 'node:fs/promises';
import type * as Ssh2 from 'ssh2';
import type { AuthenticationType, AuthHandlerMiddleware, NextAuthHandler, ParsedKey } from 'ssh2';
import { loadSsh2 } from './ssh2-module';
import type { TriedMethod } from './ssh-errors';

/** A private key file read and decrypted, or why it cannot be used. */
export interface LoadedIdentity {
  path: string;
  key?: ParsedKey;
  /** Why the key cannot be used (missing, encrypted without passphrase, bad passphrase, bad format). */
  problem?: string;
}

/** What one handshake can authenticate with. */
export interface AuthCredentials {
  username: string;
  identity?: LoadedIdentity;
  /** Agent socket path, or 'pageant'. */
  agent?: string;
  password?: string;
}

/** The agent to use (ssh-paths.ts): $SSH_AUTH_SOCK; on Windows the OpenSSH agent's pipe, else Pageant. */
export { defaultAgentSocket } from './ssh-paths';

/** Short key type for messages: ed25519, ecdsa, rsa. */
function shortType(key: ParsedKey): string {
  const t = String(key.type);
  if (t === 'ssh-ed25519') return 'ed25519';
  if (t.startsWith('ecdsa')) return 'ecdsa';
  if (t === 'ssh-rsa') return 'rsa';
  return t;
}

/** The SSH signature algorithm name for a key type and the hash ssh2 signs with. */
function signatureName(keyType: string, hash: string | undefined): string {
  if (keyType !== 'ssh-rsa') return keyType;
  if (hash === 'sha256') return 'rsa-sha2-256';
  if (hash === 'sha512') return 'rsa-sha2-512';
  return 'ssh-rsa';
}

/**
 * Reads identity files, caching each decrypted key while the file and the passphrase
 * stay the same (bcrypt-kdf decryption of an encrypted key costs tens of ms).
 */
export class IdentityLoader {
  private readonly cache = new Map<string, { stamp: string; passphrase: string | undefined; result: LoadedIdentity }>();

  /** Loads a key file, decrypting it with the passphrase when it is encrypted. */
  async load(path: string, passphrase: string | undefined): Promise<LoadedIdentity> {
    let stamp: string;
    try {
      const st = await stat(path);
      stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch (e) {
      return { path, problem: `identity file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
    const hit = this.cache.get(path);
    if (hit && hit.stamp === stamp && hit.passphrase === passphrase) return hit.result;
    let result: LoadedIdentity;
    try {
      const data = await readFile(path);
      result = await parseIdentity(path, data, passphrase);
    } catch (e) {
      result = { path, problem: `identity file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
    }
    this.cache.set(path, { stamp, passphrase, result });
    return result;
  }
}

/** ssh2's utils: a property of its CommonJS exports, which ESM sees only on `default`. */
async function ssh2Utils(): Promise<typeof Ssh2.utils> {
  const m = (await loadSsh2()) as unknown as { utils?: typeof Ssh2.utils; default?: { utils: typeof Ssh2.utils } };
  return m.utils ?? m.default!.utils;
}

/** Parses private key bytes; encrypted keys need the passphrase. */
export async function parseIdentity(path: string, data: Buffer, passphrase: string | undefined): Promise<LoadedIdentity> {
  const parsed = (await ssh2Utils()).parseKey(data, passphrase);
  const first = Array.isArray(parsed) ? (parsed[0] as ParsedKey | Error | undefined) : parsed;
  if (!first || first instanceof Error) {
    const message = first instanceof Error ? first.message : 'no key found';
    if (/no passphrase given/i.test(message)) {
      return { path, problem: `identity file ${path} is encrypted and no passphrase is stored (add the host with --passphrase-stdin)` };
    }
    if (/passphrase/i.test(message)) return { path, problem: `the stored passphrase does not decrypt identity file ${path}` };
    return { path, problem: `identity file ${path} is not a private key ssh2 can read (${message})` };
  }
  if (!first.isPrivateKey()) return { path, problem: `identity file ${path} holds a public key, not a private key` };
  return { path, key: first };
}

/**
 * Drives ssh2's authHandler for one handshake and records what happened. The first
 * request is `none`, whose refusal lists the methods the server offers.
 */
export class AuthSession {
  /** Methods the server offered (from its first USERAUTH_FAILURE), in its order. */
  offered: string[] = [];
  /** Methods tried, in order, with their outcome. */
  readonly attempts: TriedMethod[] = [];
  /** Configured methods that were not tried, with why. */
  readonly skipped: string[] = [];
  private current: TriedMethod | undefined;
  private sentNone = false;
  private readonly steps: { family: string; method: TriedMethod['method']; detail?: string; build: () => unknown }[] = [];

  constructor(private readonly creds: AuthCredentials) {
    const { username } = creds;
    if (creds.identity?.key) {
      const key = creds.identity.key;
      // A view of the key that notes the signature algorithm ssh2 signs with (rsa-sha2-256 for RSA on OpenSSH).
      const noting = Object.create(key) as ParsedKey;
      noting.sign = (data, algo) => {
        if (this.current) this.current.signature = signatureName(String(key.type), algo);
        return key.sign(data, algo);
      };
      this.steps.push({ family: 'publickey', method: 'publickey', detail: `${shortType(key)} key ${creds.identity.path}`, build: () => ({ type: 'publickey', username, key: noting }) });
    } else if (creds.identity?.problem) {
      this.skipped.push(creds.identity.problem);
    }
    if (creds.agent) {
      const agent = creds.agent;
      this.steps.push({ family: 'publickey', method: 'agent', detail: agent === 'pageant' ? 'Pageant' : 'ssh-agent', build: () => ({ type: 'agent', username, agent }) });
    }
    if (creds.password !== undefined) {
      const password = creds.password;
      this.steps.push({ family: 'password', method: 'password', build: () => ({ type: 'password', username, password }) });
      this.steps.push({ family: 'keyboard-interactive', method: 'keyboard-interactive', detail: 'answered with the stored password', build: () => this.keyboardInteractive(username, password) });
    }
  }

  /** The authHandler to pass to ssh2. */
  readonly handler: AuthHandlerMiddleware = (methodsLeft, partialSuccess, next) => {
    const done = next as (auth: AuthenticationType | object | false) => void;
    if (!this.sentNone) {
      this.sentNone = true;
      return done({ type: 'none', username: this.creds.username });
    }
    const left = (methodsLeft ?? []) as string[];
    if (this.offered.length === 0 && left.length) this.offered = [...left];
    if (this.current) {
      this.current.ok = partialSuccess === true;
      this.current = undefined;
    }
    for (;;) {
      const step = this.steps.shift();
      if (!step) {
        if (this.attempts.length === 0 && this.skipped.length === 0) this.skipped.push(this.nothingConfigured());
        return done(false);
      }
      if (!left.includes(step.family)) {
        // keyboard-interactive stands in for password only when password is not offered.
        if (step.method !== 'keyboard-interactive') this.skipped.push(`${step.method}${step.detail ? ` (${step.detail})` : ''}: the server does not offer ${step.family}`);
        continue;
      }
      if (step.method === 'keyboard-interactive' && this.attempts.some((a) => a.method === 'password')) continue;
      this.current = { method: step.method, ok: false, ...(step.detail ? { detail: step.detail } : {}) };
      this.attempts.push(this.current);
      return (next as NextAuthHandler)(step.build() as Parameters<NextAuthHandler>[0]);
    }
  };

  /** Marks the last attempt as the one that succeeded. */
  succeeded(): void {
    if (this.current) this.current.ok = true;
    else if (this.attempts.length === 0) this.attempts.push({ method: 'none', ok: true });
    this.current = undefined;
  }

  private nothingConfigured(): string {
    return `no credentials: no identity file, no ssh-agent${this.creds.password === undefined ? ', no stored password' : ''}`;
  }

  private keyboardInteractive(username: string, password: string): object {
    let answered = false;
    return {
      type: 'keyboard-interactive',
      username,
      prompt: (_name: string, _instructions: string, _lang: string, prompts: { prompt: string }[], finish: (answers: string[]) => void) => {
        // Answer the first password prompt once; any further round fails instead of looping.
        if (!answered && prompts.length === 1 && /pass(word|code|phrase)?/i.test(prompts[0]!.prompt)) {
          answered = true;
          return finish([password]);
        }
        finish(prompts.map(() => ''));
      },
    };
  }
}
