/** Shared by the SSH integration tests: keys, an ssh-agent, sshd's per-connection processes, slow listeners, a slow reader. */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { SshConnection } from '../../../electron/core/ssh/types';

/** Generates a client key pair with ssh-keygen; returns the private path and the public line. */
export function generateClientKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' | 'rsa', passphrase = ''): { path: string; publicKey: string } {
  const path = join(dir, name);
  const bits = type === 'rsa' ? ['-b', '3072'] : type === 'ecdsa' ? ['-b', '256'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', passphrase, '-C', name, '-f', path]);
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** The PIDs of a process's descendants (sshd forks a monitor, then an unprivileged child, per connection). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(Number(name));
    } catch {
      // The process exited while we looked.
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** Signals PIDs, ignoring ones that are already gone. */
export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/** Starts `ssh-agent -D` on a socket in dir, loads keys into it, and kills it (by PID) after the test. */
export async function startAgent(t: TestContext, dir: string, keys: string[]): Promise<{ socket: string; pid: number }> {
  const socket = join(dir, 'agent.sock');
  const agent: ChildProcess = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  const pid = agent.pid!;
  t.after(() => {
    agent.kill('SIGTERM');
  });
  const deadline = Date.now() + 5000;
  while (!existsSync(socket)) {
    if (Date.now() > deadline) throw new Error('ssh-agent did not create its socket');
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const key of keys) execFileSync('ssh-add', ['-q', key], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' });
  return { socket, pid };
}

/** A TCP server on a loopback address that accepts connections and never sends a byte. */
export async function silentServer(t: TestContext, host: string): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, host, r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, sockets };
}

/**
 * A listening socket that never accepts, its one-slot backlog already filled: the next
 * TCP connect gets no SYN-ACK and hangs, which is what a host dropping packets looks like.
 * (Node accepts on its own, so the listener is a small python3 process, killed by PID after.)
 */
export async function blackHole(t: TestContext, host: string, port: number): Promise<void> {
  const script = `import socket, time\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind((${JSON.stringify(host)}, ${port}))\ns.listen(0)\nprint('ready', flush=True)\ntime.sleep(120)\n`;
  const py = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    py.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    py.stdout!.once('data', () => resolve());
    py.once('exit', (code) => reject(new Error(`python3 listener exited (${code})`)));
  });
  // Fill the backlog: this connection completes and stays queued, so later SYNs are dropped.
  const filler = connect({ host, port });
  filler.on('error', () => undefined);
  await new Promise<void>((r) => filler.once('connect', () => r()));
  t.after(() => {
    filler.destroy();
  });
}

/**
 * Runs `head -c N; exit 3` for a large and a small N with a reader that takes 15 ms per chunk, so
 * the host is done long before the reader is and the last chunks are read after the stream's end,
 * and asserts that `done` settled only after every chunk's callback finished, with every byte.
 */
export async function assertDoneWaitsForSlowReader(conn: Pick<SshConnection, 'execStream'>): Promise<void> {
  for (const bytes of [300_000, 64]) {
    let calls = 0;
    let finished = 0;
    let received = 0;
    const h = await conn.execStream(`head -c ${bytes} /dev/zero; exit 3`, {
      onStdout: async (chunk) => {
        calls++;
        await new Promise((r) => setTimeout(r, 15));
        received += chunk.length;
        finished++;
      },
    });
    const exit = await h.done;
    assert.deepEqual([exit.code, finished, calls, received], [3, calls, calls, bytes], 'every callback finished when done settled');
  }
}
