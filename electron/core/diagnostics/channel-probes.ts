/**
 * Channel-level probes of a live connection: can it start the SFTP subsystem, and does the
 * server allow TCP forwarding in each direction. These need channels that `SshConnection`
 * (types.ts) does not offer yet, so they are opened on the ssh2 Client of the pooled
 * connection itself: still the one connection a diagnosis uses, with no new handshake and no
 * credential. Each probe closes what it opened, is bounded in time, and is told apart from a
 * session refusal (MaxSessions), which is retried rather than misread as "unavailable".
 */
import { Client } from 'ssh2';
import type { SshConnection } from '../ssh/types';

/** What one probe found. */
export type ProbeOutcome = { ok: true; detail?: string } | { ok: false; refused: boolean; message: string };

/** The probes a diagnosis runs on a connection. */
export interface ChannelProbes {
  /** Starts the SFTP subsystem and closes it again. */
  sftp(signal: AbortSignal): Promise<ProbeOutcome>;
  /** Asks the server to open a TCP connection to host:port (direct-tcpip, what ProxyJump needs). */
  forwardOut(host: string, port: number, signal: AbortSignal): Promise<ProbeOutcome>;
  /** Asks the server to listen on 127.0.0.1 (tcpip-forward, what the helpers' reverse tunnel needs), then cancels. */
  forwardIn(signal: AbortSignal): Promise<ProbeOutcome>;
}

/** The channel probes of a pooled connection, or undefined when it is not an ssh2 one. */
export function channelProbesOf(conn: SshConnection): ChannelProbes | undefined {
  // Ssh2Connection keeps its Client in a private field; read it without depending on the class.
  const client = (conn as unknown as { client?: unknown }).client;
  return client instanceof Client ? new Ssh2ChannelProbes(client) : undefined;
}

class Ssh2ChannelProbes implements ChannelProbes {
  constructor(private readonly client: Client) {}

  async sftp(signal: AbortSignal): Promise<ProbeOutcome> {
    // A session refused right after another one closed (MaxSessions 1) is retried a few times.
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.sftpOnce(signal);
      if (outcome.ok || !outcome.refused || attempt >= 5 || signal.aborted) return outcome;
      await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
    }
  }

  private sftpOnce(signal: AbortSignal): Promise<ProbeOutcome & { refused?: boolean }> {
    return bounded(signal, (settle) => {
      this.client.sftp((err, sftp) => {
        if (err) {
          // The server refused the session itself (OpenSSH answers "open failed" with varying
          // reason codes when MaxSessions is reached, or while it frees a session that just
          // closed); only a refused subsystem request means there is no SFTP.
          if (/Channel open failure/i.test(err.message)) return settle({ ok: false, refused: true, message: err.message.replace(/^\(SSH\) Channel open failure: /, '') });
          return settle({ ok: false, refused: false, message: err.message });
        }
        sftp.end();
        settle({ ok: true });
      });
    });
  }

  forwardOut(host: string, port: number, signal: AbortSignal): Promise<ProbeOutcome> {
    return bounded(signal, (settle) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
        if (!err) {
          stream.on('error', () => undefined);
          stream.close();
          return settle({ ok: true, detail: `opened a connection to ${host}:${port}` });
        }
        const reason = (err as Error & { reason?: unknown }).reason;
        const description = err.message.replace(/^\(SSH\) Channel open failure: /, '');
        // CONNECT_FAILED (2): the server allows forwarding and tried; nothing listens there.
        if (reason === 2) return settle({ ok: true, detail: `allowed (the server tried ${host}:${port}: ${description})` });
        settle({ ok: false, refused: reason === 1, message: description });
      });
    });
  }

  forwardIn(signal: AbortSignal): Promise<ProbeOutcome> {
    return bounded(signal, (settle) => {
      this.client.forwardIn('127.0.0.1', 0, (err, port) => {
        if (err) return settle({ ok: false, refused: true, message: err.message });
        this.client.unforwardIn('127.0.0.1', port, () => undefined);
        settle({ ok: true, detail: `the server listened on 127.0.0.1:${port} for us` });
      });
    });
  }
}

/** Runs a callback-style probe with the signal's limit; a late answer is ignored. */
function bounded<T extends ProbeOutcome>(signal: AbortSignal, run: (settle: (o: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve) => {
    let done = false;
    const settle = (o: T) => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = () => settle({ ok: false, refused: false, message: 'no answer in time' } as T);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      run(settle);
    } catch (e) {
      settle({ ok: false, refused: false, message: (e as Error).message } as T);
    }
  });
}
