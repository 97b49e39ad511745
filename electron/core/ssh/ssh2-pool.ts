/**
 * The SSH connection pool over ssh2: one connection per host target, shared by every
 * job, with sessions multiplexed on it up to what the server allows.
 *
 * Invariants this file guards:
 * - Trust before auth: the host key is checked in ssh2's hostVerifier, during the key
 *   exchange, so no credential is ever offered to an unverified server (see
 *   host-key-store.ts for the policy). Every hop of a jump chain is verified the same way.
 * - Never a hang: the TCP connect and the handshake (key exchange + auth) each have a
 *   limit; keepalives detect a dead peer on a live connection; a lost connection fails
 *   its running and queued commands and is dropped from the pool, and the next
 *   connect() dials again (after a backoff when dialing itself keeps failing).
 * - Session limits: a server that refuses a session (MaxSessions) lowers that
 *   connection's limit to the sessions it has open, and further commands queue. Exec and
 *   SFTP sessions share the slots; forwarding channels take none (OpenSSH's MaxSessions
 *   counts sessions only) but keep the connection from idling out while open.
 * - One channel per connection: a server that allows a single session channel and then
 *   closes the connection (TinySSH, known by its banner) is reached through a
 *   OneChannelConnection, which gives every channel a connection of its own.
 * - Cancellation is quiet: an aborted connect or exec rejects with the signal's reason
 *   (an AbortError) and leaves nothing running; a shared dial is cancelled only when
 *   every caller waiting for it has given up.
 */
import { connect as netConnect, type LookupFunction, type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { Duplex, type Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import type { Client, ClientChannel, ConnectConfig, SFTPWrapper, Stats as Ssh2Stats, TcpConnectionDetails } from 'ssh2';
import { CroniumError } from '../../shared/errors';
import { AuthSession, defaultAgentSocket, IdentityLoader, signWithoutAsking, type AuthCredentials, type LoadedIdentity } from './auth';
import { describeKeyBlob, hostKeyAlgorithmsFor, type PublicKeyFacts } from './fingerprint';
import { loadSsh2 } from './ssh2-module';
import { deliveries } from './deliveries';
import type { HostKeyQuery, HostKeyStore, HostKeyVerdict, HostTrust } from './host-key-store';
import {
  authFailed,
  authInteractiveRequired,
  connectionClosed,
  connectionLost,
  connectTimeout,
  forwardFailed,
  forwardInFailed,
  forwardOutFailed,
  hostKeyMismatch,
  hostKeyRevoked,
  hostKeyUnknown,
  protocolFailed,
  sessionRefused,
  sftpUnavailable,
  SftpError,
  SshChannelError,
  tcpFailed,
  type Where,
} from './ssh-errors';
import type {
  ExecExit,
  ExecOptions,
  ExecResult,
  ExecStreamHandle,
  ExecStreamOptions,
  ForwardedConnectionInfo,
  HandshakeInfo,
  HostKeyScan,
  KbdPrompter,
  RemoteForward,
  SftpSession,
  SftpStats,
  SshConnection,
  SshPool,
  SshTarget,
} from './types';

/** Tuning of the pool; every limit has a default that suits an interactive desktop app. */
export interface Ssh2PoolOptions {
  /** Limit for the TCP connect (or for opening the tunnel through a jump host). Default 10 s. */
  connectTimeoutMs?: number;
  /** Limit for the SSH handshake: banner, key exchange and authentication. Default 15 s. */
  handshakeTimeoutMs?: number;
  /** Interval of SSH keepalives on idle and busy connections; 0 disables. Default 15 s. */
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before a connection is declared dead. Default 3. */
  keepaliveCountMax?: number;
  /** A connection with nothing running for this long is closed. Default 5 min. */
  idleTimeoutMs?: number;
  /**
   * Connections kept open with nothing running, across all hosts: beyond it the one idle longest
   * is closed, so a fan-out to thousands of hosts does not keep a socket (and a descriptor) per
   * host for idleTimeoutMs. Default 256.
   */
  maxIdle?: number;
  /** Sessions opened at once on one connection before the server says otherwise (OpenSSH's MaxSessions default). Default 10. */
  maxSessions?: number;
  /** Delay before redialing a target whose last dial failed: doubles per failure, from initial to max. Default 250 ms to 5 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** ssh-agent socket (or 'pageant'); null disables the agent. Default: Pageant on Windows, else $SSH_AUTH_SOCK. */
  agentSocket?: string | null;
  /** DNS lookup for TCP connects (tests inject failures with it). */
  lookup?: LookupFunction;
  /** ssh2 debug output, for troubleshooting. */
  debug?: (message: string) => void;
  /** Asks a person keyboard-interactive questions (a one-time code); without it such servers fail AUTH_INTERACTIVE_REQUIRED. */
  prompter?: KbdPrompter;
}

/** How long a passphrase question waits for its answer (the prompt broker has its own limit too). */
const PROMPT_LIMIT_MS = 5 * 60_000;

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 15_000,
  keepaliveIntervalMs: 15_000,
  keepaliveCountMax: 3,
  idleTimeoutMs: 5 * 60_000,
  maxIdle: 256,
  maxSessions: 10,
  backoff: { initialMs: 250, maxMs: 5_000 },
};

/** ssh2's default server host-key algorithms, best first; trusted key types are moved to the front. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

type Resolved = Required<Omit<Ssh2PoolOptions, 'lookup' | 'debug' | 'agentSocket' | 'prompter'>> &
  Pick<Ssh2PoolOptions, 'lookup' | 'debug' | 'prompter'> & { agentSocket: string | undefined; idle: IdleConnections };

/** The pool's idle connections, oldest first (a Map keeps insertion order): the cap on how many stay open. */
class IdleConnections {
  readonly #idle = new Map<Ssh2Connection, true>();

  constructor(private readonly max: () => number) {}

  /** c has nothing running now: the connection idle longest goes when there are too many. */
  add(c: Ssh2Connection): void {
    this.#idle.delete(c);
    this.#idle.set(c, true);
    while (this.#idle.size > Math.max(0, this.max())) {
      const oldest = this.#idle.keys().next().value as Ssh2Connection;
      this.#idle.delete(oldest);
      oldest.closeIdle(`closed: more than ${this.max()} idle connections`);
    }
  }

  delete(c: Ssh2Connection): void {
    this.#idle.delete(c);
  }

  get size(): number {
    return this.#idle.size;
  }
}

/** The local user name, which ssh uses when no remote user is set. */
function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'root';
  }
}

/** The identity of a target in the pool: everything that changes where or as whom it connects. */
export function targetKey(t: SshTarget): string {
  const parts = (x: SshTarget): unknown[] => [x.name, x.address, x.port, x.user ?? '', x.identityFile ?? '', x.useAgent, x.proxyCommand ?? '', x.jumps.map(parts)];
  return JSON.stringify(parts(t));
}

