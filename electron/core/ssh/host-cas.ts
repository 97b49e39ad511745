/**
 * Host certificate authorities trusted in Cronium's own store (`cronium hosts ca add`): each is an
 * `@cert-authority PATTERNS KEY` line the OpenSSH transport gives ssh with the pinned keys, so a
 * host whose name matches is trusted by a certificate that CA signed (with ssh's own checks of
 * its principals, validity and any @revoked line). Auto picks the OpenSSH transport for such a
 * host: the built-in one has no host certificates.
 */
import { desc, eq } from 'drizzle-orm';
import { CroniumError, fieldError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import { preparedOnce, type DataStore } from '../db/store';
import { parsePublicKeyLine } from './fingerprint';
import { entryMatches, knownHostsName, parseKnownHosts } from './known-hosts';

/** A CA as clients see it. */
export interface HostCa {
  id: number;
  patterns: string;
  algorithm: string;
  fingerprint: string;
  comment: string | null;
  createdAt: number;
}

/** The store of trusted host CAs. */
export class HostCaStore {
  constructor(
    private readonly store: DataStore,
    private readonly audit?: AuditLog,
  ) {}

  async list(): Promise<HostCa[]> {
    const { hostCas } = this.store.schema;
    return (await this.store.db.select().from(hostCas).orderBy(desc(hostCas.id))).map((r) => ({ id: r.id, patterns: r.patterns, algorithm: r.publicKey.split(' ')[0] ?? '', fingerprint: r.fingerprint, comment: r.comment, createdAt: r.createdAt }));
  }

  /** Trusts a CA for hosts matching `patterns` (known_hosts syntax). */
  async add(patterns: string, publicKeyLine: string): Promise<HostCa> {
    const p = patterns.trim();
    if (!p || /\s/.test(p) || !/^[A-Za-z0-9.*?!:[\]_,-]+$/.test(p) || p.split(',').some((x) => !x || x === '!')) {
      throw fieldError('patterns', 'must be known_hosts host patterns, comma-separated, without spaces (e.g. *.prod.example,10.1.*)', 'give the hosts the CA signs for: --hosts PATTERNS');
    }
    const key = parsePublicKeyLine(publicKeyLine);
    if (!key) throw fieldError('publicKey', 'is not an OpenSSH public key line (type base64 [comment])', "give the CA's public key file, e.g. host_ca.pub");
    const comment = publicKeyLine.trim().split(/\s+/).slice(2).join(' ') || null;
    const { hostCas } = this.store.schema;
    const [row] = await this.store.db.insert(hostCas).values({ patterns: p, publicKey: key.publicKey, fingerprint: key.fingerprint, comment, createdAt: Date.now() }).returning();
    await this.audit?.record('hosts.ca-add', undefined, { patterns: p, fingerprint: key.fingerprint });
    return (await this.list()).find((c) => c.id === row!.id)!;
  }

  async remove(id: number): Promise<{ removed: true }> {
    const { hostCas } = this.store.schema;
    const [gone] = await this.store.db.delete(hostCas).where(eq(hostCas.id, id)).returning({ fp: hostCas.fingerprint });
    if (!gone) throw new CroniumError('NOT_FOUND', `no trusted host CA with id ${id}`, 'list them with: cronium hosts ca list');
    await this.audit?.record('hosts.ca-remove', undefined, { id, fingerprint: gone.fp });
    return { removed: true };
  }

  /** The known_hosts lines of every trusted CA. */
  async lines(): Promise<string[]> {
    return (await this.#all().execute()).map((r) => `@cert-authority ${r.patterns} ${r.publicKey}`);
  }

  // Every connection's target asks (covers): built once.
  readonly #all = preparedOnce(() => this.store.db.select().from(this.store.schema.hostCas).prepare());

  /** Whether a trusted CA names the host (its address, or alias, and port as known_hosts does). */
  async covers(address: string, port: number): Promise<boolean> {
    const text = (await this.lines()).join('\n');
    if (!text) return false;
    const name = knownHostsName(address, port);
    return parseKnownHosts(text, 'cronium').entries.some((e) => e.marker === 'cert-authority' && entryMatches(e, name));
  }
}
