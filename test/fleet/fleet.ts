// Test fleet: real OpenSSH sshd processes on loopback, one per host, for integration tests and benchmarks.
//
//   const fleet = await startFleet();                  // one host of every profile (needs root)
//   execFileSync('ssh', ['-F', `${fleet.dir}/ssh_config`, 'default', 'echo ok']);
//   fleet.host('password').password;                   // random per start
//   await fleet.rotateHostKey('rekey');                // clients with the old known_hosts now fail
//   await fleet.authorize('default', pubKeyLine);      // one more client key for that host's account
//   await fleet.stop();                                // also runs on exit / SIGINT / SIGTERM / SIGHUP
//
// From a shell: `npm run fleet -- up` (see cli.ts), then `ssh -F <dir>/ssh_config <host>`.
//
// Every host gets its own address 127.<subnet>.<i>.<j>, port 22, an ed25519 host key, an
// sshd_config and a `crf-<profile>` account (created with useradd on first use, reused later).
// Everything a fleet writes lives in its dir (default: a fresh `cronium-fleet-*` dir under
// os.tmpdir()), except the accounts and one per-fleet authorized keys file in each account's
// ~/.ssh, which stop() removes. The noexec host covers /tmp with a tmpfs inside its own mount
// namespace and binds the fleet dir back on top, so the dir may live under /tmp.
// The bastion and inner hosts run in a network namespace holding only `lo`; socat bridges the
// bastion's host-side address to it through a unix socket, so inner is reachable only by ProxyJump.
// rotateHostKey rewrites <dir>/known_hosts; snapshot knownHosts() first to keep the old view.
// Only processes this module spawned (and their descendants) are ever signalled, by PID. Besides
// the exit hooks, daemons get a parent-death signal (setpriv --pdeathsig) and the next startFleet
// removes the dir, netns and key files of fleets whose owner died (SIGKILL).
// Fleets that run at the same time must use different subnets; they share the accounts, and the
// password host's password is reset by each start.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { appendFile, chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprintOf, generateKey, type PublicKeyInfo } from './keys';
import { isRunning, processStartTime, processTable, run, runSyncQuiet, sleep, terminate, terminateSync, type ProcessRecord } from './proc';
import { bridged, CACHE_KB, inNetns, needsMountNs, OPT_IN_PROFILES, PROFILES, renderSshdConfig, serverKind, userSpecFor, type Profile } from './profiles';
import { assertPortFree, createNetns, findSshd, listenCount, logTail, MOUNT_NS_SCRIPT, readBanner, readBannerInNetns, sshdVersion, waitForBanner } from './sshd';
import { ensureUser, removeDoasLines, type FleetUser } from './users';

/** Profile names and the banner line of the noisy host, re-exported so tests import one module. */
export type { Profile } from './profiles';
export { PROFILES } from './profiles';
export { NOISY_BANNER } from './users';

/** One running sshd of the fleet. */
export interface FleetHost {
  name: string;
  profile: Profile;
  /** Where to connect; for a host behind a jump host, the address as seen from that jump host. */
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  password?: string;
  /** A sudopass host: the account's own password, which sudo asks for. */
  sudoPassword?: string;
  /** A sudosu host: root's password inside that host (its own copy of /etc/shadow), which su asks for. */
  rootPassword?: string;
  /** An otp host: the account's TOTP secret (base32; codes: oathtool --totp -b SECRET). */
  otpSecret?: string;
  /** A cert host: the client's user certificate (for the fleet's client key) and the known_hosts line trusting its host CA. */
  certificateFile?: string;
  hostCaLine?: string;
  /** 'SHA256:...' */
  hostKeyFingerprint: string;
  /** 'ssh-ed25519 AAAA...' */
  hostPublicKey: string;
  knownHostsLine: string;
  /** Name of the bastion host to jump through. */
  jump?: string;
  pid: number;
}

/** One host to start. */
export interface FleetSpec {
  name: string;
  profile: Profile;
}

/** Options for startFleet. */
export interface StartFleetOptions {
  /** Default: one host of every profile, named after it (bastion and inner together). */
  hosts?: FleetSpec[];
  /** Extra 'default' hosts named default-1..default-N (at most 1,000), for benchmarks. */
  defaults?: number;
  /**
   * The `defaults` hosts share one sshd per 16 addresses (the most one OpenSSH sshd listens on)
   * and its host key, each host still its own address: 1,000 hosts take 63 sshd processes instead
   * of 1,000. Each such sshd allows 16 times the default MaxStartups, as 16 separate servers would.
   */
  packed?: boolean;
  /** Second address octet, 1..254; default 201. */
  subnet?: number;
  /** Fleet dir; created if missing, must be empty. Default: a fresh dir under os.tmpdir(). */
  dir?: string;
  /** Leave the sshds running when this process exits (for the CLI); stop them later with stopFleetState(). */
  persistent?: boolean;
}