function whereOf(t: SshTarget): Where {
  const via = t.jumps.at(-1)?.name;
  return { name: t.name, address: t.address, port: t.port, ...(via ? { via } : {}) };
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Resolves after ms, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Errors that say the network or the server was away, and so warrant a backoff before redialing. */
function isTransient(e: unknown): boolean {
  return e instanceof CroniumError && (e.code === 'CONNECT_FAILED' || e.code === 'CONNECT_TIMEOUT');
}

/** A dial shared by every caller that wants the same target at the same time. */
class SharedDial<T> {
  private waiters = 0;
  private readonly controller = new AbortController();
  readonly promise: Promise<T>;

  constructor(run: (signal: AbortSignal) => Promise<T>) {
    this.promise = run(this.controller.signal);
    // Observed by the waiters; this keeps a dial nobody waits for from being "unhandled".
    this.promise.catch(() => undefined);
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** Waits for the dial; aborting `signal` stops waiting, and cancels the dial when nobody else waits. */
  join(signal?: AbortSignal): Promise<T> {
    this.waiters++;
    if (!signal) return this.promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(abortReason(signal));
        if (--this.waiters === 0) this.controller.abort(abortReason(signal));
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.promise.then(
        (v) => {
          signal.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  cancel(reason: unknown): void {
    this.controller.abort(reason);
  }
}

/** What the pool keeps per target: a multiplexed connection, or a connection per channel. */
type PooledConnection = Ssh2Connection | OneChannelConnection;

/** Pool state for one target. */
interface Entry {
  conn?: PooledConnection;
  dial?: SharedDial<PooledConnection>;
  /** Consecutive failed dials, for the backoff. */
  failures: number;
  lastFailureAt: number;
}

/** What the transport gave: a connected byte stream to the target's sshd. */
interface Transport {
  sock: Duplex;
  tcpConnectMs: number;
}

/** The outcome of one handshake. */
type Handshake =
  | { mode: 'connect'; client: Client; info: HandshakeInfo }
  | { mode: 'scan'; scan: HostKeyScan };

/** One pooled ssh2 Client per host target. */
export class Ssh2Pool implements SshPool {
  private readonly entries = new Map<string, Entry>();
  private readonly identities = new IdentityLoader();
  /** Passphrases typed for encrypted keys that the person chose to have remembered: in memory only, until the app quits. */
  private readonly sessionPassphrases = new Map<string, string>();
  private readonly askingPassphrase = new Map<string, Promise<string | undefined>>();
  private readonly opts: Resolved;
  private closed = false;

  constructor(
    private readonly hostKeys: HostKeyStore,
    options: Ssh2PoolOptions = {},
  ) {
    this.opts = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
      agentSocket: options.agentSocket === null ? undefined : (options.agentSocket ?? defaultAgentSocket()),
    } as Resolved;
    this.opts.idle = new IdleConnections(() => this.opts.maxIdle);
  }

  /** Sets (or, with undefined, removes) who is asked keyboard-interactive questions from now on. */
  setPrompter(prompter: KbdPrompter | undefined): void {
    this.opts.prompter = prompter;
  }

  /** Connections currently open, for diagnostics and tests. */
  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.conn?.alive) n++;
    return n;
  }

  async connect(target: SshTarget, signal?: AbortSignal): Promise<PooledConnection> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.closed) throw poolClosed();
    const key = targetKey(target);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { failures: 0, lastFailureAt: 0 };
      this.entries.set(key, entry);
    }
    if (entry.conn?.alive) return entry.conn;
    entry.conn = undefined;
    if (!entry.dial || entry.dial.cancelled) entry.dial = this.startDial(key, entry, target);
    return entry.dial.join(signal);
  }

  async scanHostKey(target: SshTarget, signal?: AbortSignal): Promise<HostKeyScan> {
    if (signal?.aborted) throw abortReason(signal);
    if (this.closed) throw poolClosed();
    const controller = new AbortController();
    const onAbort = () => controller.abort(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const transport = await this.transport(target, controller.signal);
      const result = await this.handshake(target, transport, 'scan', undefined, controller.signal);
      if (result.mode !== 'scan') throw new Error('scan handshake authenticated');
      return result.scan;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const conns: PooledConnection[] = [];
    for (const entry of this.entries.values()) {
      entry.dial?.cancel(poolClosed());
      if (entry.conn) conns.push(entry.conn);
    }
    this.entries.clear();
    // Innermost first, so a hop is not torn down under a connection still saying goodbye.
    conns.sort((a, b) => b.target.jumps.length - a.target.jumps.length);
    await Promise.all(conns.map((c) => c.closeAndWait()));
  }

  private startDial(key: string, entry: Entry, target: SshTarget): SharedDial<PooledConnection> {
    // Declared before it is built: the dial's own `finally` compares against it.
    let dial: SharedDial<PooledConnection> | undefined = undefined;
    dial = new SharedDial(async (signal) => {
      try {
        if (entry.failures > 0) {
          const wait = Math.min(this.opts.backoff.maxMs, this.opts.backoff.initialMs * 2 ** (entry.failures - 1));
          const remaining = entry.lastFailureAt + wait - Date.now();
          if (remaining > 0) await sleep(remaining, signal);
        }
        const first = await this.dial(target, signal);
        const conn = oneChannelServer(first.info.serverIdent) ? new OneChannelConnection(first, (s) => this.dial(target, s)) : first;
        entry.failures = 0;
        if (signal.aborted || this.closed) {
          // Everyone gave up while the handshake finished: do not keep a connection nobody asked for.
          conn.close();
          throw this.closed ? poolClosed() : abortReason(signal);
        }
        entry.conn = conn;
        conn.onDead(() => {
          if (entry.conn === conn) entry.conn = undefined;
          if (!entry.conn && !entry.dial && entry.failures === 0 && this.entries.get(key) === entry) this.entries.delete(key);
        });
        return conn;
      } catch (e) {
        if (!signal.aborted && isTransient(e)) {
          entry.failures++;
          entry.lastFailureAt = Date.now();
        }
        throw e;
      } finally {
        if (dial !== undefined && entry.dial === dial) entry.dial = undefined;
      }
    });
    return dial;
  }

  private async dial(target: SshTarget, signal: AbortSignal): Promise<Ssh2Connection> {
    const creds = await this.credentials(target);
    const transport = await this.transport(target, signal);
    const result = await this.handshake(target, transport, 'connect', creds, signal);
    if (result.mode !== 'connect') throw new Error('connect handshake did not authenticate');
    return new Ssh2Connection(result.client, target, result.info, whereOf(target), this.opts);
  }

  /** Credentials for one handshake; secrets are opened only now, and only what is needed. */
  private async credentials(target: SshTarget): Promise<AuthCredentials> {
    const creds: AuthCredentials = { username: target.user ?? localUser() };
    if (target.identityFile) creds.identity = await this.identity(target, target.identityFile);
    // The host's IdentityAgent (a socket, or none) over the app's agent.
    const agent = target.options?.identityAgent === 'none' ? undefined : (target.options?.identityAgent ?? this.opts.agentSocket);
    if (target.useAgent && agent) creds.agent = agent;
    const password = target.password?.();
    if (password !== undefined) creds.password = password;
    const prompter = this.opts.prompter;
    if (prompter && !target.unattended) {
      const asked = new AbortController();
      creds.prompter = (challenge) => prompter({ host: target.name, ...challenge }, asked.signal);
      creds.stopAsking = () => asked.abort(new Error('the connection attempt ended'));
    }
    return creds;
  }

  /**
   * The host's key, decrypted: with the stored passphrase, or one typed this session, or (an
   * encrypted key with neither, and a person to ask) the passphrase asked once, however many
   * hosts share the key, and kept in memory until the app quits when they chose so.
   */
  private async identity(target: SshTarget, path: string): Promise<LoadedIdentity> {
    const stored = target.passphrase?.() ?? this.sessionPassphrases.get(path);
    const loaded = await this.identities.load(path, stored);
    const prompter = this.opts.prompter;
    if (!loaded.needsPassphrase || stored !== undefined || !prompter || target.unattended) return loaded;
    let asking = this.askingPassphrase.get(path);
    if (!asking) {
      asking = prompter({ host: target.name, name: 'Key passphrase', instructions: `The identity file ${path} is encrypted.`, prompts: [{ prompt: `Passphrase for ${path}:`, echo: false }], remember: true }, AbortSignal.timeout(PROMPT_LIMIT_MS))
        .then(async (answers) => {
          const pass = answers[0];
          if (pass === undefined) return undefined;
          const again = await this.identities.load(path, pass);
          if (again.key && answers.remember) this.sessionPassphrases.set(path, pass);
          return again.key ? pass : undefined;
        })
        .catch(() => undefined)
        .finally(() => this.askingPassphrase.delete(path));
      this.askingPassphrase.set(path, asking);
    }
    const pass = await asking;
    return pass === undefined ? loaded : this.identities.load(path, pass);
  }

  /** A byte stream to the target's sshd: a TCP socket, or a tunnel through the last jump host. */
  private async transport(target: SshTarget, signal: AbortSignal): Promise<Transport> {
    const t0 = performance.now();
    if (target.proxyCommand) return { sock: proxyCommandSocket(target, signal), tcpConnectMs: performance.now() - t0 };
    const hop = target.jumps.at(-1);
    if (hop) {
      const hopTarget: SshTarget = { ...hop, jumps: target.jumps.slice(0, -1) };
      const hopConn = await this.connect(hopTarget, signal);
      const sock = await hopConn.forward(target, this.opts.connectTimeoutMs, signal);
      return { sock, tcpConnectMs: performance.now() - t0 };
    }
    const sock = await tcpConnect(whereOf(target), target.options?.connectTimeoutMs || this.opts.connectTimeoutMs, signal, this.opts.lookup);
    return { sock, tcpConnectMs: performance.now() - t0 };
  }

  /** The SSH handshake over a transport: verify the host key, then authenticate (connect) or stop (scan). */
  private async handshake(target: SshTarget, transport: Transport, mode: 'connect' | 'scan', creds: AuthCredentials | undefined, signal: AbortSignal): Promise<Handshake> {
    let ssh2: Awaited<ReturnType<typeof loadSsh2>>;
    try {
      ssh2 = await loadSsh2();
    } catch (e) {
      transport.sock.destroy();
      throw e;
    }
    const where = whereOf(target);
    const query: HostKeyQuery = { name: target.name, address: target.options?.hostKeyAlias ?? target.address, port: target.port, ...(target.options?.knownHostsFiles ? { knownHostsFiles: target.options.knownHostsFiles } : {}) };
    const limit = target.options?.connectTimeoutMs ? Math.max(this.opts.handshakeTimeoutMs, target.options.connectTimeoutMs) : this.opts.handshakeTimeoutMs;
    const client: Client = new ssh2.Client();
    const auth = mode === 'connect' && creds ? new AuthSession(creds) : undefined;
    const t0 = performance.now();
    let phase: 'handshake' | 'auth' = 'handshake';
    let presented: PublicKeyFacts | undefined;
    let verdict: HostKeyVerdict | undefined;
    let refusal: CroniumError | undefined;
    const serverIdent = (): string => {
      const raw = (client as unknown as { _protocol?: { _remoteIdentRaw?: Buffer } })._protocol?._remoteIdentRaw;
      return raw ? raw.toString('latin1').trim() : '';
    };

    // What is trusted for the host is read once, before the handshake: the key it presents is
    // decided on against that (a read that fails refuses the key, below).
    let trust: HostTrust | undefined;
    let trustError: Error | undefined;
    try {
      trust = await this.hostKeys.trustFor(query);
    } catch (e) {
      trustError = e as Error;
    }
    let algorithms: string[];
    try {
      const preferred = (trust?.preferredKeyTypes() ?? []).flatMap(hostKeyAlgorithmsFor).filter((a) => HOST_KEY_ALGORITHMS.includes(a));
      algorithms = [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])];
    } catch {
      algorithms = HOST_KEY_ALGORITHMS;
    }

    return new Promise<Handshake>((resolve, reject) => {
      let settled = false;
      // With a person to ask, the time limit is kept here (ssh2's readyTimeout cannot pause): it
      // stops while they are asked and starts afresh once they answered.
      let limitTimer: NodeJS.Timeout | undefined;
      const armLimit = () => {
        clearTimeout(limitTimer);
        limitTimer = setTimeout(() => finish(connectTimeout(where, phase, limit, serverIdent() !== '')), limit);
      };
      if (creds?.prompter) {
        armLimit();
        creds.onAsking = (asking) => (asking ? clearTimeout(limitTimer) : armLimit());
      }
      const finish = (err: unknown, value?: Handshake) => {
        if (settled) return;
        settled = true;
        clearTimeout(limitTimer);
        creds?.stopAsking?.();
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined || mode === 'scan') {
          client.removeAllListeners('ready');
          // Keep an error listener: ssh2 may still emit while it tears down.
          client.on('error', () => undefined);
          client.destroy();
          transport.sock.destroy();
        }
        if (err !== undefined) reject(err);
        else resolve(value!);
      };
      const onAbort = () => finish(abortReason(signal));
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });

      const scanResult = (): Handshake => {
        const key = presented!;
        const v = verdict!;
        const scan: HostKeyScan = {
          serverIdent: serverIdent(),
          key: { algorithm: key.algorithm, fingerprint: key.fingerprint, publicKey: key.publicKey },
          state: v.state,
          ...(v.state === 'mismatch' ? { expected: v.expected, source: v.source } : {}),
          ...(v.state === 'trusted' ? { source: v.source } : {}),
          ...(v.state !== 'unknown' && v.where ? { where: v.where } : {}),
          tcpConnectMs: transport.tcpConnectMs,
          handshakeMs: performance.now() - t0,
        };
        return { mode: 'scan', scan };
      };

      client.on('ready', () => {
        auth?.succeeded();
        const key = presented!;
        const info: HandshakeInfo = {
          serverIdent: serverIdent(),
          hostKey: { algorithm: key.algorithm, fingerprint: key.fingerprint, trust: verdict?.state === 'trusted' ? verdict.source : 'pinned' },
          jumps: target.jumps.map((j) => j.name),
          authMethodsOffered: auth?.offered ?? [],
          authAttempts: auth?.attempts.map((a) => ({ ...a })) ?? [],
          tcpConnectMs: transport.tcpConnectMs,
          handshakeMs: performance.now() - t0,
        };
        finish(undefined, { mode: 'connect', client, info });
      });

      client.on('error', (err: Error & { level?: string; code?: unknown }) => {
        if (settled) return;
        if (refusal) return finish(refusal);
        if (mode === 'scan' && presented && verdict) return finish(undefined, scanResult());
        const level = err.level ?? '';
        const message = err.message ?? String(err);
        // ssh2 reports these and goes on with the next auth method: note them, do not fail.
        if (level === 'agent') return auth?.skipped.push(`ssh-agent: ${message}`);
        if (level === 'client-authentication' && !/All configured authentication methods failed/i.test(message)) return auth?.skipped.push(message);
        if (level === 'client-authentication' && auth) return finish(auth.interactive ? authInteractiveRequired(where, creds!.username, auth.attempts, auth.interactive) : authFailed(where, creds!.username, auth.offered, auth.attempts, auth.skipped));
        if (level === 'client-timeout') return finish(connectTimeout(where, phase, limit, serverIdent() !== ''));
        if (level === 'client-socket') return finish(connectionClosed(where, phase === 'auth' ? 'authentication' : 'handshake', message));
        if (typeof err.code === 'number' && phase === 'auth' && auth) {
          // The server disconnected during auth (e.g. "Too many authentication failures").
          auth.skipped.push(`the server disconnected: ${message}`);
          return finish(auth.interactive ? authInteractiveRequired(where, creds!.username, auth.attempts, auth.interactive) : authFailed(where, creds!.username, auth.offered, auth.attempts, auth.skipped));
        }
        if (/Connection lost before handshake/i.test(message)) return finish(connectionClosed(where, 'banner'));
        if (typeof err.code === 'number') return finish(connectionClosed(where, 'handshake', message));
        return finish(protocolFailed(where, message));
      });

      client.on('close', () => {
        if (refusal) return finish(refusal);
        if (mode === 'scan' && presented && verdict) return finish(undefined, scanResult());
        finish(connectionClosed(where, presented ? (phase === 'auth' ? 'authentication' : 'handshake') : 'banner'));
      });

      const config: ConnectConfig = {
        sock: transport.sock as ConnectConfig['sock'],
        username: creds?.username ?? 'cronium-scan',
        readyTimeout: creds?.prompter ? 0 : limit,
        keepaliveInterval: target.options?.serverAliveIntervalMs ?? this.opts.keepaliveIntervalMs,
        keepaliveCountMax: this.opts.keepaliveCountMax,
        algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
        hostVerifier: (blob: Buffer, verify: (valid: boolean) => void) => {
          presented = describeKeyBlob(blob);
          try {
            if (!trust) throw trustError ?? new Error('no trust context');
            verdict = trust.verify(presented);
          } catch (e) {
            refusal = new CroniumError('INTERNAL', `cannot check the host key of ${target.name}: ${(e as Error).message}`);
            return verify(false);
          }
          if (mode === 'scan') return verify(false);
          if (verdict.state === 'trusted') {
            phase = 'auth';
            return verify(true);
          }
          if (verdict.state === 'unknown') refusal = hostKeyUnknown(where, presented);
          else if (verdict.state === 'revoked') refusal = hostKeyRevoked(where, presented, verdict.where);
          else refusal = hostKeyMismatch(where, presented, verdict.expected, verdict.source, verdict.where);
          verify(false);
        },
        ...(auth ? { authHandler: auth.handler } : { authHandler: () => false as unknown as void }),
        ...(this.opts.debug ? { debug: this.opts.debug } : {}),
      };
      try {
        client.connect(config);
        declineHostKeysProof(client);
        signWithoutAsking(client);
      } catch (e) {
        finish(protocolFailed(where, (e as Error).message));
      }
    });
  }
}

