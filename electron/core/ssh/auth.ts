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
 * The identity file's key sends its signed request at once (signWithoutAsking).
 */
import { createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type * as Ssh2 from 'ssh2';
import type { AuthenticationType, AuthHandlerMiddleware, Client, NextAuthHandler, ParsedKey } from 'ssh2';
import { loadSsh2 } from './ssh2-module';
import type { TriedMethod } from './ssh-errors';
import type { KbdChallenge } from './types';

/** Why a question went unanswered when no one could be asked. */
const NOBODY_TO_ASK = 'nobody is there to answer (an unattended run, or no terminal)';

/** A private key file read and decrypted, or why it cannot be used. */
export interface LoadedIdentity {
  path: string;
  key?: ParsedKey;
  /** Why the key cannot be used (missing, encrypted without passphrase, bad passphrase, bad format). */
  problem?: string;
  /** The key is encrypted and no passphrase was given: a person may be asked for it. */
  needsPassphrase?: boolean;
}

/** What one handshake can authenticate with. */
export interface AuthCredentials {
  username: string;
  identity?: LoadedIdentity;
  /** Agent socket path, or 'pageant'. */
  agent?: string;
  password?: string;
  /** Asks a person keyboard-interactive rounds the stored password cannot answer (see KbdPrompter). */
  prompter?: (challenge: Omit<KbdChallenge, 'host'>) => Promise<string[]>;
  /** Told when a person starts and stops being asked (the handshake's time limit pauses meanwhile). */
  onAsking?: (asking: boolean) => void;
  /** Withdraws a question still open when the handshake ends. */
  stopAsking?: () => void;
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
 * stay the same (bcrypt-kdf decryption of an encrypted key costs tens of ms). Loads of one
 * file that overlap share one read: a fan-out's first connections all start at once.
 */
export class IdentityLoader {
  private readonly cache = new Map<string, { stamp: string; passphrase: string | undefined; result: Promise<LoadedIdentity> }>();

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
    // A read or a parse that throws is a problem of the file, as before the loads were shared (a
    // rejected promise would stay cached until the file changed).
    const result = readFile(path)
      .then((data) => parseIdentity(path, data, passphrase))
      .catch((e: unknown): LoadedIdentity => ({ path, problem: `identity file ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }));
    this.cache.set(path, { stamp, passphrase, result });
    return result;
  }
}

/** Private keys as OpenSSL key objects, made once per parsed key (see keySigner). */
const keyObjects = new WeakMap<ParsedKey, KeyObject | null>();

/**
 * Signs as the key's own `sign` does (node's crypto.sign with the same hash), from a key object
 * made once: ssh2's `sign` decodes the key's PEM text at every call, about 0.5 ms of a login's
 * CPU. Where no hash is named, only ed25519 (which takes none) is signed here; anything else,
 * and a key OpenSSL will not load, is left to ssh2.
 */
export function keySigner(key: ParsedKey): (data: Buffer | string, algo?: string) => Buffer | Error {
  return (data, algo) => {
    let ko = keyObjects.get(key);
    if (ko === undefined) {
      try {
        ko = createPrivateKey(key.getPrivatePEM());
      } catch {
        ko = null;
      }
      keyObjects.set(key, ko);
    }
    const named = typeof algo === 'string' && algo !== '';
    if (ko === null || (!named && String(key.type) !== 'ssh-ed25519')) return key.sign(data, algo);
    try {
      return cryptoSign(named ? algo : null, typeof data === 'string' ? Buffer.from(data) : data, ko);
    } catch (e) {
      return e as Error;
    }
  };
}

/** The hash a publickey signature algorithm signs with, for the ones signWithoutAsking sends. */
const SIGNATURE_HASH: Record<string, string | undefined> = {
  'ssh-ed25519': undefined,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
};

/**
 * Public-key login with a private key held here (an identity file) sends the signed request
 * straight away, as RFC 4252 allows, instead of first asking whether the server would take the
 * key: ssh2 always asks, which costs a round trip and, on the host, a second read of
 * authorized_keys. Signing costs nothing worth saving here (a key object, see keySigner); a key
 * the server refuses fails the same way, as one attempt. Keys in an agent are still asked about
 * first (an agent may want a confirmation or a touch per signature), as are signature algorithms
 * not listed above. Returns whether the hook went in (it reaches into ssh2's protocol object; a
 * version without it keeps ssh2's own behaviour, as declineHostKeysProof in ssh2-pool.ts).
 */
export function signWithoutAsking(client: Client): boolean {
  type AuthPK = (username: string, key: ParsedKey, keyAlgo?: string | ((data: Buffer, send: (signature: Buffer) => void) => void), cbSign?: unknown) => void;
  const proto = (client as unknown as { _protocol?: { authPK?: AuthPK } })._protocol;
  const own = proto?.authPK;
  if (!proto || typeof own !== 'function') return false;
  proto.authPK = function (this: unknown, username, key, keyAlgo, cbSign) {
    const algo = typeof keyAlgo === 'string' ? keyAlgo : String(key?.type);
    if (cbSign !== undefined || typeof keyAlgo === 'function' || typeof key?.isPrivateKey !== 'function' || !key.isPrivateKey() || !(algo in SIGNATURE_HASH)) {
      return own.call(this, username, key, keyAlgo, cbSign);
    }
    let signed = false;
    own.call(this, username, key, keyAlgo, (data: Buffer, send: (signature: Buffer) => void) => {
      const signature = key.sign(data, SIGNATURE_HASH[algo]) as Buffer | Error;
      if (signature instanceof Error) return;
      signed = true;
      send(signature);
    });
    // A key that would not sign is asked about instead: ssh2 then reports its error as before.
    if (!signed) own.call(this, username, key, keyAlgo);
  };
  return true;
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
      return { path, problem: `identity file ${path} is encrypted and no passphrase is stored (add the host with --passphrase-stdin)`, needsPassphrase: true };
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
      const sign = keySigner(key);
      noting.sign = (data, algo) => {
        if (this.current) this.current.signature = signatureName(String(key.type), algo);
        // An Error on failure, as ssh2's own sign returns (its types say Buffer only).
        return sign(data, algo) as Buffer;
      };
      this.steps.push({ family: 'publickey', method: 'publickey', detail: `${shortType(key)} key ${creds.identity.path}`, build: () => ({ type: 'publickey', username, key: noting }) });
    } else if (creds.identity?.problem) {
      this.skipped.push(creds.identity.problem);
    }
    if (creds.agent) {
      const agent = creds.agent;
      this.steps.push({ family: 'publickey', method: 'agent', detail: agent === 'pageant' ? 'Pageant' : 'ssh-agent', build: () => ({ type: 'agent', username, agent }) });
    }
    const password = creds.password;
    if (password !== undefined) this.steps.push({ family: 'password', method: 'password', build: () => ({ type: 'password', username, password }) });
    // keyboard-interactive: rounds a stored password answers, the others asked of a person when
    // one can be asked (always tried when offered: a server may want a code after the key).
    if (password !== undefined || creds.prompter) {
      const detail = password !== undefined && creds.prompter ? 'the stored password, then you' : password !== undefined ? 'answered with the stored password' : 'answered by you';
      this.steps.push({ family: 'keyboard-interactive', method: 'keyboard-interactive', detail, build: () => this.keyboardInteractive(username, password) });
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
        // A method was accepted and the server wants keyboard-interactive as well (a one-time
        // code after the key) with nobody to answer: never sent empty answers, reported as such.
        if (!this.creds.prompter && left.includes('keyboard-interactive') && this.attempts.some((a) => a.ok)) {
          this.interactive ??= { prompts: [], why: NOBODY_TO_ASK };
        }
        if (this.attempts.length === 0 && this.skipped.length === 0) this.skipped.push(this.nothingConfigured());
        return done(false);
      }
      if (!left.includes(step.family)) {
        // keyboard-interactive stands in for password only when password is not offered.
        if (step.method !== 'keyboard-interactive') this.skipped.push(`${step.method}${step.detail ? ` (${step.detail})` : ''}: the server does not offer ${step.family}`);
        continue;
      }
      // After a rejected password, keyboard-interactive would only send it again; a person may still answer.
      if (step.method === 'keyboard-interactive' && !this.creds.prompter && this.attempts.some((a) => a.method === 'password' && !a.ok)) continue;
      this.current = { method: step.method, ok: false, ...(step.detail ? { detail: step.detail } : {}) };
      this.attempts.push(this.current);
      return (next as NextAuthHandler)(step.build() as Parameters<NextAuthHandler>[0]);
    }
  };

  /**
   * Set when the server asked keyboard-interactive questions nobody answered: the prompts, and
   * why (no one to ask, or the person's prompt ended without answers).
   */
  interactive: { prompts: string[]; why: string } | undefined;

  /** Marks the last attempt as the one that succeeded. */
  succeeded(): void {
    if (this.current) this.current.ok = true;
    else if (this.attempts.length === 0) this.attempts.push({ method: 'none', ok: true });
    this.current = undefined;
  }

  private nothingConfigured(): string {
    return `no credentials: no identity file, no ssh-agent${this.creds.password === undefined ? ', no stored password' : ''}`;
  }

  private keyboardInteractive(username: string, password: string | undefined): object {
    let passwordSent = false;
    return {
      type: 'keyboard-interactive',
      username,
      prompt: (name: string, instructions: string, _lang: string, prompts: { prompt: string; echo?: boolean }[], finish: (answers: string[]) => void) => {
        // A round with nothing to ask (only instructions) needs no answer.
        if (prompts.length === 0) return finish([]);
        // The stored password answers the first password prompt once; a further one goes to a person.
        if (password !== undefined && !passwordSent && prompts.length === 1 && /pass(word|code|phrase)?/i.test(prompts[0]!.prompt)) {
          passwordSent = true;
          return finish([password]);
        }
        const asked = prompts.map((p) => p.prompt.trim());
        const prompter = this.creds.prompter;
        if (!prompter) {
          this.interactive = { prompts: asked, why: NOBODY_TO_ASK };
          return finish(prompts.map(() => ''));
        }
        this.creds.onAsking?.(true);
        prompter({ name, instructions, prompts: prompts.map((p) => ({ prompt: p.prompt, echo: p.echo === true })) }).then(
          (answers) => {
            this.creds.onAsking?.(false);
            finish(prompts.map((_, i) => answers[i] ?? ''));
          },
          (e: unknown) => {
            this.creds.onAsking?.(false);
            this.interactive = { prompts: asked, why: (e as Error)?.message ?? String(e) };
            finish(prompts.map(() => ''));
          },
        );
      },
    };
  }
}
