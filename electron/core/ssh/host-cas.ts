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
import type { Db } from '../db/database';
import { hostCas } from '../db/schema';
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
    private readonly db: Db,
    private readonly audit?: AuditLog,
  ) {}

  list(): HostCa[] {
    return this.db
      .select()
      .from(hostCas)
      .orderBy(desc(hostCas.id))
      .all()
      .map((r) => ({ id: r.id, patterns: r.patterns, algorithm: r.publicKey.split(' ')[0] ?? '', fingerprint: r.fingerprint, comment: r.comment, createdAt: r.createdAt }));
  }

  /** Trusts a CA for hosts matching `patterns` (known_hosts syntax). */
  add(patterns: string, publicKeyLine: string): HostCa {
    const p = patterns.trim();
    if (!p || /\s/.test(p) || !/^[A-Za-z0-9.*?!:[\]_,-]+$/.test(p) || p.split(',').some((x) => !x || x === '!')) {
      throw fieldError('patterns', 'must be known_hosts host patterns, comma-separated, without spaces (e.g. *.prod.example,10.1.*)', 'give the hosts the CA signs for: --hosts PATTERNS');
    }
    const key = parsePublicKeyLine(publicKeyLine);
    if (!key) throw fieldError('publicKey', 'is not an OpenSSH public key line (type base64 [comment])', "give the CA's public key file, e.g. host_ca.pub");
    const comment = publicKeyLine.trim().split(/\s+/).slice(2).join(' ') || null;
    const row = this.db.insert(hostCas).values({ patterns: p, publicKey: key.publicKey, fingerprint: key.fingerprint, comment, createdAt: Date.now() }).returning().get();
    this.audit?.record('hosts.ca-add', undefined, { patterns: p, fingerprint: key.fingerprint });
    return this.list().find((c) => c.id === row.id)!;
  }

  remove(id: number): { removed: true } {
    const gone = this.db.delete(hostCas).where(eq(hostCas.id, id)).returning({ fp: hostCas.fingerprint }).get();
    if (!gone) throw new CroniumError('NOT_FOUND', `no trusted host CA with id ${id}`, 'list them with: cronium hosts ca list');
    this.audit?.record('hosts.ca-remove', undefined, { id, fingerprint: gone.fp });
    return { removed: true };
  }

  /** The known_hosts lines of every trusted CA. */
  lines(): string[] {
    return this.db.select().from(hostCas).all().map((r) => `@cert-authority ${r.patterns} ${r.publicKey}`);
  }

  /** Whether a trusted CA names the host (its address, or alias, and port as known_hosts does). */
  covers(address: string, port: number): boolean {
    const text = this.lines().join('\n');
    if (!text) return false;
    const name = knownHostsName(address, port);
    return parseKnownHosts(text, 'cronium').entries.some((e) => e.marker === 'cert-authority' && entryMatches(e, name));
  }
}