/**
 * After login an OpenSSH server announces all its host keys (`hostkeys-00@openssh.com`, for a
 * client's UpdateHostKeys). ssh2 answers every announcement by asking the server to prove each
 * key (`hostkeys-prove-00`: a signature per key on the host, an RSA one costing milliseconds, then
 * a verify per key here) for a 'hostkeys' event nothing here listens to: which keys a host may
 * present is decided by the host key store and known_hosts only. The announcement is dropped
 * unanswered, as OpenSSH's ssh does with UpdateHostKeys no. Returns whether the hook went in (it
 * reaches into ssh2's protocol object; a version without it keeps ssh2's own behaviour).
 */
export function declineHostKeysProof(client: Client): boolean {
  type Handler = (proto: { requestSuccess(): void }, name: string, wantReply: boolean, data: unknown) => void;
  const handlers = (client as unknown as { _protocol?: { _handlers?: { GLOBAL_REQUEST?: Handler } } })._protocol?._handlers;
  const own = handlers?.GLOBAL_REQUEST;
  if (!handlers || typeof own !== 'function') return false;
  handlers.GLOBAL_REQUEST = (proto, name, wantReply, data) => {
    if (name !== 'hostkeys-00@openssh.com') return own(proto, name, wantReply, data);
    if (wantReply) proto.requestSuccess();
  };
  return true;
}

