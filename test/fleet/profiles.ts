// What each fleet profile changes: its account and its sshd_config.
import type { UserSpec } from './users';

/** Every profile a default fleet starts, in that order. */
export const PROFILES = ['default', 'nosftp', 'noforward', 'noexec', 'nobash', 'noisy', 'maxsessions1', 'password', 'bastion', 'inner', 'rekey'] as const;
/**
 * Profiles only started when asked for. gatewayports: `GatewayPorts yes`, so sshd binds remote
 * forwards on every address; it runs in the loopback-only network namespace (where "every
 * address" is loopback), reached through a bridge like the bastion.
 */
export const OPT_IN_PROFILES = ['gatewayports', 'cachetiny', 'cachesmall', 'sudonopass', 'sudopass', 'sudotty', 'sudonone', 'sudodoas', 'sudosu', 'dropbear', 'tinyssh', 'busybox', 'otp', 'cert'] as const;

/**
 * The SSH server a profile runs. dropbear: Debian's Dropbear (no sftp-server: it looks for
 * /usr/lib/sftp-server, which no Debian package installs, as on routers), public keys from
 * ~/.ssh/authorized_keys only. tinyssh: Debian's tinysshd behind socat (one process per
 * connection, as from inetd): ed25519 only, no SFTP, no forwarding, one session channel per
 * connection. busybox: OpenSSH with `ChrootDirectory` on a root whose whole userland is BusyBox
 * (busybox-static and its applet links: no bash, python, openssl or getconf).
 */
export type ServerKind = 'openssh' | 'dropbear' | 'tinyssh';
export function serverKind(profile: Profile): ServerKind {
  return profile === 'dropbear' || profile === 'tinyssh' ? profile : 'openssh';
}

/**
 * Opt-in profiles whose account's ~/.cache (the runner's cache and its runs' spools) is a small
 * tmpfs in the sshd's own mount namespace: cachetiny (2 MiB) cannot take the runner at all,
 * cachesmall (8 MiB) takes it with about 3 MiB to spare for spools.
 */
export const CACHE_KB: Partial<Record<Profile, number>> = { cachetiny: 2048, cachesmall: 8192 };

/** A kind of restrictive host users meet (see the Test fleet section of DESIGN.md). */
export type Profile = (typeof PROFILES)[number] | (typeof OPT_IN_PROFILES)[number];

/** True for profiles whose sshd runs in the fleet's loopback-only network namespace. */
export function inNetns(profile: Profile): boolean {
  return profile === 'bastion' || profile === 'inner' || profile === 'gatewayports';
}

/** True for netns profiles reachable from outside through a bridge on their host-side address. */
export function bridged(profile: Profile): boolean {
  return profile === 'bastion' || profile === 'gatewayports';
}

/** True for profiles whose sshd needs a private mount namespace. */
export function needsMountNs(profile: Profile): boolean {
  return profile === 'noexec' || profile === 'nobash' || profile === 'sudosu' || profile === 'busybox' || CACHE_KB[profile] !== undefined;
}

/**
 * The account a profile logs in as; hosts of one profile share it. CRONIUM_FLEET_ACCOUNT_PREFIX
 * (default `crf`) lets test runs that happen at once (each in its own loopback-only network
 * namespace) use accounts of their own, so one run's password reset never reaches another's.
 */
export function userSpecFor(profile: Profile): UserSpec {
  const prefix = process.env.CRONIUM_FLEET_ACCOUNT_PREFIX ?? 'crf';
  if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) throw new Error(`test fleet: CRONIUM_FLEET_ACCOUNT_PREFIX must be 1-8 lowercase letters or digits, got ${JSON.stringify(prefix)}`);
  return {
    name: `${prefix}-${profile}`,
    shell: profile === 'nobash' || profile === 'busybox' ? '/bin/sh' : '/bin/bash',
    noisy: profile === 'noisy',
    password: profile === 'password',
    otp: profile === 'otp',
    // Dropbear and TinySSH read ~/.ssh/authorized_keys and nothing else.
    ownKeysFile: serverKind(profile) === 'openssh',
    ...(SUDO[profile] ? { sudo: SUDO[profile] } : {}),
  };
}

/**
 * The sudoers rules of the opt-in sudo profiles (the account becomes root on this machine: the
 * file /etc/sudoers.d/cronium-fleet-ACCOUNT is written at start and removed with the fleet):
 * sudonopass NOPASSWD; sudopass with the account's own (random, per start) password, and sudo's
 * lecture every time; sudotty NOPASSWD but requiretty; sudonone no rule at all (a password, so that
 * sudo gets as far as saying the account is not in the sudoers file); sudodoas a doas.conf line
 * (permit nopass ACCOUNT as root) instead of sudoers.
 */
export const SUDO: Partial<Record<Profile, 'nopass' | 'pass' | 'tty' | 'none' | 'doas'>> = { sudonopass: 'nopass', sudopass: 'pass', sudotty: 'tty', sudonone: 'none', sudodoas: 'doas' };

