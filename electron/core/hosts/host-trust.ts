/**
 * Host-key review and trust: `hosts.scanKeys` shows what hosts present (many at once,
 * for one review), `hosts.trust` pins a key. Guards the invariant that a key is pinned
 * only by an explicit user action and only if the host presents exactly the
 * fingerprint the user saw: a key that changed between review and trust is refused.
 */
import type { z } from 'zod';
import type { HostKeyScanResult, HostTrustResult } from '../../shared/api';
import { CroniumError, isCroniumError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { EventBus } from '../events/event-bus';
import { parsePublicKeyLine } from '../ssh/fingerprint';
import type { HostKeyStore } from '../ssh/host-key-store';
import { hostKeyMismatch, hostKeyRevoked, type Where } from '../ssh/ssh-errors';
import type { HostKeyScan, SshPool, SshTarget } from '../ssh/types';
import type { HostService } from './host-service';

type ScanResult = z.infer<typeof HostKeyScanResult>;
type TrustResult = z.infer<typeof HostTrustResult>;

/** Hosts scanned at once by scanKeys: enough to review hundreds of hosts in seconds, few enough to be gentle. */
export const SCAN_CONCURRENCY = 16;

function whereOf(t: SshTarget): Where {
  const via = t.jumps.at(-1)?.name;
  return { name: t.name, address: t.address, port: t.port, ...(via ? { via } : {}) };
}

/** Runs fn over items with at most `limit` in flight, keeping the order of items in the result. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Scans and pins host keys. */
export class HostTrustService {
  constructor(
    private readonly hosts: HostService,
    private readonly pool: SshPool,
    private readonly keys: HostKeyStore,
    private readonly audit: AuditLog,
    private readonly events: EventBus,
  ) {}

  /** The key each selected host presents, and whether it is trusted; failures are reported per host. */
  async scanKeys(selection: { names?: string[]; tag?: string }, signal?: AbortSignal): Promise<ScanResult[]> {
    let names: string[];
    if (selection.names?.length) {
      names = [...new Set(selection.names)];
      for (const n of names) await this.hosts.get(n);
      if (selection.tag) {
        const tagged = new Set((await this.hosts.list({ tag: selection.tag })).map((h) => h.name));
        names = names.filter((n) => tagged.has(n));
      }
    } else {
      names = (await this.hosts.list(selection.tag ? { tag: selection.tag } : {})).map((h) => h.name);
    }
    return mapLimit(names, SCAN_CONCURRENCY, (name) => this.scanOne(name, signal));
  }

  /**
   * Pins the key the host presents now, if its fingerprint is the one given. With
   * acceptNew, pins only a host that has no trusted key yet and refuses a changed one.
   */
  async trust(args: { name: string; fingerprint: string; acceptNew?: boolean }, signal?: AbortSignal): Promise<TrustResult> {
    const target = await this.hosts.sshTarget(args.name);
    const where = whereOf(target);
    const scan = await this.pool.scanHostKey(target, signal);
    const key = parsePublicKeyLine(scan.key.publicKey);
    if (!key) throw new CroniumError('INTERNAL', `the host key of ${args.name} cannot be read back`);
    if (scan.state === 'revoked') throw hostKeyRevoked(where, key, scan.where ?? 'known_hosts');
    if (key.fingerprint !== args.fingerprint) {
      throw new CroniumError(
        'HOST_KEY_MISMATCH',
        `${args.name} presents ${key.algorithm} ${key.fingerprint}, not the ${args.fingerprint} you asked to trust; nothing was pinned`,
        `compare with the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_${key.algorithm.replace(/^ssh-|-sha2-.*$/g, '')}_key.pub); to trust what it presents now: cronium hosts trust ${args.name} --fingerprint ${key.fingerprint}`,
        { host: args.name, algorithm: key.algorithm, fingerprint: key.fingerprint, requested: args.fingerprint },
      );
    }
    const pinnedBefore = await this.keys.pinned(args.name);
    const previous = pinnedBefore.find((p) => p.fingerprint !== key.fingerprint)?.fingerprint ?? (scan.state === 'mismatch' ? (scan.expected?.[0]?.fingerprint ?? null) : null);
    const unchanged = (source: TrustResult['source']): TrustResult => ({ name: args.name, algorithm: key.algorithm, fingerprint: key.fingerprint, previousFingerprint: null, pinned: false, source });

    if (scan.state === 'trusted' && scan.source === 'pinned') {
      const existing = pinnedBefore.find((p) => p.fingerprint === key.fingerprint);
      return unchanged(existing?.source ?? 'user');
    }
    if (args.acceptNew) {
      if (scan.state === 'trusted') return unchanged('known_hosts');
      if (scan.state === 'mismatch') throw hostKeyMismatch(where, key, scan.expected ?? [], scan.source ?? 'pinned', scan.where);
    }
    const source = args.acceptNew ? 'accept-new' : 'user';
    await this.keys.pin(args.name, key, source);
    await this.audit.record('host.trust', args.name, { algorithm: key.algorithm, fingerprint: key.fingerprint, previousFingerprint: previous, source, was: scan.state });
    this.events.emit('hosts.changed', { change: 'updated', name: args.name });
    return { name: args.name, algorithm: key.algorithm, fingerprint: key.fingerprint, previousFingerprint: previous, pinned: true, source };
  }

  private async scanOne(name: string, signal?: AbortSignal): Promise<ScanResult> {
    let target: SshTarget | undefined;
    try {
      target = await this.hosts.sshTarget(name);
      return toResult(name, whereOf(target), await this.pool.scanHostKey(target, signal));
    } catch (e) {
      if (signal?.aborted) throw e;
      const error = isCroniumError(e) ? e : new CroniumError('INTERNAL', `scanning ${name} failed: ${(e as Error)?.message ?? String(e)}`);
      return { name, state: 'error', error: error.toJSON() };
    }
  }
}

function toResult(name: string, where: Where, scan: HostKeyScan): ScanResult {
  const { algorithm, fingerprint } = scan.key;
  switch (scan.state) {
    case 'trusted':
      return { name, state: 'trusted', algorithm, fingerprint, ...(scan.source ? { source: scan.source } : {}) };
    case 'unknown':
      return { name, state: 'unknown', algorithm, fingerprint };
    case 'mismatch':
      return { name, state: 'mismatch', algorithm, fingerprint, ...(scan.expected?.[0] ? { previousFingerprint: scan.expected[0].fingerprint } : {}), ...(scan.source ? { source: scan.source } : {}) };
    case 'revoked': {
      const key = parsePublicKeyLine(scan.key.publicKey);
      const error = key ? hostKeyRevoked(where, key, scan.where ?? 'known_hosts') : new CroniumError('HOST_KEY_MISMATCH', `the host key of ${name} is revoked`);
      return { name, state: 'error', algorithm, fingerprint, error: error.toJSON() };
    }
  }
}
