/**
 * Whether a remote forward the server opened for us listens beyond loopback. We always ask for
 * 127.0.0.1, but an sshd with `GatewayPorts yes` ignores the address and binds every one, which
 * would put a run's helper port on the host's network. Only the host can tell: its
 * /proc/net/tcp and tcp6 list the listening sockets (Linux; elsewhere nothing is known, and
 * the answer says so).
 */
import type { SshConnection } from './types';

/** What the host reports about the listeners on a forwarded port. */
export interface ForwardExposure {
  /** False where the host has no /proc/net/tcp (not Linux): nothing could be checked. */
  checked: boolean;
  /** Listening addresses on the port that are not loopback, e.g. "0.0.0.0", "::". */
  exposed: string[];
}

/** The IPv4 address of a /proc/net/tcp field (little-endian hex), e.g. 0100007F -> 127.0.0.1. */
function ipv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
}

/** The IPv6 address of a /proc/net/tcp6 field (four little-endian 32-bit words), compressed loosely. */
function ipv6(hex: string): string {
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const w = hex.slice(i, i + 8).match(/../g)!.reverse().join('');
    words.push(w.slice(0, 4), w.slice(4));
  }
  return words.map((w) => w.replace(/^0{1,3}/, '')).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1' || /^::ffff:7f/i.test(addr) || /^(0:){5}ffff:7f/i.test(addr) || addr === '0:0:0:0:0:0:0:1';
}

/** Listening (state 0A) local addresses on `port` in the text of /proc/net/tcp and /proc/net/tcp6. */
export function listenersOn(procNetTcp: string, port: number): string[] {
  const out: string[] = [];
  for (const line of procNetTcp.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue;
    const m = /^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(f[1] ?? '');
    if (!m || Number.parseInt(m[2]!, 16) !== port) continue;
    const hex = m[1]!;
    out.push(hex.length === 8 ? ipv4(hex) : ipv6(hex));
  }
  return out;
}

/** Asks the host which addresses listen on `port` and returns those that are not loopback. */
export async function forwardExposure(conn: SshConnection, port: number, signal?: AbortSignal): Promise<ForwardExposure> {
  const r = await conn.exec('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null', signal ? { signal } : {});
  const text = r.stdout.toString('utf8');
  if (!/local_address/.test(text)) return { checked: false, exposed: [] };
  return { checked: true, exposed: listenersOn(text, port).filter((a) => !isLoopback(a)) };
}