/**
 * True for servers that allow one session channel per connection and close the connection
 * when it ends: TinySSH ("only one 'session' channel allowed"). ssh2 cannot learn this from a
 * refusal, since the connection is gone by then, so the banner decides.
 */
export function oneChannelServer(serverIdent: string): boolean {
  return /^(SSH-2\.0-)?tinyssh[_ -]/i.test(serverIdent);
}

/**
 * A connection to a one-channel server: every exec, stream, SFTP session or tunnel gets an
 * authenticated connection of its own (the first one from the pool's dial, later ones dialed
 * when needed, each host-key checked as usual), closed when its channel ends. `alive` stays
 * true until closed: a used-up connection is not a lost host.
 */
export class OneChannelConnection implements SshConnection {
  #spare: Ssh2Connection | undefined;
  readonly #open = new Set<Ssh2Connection>();
  readonly #deathListeners: (() => void)[] = [];
  #closed = false;
  readonly target: SshTarget;
  readonly info: HandshakeInfo;

  constructor(
    first: Ssh2Connection,
    private readonly redial: (signal: AbortSignal) => Promise<Ssh2Connection>,
  ) {
    this.#spare = first;
    this.target = first.target;
    this.info = first.info;
  }

  get alive(): boolean {
    return !this.#closed;
  }

  /** One session at a time per connection (for tests and diagnostics). */
  get sessionLimit(): number {
    return 1;
  }