/** Everything needed to stop a fleet from another process (what the CLI keeps in its state file). */
export interface FleetState {
  version: 1;
  id: string;
  dir: string;
  /** Left running on purpose when the owner exits (CLI); never reaped as an orphan. */
  persistent: boolean;
  /** The process that started the fleet; when it is gone, a later startFleet reaps what it left. */
  owner?: ProcessRecord;
  netns?: string;
  processes: ProcessRecord[];
  keyFiles: string[];
  /** Whether this fleet added lines to /etc/doas.conf (the sudodoas profile), removed again on stop. */
  doasLines?: boolean;
  hosts: FleetHost[];
}

/** A running fleet. */
export interface Fleet {
  dir: string;
  hosts: FleetHost[];
  /** The host with that name; throws if there is none. */
  host(name: string): FleetHost;
  /** OpenSSH client config for every host (also written to <dir>/ssh_config). */
  sshConfig(): string;
  /** known_hosts for every host (also written to <dir>/known_hosts, and rewritten by rotateHostKey). */
  knownHosts(): string;
  /** Gives the host a new host key and restarts its sshd (SIGHUP, same PID). */
  rotateHostKey(name: string): Promise<{ oldFingerprint: string; newFingerprint: string }>;
  /**
   * Authorizes one more client public key ('type base64 [comment]') for the host's account. Hosts of
   * one profile share the account, so the key works on all of them; stop() removes it with the fleet.
   */
  authorize(name: string, publicKeyLine: string): Promise<void>;
  /** PIDs of the host's per-connection sshd processes (the children of its listener). */
  sessions(name: string): number[];
  /** Cuts every SSH connection of the host (SIGKILL of its per-connection sshd processes); returns how many. */
  killSessions(name: string): number;
  /** The host's sshd dies with its connections (SIGKILL), as on a crash; `start` brings it back. */
  crash(name: string): Promise<void>;
  /** Starts a crashed host's sshd again (same address, key and config) and waits for its banner. */
  start(name: string): Promise<void>;
  /** Kills every process of the fleet, deletes its netns, key files and dir. Idempotent. */
  stop(): Promise<void>;
  /** Serializable state for stopping the fleet from another process. */
  state(): FleetState;
}

const DEFAULT_SUBNET = 201;
const PORT = 22;
const READY_TIMEOUT_MS = 10_000;
const STATE_FILE = 'fleet-state.json';
const active = new Set<FleetImpl>();
let exitHooksInstalled = false;

interface Daemon {
  child: ChildProcess;
  record: ProcessRecord;
  exited: Promise<void>;
  alive(): boolean;
}

interface HostRuntime {
  host: FleetHost;
  hostDir: string;
  keyPath: string;
  configPath: string;
  logPath: string;
  netns?: string;
  user?: FleetUser;
  daemon?: Daemon;
  /** The socat bridge into the netns, for a bastion: the host is only reachable while it runs. */
  bridges: Daemon[];
  /** The busybox profile's root directory. */
  chrootDir?: string;
  /** The otp profile's PAM service (and the name of the link to sshd it runs as). */
  pamService?: string;
  /** A packed host: the runtime whose sshd listens on this host's address too (and whose key it has). */
  leader?: HostRuntime;
  /** A packed leader: the other addresses its sshd listens on. */
  extraAddresses?: string[];
}

/** How many addresses one OpenSSH sshd listens on at most (MAX_LISTEN_SOCKS). */
const ADDRESSES_PER_SSHD = 16;

/** The otp profile's PAM stack: a TOTP code from ~/.google_authenticator, nothing else. */
const OTP_PAM = `# Cronium test fleet: the otp profile (removed with its fleet).
auth required pam_google_authenticator.so
account required pam_permit.so
session required pam_permit.so
`;

/** Where busybox hosts' roots live: sshd wants every component of a ChrootDirectory root-owned and not group or world writable, which os.tmpdir() is not. */
const CHROOTS_DIR = '/var/lib/cronium-fleet/chroots';

/** Run before Dropbear in its mount namespace: hides the sftp-server it would run (see startHost). */
const HIDE_SFTP_SERVER_SCRIPT = `set -eu
if [ -e /usr/lib/sftp-server ]; then
  dir=$(dirname "$(readlink -f /usr/lib/sftp-server)")
  if [ "$dir" = /usr/lib ]; then echo "test fleet: /usr/lib/sftp-server is a plain file; cannot hide it" >&2; exit 1; fi
  mount -t tmpfs -o mode=0755,size=1m cronium-fleet "$dir"
fi
exec "$@"
`;

/** The command names of a host's listener and per-connection server processes, by server kind. */
const SERVER_COMMS = new Set(['sshd', 'dropbear', 'socat', 'tinysshd']);

/** Quotes a path for ssh_config when it contains whitespace. */
function cfgPath(p: string): string {
  return /\s/.test(p) ? `"${p}"` : p;
}

/** The i-th fleet address: 127.<subnet>.1.1, 127.<subnet>.1.2, ... 250 hosts per third octet. */
function addressFor(subnet: number, index: number): string {
  return `127.${subnet}.${1 + Math.floor(index / 250)}.${1 + (index % 250)}`;
}