/** The sudoers file text of a sudo profile's account. */
export function sudoersFor(account: string, kind: 'nopass' | 'pass' | 'tty' | 'none'): string {
  const lines = [`# Cronium test fleet: ${kind}`, `Defaults:${account} !mail_no_user, !mail_badpass, !lecture_file`];
  if (kind === 'nopass') lines.push(`${account} ALL=(root) NOPASSWD: ALL`);
  if (kind === 'pass') lines.push(`Defaults:${account} lecture=always, passwd_tries=3`, `${account} ALL=(root) ALL`);
  if (kind === 'tty') lines.push(`Defaults:${account} requiretty`, `${account} ALL=(root) NOPASSWD: ALL`);
  return `${lines.join('\n')}\n`;
}

/** Inputs for one host's sshd_config. */
export interface SshdConfigInput {
  name: string;
  profile: Profile;
  address: string;
  /** More addresses the same sshd listens on (a packed fleet), at most 15. */
  extraAddresses?: string[];
  port: number;
  hostKeyPath: string;
  user: string;
  fleetId: string;
  /** [major, minor] of the installed sshd, for options that only newer versions know. */
  version: [number, number];
  /** The busybox profile's root (root-owned all the way up, as sshd requires). */
  chrootDir?: string;
  /** The cert profile: the user CA's public key file and the host certificate. */
  userCaPath?: string;
  hostCertPath?: string;
}

/** Renders the sshd_config for one host. */
export function renderSshdConfig(c: SshdConfigInput): string {
  const password = c.profile === 'password';
  const lines = [
    `# Cronium test fleet: host ${c.name}, profile ${c.profile}.`,
    `ListenAddress ${c.address}:${c.port}`,
    ...(c.extraAddresses ?? []).map((a) => `ListenAddress ${a}:${c.port}`),
    `HostKey ${c.hostKeyPath}`,
    'PidFile none',
    'UsePAM no',
    'StrictModes yes',
    'LogLevel VERBOSE',
    'PermitRootLogin no',
    // Only the fleet account may log in, whatever else exists on the machine.
    `AllowUsers ${c.user}`,
    // The per-fleet file holds this fleet's client key; the standard file stays for code under test.
    `AuthorizedKeysFile .ssh/authorized_keys .ssh/cronium-fleet-${c.fleetId}.keys`,
    `PubkeyAuthentication ${password ? 'no' : 'yes'}`,
    `PasswordAuthentication ${password ? 'yes' : 'no'}`,
    `KbdInteractiveAuthentication ${password ? 'yes' : 'no'}`,
    'PermitEmptyPasswords no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'X11Forwarding no',
  ];
  // OpenSSH 9.8+ penalizes sources after failed logins; tests fail logins on purpose from 127.0.0.1.
  if (c.version[0] > 9 || (c.version[0] === 9 && c.version[1] >= 8)) lines.push('PerSourcePenalties no');
  if (c.profile === 'noforward') lines.push('AllowTcpForwarding no', 'AllowStreamLocalForwarding no', 'DisableForwarding yes');
  else lines.push('AllowTcpForwarding yes');
  if (c.profile === 'maxsessions1') lines.push('MaxSessions 1');
  // A packed sshd stands for 16 servers: 16 times the default MaxStartups (10:30:100).
  if (c.extraAddresses?.length) lines.push(`MaxStartups ${10 * (1 + c.extraAddresses.length)}:30:${100 * (1 + c.extraAddresses.length)}`);
  // otp: the key, then a one-time code asked by PAM (google-authenticator's "Verification code: "),
  // under a PAM service of its own (sshd names it after its program name; see fleet.ts startHost).
  if (c.profile === 'otp') {
    for (const [k, v] of [['UsePAM', 'yes'], ['KbdInteractiveAuthentication', 'yes']] as const) {
      const i = lines.findIndex((l) => l.startsWith(`${k} `));
      lines[i] = `${k} ${v}`;
    }
    lines.push('AuthenticationMethods publickey,keyboard-interactive');
  }
  if (c.profile === 'gatewayports') lines.push('GatewayPorts yes');
  if (c.profile !== 'nosftp') lines.push('Subsystem sftp internal-sftp');
  if (c.chrootDir) lines.push(`ChrootDirectory ${c.chrootDir}`);
  // cert: certificate-only user auth (no authorized_keys at all) and a host certificate.
  if (c.userCaPath && c.hostCertPath) {
    const i = lines.findIndex((l) => l.startsWith('AuthorizedKeysFile '));
    lines[i] = 'AuthorizedKeysFile none';
    lines.push(`TrustedUserCAKeys ${c.userCaPath}`, `HostCertificate ${c.hostCertPath}`);
  }
  return `${lines.join('\n')}\n`;
}
