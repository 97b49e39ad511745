/**
 * The SSH layer's interfaces: what jobs, diagnostics and deployment use to reach a
 * host. Implementations live next to this file (ssh2 based: Ssh2Pool in ssh2-pool.ts);
 * consumers depend only on these types.
 *
 * Changes since the first draft (all additive; nothing was renamed or removed):
 * - SshConnection: `alive` and `close()`.
 * - HandshakeInfo: `hostKey.trust` (pinned or known_hosts), `jumps` (hop names), and
 *   `detail` / `signature` on auth attempts (which key; e.g. rsa-sha2-256).
 * - SshPool: `scanHostKey()`, a handshake that stops after the key exchange, for
 *   `hosts.scanKeys`, `hosts.trust` and diagnostics of hosts whose key is not trusted.
 * - HostKeyScan, the result of scanHostKey.
 * Errors are CroniumErrors with the CLI contract's codes (see ssh-errors.ts):
 * CONNECT_FAILED, CONNECT_TIMEOUT, AUTH_FAILED, HOST_KEY_UNKNOWN, HOST_KEY_MISMATCH.
 */

/** Where and how to reach one host: resolved from the inventory, jump chain first. */
export interface SshTarget {
  /** Inventory name (used for pooling, errors and logs). */
  name: string;
  address: string;
  port: number;
  /** Remote login; undefined means the local user name, as ssh does. */
  user?: string;
  /** Absolute path of a private key file. */
  identityFile?: string;
  /** The key's passphrase, opened from the SecretBox only when connecting. */
  passphrase?: () => string | undefined;
  /** The password, opened from the SecretBox only when connecting. */
  password?: () => string | undefined;
  /** Use the user's ssh-agent ($SSH_AUTH_SOCK, Pageant on Windows) when present. */
  useAgent: boolean;
  /** Hops to go through first, outermost first (ProxyJump chain). */
  jumps: SshTarget[];
}

/** What an exec produced when collected whole. */
export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or null when the command died of a signal. */
  code: number | null;
  /** Signal name without SIG, e.g. 'TERM', when killed by one. */
  signal: string | null;
}

/** Options of one exec on a pooled connection. */
export interface ExecOptions {
  /** Written to the command's stdin, then stdin is closed. */
  stdin?: Buffer | string;
  /** Aborting closes the channel (and with it the remote command's session). */
  signal?: AbortSignal;
  /** Request a pty. */
  pty?: boolean;
  /** Environment sent with the env request (servers often refuse; never for secrets). */
  env?: Record<string, string>;
}

/** A live, multiplexed connection to one host. */
export interface SshConnection {
  readonly target: SshTarget;
  /** Runs a command and collects its output. Queues when the server's session limit is reached. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Handshake facts, for diagnostics. */
  readonly info: HandshakeInfo;
  /** False once the connection was closed or lost; the pool then replaces it on next use. */
  readonly alive: boolean;
  /** Closes this connection now (running commands see their channel close). */
  close(): void;
}

/** Facts learnt while connecting. */
export interface HandshakeInfo {
  /** The server's identification line, e.g. SSH-2.0-OpenSSH_9.2p1. */
  serverIdent: string;
  /** The key the server presented, and why it was trusted. */
  hostKey: { algorithm: string; fingerprint: string; trust: 'pinned' | 'known_hosts' };
  /** Names of the jump hosts passed through, outermost first (empty when direct). */
  jumps: string[];
  /** Auth methods the server offered, in its order. */
  authMethodsOffered: string[];
  /** Methods tried, in order, with their outcome. */
  authAttempts: { method: string; ok: boolean; detail?: string; signature?: string }[];
  /** Milliseconds: TCP connect (to the first hop), handshake until authenticated. */
  tcpConnectMs: number;
  handshakeMs: number;
}

/** What a host-key scan saw: the key and what the trust store says about it. */
export interface HostKeyScan {
  serverIdent: string;
  key: { algorithm: string; fingerprint: string; publicKey: string };
  /** trusted: pinned or in known_hosts; mismatch: differs from those; revoked: @revoked in known_hosts. */
  state: 'trusted' | 'unknown' | 'mismatch' | 'revoked';
  /** The trusted keys it differs from, for 'mismatch' (same algorithm first). */
  expected?: { algorithm: string; fingerprint: string }[];
  source?: 'pinned' | 'known_hosts';
  /** The known_hosts file and line that decided, when one did. */
  where?: string;
  tcpConnectMs: number;
  handshakeMs: number;
}

/** One pooled connection per host, reused by jobs. */
export interface SshPool {
  /** A ready connection to the target (connecting, or reconnecting, if needed). */
  connect(target: SshTarget, signal?: AbortSignal): Promise<SshConnection>;
  /**
   * Connects only as far as the key exchange and reports the server's host key; never
   * authenticates (jump hosts on the way must be trusted and are connected normally).
   */
  scanHostKey(target: SshTarget, signal?: AbortSignal): Promise<HostKeyScan>;
  /** Closes every connection. */
  close(): Promise<void>;
}
