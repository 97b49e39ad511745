/**
 * Channel-level probes of a live connection: can it start the SFTP subsystem, and does the
 * server allow TCP forwarding in each direction. They use the connection's own channels
 * (SshConnection.sftp / forwardOut / forwardIn): still the one connection a diagnosis uses,
 * with no new handshake and no credential, and no ssh2 import here (it is loaded lazily by
 * the pool). Each probe closes what it opened and is bounded in time by its signal.
 *
 * A refused session (MaxSessions) is not misread as "no SFTP": the connection queues the
 * SFTP session behind its other sessions and retries a session the server refused while it
 * freed a just-closed one; if it still cannot have one, the probe says "refused".
 */
import { SshChannelError } from '../ssh/ssh-errors';
import type { SshConnection } from '../ssh/types';
import { forwardExposure, type ForwardExposure } from '../ssh/forward-exposure';

/** What one probe found. */
export type ProbeOutcome = { ok: true; detail?: string } | { ok: false; refused: boolean; message: string; hint?: string };

/** The probes a diagnosis runs on a connection. */
export interface ChannelProbes {
  /** Starts the SFTP subsystem and closes it again. */
  sftp(signal: AbortSignal): Promise<ProbeOutcome>;
  /** Asks the server to open a TCP connection to host:port (direct-tcpip, what ProxyJump needs). */
  forwardOut(host: string, port: number, signal: AbortSignal): Promise<ProbeOutcome>;
  /** Asks the server to listen on 127.0.0.1 (tcpip-forward, what the helpers' reverse tunnel needs), then cancels. */
  forwardIn(signal: AbortSignal): Promise<ProbeOutcome>;
}

/** The channel probes of a connection. */
export function channelProbesOf(conn: SshConnection): ChannelProbes {
  return new ConnectionProbes(conn);
}

const NO_ANSWER: ProbeOutcome = { ok: false, refused: false, message: 'no answer in time' };

class ConnectionProbes implements ChannelProbes {
  constructor(private readonly conn: SshConnection) {}

  async sftp(signal: AbortSignal): Promise<ProbeOutcome> {
    try {
      const session = await this.conn.sftp(signal);
      await session.close();
      return { ok: true };
    } catch (e) {
      if (signal.aborted) return NO_ANSWER;
      // refused-session: the server would not open a session at all; unavailable: it opened
      // one and refused the subsystem (its words, e.g. "Unable to start subsystem: sftp").
      if (e instanceof SshChannelError) return { ok: false, refused: e.kind === 'refused-session', message: e.description, ...(e.kind === 'unavailable' && e.hint ? { hint: e.hint } : {}) };
      return { ok: false, refused: false, message: (e as Error)?.message ?? String(e) };
    }
  }

  async forwardOut(host: string, port: number, signal: AbortSignal): Promise<ProbeOutcome> {
    try {
      const stream = await this.conn.forwardOut(host, port, signal);
      stream.on('error', () => undefined);
      stream.destroy();
      return { ok: true, detail: `opened a connection to ${host}:${port}` };
    } catch (e) {
      if (signal.aborted) return NO_ANSWER;
      if (!(e instanceof SshChannelError)) return { ok: false, refused: false, message: (e as Error)?.message ?? String(e) };
      // CONNECT_FAILED (reason 2): the server allows forwarding and tried; nothing listens there.
      if (e.kind === 'connect-failed') return { ok: true, detail: `allowed (the server tried ${host}:${port}: ${e.description})` };
      return { ok: false, refused: e.kind === 'prohibited', message: e.description };
    }
  }

  async forwardIn(signal: AbortSignal): Promise<ProbeOutcome> {
    try {
      // Nobody is told about the port, so nothing should connect; anything that does is closed.
      const forward = await this.conn.forwardIn('127.0.0.1', 0, (stream) => stream.destroy(), signal);
      let exposure: ForwardExposure = { checked: false, exposed: [] };
      try {
        exposure = await forwardExposure(this.conn, forward.port, signal);
      } finally {
        void forward.close().catch(() => undefined);
      }
      if (exposure.exposed.length) {
        return {
          ok: false,
          refused: false,
          message: `the server listened on ${exposure.exposed.join(', ')} port ${forward.port} when asked for 127.0.0.1 (GatewayPorts yes): runs send helper calls over the runner's channel instead; set GatewayPorts no (or clientspecified) in sshd_config to use the tunnel`,
        };
      }
      return { ok: true, detail: `the server listened on 127.0.0.1:${forward.port} for us${exposure.checked ? ' (loopback only, checked in /proc/net/tcp)' : ''}` };
    } catch (e) {
      if (signal.aborted) return NO_ANSWER;
      if (e instanceof SshChannelError) return { ok: false, refused: e.kind === 'prohibited', message: e.description };
      return { ok: false, refused: false, message: (e as Error)?.message ?? String(e) };
    }
  }
}
