// Starting and probing sshd processes for the test fleet.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { run, sleep } from './proc';

/** Absolute path of sshd (it refuses to re-exec itself from a relative one). */
export function findSshd(): string {
  const dirs = ['/usr/sbin', '/usr/local/sbin', '/sbin', ...(process.env.PATH ?? '').split(':')];
  for (const dir of dirs) {
    if (dir.startsWith('/') && existsSync(`${dir}/sshd`)) return `${dir}/sshd`;
  }
  throw new Error('sshd not found: install openssh-server (apt-get install openssh-server)');
}

/** The installed sshd's [major, minor] version ('sshd -V' prints it; older ones print it in the usage text). */
export async function sshdVersion(sshd: string): Promise<[number, number]> {
  const text = await new Promise<string>((resolve) => {
    const child = spawn(sshd, ['-V'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
    child.on('error', () => resolve(out));
  });
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(text);
  if (!m) throw new Error(`cannot tell the sshd version from: ${text.trim()}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Shell script run by `unshare --mount --propagation private sh -c` before exec'ing sshd.
 * Arguments: fleet dir, user home, noexec (1/0), nobash (1/0), cache size in KiB (0: none), the
 * sudosu shadow file (or -), the busybox chroot (or -), then the sshd command line.
 * The fleet dir may live under /tmp, which the noexec tmpfs covers, so a bind of it is parked
 * on a stage directory first and bound back at the same path on top of the new tmpfs.
 */
export const MOUNT_NS_SCRIPT = `set -eu
dir=$1 home=$2 noexec=$3 nobash=$4 cachekb=$5 shadow=$6 chroot=$7
shift 7
if [ "$chroot" != - ]; then
  # The busybox profile: what a BusyBox system has mounted, visible only inside this sshd's root.
  # The root is a mount of its own, so that df finds it in /proc/mounts (as "/") from inside.
  mount --bind "$chroot" "$chroot"
  mount -t proc proc "$chroot/proc"
  for d in null zero random urandom tty; do
    : > "$chroot/dev/$d"
    mount --bind "/dev/$d" "$chroot/dev/$d"
  done
  mount --bind /dev/pts "$chroot/dev/pts"
  mount -t tmpfs -o mode=1777,size=64m cronium-fleet "$chroot/tmp"
fi
if [ "$shadow" != - ]; then
  # The sudosu profile: a copy of /etc/shadow in which root has a test password, seen only by
  # this sshd and its sessions (su reads it); the machine's own root password is untouched.
  mount --bind "$shadow" /etc/shadow
fi
if [ "$cachekb" != 0 ]; then
  # The account's ~/.cache (where the runner is cached and its runs spool) on a small tmpfs.
  owner=$(stat -c %u:%g "$home")
  mkdir -p "$home/.cache"
  mount -t tmpfs -o "size=\${cachekb}k,mode=0700,uid=\${owner%:*},gid=\${owner#*:}" cronium-fleet-cache "$home/.cache"
fi
if [ "$noexec" = 1 ]; then
  stage=$(mktemp -d /run/cronium-fleet-stage.XXXXXX)
  mount --bind "$dir" "$stage"
  for d in /tmp /var/tmp /dev/shm; do
    mount -t tmpfs -o noexec,nosuid,nodev,mode=1777,size=64m cronium-fleet "$d"
  done
  mkdir -p "$dir"
  mount --bind "$stage" "$dir"
  umount "$stage"
  rmdir "$stage"
  mount --bind "$home" "$home"
  mount -o remount,bind,ro "$home"
fi
if [ "$nobash" = 1 ]; then
  done_paths=
  for b in /usr/bin/bash /bin/bash; do
    [ -e "$b" ] || continue
    real=$(readlink -f "$b")
    case " $done_paths " in *" $real "*) continue ;; esac
    mount --bind /dev/null "$real"
    done_paths="$done_paths $real"
  done
fi
exec "$@"
`;

/** Fails with a clear message when something already listens on (or wildcard-covers) address:port. */
export function assertPortFree(address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use (another fleet, or a system sshd listening on 0.0.0.0:22, which covers every loopback address)' : `cannot be bound: ${err.message}`;
      reject(new Error(`test fleet: ${address}:${port} ${why}; stop it or pick another subnet (--subnet / opts.subnet)`));
    });
    server.listen({ host: address, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Connects to address:port and resolves with the first line the server sends. */
export function readBanner(address: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: address, port });
    let buf = '';
    const finish = (err: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const timer = setTimeout(() => finish(new Error('timed out waiting for the banner')), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(undefined, buf.slice(0, nl).trim());
    });
    sock.on('error', (err) => finish(err));
    sock.on('close', () => finish(new Error('connection closed before the banner')));
  });
}

/** Like readBanner, but from inside a network namespace (through socat run by `ip netns exec`). */
export function readBannerInNetns(netns: string, address: string, port: number, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, 'socat', 'STDIO', `TCP:${address}:${port},connect-timeout=1`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    let errText = '';
    let settled = false;
    const finish = (err: Error | undefined, line?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      if (err) reject(err);
      else resolve(line ?? '');
    };
    const timer = setTimeout(() => finish(new Error('timed out waiting for the banner')), timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(undefined, buf.slice(0, nl).trim());
    });
    child.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    child.on('error', (err) => finish(err));
    child.on('close', () => finish(new Error(errText.trim() || 'connection closed before the banner')));
  });
}

/** The last lines of a log file, for error messages. */
export async function logTail(path: string, lines = 15): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Log tails of several files, each under its path. */
async function logTails(paths: string[]): Promise<string> {
  const parts = await Promise.all(paths.map(async (p) => `--- ${p} (tail):\n${await logTail(p)}`));
  return parts.join('\n');
}

/** How many times sshd has logged that it listens (grows by one after each SIGHUP restart). */
export async function listenCount(logPath: string): Promise<number> {
  try {
    return ((await readFile(logPath, 'utf8')).match(/Server listening on /g) ?? []).length;
  } catch {
    return 0;
  }
}

/** Polls a probe until it returns an SSH banner, failing early if the process died. */
export async function waitForBanner(probe: () => Promise<string>, opts: { timeoutMs: number; alive: () => boolean; what: string; logPaths: string[] }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const last = await probe().then(
      (banner) => (banner.startsWith('SSH-2.0-') ? undefined : `unexpected banner "${banner}"`),
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
    if (last === undefined) return;
    if (!opts.alive()) throw new Error(`test fleet: ${opts.what} exited during start-up (${last}).\n${await logTails(opts.logPaths)}`);
    if (Date.now() > deadline) throw new Error(`test fleet: ${opts.what} not ready after ${opts.timeoutMs} ms (${last}).\n${await logTails(opts.logPaths)}`);
    await sleep(25);
  }
}

/** Creates the fleet's network namespace with only its loopback interface, up. */
export async function createNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}