  onDead(fn: () => void): void {
    if (this.#closed) fn();
    else this.#deathListeners.push(fn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#spare?.close();
    for (const c of this.#open) c.close();
    for (const fn of this.#deathListeners.splice(0)) fn();
  }

  async closeAndWait(): Promise<void> {
    const all = [...this.#open, ...(this.#spare ? [this.#spare] : [])];
    this.close();
    await Promise.all(all.map((c) => c.closeAndWait()));
  }

  exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    return this.#using(options.signal, (c) => c.exec(command, options));
  }

  async execStream(command: string, options: ExecStreamOptions = {}): Promise<ExecStreamHandle> {
    const c = await this.#take(options.signal);
    try {
      const handle = await c.execStream(command, options);
      void handle.done.then(
        () => c.close(),
        () => c.close(),
      );
      return handle;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  async sftp(signal?: AbortSignal): Promise<SftpSession> {
    const c = await this.#take(signal);
    try {
      const session = await c.sftp(signal);
      const close = session.close.bind(session);
      session.close = async () => {
        try {
          await close();
        } finally {
          c.close();
        }
      };
      return session;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  // TinySSH, the one-channel server there is, forwards nothing: say so at once rather than ask
  // (it leaves a tcpip-forward request unanswered).
  forwardOut(host: string, port: number): Promise<Duplex> {
    return Promise.reject(forwardOutFailed(whereOf(this.target), host, port, Object.assign(new Error(`administratively prohibited (${this.#server()} forwards no ports)`), { reason: 1 })));
  }

  forwardIn(bindAddr: string, port: number): Promise<RemoteForward> {
    return Promise.reject(forwardInFailed(whereOf(this.target), bindAddr, port, `${this.#server()} forwards no ports`));
  }

  forward(next: SshTarget): Promise<Duplex> {
    return Promise.reject(forwardFailed(whereOf(next), this.target.name, `administratively prohibited (${this.#server()} forwards no ports)`, 1));
  }

  /** The server's software as its banner names it. */
  #server(): string {
    return this.info.serverIdent.replace(/^SSH-2\.0-/, '').split(/\s/)[0] || 'this server';
  }

  /** Runs one operation on a connection of its own, closed when it settles. */
  async #using<T>(signal: AbortSignal | undefined, fn: (c: Ssh2Connection) => Promise<T>): Promise<T> {
    const c = await this.#take(signal);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  /** An unused authenticated connection: the spare from the last dial while it lives, else a new one. */
  async #take(signal: AbortSignal | undefined): Promise<Ssh2Connection> {
    const where = whereOf(this.target);
    if (this.#closed) throw connectionLost(where, 'closed by Cronium');
    if (signal?.aborted) throw abortReason(signal);
    const spare = this.#spare;
    this.#spare = undefined;
    const c = spare?.alive ? spare : await this.redial(signal ?? new AbortController().signal);
    if (this.#closed) {
      c.close();
      throw connectionLost(where, 'closed by Cronium');
    }
    this.#open.add(c);
    c.onDead(() => this.#open.delete(c));
    return c;
  }
}

function poolClosed(): CroniumError {
  return new CroniumError('INTERNAL', 'the SSH pool is closed', 'the app is shutting down');
}

/** Opens a TCP connection with TCP_NODELAY, within a time limit, mapping failures to CONNECT_*. */
export function tcpConnect(where: Where, timeoutMs: number, signal?: AbortSignal, lookup?: LookupFunction): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const sock = netConnect({ host: where.address, port: where.port, noDelay: true, ...(lookup ? { lookup } : {}) });
    const finish = (err: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.removeListener('connect', onConnect);
      sock.removeListener('error', onError);
      if (err === undefined) return resolve(sock);
      sock.on('error', () => undefined);
      sock.destroy();
      reject(err);
    };
    const onConnect = () => {
      // ssh2 does not do this: small request/response packets must not wait for Nagle.
      sock.setNoDelay(true);
      coalesceWrites(sock);
      finish(undefined);
    };
    const onError = (e: NodeJS.ErrnoException) => finish(e.code === 'ETIMEDOUT' ? connectTimeout(where, 'tcp', timeoutMs) : tcpFailed(where, e));
    const onAbort = () => finish(abortReason(signal!));
    const timer = setTimeout(() => finish(connectTimeout(where, 'tcp', timeoutMs)), timeoutMs);
    sock.once('connect', onConnect);
    sock.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * With TCP_NODELAY every write is a segment of its own, and on the host a read and a wakeup of
 * sshd. ssh2 writes each packet separately, some of them in one go (NEWKEYS and the service
 * request; a channel's close and the disconnect): the socket is corked at the first write of a
 * tick and uncorked at the next (or at a destroy), so those leave in one writev. A write that
 * waits for the next tick waits for nothing else.
 */
export function coalesceWrites(sock: Socket): void {
  const write = sock.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
  // What was written before a destroy in the same tick still goes (ssh2's DISCONNECT before the
  // pool drops a refused host's socket): end() uncorks by itself, destroy() does not.
  const destroy = sock.destroy;
  sock.destroy = function (this: Socket, ...args: Parameters<Socket['destroy']>) {
    if (corked) uncork();
    return destroy.apply(this, args);
  } as Socket['destroy'];
}

/** How long an aborted command keeps its session slot when the server does not close its channel. */
const ABORT_GRACE_MS = 5_000;

/** A command waiting for a session slot. */
interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** One authenticated ssh2 Client, with its sessions counted and queued. */
export class Ssh2Connection implements SshConnection {
  private dead = false;
  private deathReason: string | undefined;
  private limit: number;
  /** Slots taken: commands opening or running a session. */
  private active = 0;
  /** Sessions the server confirmed and that are still open. */
  private openSessions = 0;
  /** Tunnels to further hops through this connection. */
  private forwards = 0;
  private readonly queue: Waiter[] = [];
  /** Told when a command queues for a slot (onSessionWanted). */
  private readonly wanted = new Set<() => void>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly deathListeners: (() => void)[] = [];
  private readonly closed: Promise<void>;

  constructor(
    private readonly client: Client,
    readonly target: SshTarget,
    readonly info: HandshakeInfo,
    private readonly where: Where,
    private readonly opts: Resolved,
  ) {
    this.limit = Math.max(1, opts.maxSessions);
    client.on('error', (err: Error & { level?: string }) => {
      this.deathReason ??=
        err.level === 'client-timeout' && /keepalive/i.test(err.message)
          ? `no answer to ${opts.keepaliveCountMax} keepalives sent every ${opts.keepaliveIntervalMs} ms`
          : err.message;
    });
    // Marked dead synchronously: ssh2 closes the channels right after this event, and a
    // command whose channel closes must already see the connection as lost.
    this.closed = new Promise((resolve) =>
      client.once('close', () => {
        this.markDead(this.deathReason ?? 'the server closed the connection');
        resolve();
      }),
    );
    this.armIdle();
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** The session limit this connection has learnt (for tests and diagnostics). */
  get sessionLimit(): number {
    return this.limit;
  }

  /** Calls fn once when the connection is closed or lost. */
  onDead(fn: () => void): void {
    if (this.dead) fn();
    else this.deathListeners.push(fn);
  }

  close(): void {
    this.deathReason ??= 'closed by Cronium';
    this.markDead(this.deathReason);
    try {
      this.client.end();
    } catch {
      this.client.destroy();
    }
  }

  /** Closes and resolves when the socket is gone (destroying it after 2 s). */
  async closeAndWait(): Promise<void> {
    this.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.client.destroy();
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const running = await this.withSession('session', options.signal, (release) => this.openSession(command, options, release));
    return running.result;
  }

  async execStream(command: string, options: ExecStreamOptions = {}): Promise<ExecStreamHandle> {
    return this.withSession('session', options.signal, (release) => this.openStream(command, options, release));
  }

  async sftp(signal?: AbortSignal): Promise<SftpSession> {
    return this.withSession('sftp', signal, (release) => this.openSftp(release, signal));
  }

  /**
   * Takes a session slot (queueing for one), then opens a session with `open`, which owns the
   * slot from then on and must call `release` once (on failure, or when its session ends). A
   * refused session lowers the limit and waits in the queue, or is retried a few times when
   * nothing of ours is open (the server may not have freed a just-closed session yet).
   */
  private async withSession<T>(channel: 'session' | 'sftp', signal: AbortSignal | undefined, open: (release: () => void) => Promise<T>): Promise<T> {
    let lonelyRefusals = 0;
    for (;;) {
      await this.acquire(signal);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        this.release();
      };
      try {
        return await open(release);
      } catch (e) {
        if (this.dead) throw connectionLost(this.where, this.deathReason ?? 'closed');
        if (signal?.aborted) throw abortReason(signal);
        if (e instanceof SshChannelError) throw e;
        if (isSessionRefusal(e)) {
          if (this.openSessions > 0) {
            // The server's limit is what it has open now; wait in the queue for one to end.
            this.limit = Math.max(1, this.openSessions);
            continue;
          }
          if (lonelyRefusals++ < 5) {
            await sleep(25 * 2 ** lonelyRefusals, signal);
            continue;
          }
        }
        const reason = (e as { reason?: unknown }).reason;
        throw sessionRefused(this.where, (e as Error).message, channel, typeof reason === 'number' ? reason : undefined);
      }
    }
  }

  forwardOut(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      if (this.dead) return reject(connectionLost(this.where, this.deathReason ?? 'closed'));
      if (signal?.aborted) return reject(abortReason(signal));
      this.forwards++;
      this.disarmIdle();
      let settled = false;
      let counted = true;
      const done = () => {
        if (!counted) return;
        counted = false;
        this.forwards--;
        this.armIdle();
      };
      const onAbort = () => {
        // Answer now; a channel the server opens later is closed on arrival.
        settled = true;
        done();
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          if (settled) {
            stream?.on('error', () => undefined);
            stream?.close();
            return;
          }
          settled = true;
          if (err) {
            signal?.removeEventListener('abort', onAbort);
            done();
            if (this.dead) return reject(connectionLost(this.where, this.deathReason ?? 'closed'));
            return reject(forwardOutFailed(this.where, host, port, err));
          }
          signal?.removeEventListener('abort', onAbort);
          // From now on aborting closes the channel (ssh2's destroy ends and closes it).
          const onLateAbort = () => stream.destroy();
          signal?.addEventListener('abort', onLateAbort, { once: true });
          stream.once('close', () => {
            signal?.removeEventListener('abort', onLateAbort);
            done();
          });
          resolve(stream);
        });
      } catch (e) {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        done();
        reject(connectionLost(this.where, (e as Error).message));
      }
    });
  }

  forwardIn(bindAddr: string, port: number, onConnection: (stream: Duplex, info: ForwardedConnectionInfo) => void, signal?: AbortSignal): Promise<RemoteForward> {
    return new Promise<RemoteForward>((resolve, reject) => {
      if (this.dead) return reject(connectionLost(this.where, this.deathReason ?? 'closed'));
      if (signal?.aborted) return reject(abortReason(signal));
      this.listenForForwards();
      this.forwards++;
      this.disarmIdle();
      let counted = true;
      const done = () => {
        if (!counted) return;
        counted = false;
        this.forwards--;
        this.armIdle();
      };
      let settled = false;
      const onAbort = () => {
        settled = true;
        done();
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // A server that ignores the request (rather than refusing it) must not hold the run.
      const noAnswer = setTimeout(() => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        done();
        reject(forwardInFailed(this.where, bindAddr, port, `no answer to the tcpip-forward request within ${this.opts.connectTimeoutMs} ms`));
      }, this.opts.connectTimeoutMs);
      noAnswer.unref();
      try {
        this.client.forwardIn(bindAddr, port, (err, realPort) => {
          clearTimeout(noAnswer);
          if (settled) {
            // Aborted while the server set up the listener: take it down again.
            if (!err) void this.unforward(bindAddr, realPort);
            return;
          }
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          if (err) {
            done();
            if (this.dead) return reject(connectionLost(this.where, this.deathReason ?? 'closed'));
            return reject(forwardInFailed(this.where, bindAddr, port, err.message));
          }
          const key = `${bindAddr}:${realPort}`;
          this.inbound.set(key, onConnection);
          let closing: Promise<void> | undefined;
          const close = (): Promise<void> => {
            closing ??= (async () => {
              signal?.removeEventListener('abort', onLateAbort);
              if (this.inbound.get(key) === onConnection) this.inbound.delete(key);
              try {
                await this.unforward(bindAddr, realPort);
              } finally {
                done();
              }
            })();
            return closing;
          };
          const onLateAbort = () => void close().catch(() => undefined);
          signal?.addEventListener('abort', onLateAbort, { once: true });
          resolve({ port: realPort, close });
        });
      } catch (e) {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        done();
        reject(connectionLost(this.where, (e as Error).message));
      }
    });
  }

  /** Handlers of the server's listeners, by "bindAddr:port" as the server reports it. */
  private readonly inbound = new Map<string, (stream: Duplex, info: ForwardedConnectionInfo) => void>();
  private listening = false;

  /** Routes forwarded-tcpip channels to their forwardIn handler; refuses unknown ones. */
  private listenForForwards(): void {
    if (this.listening) return;
    this.listening = true;
    this.client.on('tcp connection', (details: TcpConnectionDetails, accept: () => ClientChannel, reject: () => void) => {
      const handler = this.inbound.get(`${details.destIP}:${details.destPort}`);
      if (!handler || this.dead) return reject();
      const stream = accept();
      this.forwards++;
      this.disarmIdle();
      stream.once('close', () => {
        this.forwards--;
        this.armIdle();
      });
      try {
        handler(stream, { remoteAddress: details.srcIP, remotePort: details.srcPort });
      } catch {
        stream.destroy();
      }
    });
  }

  /** Cancels a tcpip-forward; resolves at the server's answer (or at once when the connection is gone). */
  private unforward(bindAddr: string, port: number): Promise<void> {
    if (this.dead) return Promise.resolve();
    const answered = new Promise<void>((resolve) => {
      try {
        this.client.unforwardIn(bindAddr, port, () => resolve());
      } catch {
        resolve();
      }
    });
    // ssh2 drops pending global-request callbacks when the connection closes.
    return Promise.race([answered, this.closed]);
  }

  /** Opens a tunnel through this connection to the next hop's sshd. */
  forward(next: SshTarget, timeoutMs: number, signal: AbortSignal): Promise<Duplex> {
    const where = whereOf(next);
    return new Promise<Duplex>((resolve, reject) => {
      if (this.dead) return reject(connectionLost(this.where, this.deathReason ?? 'closed'));
      if (signal.aborted) return reject(abortReason(signal));
      this.forwards++;
      this.disarmIdle();
      let settled = false;
      const done = () => {
        this.forwards--;
        this.armIdle();
      };
      const onAbort = () => settle(abortReason(signal));
      const timer = setTimeout(() => settle(connectTimeout(where, 'tcp', timeoutMs)), timeoutMs);
      const settle = (err: unknown, stream?: ClientChannel) => {
        if (settled) {
          // A late tunnel after a timeout or abort: close it.
          stream?.close();
          return;
        }
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err !== undefined || !stream) {
          done();
          stream?.close();
          return reject(err);
        }
        stream.once('close', done);
        resolve(stream);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        this.client.forwardOut('127.0.0.1', 0, next.address, next.port, (err, stream) => {
          if (err) {
            if (this.dead) return settle(connectionLost(this.where, this.deathReason ?? 'closed'));
            return settle(forwardFailed(where, this.target.name, err.message.replace(/^\(SSH\) Channel open failure: /, ''), (err as { reason?: unknown }).reason));
          }
          settle(undefined, stream);
        });
      } catch (e) {
        settle(connectionLost(this.where, (e as Error).message));
      }
    });
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (this.dead) return Promise.reject(connectionLost(this.where, this.deathReason ?? 'closed'));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    this.disarmIdle();
    if (this.active < this.limit && this.queue.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortReason(signal!));
        this.armIdle();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      for (const fn of [...this.wanted]) fn();
    });
  }

  onSessionWanted(fn: () => void): () => void {
    this.wanted.add(fn);
    return () => void this.wanted.delete(fn);
  }

  private release(): void {
    this.active--;
    this.pump();
    this.armIdle();
  }

  /** Hands free slots to queued commands, in order. */
  private pump(): void {
    while (!this.dead && this.active < this.limit && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!.resolve();
    }
  }

  /**
   * Opens a session running the command. The collector is attached inside ssh2's
   * callback: the server's reply, output, exit status and close can arrive in the same
   * packet batch as the confirmation, and an exit event emitted before a listener exists is lost.
   */
  private openSession(command: string, options: ExecOptions, release: () => void): Promise<{ result: Promise<ExecResult> }> {
    const execOpts: { pty?: boolean; env?: Record<string, string> } = {};
    if (options.pty) execOpts.pty = true;
    if (options.env) execOpts.env = options.env;
    return this.openChannel(command, execOpts, release, (channel) => ({ result: this.collect(channel, options, release) }));
  }

  /** Starts a command on a new session and hands its channel to `wrap`; the slot is released if it cannot open. */
  private openChannel<T>(command: string, execOpts: { pty?: boolean; env?: Record<string, string> }, release: () => void, wrap: (channel: ClientChannel) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      try {
        this.client.exec(command, execOpts, (err, channel) => {
          if (err) {
            release();
            return reject(err);
          }
          this.openSessions++;
          channel.once('close', () => this.openSessions--);
          resolve(wrap(channel));
        });
      } catch (e) {
        release();
        reject(e);
      }
    });
  }

  /**
   * Opens the SFTP subsystem on a new session. ssh2 leaves the session open when the server
   * refuses the subsystem (and OpenSSH keeps it, counting it against MaxSessions), so that
   * channel is found in ssh2's channel table and closed here.
   */
  private openSftp(release: () => void, signal?: AbortSignal): Promise<SftpSession> {
    return new Promise<SftpSession>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        // Answer now; the slot stays taken until the late session is closed.
        settled = true;
        reject(abortReason(signal!));
      };
      const table = channelTable(this.client);
      const before = new Set(Object.keys(table ?? {}));
      let id: string | undefined;
      try {
        this.client.sftp((err, sftp) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) {
            const leftOpen = id !== undefined ? table?.[id] : undefined;
            const description = err.message;
            if (isOpenSession(leftOpen)) {
              this.openSessions++;
              leftOpen.once('close', () => {
                this.openSessions--;
                release();
              });
              leftOpen.end();
            } else {
              release();
            }
            if (settled) return;
            settled = true;
            if (/Unable to start subsystem/i.test(description)) return reject(sftpUnavailable(this.where, description));
            // The subsystem started and its program exited at once: 127, not there at all (Dropbear
            // without sftp-server, as on routers); 126, not executable.
            const exit = /exit code (\d+) while establishing SFTP/i.exec(description);
            if (exit) return reject(sftpUnavailable(this.where, sftpExitDescription(Number(exit[1])), sftpExitHint(Number(exit[1]))));
            return reject(err);
          }
          this.openSessions++;
          sftp.on('error', () => undefined);
          sftp.once('close', () => {
            this.openSessions--;
            release();
          });
          if (settled) {
            sftp.end();
            return;
          }
          settled = true;
          resolve(new Ssh2SftpSession(sftp, this.where, signal));
        });
        id = Object.keys(table ?? {}).find((k) => !before.has(k));
      } catch (e) {
        release();
        settled = true;
        return reject(e);
      }
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Opens a session for execStream; the handle's listeners are attached inside ssh2's callback (see openSession). */
  private openStream(command: string, options: ExecStreamOptions, release: () => void): Promise<ExecStreamHandle> {
    const execOpts: { env?: Record<string, string> } = {};
    if (options.env) execOpts.env = options.env;
    return this.openChannel(command, execOpts, release, (channel) => this.stream(channel, options, release));
  }

  /**
   * Streams a channel's output to the callbacks. While a callback's promise is pending both
   * streams are paused, so ssh2 stops granting window and the remote writer blocks: memory
   * stays bounded by the streams' buffers whatever the output rate.
   */
  private stream(channel: ClientChannel, options: ExecStreamOptions, release: () => void): ExecStreamHandle {
    const { signal } = options;
    let code: number | null = null;
    let exitSignal: string | null = null;
    let exited = false;
    let stdinEnded = false;
    let grace: NodeJS.Timeout | undefined;
    const releaseOnce = () => {
      clearTimeout(grace);
      release();
    };
    const out = deliveries(
      () => {
        channel.pause();
        channel.stderr.pause();
      },
      () => {
        channel.resume();
        channel.stderr.resume();
      },
    );
    channel.on('data', out.deliver(options.onStdout));
    channel.stderr.on('data', out.deliver(options.onStderr));
    channel.on('exit', (c: number | null, s?: string) => {
      exited = true;
      code = typeof c === 'number' ? c : null;
      exitSignal = typeof s === 'string' ? s.replace(/^SIG/, '') : null;
    });
    channel.on('error', () => undefined);
    let onAbort: () => void = () => undefined;
    const done = new Promise<ExecExit>((resolve, reject) => {
      let settled = false;
      onAbort = () => {
        if (settled) return;
        settled = true;
        reject(abortReason(signal!));
        killSession(channel);
        channel.close();
        grace = setTimeout(releaseOnce, ABORT_GRACE_MS);
        grace.unref();
      };
      channel.once('close', () => {
        signal?.removeEventListener('abort', onAbort);
        releaseOnce();
        if (settled) return;
        // Settled once the last chunk's callback has (see deliveries); an abort meanwhile still wins.
        void out.idle().then(() => {
          if (settled) return;
          settled = true;
          if (!exited && this.dead) return reject(connectionLost(this.where, `${this.deathReason ?? 'closed'} (while running a command)`));
          resolve({ code, signal: exitSignal });
        });
      });
    });
    // A caller that only awaits `done` later must not see an unhandled rejection meanwhile.
    done.catch(() => undefined);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (options.stdin !== undefined) channel.write(options.stdin);
    if (!options.keepStdinOpen) {
      stdinEnded = true;
      channel.end();
    }
    return {
      write: (data) => (stdinEnded ? false : channel.write(data)),
      drain: () => (stdinEnded || !channel.writableNeedDrain ? Promise.resolve() : new Promise<void>((r) => {
        const finish = () => {
          channel.off('drain', finish);
          channel.off('close', finish);
          r();
        };
        channel.once('drain', finish);
        channel.once('close', finish);
      })),
      endStdin: () => {
        if (stdinEnded) return;
        stdinEnded = true;
        try {
          channel.end();
        } catch {
          // Already closing.
        }
      },
      signal: (name) => {
        const ch = channel as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
        try {
          if (ch.outgoing && (ch.outgoing.state === 'open' || ch.outgoing.state === 'eof') && ch._client?._protocol) ch._client._protocol.signal(ch.outgoing.id, name.replace(/^SIG/, ''));
        } catch {
          // The channel is closing; nothing left to signal.
        }
      },
      close: () => {
        try {
          channel.close();
        } catch {
          // Already closed.
        }
      },
      done,
    };
  }

  private collect(channel: ClientChannel, options: ExecOptions, release: () => void): Promise<ExecResult> {
    const { signal } = options;
    return new Promise<ExecResult>((resolve, reject) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | null = null;
      let exitSignal: string | null = null;
      let exited = false;
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const releaseOnce = () => {
        clearTimeout(grace);
        release();
      };
      const onAbort = () => {
        // Cancellation answers at once; the session slot stays taken until the server closes the
        // channel (or, if it ignores the kill, for a grace period: then the queue may try its luck).
        settled = true;
        reject(abortReason(signal!));
        killSession(channel);
        channel.close();
        grace = setTimeout(releaseOnce, ABORT_GRACE_MS);
        grace.unref();
      };
      channel.on('data', (d: Buffer) => stdout.push(d));
      channel.stderr.on('data', (d: Buffer) => stderr.push(d));
      channel.on('exit', (c: number | null, s?: string) => {
        exited = true;
        code = typeof c === 'number' ? c : null;
        exitSignal = typeof s === 'string' ? s.replace(/^SIG/, '') : null;
      });
      channel.on('error', () => undefined);
      channel.once('close', () => {
        signal?.removeEventListener('abort', onAbort);
        releaseOnce();
        if (settled) return;
        settled = true;
        if (!exited && this.dead) return reject(connectionLost(this.where, `${this.deathReason ?? 'closed'} (while running a command)`));
        resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), code, signal: exitSignal });
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      if (options.stdin !== undefined) channel.end(options.stdin);
      else channel.end();
    });
  }

  /** Closes this connection if it is still idle (the pool has too many idle ones). */
  closeIdle(reason: string): void {
    if (this.dead || this.active > 0 || this.forwards > 0 || this.queue.length > 0) return;
    this.deathReason = reason;
    this.close();
  }

  private armIdle(): void {
    if (this.dead || this.active > 0 || this.forwards > 0 || this.queue.length > 0 || this.idleTimer) return;
    this.opts.idle.add(this);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.active === 0 && this.forwards === 0 && this.queue.length === 0) {
        this.deathReason = `idle for ${this.opts.idleTimeoutMs} ms`;
        this.close();
      }
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    this.opts.idle.delete(this);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private markDead(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    this.deathReason ??= reason;
    this.disarmIdle();
    const err = connectionLost(this.where, this.deathReason);
    for (const w of this.queue.splice(0)) w.reject(err);
    for (const fn of this.deathListeners.splice(0)) fn();
  }
}

