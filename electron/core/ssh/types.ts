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
 * - SshConnection: `sftp()`, `forwardOut()` and `forwardIn()`, channels beyond exec (runner
 *   uploads, the helpers' reverse tunnel, diagnostics), with SftpSession, SftpStats and
 *   RemoteForward. An SFTP session takes a session slot like an exec (it queues under
 *   MaxSessions); forwarding channels take none (OpenSSH counts only sessions). Channel
 *   failures are SshChannelErrors (ssh-errors.ts): CroniumErrors with code CONNECT_FAILED
 *   and a `kind` saying which failure it was (ChannelFailureKind), plus the SSH
 *   open-failure reason code when the server sent one.
 * - SshConnection: `execStream()`, an exec whose output is delivered as it arrives (with
 *   backpressure: a callback's pending promise pauses the channel) and whose stdin stays
 *   open on request; it returns an ExecStreamHandle (write/end stdin, send a signal,
 *   close, `done` with ExecExit). Same session-slot accounting as exec. ExecStreamOptions.
 * Errors are CroniumErrors with the CLI contract's codes (see ssh-errors.ts):
 * CONNECT_FAILED, CONNECT_TIMEOUT, AUTH_FAILED, HOST_KEY_UNKNOWN, HOST_KEY_MISMATCH.
 */

import type { Duplex, Readable } from 'node:stream';

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
  /**
   * OpenSSH's ProxyCommand: a local command whose stdin and stdout are the connection to sshd
   * (`%h %p %r %n %%` expanded at connect time). Exclusive with jumps.
   */
  proxyCommand?: string;
  /**
   * Nobody is there to answer a keyboard-interactive prompt (a scheduled run): a server that
   * asks for more than a stored password can answer fails AUTH_INTERACTIVE_REQUIRED at once.
   */
  unattended?: boolean;
  /** The SSH client to connect with (default builtin); openssh: your own ssh, with a ControlMaster. */
  transport?: 'builtin' | 'openssh';
  /** The ssh_config alias (and file, when not ~/.ssh/config) the OpenSSH transport connects through. */
  sshAlias?: string;
  sshConfigFile?: string;
  /**
   * Connection settings from the host's ssh_config, honoured by the built-in transport:
   * knownHostsFiles replace ~/.ssh/known_hosts (with the pinned keys still first), hostKeyAlias is
   * the name looked up there, identityAgent the agent socket ('none': no agent), and the limits.
   */
  options?: { knownHostsFiles?: string[]; hostKeyAlias?: string; identityAgent?: string; connectTimeoutMs?: number; serverAliveIntervalMs?: number };
}

/** One keyboard-interactive round as the server sent it (RFC 4256). */
export interface KbdChallenge {
  /** The host's inventory name. */
  host: string;
  name: string;
  instructions: string;
  /** Each prompt, and whether the answer may be shown as it is typed. */
  prompts: { prompt: string; echo: boolean }[];
  /** A key's passphrase: the person may choose to have it remembered until the app quits (answers carry `remember`). */
  remember?: boolean;
}

/** Answers to a challenge; `remember` when the person chose to have them kept for the session. */
export type KbdAnswers = string[] & { remember?: boolean };

/**
 * Asks a person a keyboard-interactive round: resolves with one answer per prompt; rejects
 * (AUTH_INTERACTIVE_REQUIRED when nobody can or did answer, or the signal's reason).
 */
export type KbdPrompter = (challenge: KbdChallenge, signal: AbortSignal) => Promise<KbdAnswers>;

/** What an exec produced when collected whole. */
export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  /** Exit code, or null when the command died of a signal. */
  code: number | null;
  /** Signal name without SIG, e.g. 'TERM', when killed by one. */
  signal: string | null;
}