/** Runs fn over items with at most `limit` in flight (ssh-keygen for 200 hosts on 2 cores). */
async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Awaits all promises, then rethrows the first failure (so nothing is left running unobserved). */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Stops a fleet described by its state: processes by PID (plus descendants), netns, key files, dir. */
export async function stopFleetState(state: FleetState): Promise<void> {
  await terminate(state.processes);
  if (state.netns) await run('ip', ['netns', 'delete', state.netns]).catch(() => undefined);
  // keyFiles also holds busybox hosts' root directories (never mounted on outside their sshd's namespace).
  for (const file of state.keyFiles) await rm(file, { force: true, recursive: true });
  removeDoasLines(state.doasLines ? [state.id] : []);
  await rm(state.dir, { recursive: true, force: true });
}

/** Synchronous stopFleetState for exit handlers: signals without waiting. */
export function stopFleetStateSync(state: FleetState): void {
  terminateSync(state.processes);
  if (state.netns) runSyncQuiet('ip', ['netns', 'delete', state.netns]);
  for (const file of state.keyFiles) rmSync(file, { force: true, recursive: true });
  removeDoasLines(state.doasLines ? [state.id] : []);
  rmSync(state.dir, { recursive: true, force: true });
}

/**
 * Stops fleets under os.tmpdir() whose owning process died without stopping them (SIGKILL, crash):
 * their daemons (identified by PID and start time), netns, key files and dir.
 */
async function reapOrphans(): Promise<void> {
  const base = tmpdir();
  for (const name of await readdir(base)) {
    if (!name.startsWith('cronium-fleet-')) continue;
    let state: FleetState;
    try {
      state = JSON.parse(await readFile(join(base, name, STATE_FILE), 'utf8')) as FleetState;
    } catch {
      continue;
    }
    if (state.version !== 1 || state.persistent || !state.owner || isRunning(state.owner) || state.dir !== join(base, name)) continue;
    await stopFleetState(state);
  }
}

/** Stops live fleets when the process ends; re-raises the signal so the default exit still happens. */
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const fleet of active) fleet.stopSync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      for (const fleet of active) fleet.stopSync();
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

class FleetImpl implements Fleet {
  readonly hosts: FleetHost[] = [];
  readonly runtimes = new Map<string, HostRuntime>();
  readonly daemons: Daemon[] = [];
  readonly keyFiles: string[] = [];
  doasLines = false;
  netns?: string;
  private stopping?: Promise<void>;
  private stopped = false;

  constructor(
    readonly id: string,
    readonly dir: string,
    readonly persistent: boolean,
  ) {}

  host(name: string): FleetHost {
    const rt = this.runtimes.get(name);
    if (!rt) throw new Error(`test fleet: no host named "${name}" (have: ${this.hosts.map((h) => h.name).join(', ')})`);
    return rt.host;
  }