/**
 * Asks the server to SIGKILL the session's command (OpenSSH 7.9+ honours "signal"
 * requests). ssh2's channel.signal() sends nothing once stdin is closed (EOF sent),
 * which it always is for our commands, so the request goes through its protocol object.
 */
function killSession(channel: ClientChannel): void {
  const ch = channel as unknown as { outgoing?: { id: number; state: string }; _client?: { _protocol?: { signal(id: number, name: string): void } } };
  try {
    if (ch.outgoing && (ch.outgoing.state === 'open' || ch.outgoing.state === 'eof') && ch._client?._protocol) ch._client._protocol.signal(ch.outgoing.id, 'KILL');
    else channel.signal('KILL');
  } catch {
    // The channel is already closing; closing it is all that is left to do.
  }
}

/** ssh2's table of a client's channels (id → pending-open callback, or the channel once open). */
function channelTable(client: Client): Record<string, unknown> | undefined {
  return (client as unknown as { _chanMgr?: { _channels?: Record<string, unknown> } })._chanMgr?._channels;
}

/** An open session channel as ssh2 keeps it in its table. */
function isOpenSession(x: unknown): x is { end(): void; once(event: 'close', fn: () => void): void } {
  const ch = x as { end?: unknown; once?: unknown; outgoing?: { state?: string } } | undefined;
  return typeof ch === 'object' && ch !== null && typeof ch.end === 'function' && typeof ch.once === 'function' && (ch.outgoing?.state === 'open' || ch.outgoing?.state === 'eof');
}

