/**
 * The SSH layer's failures as CroniumErrors with the CLI contract's codes
 * (CONNECT_FAILED, CONNECT_TIMEOUT, AUTH_FAILED, HOST_KEY_UNKNOWN, HOST_KEY_MISMATCH),
 * each saying what happened, where, and what to do about it.
 */
import { CroniumError } from '../../shared/errors';
import type { PublicKeyFacts } from './fingerprint';
import type { KnownKey } from './host-key-store';
import type { ChannelFailureKind } from './types';

/** Where a failure happened: a host of the inventory and how it was reached. */
export interface Where {
  name: string;
  address: string;
  port: number;
  /** The jump host the connection went through, if any. */
  via?: string;
}

function at(w: Where): string {
  return `${w.name} (${w.address}:${w.port}${w.via ? ` via ${w.via}` : ''})`;
}

function base(w: Where): Record<string, unknown> {
  return { host: w.name, address: w.address, port: w.port, ...(w.via ? { via: w.via } : {}) };
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** A TCP-level failure (refused, unreachable, DNS); timeouts go through connectTimeout. */
export function tcpFailed(w: Where, err: NodeJS.ErrnoException): CroniumError {
  const code = err.code ?? '';
  const details = { ...base(w), phase: 'tcp', errno: code || undefined };
  if (code === 'ECONNREFUSED') {
    return new CroniumError('CONNECT_FAILED', `cannot connect to ${at(w)}: connection refused`, `nothing accepts connections on port ${w.port} of ${w.address}: check the address and port, and that sshd runs there`, { ...details, reason: 'refused' });
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENETDOWN') {
    const what = code === 'ENETUNREACH' || code === 'ENETDOWN' ? 'network unreachable' : 'host unreachable';
    return new CroniumError('CONNECT_FAILED', `cannot connect to ${at(w)}: ${what} (${code})`, 'check that the host is up and routable from here (VPN, firewall, routing)', { ...details, reason: 'unreachable' });
  }
  if (DNS_CODES.has(code)) {
    return new CroniumError('CONNECT_FAILED', `cannot resolve ${w.address} for ${w.name}: DNS lookup failed (${code})`, 'check the spelling of the address, or your DNS / VPN settings', { ...details, reason: 'dns' });
  }
  return new CroniumError('CONNECT_FAILED', `cannot connect to ${at(w)}: ${err.message}`, 'check the address and port, and that the host is reachable', { ...details, reason: 'other' });
}

/** The TCP connect or the SSH handshake took longer than its limit. */
export function connectTimeout(w: Where, phase: 'tcp' | 'handshake' | 'auth', limitMs: number, sawBanner = false): CroniumError {
  if (phase === 'tcp') {
    return new CroniumError('CONNECT_TIMEOUT', `TCP connect to ${at(w)} did not complete within ${limitMs} ms`, 'the host may be down or a firewall may drop the packets; check the address, or raise the connect timeout on a slow network', { ...base(w), phase, timeoutMs: limitMs });
  }
  if (phase === 'auth') {
    return new CroniumError('CONNECT_TIMEOUT', `SSH authentication with ${at(w)} did not complete within ${limitMs} ms (handshake limit)`, 'the server or the ssh-agent is not answering; check the agent (ssh-add -l) and the server load', { ...base(w), phase, timeoutMs: limitMs });
  }
  const message = sawBanner
    ? `SSH handshake with ${at(w)} did not complete within ${limitMs} ms`
    : `${at(w)} accepted the TCP connection but sent no SSH banner within ${limitMs} ms (handshake limit)`;
  const hint = sawBanner ? 'the server is overloaded or the network very slow; try again, or raise the handshake timeout' : 'check that this port runs an SSH server and not something else (a proxy or a stuck sshd)';
  return new CroniumError('CONNECT_TIMEOUT', message, hint, { ...base(w), phase, timeoutMs: limitMs, sawBanner });
}

/** The connection ended before it was ready. */
export function connectionClosed(w: Where, phase: string, reason?: string): CroniumError {
  return new CroniumError(
    'CONNECT_FAILED',
    `${at(w)} closed the connection during the ${phase}${reason ? `: ${reason}` : ''}`,
    phase === 'tcp' || phase === 'banner' ? 'the server refuses new connections (MaxStartups, tcp wrappers, fail2ban?) or this port is not SSH' : 'check the server log (journalctl -u ssh) for why it closed the connection',
    { ...base(w), phase, reason: 'closed', ...(reason ? { detail: reason } : {}) },
  );
}

/** A protocol-level failure (no common algorithm, bad packet, ...). */
export function protocolFailed(w: Where, message: string): CroniumError {
  return new CroniumError('CONNECT_FAILED', `SSH handshake with ${at(w)} failed: ${message}`, 'the server may need algorithms this client does not offer, or this port is not SSH', { ...base(w), phase: 'handshake', reason: 'protocol' });
}

/** A live connection was lost (socket closed, keepalive timeout). */
export function connectionLost(w: Where, reason: string): CroniumError {
  return new CroniumError('CONNECT_FAILED', `the connection to ${at(w)} was lost: ${reason}`, 'the host or the network went away; the next run reconnects', { ...base(w), phase: 'session', reason: 'lost', detail: reason });
}

/** A jump host refused to open the tunnel to the next hop. */
export function forwardFailed(w: Where, hop: string, message: string, reason?: unknown): CroniumError {
  // SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (1): OpenSSH's answer when forwarding is disabled.
  const prohibited = reason === 1 || /prohibited/i.test(message);
  if (prohibited && message === 'open failed') message = 'administratively prohibited';
  return new CroniumError(
    'CONNECT_FAILED',
    `jump host ${hop} could not open a tunnel to ${w.name} (${w.address}:${w.port}): ${message}`,
    prohibited ? `${hop} forbids TCP forwarding (AllowTcpForwarding / DisableForwarding in its sshd_config)` : `check that ${w.address}:${w.port} is reachable from ${hop}`,
    { ...base(w), phase: 'tcp', reason: prohibited ? 'forwarding-prohibited' : 'forward-failed', detail: message },
  );
}

/** One authentication attempt as reported in AUTH_FAILED. */
export interface TriedMethod {
  method: string;
  ok: boolean;
  /** e.g. which key file, how many agent keys. */
  detail?: string;
  /** The signature algorithm used, for key auth (e.g. rsa-sha2-256). */
  signature?: string;
}

/** Every method failed: says which the server offers and which were tried. */
export function authFailed(w: Where, user: string, offered: string[], tried: TriedMethod[], skipped: string[]): CroniumError {
  const offeredText = offered.length ? offered.join(', ') : 'none it named';
  const triedText = tried.length ? tried.map((t) => (t.detail ? `${t.method} (${t.detail})` : t.method)).join(', ') : 'nothing';
  const skippedText = skipped.length ? `; not tried: ${skipped.join('; ')}` : '';
  const triedMethods = new Set(tried.map((t) => (t.method === 'agent' ? 'publickey' : t.method === 'keyboard-interactive' ? 'password' : t.method)));
  let hint: string;
  if (offered.includes('publickey') && !triedMethods.has('publickey')) {
    hint = `the server accepts keys: add the host with --identity FILE, or load a key into your ssh-agent (ssh-add)`;
  } else if ((offered.includes('password') || offered.includes('keyboard-interactive')) && !offered.includes('publickey') && !triedMethods.has('password')) {
    hint = `the server accepts only ${offered.join(', ')}: store a password with --password-stdin`;
  } else {
    hint = `check the user name (${user}), that the public key is in ~${user}/.ssh/authorized_keys on the host, or the stored password`;
  }
  // The built-in client cannot sign with FIDO security keys (sk-…) or certificates in the agent; your own ssh can.
  if (tried.some((t) => t.method === 'agent')) hint += `; a FIDO security key (sk-…) or a certificate in your agent works through your own ssh: cronium hosts set ${w.name} --transport openssh`;
  return new CroniumError('AUTH_FAILED', `authentication as ${user} on ${at(w)} failed: the server offers ${offeredText}; tried ${triedText}${skippedText}`, hint, {
    ...base(w),
    user,
    offered,
    tried: tried.map((t) => t.method),
    attempts: tried,
    ...(skipped.length ? { skipped } : {}),
  });
}

/** The server asked keyboard-interactive questions (a second factor) that nobody answered. */
export function authInteractiveRequired(w: Where, user: string, tried: TriedMethod[], interactive: { prompts: string[]; why: string }): CroniumError {
  const accepted = tried.filter((t) => t.ok && t.method !== 'keyboard-interactive').map((t) => (t.detail ? `${t.method} (${t.detail})` : t.method));
  const asks = interactive.prompts.length ? `asks ${interactive.prompts.map((p) => JSON.stringify(p)).join(', ')}` : 'wants keyboard-interactive answers as well';
  const message = `${at(w)} ${accepted.length ? `accepted ${accepted.join(', ')} for ${user}, then ` : ''}${asks}: ${interactive.why}`;
  return new CroniumError('AUTH_INTERACTIVE_REQUIRED', message, undefined, {
    ...base(w),
    user,
    prompts: interactive.prompts,
    attempts: tried,
  });
}

/** Where OpenSSH keeps the public host key of an algorithm (ssh-ed25519 → ssh_host_ed25519_key.pub). */
function hostKeyFile(algorithm: string): string {
  const kind = algorithm.startsWith('ecdsa-') ? 'ecdsa' : algorithm.replace(/^ssh-|-sha2-.*$/g, '').replace(/-cert-v01@openssh\.com$/, '');
  return `/etc/ssh/ssh_host_${kind}_key.pub`;
}

/** The server's key is not trusted yet. */
export function hostKeyUnknown(w: Where, key: PublicKeyFacts): CroniumError {
  return new CroniumError(
    'HOST_KEY_UNKNOWN',
    `the host key of ${at(w)} is not trusted yet: ${key.algorithm} ${key.fingerprint}`,
    `check the fingerprint out of band (ssh-keygen -lf ${hostKeyFile(key.algorithm)} on the host), then trust it: cronium hosts trust ${w.name} --fingerprint ${key.fingerprint}`,
    { ...base(w), algorithm: key.algorithm, fingerprint: key.fingerprint },
  );
}

/** The server's key differs from the trusted one: a hard failure until re-trusted. */
export function hostKeyMismatch(w: Where, key: PublicKeyFacts, expected: KnownKey[], source: 'pinned' | 'known_hosts', where?: string): CroniumError {
  const old = expected[0];
  const oldText = expected.map((k) => `${k.algorithm} ${k.fingerprint}`).join(', ');
  const from = source === 'pinned' ? 'the key pinned for it' : `the key in ${where ?? 'known_hosts'}`;
  const keyFile = hostKeyFile(key.algorithm);
  const forget = source === 'known_hosts' ? ` and remove the old entry (ssh-keygen -R ${w.port === 22 ? w.address : `'[${w.address}]:${w.port}'`})` : '';
  return new CroniumError(
    'HOST_KEY_MISMATCH',
    `the host key of ${at(w)} has CHANGED: it presents ${key.algorithm} ${key.fingerprint}, but ${from} is ${oldText}. Someone may be intercepting the connection, or the host was reinstalled.`,
    `the key CHANGED from ${old ? old.fingerprint : oldText} to ${key.fingerprint}, so connections stay refused. That means either someone is intercepting the connection (then do not re-trust), or the host was reinstalled or got new keys. If it was reinstalled, check the new fingerprint on the host itself (ssh-keygen -lf ${keyFile}), then re-trust it${forget}: cronium hosts trust ${w.name} --fingerprint ${key.fingerprint}`,
    {
      ...base(w),
      algorithm: key.algorithm,
      fingerprint: key.fingerprint,
      previousFingerprint: old?.fingerprint,
      previousAlgorithm: old?.algorithm,
      expected,
      source,
      ...(where ? { where } : {}),
    },
  );
}

/** The server's key is marked @revoked. */
export function hostKeyRevoked(w: Where, key: PublicKeyFacts, where: string): CroniumError {
  return new CroniumError(
    'HOST_KEY_MISMATCH',
    `the host key of ${at(w)} (${key.algorithm} ${key.fingerprint}) is marked @revoked in ${where}`,
    'a revoked key is never accepted: the host must get a new key, and the revoked one must stay out of use',
    { ...base(w), algorithm: key.algorithm, fingerprint: key.fingerprint, revoked: true, where },
  );
}

/** The channel types of SshChannelError. */
export type ChannelType = 'session' | 'sftp' | 'direct-tcpip' | 'tcpip-forward';

/**
 * A channel (session, SFTP, forwarding) could not be had on a live connection. Code
 * CONNECT_FAILED, as before for refused sessions; `kind` says what went wrong (see
 * ChannelFailureKind in types.ts), `reason` is the SSH_MSG_CHANNEL_OPEN_FAILURE reason code
 * when the server sent one (1 prohibited, 2 connect failed, 3 unknown type, 4 resource
 * shortage), and `description` the server's (or ssh2's) own words.
 */
export class SshChannelError extends CroniumError {
  constructor(
    readonly kind: ChannelFailureKind,
    readonly channel: ChannelType,
    readonly description: string,
    readonly reason: number | undefined,
    message: string,
    hint: string,
    details: Record<string, unknown>,
  ) {
    super('CONNECT_FAILED', message, hint, { ...details, channel, kind, ...(reason !== undefined ? { openFailureReason: reason } : {}), detail: description });
  }
}

/** The description of a channel-open failure, without ssh2's prefix ("open failed" made readable for reason 1). */
export function openFailureText(err: Error & { reason?: unknown }): string {
  const text = err.message.replace(/^\(SSH\) Channel open failure: ?/, '');
  if (err.reason === 1 && (text === 'open failed' || text === '')) return 'administratively prohibited';
  return text || 'open failed';
}

/** A session (channel) could not be opened on a live connection. */
export function sessionRefused(w: Where, message: string, channel: 'session' | 'sftp' = 'session', reason?: number): SshChannelError {
  return new SshChannelError('refused-session', channel, message, reason, `${at(w)} refused to open a session: ${message}`, 'the server limits sessions per connection (MaxSessions) or is shutting down; try again', {
    ...base(w),
    phase: 'session',
    reason: 'session-refused',
  });
}

/** The session opened but the server has no SFTP subsystem. */
export function sftpUnavailable(w: Where, description: string, hint?: string): SshChannelError {
  return new SshChannelError('unavailable', 'sftp', description, undefined, `${at(w)} does not offer SFTP: ${description}`, hint ?? 'enable it in the server\'s sshd_config (Subsystem sftp internal-sftp); uploads can stream over exec instead', {
    ...base(w),
    phase: 'session',
    reason: 'sftp-unavailable',
  });
}

/** A direct-tcpip channel to host:port was not opened. */
export function forwardOutFailed(w: Where, host: string, port: number, err: Error & { reason?: unknown }): SshChannelError {
  const reason = typeof err.reason === 'number' ? err.reason : undefined;
  const description = openFailureText(err);
  const kind: ChannelFailureKind = reason === 1 || /prohibited/i.test(description) ? 'prohibited' : reason === 2 ? 'connect-failed' : 'failed';
  const hint =
    kind === 'prohibited'
      ? `${w.name} forbids TCP forwarding (AllowTcpForwarding / DisableForwarding in its sshd_config)`
      : kind === 'connect-failed'
        ? `forwarding is allowed, but nothing accepted the connection at ${host}:${port} as seen from ${w.name}`
        : `check that ${host}:${port} is reachable from ${w.name}`;
  return new SshChannelError(kind, 'direct-tcpip', description, reason, `${at(w)} could not open a TCP connection to ${host}:${port}: ${description}`, hint, {
    ...base(w),
    phase: 'channel',
    reason: kind === 'prohibited' ? 'forwarding-prohibited' : 'forward-failed',
    destination: `${host}:${port}`,
  });
}

/** A tcpip-forward request was refused (forwarding disabled, or the port cannot be bound there). */
export function forwardInFailed(w: Where, bindAddr: string, port: number, description: string): SshChannelError {
  return new SshChannelError(
    'prohibited',
    'tcpip-forward',
    description,
    undefined,
    `${at(w)} refused to listen on ${bindAddr}:${port} for us: ${description}`,
    `${w.name} forbids remote forwarding (AllowTcpForwarding / DisableForwarding in its sshd_config), or ${bindAddr}:${port} is taken there`,
    { ...base(w), phase: 'channel', reason: 'forwarding-prohibited', listen: `${bindAddr}:${port}` },
  );
}

/** An SFTP operation failed; `status` is the SFTP status code (2 no such file, 3 permission denied, 4 failure, ...). */
export class SftpError extends Error {
  override readonly name = 'SftpError';
  constructor(
    readonly op: string,
    readonly path: string,
    readonly status: number | undefined,
    message: string,
  ) {
    super(`sftp ${op} ${path}: ${message}`);
  }
}
