/**
 * Helper sessions: what runner mode asks for before it signs a run's payload.
 *
 * A session issues the run's token and picks the transport: an SSH reverse tunnel of its own
 * (one `tcpip-forward` on the host's 127.0.0.1 with a port the server picks, bound to this run:
 * a token of another run arriving through it is refused, and the port closes when the run
 * ends), or in-band frames on the runner's channel where the host refuses forwarding
 * (remembered per connection, so a refusing host costs the request once). An sshd with
 * `GatewayPorts yes` binds the tunnel on every address whatever was asked: the runner checks the
 * port's listeners before the script starts and, when it finds one beyond loopback, says so in
 * its hello and uses in-band frames; the session follows (`exposed`), closes the tunnel and
 * remembers the host. Ending the session revokes the token and closes the tunnel.
 *
 * Invariant: the token goes only into the payload (signed, on stdin), never on a command line.
 */
import type { HelperReplyFrame, HelperSettings } from '../../shared/runner-protocol';
import type { RemoteForward, SshConnection } from '../ssh/types';
import { errorReply, type HelperApi, type HelperReply } from './helper-api';
import { revoked } from './tokens';
import { CroniumError } from '../../shared/errors';
import type { HelperHttpDoor } from './http-door';
import type { HelperTokens } from './tokens';

/** How a run's helpers reach the app. */
export type HelperTransport = 'tunnel' | 'in-band' | 'none';

/** One run's helper channel. */
export interface HelperSession {
  /** What goes into the payload's `helper`. */
  readonly settings: HelperSettings;
  /** The transport the run's helpers use: the payload's, or in-band once the runner found the tunnel exposed. */
  readonly transport: HelperTransport;
  /** Why the run uses in-band frames rather than the tunnel (null with the tunnel). */
  readonly fallbackReason: string | null;
  /**
   * The runner's hello said the tunnel's port listens beyond loopback on `addresses`: helpers go
   * in-band from now on, the tunnel closes, the host is remembered. Returns the reason to report.
   */
  exposed(addresses: readonly string[]): string;
  /** Whether that reason is news: learned by this run, not remembered from an earlier one on the host (say it once). */
  readonly fallbackNew: boolean;
  /** Answers an in-band helper frame. */
  answer(frame: { id: number; op: string; token: string; body: unknown }): Promise<HelperReplyFrame>;
  /** The run ended: revoke the token, release the tunnel. Idempotent. */
  end(): void;
}

/** How long a host's refusal to forward is remembered. */
export const REFUSAL_MEMORY_MS = 10 * 60_000;

/** A host as far as forwarding goes: where the connection goes and as whom. */
function refusalKey(conn: SshConnection): string {
  const t = conn.target;
  return JSON.stringify([t.name, t.address, t.port, t.user ?? null]);
}

/** Opens helper sessions for runs. */
export class HelperRuntime {
  /**
   * Hosts whose server refused to forward (or would expose the port), by target: their runs go
   * in-band at once, for REFUSAL_MEMORY_MS (a host that opens one connection per run, such as
   * TinySSH, is asked once, not on every run; a host whose setting changes is asked again later).
   */
  readonly #refusing = new Map<string, { reason: string; at: number }>();

  constructor(private readonly deps: { api: HelperApi; door: HelperHttpDoor; tokens: HelperTokens }) {}

  /** A session for one run attempt on `conn`; the token expires at `expiresAt` (ms). */
  async begin(conn: SshConnection, run: { runId: number; jobId: number; hostId: number }, expiresAt: number): Promise<HelperSession> {
    const { token, jti } = await this.deps.tokens.issue(run, expiresAt);
    let settings: HelperSettings = { transport: 'in-band', token };
    const hostKey = refusalKey(conn);
    const remembered = this.#refusing.get(hostKey);
    if (remembered && Date.now() - remembered.at > REFUSAL_MEMORY_MS) this.#refusing.delete(hostKey);
    let fallbackReason = this.#refusing.get(hostKey)?.reason ?? null;
    const fallbackNew = fallbackReason === null;
    let forward: RemoteForward | undefined;
    if (fallbackReason === null) {
      const door = this.deps.door;
      const via = { transport: 'tunnel' as const, hostId: run.hostId, runId: run.runId };
      try {
        forward = await conn.forwardIn('127.0.0.1', 0, (stream) => door.accept(stream, via));
        settings = { transport: 'tunnel', port: forward.port, token };
      } catch (e) {
        const err = e as { message?: string; details?: { kind?: string } };
        fallbackReason = `the host refused the helper tunnel (${err.message ?? String(e)})`;
        // A refusal is a property of the host: remember it for this connection. Anything else
        // (a connection that just died) is not.
        if (err.details?.kind === 'prohibited') this.#refusing.set(hostKey, { reason: fallbackReason, at: Date.now() });
      }
    }
    const api = this.deps.api;
    const inBand = { transport: 'in-band' as const, runId: run.runId, hostId: run.hostId };
    const refusing = this.#refusing;
    let ended = false;
    let transport: HelperTransport = settings.transport;
    return {
      settings,
      get transport() {
        return transport;
      },
      fallbackReason,
      fallbackNew: fallbackReason !== null && fallbackNew,
      exposed(addresses) {
        const reason = `the host's sshd binds forwarded ports on ${addresses.join(', ')} (GatewayPorts yes), which would expose the helper port to its network; helpers use the runner's channel instead`;
        if (transport === 'tunnel') {
          transport = 'in-band';
          void forward?.close().catch(() => {});
          forward = undefined;
          refusing.set(hostKey, { reason, at: Date.now() });
        }
        return reason;
      },
      async answer(frame) {
        let reply: HelperReply;
        if (ended) reply = errorReply(revoked());
        else if (transport !== 'in-band') {
          // The payload named the tunnel: in-band frames are not this run's channel.
          reply = errorReply(new CroniumError('HELPER_FORBIDDEN', 'this run uses the helper tunnel, not in-band frames'));
        } else reply = await api.handle({ op: frame.op, token: frame.token, body: frame.body }, inBand);
        return { type: 'helper-reply', id: frame.id, status: reply.status, body: reply.body as HelperReplyFrame['body'] };
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.deps.tokens.revoke(jti, expiresAt);
        api.forget(run.runId);
        void forward?.close().catch(() => {});
      },
    };
  }
}