/** One SFTP session of a pooled connection (its slot is released when the channel closes; see openSftp). */
class Ssh2SftpSession implements SftpSession {
  private channelClosed = false;
  private closing: Promise<void> | undefined;
  private readonly gone: Promise<void>;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly where: Where,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.gone = new Promise((resolve) =>
      sftp.once('close', () => {
        this.channelClosed = true;
        if (this.onAbort) signal?.removeEventListener('abort', this.onAbort);
        resolve();
      }),
    );
    if (signal) {
      this.onAbort = () => void this.close();
      if (signal.aborted) this.onAbort();
      else signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  get closed(): boolean {
    return this.channelClosed || this.closing !== undefined;
  }

  async writeFile(path: string, data: Buffer | Readable, mode = 0o644): Promise<void> {
    if (Buffer.isBuffer(data)) {
      await this.writeBuffer(path, data, mode);
    } else {
      this.check('write', path);
      try {
        await pipeline(data, this.sftp.createWriteStream(path, { mode, flags: 'w' }));
      } catch (e) {
        throw this.failure('write', path, e);
      }
    }
    // The server's umask applied when the file was created: set the bits asked for.
    await this.run<void>('chmod', path, (cb) => this.sftp.chmod(path, mode, (err) => cb(err)));
  }

  /**
   * Writes a buffer with many write requests in flight: ssh2's writeFile waits for each
   * 32 KB write's reply before sending the next, which costs a round trip per chunk and
   * makes uploads through jump hosts slow.
   */
  private async writeBuffer(path: string, data: Buffer, mode: number): Promise<void> {
    const CHUNK = 32 * 1024;
    const IN_FLIGHT = 32;
    const handle = await this.run<Buffer>('write', path, (cb) => this.sftp.open(path, 'w', { mode }, (err, h) => cb(err, h)));
    try {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < data.length) {
          const offset = next;
          next += CHUNK;
          const length = Math.min(CHUNK, data.length - offset);
          await this.run<void>('write', path, (cb) => this.sftp.write(handle, data, offset, length, offset, (err) => cb(err)));
        }
      };
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, Math.ceil(data.length / CHUNK) || 1) }, worker));
    } finally {
      await this.run<void>('write', path, (cb) => this.sftp.close(handle, (err) => cb(err))).catch(() => undefined);
    }
  }

  rename(from: string, to: string): Promise<void> {
    return this.run<void>('rename', from, (cb) => {
      try {
        this.sftp.ext_openssh_rename(from, to, (err) => cb(err));
      } catch {
        // The server lacks posix-rename@openssh.com (ssh2 throws before sending anything).
        this.sftp.rename(from, to, (err) => cb(err));
      }
    });
  }

  stat(path: string): Promise<SftpStats> {
    return this.run<SftpStats>('stat', path, (cb) =>
      this.sftp.stat(path, (err, st: Ssh2Stats) =>
        err
          ? cb(err)
          : cb(undefined, {
              size: st.size,
              mode: st.mode,
              uid: st.uid,
              gid: st.gid,
              mtimeMs: st.mtime * 1000,
              isFile: st.isFile(),
              isDirectory: st.isDirectory(),
              isSymbolicLink: st.isSymbolicLink(),
            }),
      ),
    );
  }

  unlink(path: string): Promise<void> {
    return this.run<void>('unlink', path, (cb) => this.sftp.unlink(path, (err) => cb(err)));
  }

  close(): Promise<void> {
    this.closing ??= (() => {
      if (!this.channelClosed) {
        try {
          this.sftp.end();
        } catch {
          // Already closing.
        }
      }
      return this.gone;
    })();
    return this.closing;
  }

  private check(op: string, path: string): void {
    if (this.closed) throw this.failure(op, path, new Error('the SFTP session is closed'));
  }

  private run<T>(op: string, path: string, call: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.check(op, path);
      call((err, value) => (err ? reject(this.failure(op, path, err)) : resolve(value as T)));
    });
  }

  /** An operation's failure: the abort reason after an abort, else an SftpError with the SFTP status. */
  private failure(op: string, path: string, e: unknown): unknown {
    if (this.signal?.aborted) return abortReason(this.signal);
    const err = e as Error & { code?: unknown };
    const closed = this.channelClosed && !/closed/.test(err.message) ? `${err.message} (the SFTP session of ${this.where.name} closed)` : err.message;
    return new SftpError(op, path, typeof err.code === 'number' ? err.code : undefined, closed);
  }
}