  sshConfig(): string {
    const out = [`# Cronium test fleet ${this.dir}. Use: ssh -F ${cfgPath(join(this.dir, 'ssh_config'))} <host>`];
    for (const h of this.hosts) {
      const password = h.password !== undefined;
      out.push(
        '',
        `Host ${h.name}`,
        `  HostName ${h.address}`,
        `  Port ${h.port}`,
        `  User ${h.user}`,
        ...(h.identityFile ? [`  IdentityFile ${cfgPath(h.identityFile)}`] : []),
        ...(h.certificateFile ? [`  CertificateFile ${cfgPath(h.certificateFile)}`] : []),
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${cfgPath(join(this.dir, 'known_hosts'))}`,
        '  GlobalKnownHostsFile /dev/null',
        '  StrictHostKeyChecking yes',
        '  UpdateHostKeys no',
        `  PubkeyAuthentication ${password ? 'no' : 'yes'}`,
        `  PasswordAuthentication ${password ? 'yes' : 'no'}`,
        `  KbdInteractiveAuthentication ${password || h.otpSecret ? 'yes' : 'no'}`,
        ...(password ? ['  PreferredAuthentications password,keyboard-interactive'] : []),
        ...(h.jump ? [`  ProxyJump ${h.jump}`] : []),
      );
    }
    return `${out.join('\n')}\n`;
  }

  knownHosts(): string {
    // A cert host is known by its CA only: its plain key is in no known_hosts.
    return this.hosts.map((h) => `${h.hostCaLine ?? h.knownHostsLine}\n`).join('');
  }

  /** Writes ssh_config and known_hosts into the fleet dir. */
  async writeClientFiles(): Promise<void> {
    await writeFile(join(this.dir, 'ssh_config'), this.sshConfig(), { mode: 0o600 });
    await writeFile(join(this.dir, 'known_hosts'), this.knownHosts(), { mode: 0o600 });
  }

  async rotateHostKey(name: string): Promise<{ oldFingerprint: string; newFingerprint: string }> {
    const rt = this.runtimes.get(name);
    if (!rt?.daemon) throw new Error(`test fleet: no running host named "${name}"`);
    if (serverKind(rt.host.profile) !== 'openssh') throw new Error(`test fleet: rotateHostKey is for OpenSSH hosts, not ${rt.host.profile}`);
    const daemon = rt.daemon;
    const oldFingerprint = rt.host.hostKeyFingerprint;
    const key = await generateKey(rt.keyPath, `${name}@cronium-fleet`);
    const before = await listenCount(rt.logPath);
    // SIGHUP makes sshd re-exec itself (same PID, same namespaces) and load the new key.
    process.kill(daemon.record.pid, 'SIGHUP');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ((await listenCount(rt.logPath)) <= before) {
      if (!daemon.alive() || Date.now() > deadline) throw new Error(`test fleet: ${name} did not restart after SIGHUP. Log tail:\n${await logTail(rt.logPath)}`);
      await sleep(20);
    }
    await this.waitReady(rt);
    this.applyKey(rt, key.publicKey, key.fingerprint);
    await this.writeClientFiles();
    return { oldFingerprint, newFingerprint: key.fingerprint };
  }

  async authorize(name: string, publicKeyLine: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt?.user) throw new Error(`test fleet: no running host named "${name}"`);
    const line = publicKeyLine.trim();
    if (!/^[a-z0-9@.-]+ [A-Za-z0-9+/]+=*( [^\n]*)?$/.test(line)) throw new Error(`test fleet: not a public key line: ${line.slice(0, 60)}`);
    // The per-fleet keys file keeps its owner and mode when root appends to it.
    await appendFile(rt.user.keysFile, `${line}\n`);
  }

  /** Records a host's (new) public key in its FleetHost. */
  applyKey(rt: HostRuntime, publicKey: string, fingerprint: string): void {
    const h = rt.host;
    h.hostPublicKey = publicKey;
    h.hostKeyFingerprint = fingerprint;
    h.knownHostsLine = `${h.port === 22 ? h.address : `[${h.address}]:${h.port}`} ${publicKey}`;
  }

  /** Waits for the host's banner: directly, or from inside the netns for a host behind the bastion. */
  async waitReady(rt: HostRuntime): Promise<void> {
    const daemon = rt.daemon;
    if (!daemon) throw new Error(`test fleet: ${rt.host.name} was never started`);
    const { address, port } = rt.host;
    const netns = rt.netns;
    const viaNetns = netns !== undefined && !bridged(rt.host.profile);
    await waitForBanner(() => (viaNetns ? readBannerInNetns(netns, address, port) : readBanner(address, port)), {
      timeoutMs: READY_TIMEOUT_MS + 50 * this.hosts.length,
      alive: () => daemon.alive() && rt.bridges.every((d) => d.alive()),
      what: `sshd for ${rt.host.name} (${address}:${port}, pid ${daemon.record.pid})`,
      logPaths: [rt.logPath, ...(rt.bridges.length > 0 ? [join(rt.hostDir, 'bridge.log')] : [])],
    });
  }

  /** The pid of the host's listening sshd: the daemon itself, or the sshd under its namespace wrappers. */
  private listener(name: string): number {
    const rt = this.runtimes.get(name);
    if (!rt?.daemon?.alive()) throw new Error(`test fleet: no running host named "${name}"`);
    const table = processTable();
    let pid = rt.daemon.record.pid;
    // unshare / ip netns exec / sh exec or fork into sshd: follow single children down to it.
    const want = serverKind(rt.host.profile) === 'tinyssh' ? 'socat' : serverKind(rt.host.profile) === 'dropbear' ? 'dropbear' : 'sshd';
    for (let depth = 0; depth < 5 && comm(pid) !== want; depth++) {
      const kids = [...table].filter(([, st]) => st.ppid === pid).map(([p]) => p);
      if (kids.length !== 1) break;
      pid = kids[0]!;
    }
    return pid;
  }

  sessions(name: string): number[] {
    const listener = this.listener(name);
    return [...processTable()].filter(([, st]) => st.ppid === listener && st.state !== 'Z').map(([p]) => p);
  }

  killSessions(name: string): number {
    // Each connection is a privileged monitor (the listener's child) and an unprivileged child
    // that holds the socket: kill every sshd process under the listener (collected before any
    // dies, as orphans are re-parented), never the user's own processes below them.
    const listener = this.listener(name);
    const table = processTable();
    const sessions = this.sessions(name);
    const doomed = new Set<number>();
    const queue = [...sessions];
    while (queue.length) {
      const pid = queue.shift()!;
      if (SERVER_COMMS.has(comm(pid)) && pid !== listener) doomed.add(pid);
      for (const [child, st] of table) if (st.ppid === pid) queue.push(child);
    }
    for (const pid of doomed) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    return sessions.length;
  }

  async crash(name: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt?.daemon) throw new Error(`test fleet: no running host named "${name}"`);
    // The listener and its connections die; what runs under them (a detached runner) does not,
    // as when sshd crashes or systemd restarts it (KillMode=process).
    const listener = this.listener(name);
    this.killSessions(name);
    for (const pid of new Set([listener, rt.daemon.record.pid])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await rt.daemon.exited;
  }

  async start(name: string): Promise<void> {
    const rt = this.runtimes.get(name);
    if (!rt) throw new Error(`test fleet: no host named "${name}"`);
    if (rt.daemon?.alive()) throw new Error(`test fleet: ${name} is running`);
    startHost(this, rt, findSshd());
    this.saveState();
    await this.waitReady(rt);
  }

  /** Records the fleet in its dir, so a later startFleet can clean up if this process dies abruptly. */
  saveState(): void {
    writeFileSync(join(this.dir, STATE_FILE), `${JSON.stringify(this.state(), null, 2)}\n`, { mode: 0o600 });
  }

  /** Spawns a long-running process in its own process group with output appended to logPath. */
  spawnDaemon(cmd: string, args: string[], logPath: string, label: string): Daemon {
    const fd = openSync(logPath, 'a', 0o600);
    // Exit hooks do not run on SIGKILL (or when node dies inside its own error handling), so
    // non-persistent daemons also get a parent-death signal; setpriv execs, keeping the PID.
    const argv = this.persistent ? [cmd, ...args] : ['setpriv', '--pdeathsig', 'TERM', '--', cmd, ...args];
    let child: ChildProcess;
    try {
      child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid;
    const startTime = pid === undefined ? undefined : processStartTime(pid);
    if (pid === undefined || startTime === undefined) throw new Error(`test fleet: could not start ${cmd} for ${label}`);
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exited = true;
        resolve();
      });
    });
    child.on('error', () => undefined);
    if (this.persistent) child.unref();
    const daemon: Daemon = { child, record: { pid, startTime, label }, exited: exitedPromise, alive: () => !exited && isRunning({ pid, startTime }) };
    this.daemons.push(daemon);
    return daemon;
  }

  state(): FleetState {
    const ownerStart = processStartTime(process.pid);
    return {
      version: 1,
      id: this.id,
      dir: this.dir,
      persistent: this.persistent,
      owner: ownerStart === undefined ? undefined : { pid: process.pid, startTime: ownerStart, label: 'fleet owner' },
      netns: this.netns,
      processes: this.daemons.map((d) => d.record),
      keyFiles: [...this.keyFiles],
      doasLines: this.doasLines,
      hosts: this.hosts.map((h) => ({ ...h })),
    };
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      active.delete(this);
      await stopFleetState(this.state());
      // Wait until node has reaped its own children, so their PIDs are really gone.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([Promise.all(this.daemons.map((d) => d.exited)), timeout]);
      clearTimeout(timer);
      this.stopped = true;
    })();
    return this.stopping;
  }

  /** Best-effort synchronous stop for exit handlers; also covers an async stop() cut short by exit. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    active.delete(this);
    stopFleetStateSync(this.state());
  }
}

/** Expands and validates the host list: names unique and usable as ssh_config aliases, inner needs a bastion. */
function planHosts(opts: StartFleetOptions): FleetSpec[] {
  const specs = [...(opts.hosts ?? PROFILES.map((p) => ({ name: p, profile: p })))];
  const extra = opts.defaults ?? 0;
  if (!Number.isInteger(extra) || extra < 0 || extra > 1000) throw new Error(`test fleet: defaults must be an integer 0..1000, got ${extra}`);
  for (let i = 1; i <= extra; i++) specs.push({ name: `default-${i}`, profile: 'default' });
  const seen = new Set<string>();
  for (const s of specs) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(s.name)) throw new Error(`test fleet: bad host name "${s.name}" (lowercase letters, digits, dashes)`);
    if (seen.has(s.name)) throw new Error(`test fleet: duplicate host name "${s.name}"`);
    if (![...PROFILES, ...OPT_IN_PROFILES].includes(s.profile)) throw new Error(`test fleet: unknown profile "${s.profile}"`);
    seen.add(s.name);
  }
  if (specs.length === 0) throw new Error('test fleet: no hosts to start');
  if (specs.some((s) => s.profile === 'inner') && !specs.some((s) => s.profile === 'bastion')) throw new Error('test fleet: an inner host needs a bastion host in the same fleet');
  return specs;
}

/** Creates the fleet dir (mode 0700: it holds private keys). */
async function makeFleetDir(dir: string | undefined): Promise<string> {
  if (!dir) return mkdtemp(join(tmpdir(), 'cronium-fleet-'));
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length > 0) throw new Error(`test fleet: dir ${dir} is not empty`);
  await chmod(dir, 0o700);
  return dir;
}

/** Starts a fleet of real sshd processes (as root). See the comment at the top of this file. */
export async function startFleet(opts: StartFleetOptions = {}): Promise<Fleet> {
  if (process.getuid?.() !== 0) throw new Error('test fleet: must run as root (it starts sshd on port 22, creates users and namespaces); try sudo');
  const specs = planHosts(opts);
  const subnet = opts.subnet ?? DEFAULT_SUBNET;
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) throw new Error(`test fleet: subnet must be an integer 1..254, got ${subnet}`);
  const sshd = findSshd();
  await reapOrphans();
  const id = randomBytes(4).toString('hex');
  const dir = await makeFleetDir(opts.dir);
  // socat and sshd take these paths inside option strings where ',' ':' and spaces would split them.
  if (/[\s,:!"'\\]/.test(dir)) throw new Error(`test fleet: dir ${dir} must not contain spaces or any of , : ! " ' \\`);
  const fleet = new FleetImpl(id, dir, opts.persistent ?? false);
  if (!fleet.persistent) {
    installExitHooks();
    active.add(fleet);
  }
  try {
    await startHosts(fleet, specs, subnet, sshd, opts.packed ?? false);
  } catch (err) {
    await fleet.stop();
    throw err;
  }
  return fleet;
}

/** The body of startFleet, split out so any failure can be cleaned up by the caller. */
async function startHosts(fleet: FleetImpl, specs: FleetSpec[], subnet: number, sshd: string, packed: boolean): Promise<void> {
  const { dir, id } = fleet;
  const needsNetns = specs.some((s) => inNetns(s.profile));
  if (needsNetns) fleet.netns = `crf-${id}`;
  fleet.saveState();
  const bastion = specs.find((s) => s.profile === 'bastion')?.name;
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const clientKeyPath = join(dir, 'client_ed25519');

  specs.forEach((spec, i) => {
    const hostDir = join(dir, 'hosts', spec.name);
    const host: FleetHost = {
      name: spec.name,
      profile: spec.profile,
      address: addressFor(subnet, i),
      port: PORT,
      user: userSpecFor(spec.profile).name,
      identityFile: spec.profile === 'password' ? undefined : clientKeyPath,
      hostKeyFingerprint: '',
      hostPublicKey: '',
      knownHostsLine: '',
      jump: spec.profile === 'inner' ? bastion : undefined,
      pid: 0,
    };
    fleet.hosts.push(host);
    fleet.runtimes.set(spec.name, {
      host,
      hostDir,
      keyPath: join(hostDir, 'ssh_host_ed25519_key'),
      configPath: join(hostDir, 'sshd_config'),
      logPath: join(hostDir, 'sshd.log'),
      netns: inNetns(spec.profile) ? fleet.netns : undefined,
      bridges: [],
    });
  });
  const all = [...fleet.runtimes.values()];
  if (packed) {
    const defaults = all.filter((rt) => /^default-\d+$/.test(rt.host.name));
    for (let i = 0; i < defaults.length; i += ADDRESSES_PER_SSHD) {
      const [leader, ...members] = defaults.slice(i, i + ADDRESSES_PER_SSHD);
      leader!.extraAddresses = members.map((m) => m.host.address);
      for (const m of members) m.leader = leader;
    }
  }
  // The hosts that run an sshd of their own (packed members ride on their leader's).
  const runtimes = all.filter((rt) => !rt.leader);
  for (const rt of runtimes) await mkdir(rt.hostDir, { recursive: true, mode: 0o700 });
  for (const rt of runtimes) {
    if (bridged(rt.host.profile) && join(rt.hostDir, 'bridge.sock').length > 100) throw new Error(`test fleet: dir ${dir} is too long for a unix socket path`);
  }

  const profiles = [...new Set(specs.map((s) => s.profile))];
  const users = new Map<Profile, FleetUser>();
  const versionPromise = sshdVersion(sshd);
  const clientKey = generateKey(clientKeyPath, `cronium-fleet-${id}`);
  await settleAll([
    versionPromise,
    // useradd/usermod lock the passwd files, so accounts are prepared one at a time.
    clientKey.then(async (key) => {
      for (const profile of profiles) {
        const user = await ensureUser(userSpecFor(profile), { id, dir, clientPublicKey: key.publicKey });
        users.set(profile, user);
        fleet.keyFiles.push(user.keysFile);
        if (user.sudoersFile) fleet.keyFiles.push(user.sudoersFile);
        if (user.doas) fleet.doasLines = true;
      }
    }),
    mapLimit(runtimes, 8, async (rt) => {
      const key = await hostKeyFor(rt);
      fleet.applyKey(rt, key.publicKey, key.fingerprint);
    }),
    // Hosts inside the netns cannot collide with anything; the bastion's host-side bridge can.
    ...all.filter((rt) => !rt.netns || bridged(rt.host.profile)).map((rt) => assertPortFree(rt.host.address, PORT)),
    ...(fleet.netns ? [createNetns(fleet.netns)] : []),
  ]);
  const version = await versionPromise;

  for (const rt of runtimes) {
    const user = users.get(rt.host.profile);
    if (!user) throw new Error(`test fleet: no account for profile ${rt.host.profile}`);
    rt.user = user;
    rt.host.password = user.password;
    if (user.sudoPassword) rt.host.sudoPassword = user.sudoPassword;
    if (user.otpSecret) rt.host.otpSecret = user.otpSecret;
    if (rt.host.profile === 'otp') {
      // sshd takes its PAM service name from its program name: a link named after this fleet runs it.
      rt.pamService = `sshd-crf-${id}`;
      const pamFile = join('/etc/pam.d', rt.pamService);
      fleet.keyFiles.push(pamFile);
      fleet.saveState();
      await writeFile(pamFile, OTP_PAM, { mode: 0o644 });
    }
    if (rt.host.profile === 'cert') await makeCertificates(rt, user.name, clientKeyPath);
    if (rt.host.profile === 'busybox') {
      rt.chrootDir = join(CHROOTS_DIR, `${id}-${rt.host.name}`);
      fleet.keyFiles.push(rt.chrootDir);
      fleet.saveState();
      await makeBusyboxRoot(rt.chrootDir, user);
    }
    if (serverKind(rt.host.profile) !== 'openssh') continue;
    await writeFile(rt.configPath, renderSshdConfig({ name: rt.host.name, profile: rt.host.profile, address: rt.host.address, ...(rt.extraAddresses?.length ? { extraAddresses: rt.extraAddresses } : {}), port: PORT, hostKeyPath: rt.keyPath, user: user.name, fleetId: id, version, chrootDir: rt.chrootDir, ...(rt.host.profile === 'cert' ? { userCaPath: join(rt.hostDir, 'user_ca.pub'), hostCertPath: `${rt.keyPath}-cert.pub` } : {}) }), { mode: 0o600 });
  }

  for (const rt of runtimes) startHost(fleet, rt, sshd);
  for (const rt of all) {
    if (!rt.leader) continue;
    rt.user = rt.leader.user;
    rt.daemon = rt.leader.daemon;
    rt.host.pid = rt.leader.host.pid;
    fleet.applyKey(rt, rt.leader.host.hostPublicKey, rt.leader.host.hostKeyFingerprint);
  }
  fleet.saveState();
  await mapLimit(all, 64, (rt) => fleet.waitReady(rt));
  await fleet.writeClientFiles();
}

/** A process's command name, or '' once it is gone. */
function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Spawns one host's sshd (in its namespaces) and, for a bastion, the socat bridge into the netns. */
function startHost(fleet: FleetImpl, rt: HostRuntime, sshd: string): void {
  const { host } = rt;
  let program = sshd;
  if (rt.pamService) {
    program = join(rt.hostDir, rt.pamService);
    rmSync(program, { force: true });
    symlinkSync(sshd, program);
  }
  const sshdArgs = [program, '-D', '-e', '-f', rt.configPath];
  let argv: string[];
  const kind = serverKind(host.profile);
  if (kind === 'dropbear') {
    // -s no passwords, -w no root, -m no motd, -E log to stderr, -F foreground.
    // As on a router, no sftp-server: Debian's Dropbear runs /usr/lib/sftp-server, which the
    // openssh-sftp-server package links into /usr/lib/openssh; an empty tmpfs over that directory,
    // in the server's own mount namespace, makes the subsystem exit 127 as where it is missing.
    const dropbear = ['dropbear', '-F', '-E', '-s', '-w', '-m', '-p', `${host.address}:${host.port}`, '-r', `${rt.keyPath}.dropbear`, '-P', join(rt.hostDir, 'dropbear.pid')];
    argv = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', HIDE_SFTP_SERVER_SCRIPT, 'sh', ...dropbear];
  } else if (kind === 'tinyssh') {
    // TinySSH serves one connection on stdio, as from inetd or tcpserver: socat accepts and forks.
    argv = ['socat', `TCP-LISTEN:${host.port},bind=${host.address},fork,reuseaddr`, `EXEC:tinysshd -v ${join(rt.hostDir, 'tinyssh-keys')}`];
  } else if (rt.netns) {
    argv = ['ip', 'netns', 'exec', rt.netns, ...sshdArgs];
  } else if (needsMountNs(host.profile)) {
    const home = rt.user?.home ?? '';
    argv = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', MOUNT_NS_SCRIPT, 'sh', fleet.dir, home, host.profile === 'noexec' ? '1' : '0', host.profile === 'nobash' ? '1' : '0', String(CACHE_KB[host.profile] ?? 0), host.profile === 'sudosu' ? writeRootShadow(rt.hostDir, host) : '-', rt.chrootDir ?? '-', ...sshdArgs];
  } else {
    argv = sshdArgs;
  }
  const [cmd, ...args] = argv as [string, ...string[]];
  rt.daemon = fleet.spawnDaemon(cmd, args, rt.logPath, `sshd ${host.name}`);
  host.pid = rt.daemon.record.pid;

  if (bridged(host.profile) && rt.netns) {
    const sock = join(rt.hostDir, 'bridge.sock');
    const bridgeLog = join(rt.hostDir, 'bridge.log');
    rt.bridges.push(fleet.spawnDaemon('ip', ['netns', 'exec', rt.netns, 'socat', `UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:${host.address}:${host.port}`], bridgeLog, `bridge in ${rt.netns}`));
    rt.bridges.push(fleet.spawnDaemon('socat', [`TCP-LISTEN:${host.port},bind=${host.address},fork,reuseaddr`, `UNIX-CONNECT:${sock}`], bridgeLog, `bridge to ${host.name}`));
  }
}

/**
 * A host key in the form its server reads, and its public half: ssh-keygen's for OpenSSH (and,
 * converted by dropbearconvert, for Dropbear); tinysshd-makekey's key directory for TinySSH.
 */
async function hostKeyFor(rt: HostRuntime): Promise<PublicKeyInfo> {
  const kind = serverKind(rt.host.profile);
  if (kind === 'tinyssh') {
    const keyDir = join(rt.hostDir, 'tinyssh-keys');
    await run('tinysshd-makekey', [keyDir]);
    const line = (await run('tinysshd-printkey', [keyDir])).split('\n').find((l) => l.startsWith('ssh-ed25519 '));
    if (!line) throw new Error(`test fleet: tinysshd-printkey printed no ed25519 key for ${rt.host.name}`);
    const publicKey = line.split(/\s+/).slice(0, 2).join(' ');
    return { publicKey, fingerprint: fingerprintOf(publicKey) };
  }
  const key = await generateKey(rt.keyPath, `${rt.host.name}@cronium-fleet`);
  if (kind === 'dropbear') await run('dropbearconvert', ['openssh', 'dropbear', rt.keyPath, `${rt.keyPath}.dropbear`]);
  return key;
}

/**
 * The busybox host's root: busybox-static and a link for each of its applets, the account's
 * home, /etc/passwd and /etc/group with root and the account, empty /proc, /dev and /tmp (the
 * host's mount namespace mounts them). Root-owned and mode 0755 all the way up, as sshd requires.
 */
async function makeBusyboxRoot(root: string, user: FleetUser): Promise<void> {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('test fleet: busybox not found (apt-get install busybox-static)');
  await mkdir(CHROOTS_DIR, { recursive: true, mode: 0o755 });
  for (const d of ['/var/lib/cronium-fleet', CHROOTS_DIR]) await chmod(d, 0o755);
  await rm(root, { recursive: true, force: true });
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'dev/pts', 'tmp', 'home']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  await copyFile(busybox, join(root, 'bin/busybox'));
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const applet of (await run(busybox, ['--list-full'])).split('\n').filter(Boolean)) {
    if (applet === 'bin/busybox' || applet.includes('..')) continue;
    await symlink('/bin/busybox', join(root, applet)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  const home = join(root, user.home);
  await mkdir(home, { recursive: true, mode: 0o755 });
  await chown(home, user.uid, user.gid);
  await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\n${user.name}:x:${user.uid}:${user.gid}:Cronium test fleet:${user.home}:/bin/sh\n`, { mode: 0o644 });
  await writeFile(join(root, 'etc/group'), `root:x:0:\n${user.name}:x:${user.gid}:\n`, { mode: 0o644 });
}

/**
 * The cert host's certificates, made with ssh-keygen: a user CA that signs the fleet's client key
 * for the account (principal = the account, valid from 5 minutes ago for a day), and a host CA
 * that signs the host key for its address; the client trusts the host by an @cert-authority line.
 */
async function makeCertificates(rt: HostRuntime, account: string, clientKeyPath: string): Promise<void> {
  const userCa = join(rt.hostDir, 'user_ca');
  const hostCa = join(rt.hostDir, 'host_ca');
  await generateKey(userCa, 'cronium-fleet user CA');
  const hostCaKey = await generateKey(hostCa, 'cronium-fleet host CA');
  // The user certificate goes beside a copy of the client key: ssh-keygen names it KEY-cert.pub.
  const certKey = join(rt.hostDir, 'client_for_cert');
  await copyFile(`${clientKeyPath}.pub`, `${certKey}.pub`);
  await run('ssh-keygen', ['-q', '-s', userCa, '-I', `cronium-fleet ${account}`, '-n', account, '-V', '-5m:+1d', `${certKey}.pub`]);
  await run('ssh-keygen', ['-q', '-s', hostCa, '-I', `cronium-fleet host ${rt.host.name}`, '-h', '-n', rt.host.address, '-V', '-5m:+1d', `${rt.keyPath}.pub`]);
  rt.host.certificateFile = `${certKey}-cert.pub`;
  rt.host.hostCaLine = `@cert-authority ${rt.host.address} ${hostCaKey.publicKey}`;
}

/**
 * The sudosu host's /etc/shadow: the machine's, with root's hash replaced by one of a fresh
 * random password (SHA-512 crypt through openssl), bind-mounted over /etc/shadow in that host's
 * mount namespace only.
 */
function writeRootShadow(hostDir: string, host: FleetHost): string {
  const password = `r'${randomBytes(9).toString('base64url')} x`;
  const hash = execFileSync('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n` }).toString().trim();
  const lines = readFileSync('/etc/shadow', 'utf8').split('\n').map((l) => (l.startsWith('root:') ? ['root', hash, ...l.split(':').slice(2)].join(':') : l));
  const path = join(hostDir, 'shadow');
  writeFileSync(path, lines.join('\n'), { mode: 0o640 });
  host.rootPassword = password;
  return path;
}
