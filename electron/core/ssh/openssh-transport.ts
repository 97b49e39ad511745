/**
 * The second transport: your own OpenSSH client, with one ControlMaster per host (as VS Code
 * Remote-SSH does), for what the built-in one cannot do: certificates (CertificateFile, a
 * `-cert.pub` beside the key, host certificates under `@cert-authority`), PKCS#11, GSSAPI, FIDO
 * keys outside the agent, `Match exec`. ssh reads the host's own ssh_config entry (the alias it
 * was imported from), so it connects exactly as `ssh ALIAS` does.
 *
 * Invariants:
 * - Trust: ssh checks the host key itself with StrictHostKeyChecking=yes against the keys pinned
 *   in Cronium (written to a per-host known_hosts file) and the host's own known_hosts files
 *   (where `@cert-authority` and `@revoked` lines live); nothing is ever accepted on first use.
 * - Never a prompt: BatchMode=yes, so a host that wants a password or a code fails at once
 *   (AUTH_FAILED / AUTH_INTERACTIVE_REQUIRED) instead of waiting on a terminal nobody watches.
 * - Nothing secret on a command line: the commands carry what the built-in transport's would
 *   (the runner's payload and scripts go on stdin).
 * - The master is this process's child, killed with the connection (and on close); a master that
 *   dies makes the connection lost, as a dropped socket does.
 * What it does not do: SFTP (runner deploys and pushes stream over exec instead) and remote
 * forwards (runtime helpers go in-band over the runner's channel).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { CroniumError } from '../../shared/errors';
import { deliveries } from './deliveries';
import { knownHostsName } from './known-hosts';
import { connectionLost, forwardFailed, forwardInFailed, forwardOutFailed, sftpUnavailable, type Where } from './ssh-errors';
import type { ExecExit, ExecOptions, ExecResult, ExecStreamHandle, ExecStreamOptions, HandshakeInfo, HostKeyScan, RemoteForward, SftpSession, SshConnection, SshPool, SshTarget } from './types';

/** What the OpenSSH transport needs from the core. */
export interface OpenSshOptions {
  /** Where control sockets and per-host known_hosts files live (private: 0700). */
  dir: string;
  /** Keys pinned in Cronium for a host, as known_hosts key text ('ssh-ed25519 AAAA…'). */
  pinned: (name: string) => Promise<string[]>;
  /** `@cert-authority PATTERNS KEY` lines of the host CAs trusted in Cronium. */
  cas?: () => Promise<string[]>;
  /** The ssh binary (default: `ssh` on PATH). */
  sshPath?: string;
  /** Limit for the master to connect and authenticate. Default 25 s. */
  connectTimeoutMs?: number;
}

function whereOf(t: SshTarget): Where {
  return { name: t.name, address: t.address, port: t.port };
}

/** The ssh arguments that say where and how to connect (before the destination), and the destination. */
export function sshDestination(target: SshTarget, knownHosts: string): { args: string[]; dest: string } {
  const args: string[] = [];
  if (target.sshConfigFile) args.push('-F', target.sshConfigFile);
  args.push('-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3');
  if (target.sshAlias) return { args, dest: target.sshAlias };
  args.push('-p', String(target.port));
  if (target.user) args.push('-l', target.user);
  if (target.identityFile) args.push('-i', target.identityFile);
  if (target.proxyCommand) args.push('-o', `ProxyCommand=${target.proxyCommand}`);
  else if (target.jumps.length) args.push('-J', target.jumps.map((j) => `${j.user ? `${j.user}@` : ''}${j.address.includes(':') ? `[${j.address}]` : j.address}:${j.port}`).join(','));
  return { args, dest: target.address };
}

/** Pools one OpenSSH ControlMaster per host target. */
export class OpenSshPool implements Pick<SshPool, 'connect' | 'close'> {
  readonly #conns = new Map<string, Promise<OpenSshConnection>>();
  readonly #ssh: string;

  constructor(private readonly opts: OpenSshOptions) {
    this.#ssh = opts.sshPath ?? 'ssh';
  }