/** Whether a channel-open failure is the server refusing another session (MaxSessions). */
/** What an SFTP subsystem that exited before answering means. */
function sftpExitDescription(code: number): string {
  if (code === 127) return 'the SFTP server program is missing on the host (the subsystem exited 127: not found)';
  if (code === 126) return 'the SFTP server program cannot be run on the host (the subsystem exited 126: not executable)';
  return `the SFTP subsystem exited ${code} before answering`;
}

function sftpExitHint(code: number): string {
  return code === 127 || code === 126
    ? 'install an SFTP server on the host (Debian: openssh-sftp-server; Dropbear runs /usr/lib/sftp-server), or leave it: runner uploads stream over exec instead'
    : 'check the Subsystem sftp line of the server\'s configuration; runner uploads stream over exec instead';
}

function isSessionRefusal(e: unknown): boolean {
  const err = e as { reason?: unknown; message?: string };
  // OpenSSH answers SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1) or RESOURCE_SHORTAGE (4) with "open failed".
  return err.reason === 1 || err.reason === 4 || /open failed|prohibited|resource shortage/i.test(err.message ?? '');
}

/** Expands ProxyCommand's tokens as ssh does: %h host, %p port, %r remote user, %n the alias, %% a percent sign. */
export function expandProxyCommand(command: string, target: Pick<SshTarget, 'name' | 'address' | 'port' | 'user'>): string {
  return command.replace(/%(.)/g, (m, c: string) => {
    switch (c) {
      case 'h':
        return target.address;
      case 'p':
        return String(target.port);
      case 'r':
        return target.user ?? localUser();
      case 'n':
        return target.name;
      case '%':
        return '%';
      default:
        return m;
    }
  });
}

/**
 * The transport of a ProxyCommand: the command run by the local shell (as ssh runs it, through
 * $SHELL -c; /bin/sh here), its stdout and stdin as the byte stream to sshd. Its stderr is kept
 * (the last 4 KiB) for the error when it ends before the handshake; the process goes when the
 * stream is destroyed, or the connect is aborted.
 */
function proxyCommandSocket(target: SshTarget, signal: AbortSignal): Duplex {
  const command = expandProxyCommand(target.proxyCommand!, target);
  const child = spawn(process.platform === 'win32' ? 'cmd.exe' : '/bin/sh', process.platform === 'win32' ? ['/d', '/s', '/c', command] : ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  // Write errors (EPIPE when the command is gone) are not the story: its exit and stderr are.
  child.stdin.on('error', () => undefined);
  const sock = new Duplex({
    read() {
      child.stdout.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.destroyed) return cb();
      child.stdin.write(chunk, () => cb());
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    destroy(err, cb) {
      kill();
      cb(err);
    },
  });
  child.stdout.on('data', (d: Buffer) => {
    if (!sock.push(d)) child.stdout.pause();
  });
  child.stdout.once('end', () => {
    void exited.then(({ code, sig }) => {
      if (sock.destroyed) return;
      if (code === 0) sock.push(null);
      else sock.destroy(new CroniumError('CONNECT_FAILED', `ProxyCommand of ${target.name} exited ${code ?? sig}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`, 'run the command yourself to see what it does; its stdout and stdin must carry the SSH connection'));
    });
  });
  signal.addEventListener('abort', () => sock.destroy(), { once: true });
  child.once('error', (e) => sock.destroy(new CroniumError('CONNECT_FAILED', `ProxyCommand of ${target.name} could not start: ${e.message}`, 'check the command (cronium hosts show NAME)')));
  return sock;
}