/** Attributes of a remote file, as SFTP reports them. */
export interface SftpStats {
  size: number;
  /** Permission bits and file type (st_mode). */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

/**
 * An SFTP session on a pooled connection. It holds one session slot of its connection until
 * closed: close it when done. Failed operations reject with an SftpError (ssh-errors.ts, with
 * the SFTP status code); operations after close, abort or connection loss reject too.
 */
export interface SftpSession {
  /**
   * Creates or truncates `path` and writes `data` to it, then sets its permission bits to
   * exactly `mode` (default 0o644; the server's umask does not apply).
   */
  writeFile(path: string, data: Buffer | Readable, mode?: number): Promise<void>;
  /**
   * Renames `from` to `to`, replacing `to` atomically when the server supports
   * posix-rename@openssh.com (OpenSSH does); otherwise plain SFTP rename, which fails if `to` exists.
   */
  rename(from: string, to: string): Promise<void>;
  /** Follows symlinks. */
  stat(path: string): Promise<SftpStats>;
  unlink(path: string): Promise<void>;
  /** Closes the session and frees its slot; resolves once the server closed the channel. Idempotent. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** A port the server listens on for us (tcpip-forward). */
export interface RemoteForward {
  /** The port the server listens on (the one it chose when 0 was asked for). */
  readonly port: number;
  /** Asks the server to stop listening; connections already handed over stay open. Idempotent. */
  close(): Promise<void>;
}

/** Where a forwarded connection came from, as the server reports it. */
export interface ForwardedConnectionInfo {
  remoteAddress: string;
  remotePort: number;
}

/**
 * Why a channel could not be had (SshChannelError.kind):
 * - refused-session: the server refused the session channel itself and kept refusing after
 *   queueing and retries (MaxSessions reached by another client of the same connection, or
 *   the server is shutting down);
 * - unavailable: the session opened but the server refused the subsystem (no SFTP);
 * - prohibited: forwarding is refused by the server's policy (direct-tcpip reason 1
 *   ADMINISTRATIVELY_PROHIBITED; a failed tcpip-forward request, which OpenSSH also answers
 *   when it cannot bind the port);
 * - connect-failed: direct-tcpip reason 2 CONNECT_FAILED: forwarding is allowed, the server
 *   tried, and nothing accepted the connection at the destination;
 * - failed: anything else (other reason codes, unexpected errors).
 */
export type ChannelFailureKind = 'refused-session' | 'unavailable' | 'prohibited' | 'connect-failed' | 'failed';

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

/** How a streamed command ended. */
export interface ExecExit {
  /** Exit code, or null when the command died of a signal (or the server sent no status). */
  code: number | null;
  /** Signal name without SIG, e.g. 'TERM', when killed by one. */
  signal: string | null;
}

/** Options of a streamed exec. */
export interface ExecStreamOptions {
  /** Aborting closes the channel (and asks the server to KILL the command); `done` then rejects with the reason. */
  signal?: AbortSignal;
  /**
   * Called with each piece of stdout as it arrives. Returning a promise pauses the channel
   * (stdout and stderr, hence the SSH window and the remote writer) until it settles.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
  /** Like onStdout, for stderr. */
  onStderr?: (chunk: Buffer) => void | Promise<void>;
  /** Written to the command's stdin first. */
  stdin?: Buffer | string;
  /** Keep stdin open after `stdin` was written (default: close it): write more or end it through the handle. */
  keepStdinOpen?: boolean;
  /** Environment sent with the env request (servers often refuse; never for secrets). */
  env?: Record<string, string>;
}

/** A running streamed command. */
export interface ExecStreamHandle {
  /** Writes to stdin; false when the channel's buffer is full (wait for `drain()`). */
  write(data: Buffer | string): boolean;
  /** Resolves when stdin can take more. */
  drain(): Promise<void>;
  /** Sends EOF on stdin (idempotent). */
  endStdin(): void;
  /** Asks the server to deliver a signal ('TERM', 'KILL', ...) to the command (OpenSSH 7.9+). */
  signal(name: string): void;
  /** Closes the channel now; `done` still resolves (with what the server reported, if anything). */
  close(): void;
  /** Resolves when the channel closed; rejects when the connection was lost first, or on abort. */
  readonly done: Promise<ExecExit>;
}

/** A live, multiplexed connection to one host. */
export interface SshConnection {
  readonly target: SshTarget;
  /** Runs a command and collects its output. Queues when the server's session limit is reached. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Runs a command and streams its output (see ExecStreamOptions); resolves once the channel
   * is open (queueing for a session slot like exec), with a handle whose `done` settles when it ends.
   */
  execStream(command: string, options?: ExecStreamOptions): Promise<ExecStreamHandle>;
  /**
   * Opens an SFTP session, taking a session slot like exec (queueing when the server's
   * session limit is reached). Aborting the signal stops waiting or opening, and closes an
   * open session. A server without SFTP rejects with kind 'unavailable'.
   */
  sftp(signal?: AbortSignal): Promise<SftpSession>;
  /**
   * Asks the server to open a TCP connection to host:port (direct-tcpip) and returns it as a
   * stream. Takes no session slot. Aborting stops waiting, and destroys an opened stream.
   * Failures: kind 'prohibited' (forwarding disabled), 'connect-failed' (allowed, but nothing
   * accepted at host:port), 'failed'; `reason` holds the SSH open-failure code.
   */
  forwardOut(host: string, port: number, signal?: AbortSignal): Promise<Duplex>;
  /**
   * Asks the server to listen on bindAddr:port (tcpip-forward; port 0: it picks one) and
   * hands every connection made to it to onConnection as a stream. Nothing listens on this
   * machine. Takes no session slot. Aborting stops waiting, and closes an established
   * forward. A refusal rejects with kind 'prohibited'.
   */
  forwardIn(bindAddr: string, port: number, onConnection: (stream: Duplex, info: ForwardedConnectionInfo) => void, signal?: AbortSignal): Promise<RemoteForward>;
  /** Handshake facts, for diagnostics. */
  readonly info: HandshakeInfo;
  /**
   * Calls `fn` whenever a command has to wait for a session slot (the server's limit reached);
   * returns the unsubscribe. What holds an idle session (a resident runner) gives it back. Only
   * connections that multiplex sessions have it.
   */
  onSessionWanted?(fn: () => void): () => void;
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
  /** The client that connected: the built-in one (default) or your own ssh (the OpenSSH transport). */
  transport?: 'builtin' | 'openssh';
  /** The server's host certificate as checked against an @cert-authority line (OpenSSH transport). */
  hostCertificate?: string;
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
  /** Sets (or removes) who is asked keyboard-interactive questions from now on. */
  setPrompter?(prompter: KbdPrompter | undefined): void;
}