  connect(target: SshTarget, signal?: AbortSignal): Promise<OpenSshConnection> {
    const key = createHash('sha256').update(JSON.stringify([target.name, target.address, target.port, target.user, target.sshAlias, target.sshConfigFile])).digest('hex').slice(0, 16);
    const have = this.#conns.get(key);
    if (have) {
      return have.then(
        (c) => (c.alive ? c : this.#dial(key, target, signal)),
        () => this.#dial(key, target, signal),
      );
    }
    return this.#dial(key, target, signal);
  }

  #dial(key: string, target: SshTarget, signal?: AbortSignal): Promise<OpenSshConnection> {
    const p = OpenSshConnection.open(this.#ssh, key, target, this.opts, signal);
    this.#conns.set(key, p);
    p.catch(() => {
      if (this.#conns.get(key) === p) this.#conns.delete(key);
    });
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.#conns.values()];
    this.#conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.closeAndWait(), () => undefined)));
  }
}

/** Facts the master's verbose log gives away: the server, its key or certificate, how we authenticated. */
export function parseMasterLog(log: string): { serverIdent: string; hostKey: HandshakeInfo['hostKey']; hostCertificate?: string; authMethod?: string; offeredCertificate?: string } {
  const ident = /remote software version ([^\s]+)/.exec(log)?.[1];
  const cert = /Server host certificate: (\S+) (SHA256:[^\s,]+),? serial (\d+) ID "([^"]*)" CA (\S+) (SHA256:[^\s,]+),? valid (.+)$/m.exec(log);
  const key = /Server host key: (\S+) (SHA256:\S+)/.exec(log);
  const auth = /Authenticated to .* using "([^"]+)"/.exec(log)?.[1];
  const offered = /Offering public key: .* ([A-Z0-9]+-CERT) (SHA256:\S+)/.exec(log);
  return {
    serverIdent: ident ? `SSH-2.0-${ident}` : '',
    hostKey: cert ? { algorithm: cert[1]!, fingerprint: cert[2]!, trust: 'known_hosts' } : { algorithm: key?.[1] ?? '?', fingerprint: key?.[2] ?? '?', trust: 'known_hosts' },
    ...(cert ? { hostCertificate: `host certificate ID "${cert[4]}" serial ${cert[3]}, signed by CA ${cert[5]} ${cert[6]}, valid ${cert[7]}` } : {}),
    ...(auth ? { authMethod: auth } : {}),
    ...(offered ? { offeredCertificate: `${offered[1]} ${offered[2]}` } : {}),
  };
}

/** Maps a master that would not start to the error a user can act on. */
export function masterFailure(where: Where, stderr: string, hasPinned: boolean): CroniumError {
  const lines = stderr.split('\n').filter((l) => l && !/^debug\d?:/.test(l));
  const said = lines.slice(-4).join(' / ').slice(0, 600) || 'ssh exited without a word';
  const at = `${where.name} (${where.address}:${where.port})`;
  if (/REVOKED HOST KEY|revoked/i.test(stderr) && /Host key verification failed/i.test(stderr)) {
    return new CroniumError('HOST_KEY_MISMATCH', `the host key of ${at} is marked @revoked in a known_hosts file ssh reads: ${said}`, 'a revoked key is never accepted: the host must get a new key, and the revoked one must stay out of use', { ...where, transport: 'openssh', revoked: true });
  }
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|host key for .* has changed|Certificate invalid|certificate .* (expired|not yet valid)|revoked/i.test(stderr)) {
    const changed = /HAS CHANGED|has changed/i.test(stderr) || hasPinned;
    return new CroniumError(changed ? 'HOST_KEY_MISMATCH' : 'HOST_KEY_UNKNOWN', `ssh refused the host key of ${at}: ${said}`, changed ? undefined : `pin it (cronium hosts trust ${where.name}), or trust its certificate authority with an @cert-authority line in your known_hosts`, { ...where, transport: 'openssh' });
  }
  if (/Permission denied/i.test(stderr)) {
    const interactive = /keyboard-interactive/.test(/Permission denied \(([^)]*)\)/.exec(stderr)?.[1] ?? '') && /Authenticated using "publickey" with partial success|Partial publickey/i.test(stderr);
    return new CroniumError(interactive ? 'AUTH_INTERACTIVE_REQUIRED' : 'AUTH_FAILED', `ssh could not log in to ${at}: ${said}`, interactive ? undefined : `check the key, certificate or agent ssh uses for this host: ssh -v ${where.name}`, { ...where, transport: 'openssh' });
  }
  if (/timed out/i.test(stderr)) return new CroniumError('CONNECT_TIMEOUT', `ssh could not reach ${at} in time: ${said}`, undefined, { ...where, transport: 'openssh' });
  return new CroniumError('CONNECT_FAILED', `ssh could not connect to ${at}: ${said}`, undefined, { ...where, transport: 'openssh' });
}

/** One ControlMaster and the mux clients that run through it. */
export class OpenSshConnection implements SshConnection {
  #dead = false;
  #deathReason: string | undefined;
  readonly #children = new Set<ChildProcess>();
  readonly #deathListeners: (() => void)[] = [];
  readonly #where: Where;

  private constructor(
    private readonly ssh: string,
    readonly target: SshTarget,
    readonly info: HandshakeInfo,
    private readonly master: ChildProcess,
    private readonly control: string,
    private readonly dest: string,
    private readonly files: string[],
  ) {
    this.#where = whereOf(target);
    master.once('exit', () => this.#markDead('the ssh ControlMaster exited'));
  }

  /** Starts a master for the target and waits until it is authenticated. */
  static async open(ssh: string, key: string, target: SshTarget, opts: OpenSshOptions, signal?: AbortSignal): Promise<OpenSshConnection> {
    signal?.throwIfAborted();
    const where = whereOf(target);
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const control = join(opts.dir, `${key}.sock`);
    const knownHosts = join(opts.dir, `${key}.known_hosts`);
    const pinned = await opts.pinned(target.name);
    const hostName = knownHostsName(target.address, target.port);
    writeFileSync(knownHosts, [...pinned.map((k) => `${hostName} ${k}`), ...((await opts.cas?.()) ?? [])].map((l) => `${l}\n`).join(''), { mode: 0o600 });
    rmSync(control, { force: true });
    // The host's own known_hosts files as its config names them (with @cert-authority lines), after ours.
    const resolved = await resolvedConfig(ssh, target);
    const own = resolved.knownHosts;
    const { args, dest } = sshDestination(target, [knownHosts, ...own].map(quoteKnownHosts).join(' '));
    const t0 = performance.now();
    const limit = opts.connectTimeoutMs ?? 25_000;
    const master = spawn(ssh, [...args, '-v', '-M', '-N', '-T', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=no', '-o', `ConnectTimeout=${Math.ceil(limit / 1000)}`, dest], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    master.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (log.length < 256 * 1024) log += d;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const finish = (e?: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          clearInterval(poll);
          signal?.removeEventListener('abort', onAbort);
          master.off('exit', onExit);
          if (e) reject(e);
          else resolve();
        };
        const onExit = () => finish(masterFailure(where, log, pinned.length > 0));
        const onAbort = () => finish(signal!.reason);
        const timer = setTimeout(() => finish(new CroniumError('CONNECT_TIMEOUT', `ssh did not log in to ${where.name} (${where.address}:${where.port}) within ${limit} ms`, undefined, { ...where, transport: 'openssh' })), limit);
        // The master says it is ready once authenticated ("Authenticated to …"), and listens on the control socket right after.
        const poll = setInterval(() => {
          if (/Authenticated to /.test(log) && /setting up multiplex master socket|ControlSocket .* already exists|mux_listener_setup|channel 0: new \[/.test(log)) finish();
        }, 10);
        master.once('exit', onExit);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    } catch (e) {
      master.kill('SIGTERM');
      throw e;
    }
    // Wait for the socket itself (the log line comes just before it listens).
    for (let i = 0; i < 200 && !(await check(ssh, control, dest)); i++) await new Promise((r) => setTimeout(r, 10));
    const facts = parseMasterLog(log);
    // The user certificate ssh offered, as ssh-keygen reads it: which key, principals, validity.
    const userCert = facts.offeredCertificate ? await describeCertificates(resolved.certificateFiles) : undefined;
    const info: HandshakeInfo = {
      serverIdent: facts.serverIdent,
      hostKey: facts.hostKey,
      jumps: target.jumps.map((j) => j.name),
      authMethodsOffered: [],
      authAttempts: facts.authMethod ? [{ method: facts.authMethod as 'publickey', ok: true, detail: facts.offeredCertificate ? `certificate ${facts.offeredCertificate}${userCert ? ` (${userCert})` : ''}, through your own ssh` : 'through your own ssh' }] : [],
      transport: 'openssh',
      ...(facts.hostCertificate ? { hostCertificate: facts.hostCertificate } : {}),
      tcpConnectMs: 0,
      handshakeMs: performance.now() - t0,
    };
    return new OpenSshConnection(ssh, target, info, master, control, dest, [knownHosts, control]);
  }

  get alive(): boolean {
    return !this.#dead;
  }

  onDead(fn: () => void): void {
    if (this.#dead) fn();
    else this.#deathListeners.push(fn);
  }

  close(): void {
    this.#deathReason ??= 'closed by Cronium';
    for (const c of this.#children) c.kill('SIGTERM');
    this.master.kill('SIGTERM');
    this.#markDead(this.#deathReason);
  }

  async closeAndWait(): Promise<void> {
    const exited = this.master.exitCode !== null || this.master.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => this.master.once('exit', () => r()));
    this.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    this.master.kill('SIGKILL');
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const handle = await this.execStream(command, { ...(options.signal ? { signal: options.signal } : {}), ...(options.env ? { env: options.env } : {}), ...(options.stdin !== undefined ? { stdin: options.stdin } : {}), onStdout: (c) => void out.push(c), onStderr: (c) => void err.push(c) });
    const exit = await handle.done;
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), code: exit.code, signal: exit.signal };
  }

  async execStream(command: string, options: ExecStreamOptions = {}): Promise<ExecStreamHandle> {
    if (this.#dead) throw connectionLost(this.#where, this.#deathReason ?? 'closed');
    options.signal?.throwIfAborted();
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['-o', `SetEnv=${k}=${v}`]);
    const child = spawn(this.ssh, ['-o', `ControlPath=${this.control}`, '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', '-T', ...env, this.dest, '--', command], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.stdin!.on('error', () => undefined);
    const out = deliveries(
      () => {
        child.stdout!.pause();
        child.stderr!.pause();
      },
      () => {
        child.stdout!.resume();
        child.stderr!.resume();
      },
    );
    child.stdout!.on('data', out.deliver(options.onStdout));
    child.stderr!.on('data', out.deliver(options.onStderr));
    const done = new Promise<ExecExit>((resolve, reject) => {
      const onAbort = () => {
        child.kill('SIGTERM');
        reject(options.signal!.reason);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.once('close', (code, sig) => {
        this.#children.delete(child);
        options.signal?.removeEventListener('abort', onAbort);
        // Settled once the last chunk's callback has (see deliveries).
        void out.idle().then(() => {
          // 255 is ssh's own failure, unless the remote command said so: a master gone means the connection is.
          if (code === 255 && this.#dead) return reject(connectionLost(this.#where, `${this.#deathReason ?? 'closed'} (while running a command)`));
          resolve({ code: sig ? null : code, signal: sig ? sig.replace(/^SIG/, '') : null });
        });
      });
      child.once('error', (e) => reject(connectionLost(this.#where, `cannot run ssh: ${e.message}`)));
    });
    done.catch(() => undefined);
    if (options.stdin !== undefined) child.stdin!.write(options.stdin);
    let stdinEnded = false;
    if (!options.keepStdinOpen) {
      stdinEnded = true;
      child.stdin!.end();
    }
    return {
      write: (data) => (stdinEnded ? false : child.stdin!.write(data)),
      drain: () => (stdinEnded || !child.stdin!.writableNeedDrain ? Promise.resolve() : new Promise<void>((r) => child.stdin!.once('drain', () => r()))),
      endStdin: () => {
        if (stdinEnded) return;
        stdinEnded = true;
        child.stdin!.end();
      },
      // A mux client cannot send a signal request; closing the channel (EOF, then the client's end) is what stops a run.
      signal: () => undefined,
      close: () => void child.kill('SIGTERM'),
      done,
    };
  }

  sftp(): Promise<SftpSession> {
    return Promise.reject(sftpUnavailable(this.#where, 'the OpenSSH transport does not open SFTP sessions', 'nothing to do: uploads stream over exec on this transport'));
  }

  forwardOut(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    return this.#tunnel(host, port, signal).catch((e: unknown) => {
      throw forwardOutFailed(this.#where, host, port, Object.assign(new Error((e as Error).message), { reason: 2 }));
    });
  }

  forward(next: SshTarget, _timeoutMs: number, signal: AbortSignal): Promise<Duplex> {
    return this.#tunnel(next.address, next.port, signal).catch((e: unknown) => {
      throw forwardFailed(whereOf(next), this.target.name, (e as Error).message);
    });
  }

  forwardIn(bindAddr: string, port: number): Promise<RemoteForward> {
    return Promise.reject(forwardInFailed(this.#where, bindAddr, port, 'the OpenSSH transport does not listen on the host for the app (runtime helpers go in-band)'));
  }

  /** `ssh -W host:port` through the master: its stdio is the stream. */
  #tunnel(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    if (this.#dead) return Promise.reject(connectionLost(this.#where, this.#deathReason ?? 'closed'));
    const child = spawn(this.ssh, ['-o', `ControlPath=${this.control}`, '-o', 'ControlMaster=no', '-o', 'BatchMode=yes', '-W', `${host}:${port}`, this.dest], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#children.add(child);
    child.once('close', () => this.#children.delete(child));
    const stream = Duplex.from({ readable: child.stdout!, writable: child.stdin! });
    stream.once('close', () => child.kill('SIGTERM'));
    signal?.addEventListener('abort', () => stream.destroy(), { once: true });
    return Promise.resolve(stream);
  }

  #markDead(reason: string): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#deathReason ??= reason;
    for (const f of this.files) rmSync(f, { force: true });
    for (const fn of this.#deathListeners.splice(0)) fn();
  }
}

/** Whether a master answers on its control socket. */
function check(ssh: string, control: string, dest: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = spawn(ssh, ['-o', `ControlPath=${control}`, '-O', 'check', dest], { stdio: 'ignore' });
    c.once('close', (code) => resolve(code === 0));
    c.once('error', () => resolve(false));
  });
}

/** What `ssh -G` says for the host: its known_hosts files (~ expanded; default ~/.ssh/known_hosts) and certificate files. */
function resolvedConfig(ssh: string, target: SshTarget): Promise<{ knownHosts: string[]; certificateFiles: string[] }> {
  const fallback = { knownHosts: [join(homedir(), '.ssh', 'known_hosts')], certificateFiles: [] };
  if (!target.sshAlias) return Promise.resolve(fallback);
  const home = (f: string) => f.replace(/^~(?=\/|$)/, homedir());
  return new Promise((resolve) => {
    const c = spawn(ssh, [...(target.sshConfigFile ? ['-F', target.sshConfigFile] : []), '-G', target.sshAlias!], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.once('error', () => resolve(fallback));
    c.once('close', () => {
      const known = /^userknownhostsfile (.+)$/m.exec(out)?.[1];
      const certs = [...out.matchAll(/^certificatefile (.+)$/gm)].map((m) => home(m[1]!.trim()));
      resolve({ knownHosts: known ? known.split(/\s+/).filter(Boolean).map(home) : fallback.knownHosts, certificateFiles: certs });
    });
  });
}

/** `ssh-keygen -L` of the certificate files: key ID, principals and validity of each, in one line. */
async function describeCertificates(files: string[]): Promise<string | undefined> {
  const parts: string[] = [];
  for (const file of files) {
    const text = await new Promise<string>((resolve) => {
      const c = spawn('ssh-keygen', ['-L', '-f', file], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.once('error', () => resolve(''));
      c.once('close', () => resolve(out));
    });
    const id = /Key ID: "([^"]*)"/.exec(text)?.[1];
    const valid = /Valid: (.+)/.exec(text)?.[1]?.trim();
    const principals = /Principals:\s*\n((?:\s{16,}.+\n)+)/.exec(text)?.[1]?.split('\n').map((l) => l.trim()).filter(Boolean);
    if (id !== undefined) parts.push(`${file}: ID "${id}", principals ${principals?.join(', ') || '(none)'}, valid ${valid ?? '?'}`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

/** A known_hosts path as one UserKnownHostsFile word (quoted when it has spaces). */
function quoteKnownHosts(p: string): string {
  return /\s/.test(p) ? `"${p}"` : p;
}

/** Connections over the built-in transport or over OpenSSH, as each target says. */
export class TransportRouter implements SshPool {
  constructor(
    private readonly builtin: SshPool,
    private readonly openssh: OpenSshPool,
  ) {}

  connect(target: SshTarget, signal?: AbortSignal): Promise<SshConnection> {
    return target.transport === 'openssh' ? this.openssh.connect(target, signal) : this.builtin.connect(target, signal);
  }

  scanHostKey(target: SshTarget, signal?: AbortSignal): Promise<HostKeyScan> {
    return this.builtin.scanHostKey(target, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.builtin.close(), this.openssh.close()]);
  }

  setPrompter(prompter: Parameters<NonNullable<SshPool['setPrompter']>>[0]): void {
    this.builtin.setPrompter?.(prompter);
  }
}
