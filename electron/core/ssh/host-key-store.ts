/**
 * Host-key trust. Guards the invariant that no authentication is attempted against a
 * server whose key is not trusted: a key is trusted when it is pinned for that host
 * (table host_keys) or listed for its address in the user's known_hosts. The order of
 * the checks is the security policy:
 *   1. a key marked `@revoked` in known_hosts is refused, even if pinned;
 *   2. a pinned key that equals the presented one is trusted;
 *   3. if the host has pinned keys and none equals it, the key changed: refused until
 *      the user re-trusts it explicitly (pinning replaces all keys of the host);
 *   4. a known_hosts entry for the address with the same key is trusted; one with a
 *      different key of the same type means a changed key, as in OpenSSH;
 *   5. otherwise the key is unknown.
 */
import { eq, inArray, sql } from 'drizzle-orm';
import { preparedOnce, type DataStore } from '../db/store';
import { type PublicKeyFacts, sha256Fingerprint } from './fingerprint';
import { checkKnownHosts, KnownHostsFile, knownKeyTypes, type KnownHostsEntry } from './known-hosts';
import { userKnownHosts } from './ssh-paths';

/** Which host presented a key: its inventory name and where it was reached. */
export interface HostKeyQuery {
  name: string;
  /** The name looked up in known_hosts: the address, or the host's HostKeyAlias. */
  address: string;
  port: number;
  /** The host's own known_hosts files (its UserKnownHostsFile), instead of the default ones. */
  knownHostsFiles?: string[];
}

/** Where a trusted key was found. */
export type TrustSource = 'pinned' | 'known_hosts';

/** A key remembered for a host. */
export interface KnownKey {
  algorithm: string;
  fingerprint: string;
}

/** The decision about a presented host key. */
export type HostKeyVerdict =
  | { state: 'trusted'; source: TrustSource; where?: string }
  | { state: 'unknown' }
  | { state: 'mismatch'; source: TrustSource; expected: KnownKey[]; where?: string }
  | { state: 'revoked'; where: string };

/** A pinned host key as stored. */
export interface PinnedKey extends KnownKey {
  publicKey: string;
  source: 'user' | 'accept-new' | 'known_hosts';
  trustedAt: number;
}

/** What is trusted for one host at the moment of a connection: decides about the key it presents. */
export interface HostTrust {
  /** The decision about a key that host presented. */
  verify(key: PublicKeyFacts): HostKeyVerdict;
  /** Key types already trusted for the host, so the handshake can ask for those first. */
  preferredKeyTypes(): string[];
}

/** Decides about host keys and remembers the ones the user trusts. */
export interface HostKeyStore {
  /** What is trusted for a host now (its pinned keys and known_hosts entries), read once per connection. */
  trustFor(host: HostKeyQuery): Promise<HostTrust>;
  /** The keys pinned for a host of the inventory. */
  pinned(name: string): Promise<PinnedKey[]>;
  /** Pins a key for a host of the inventory, replacing every key pinned for it before. */
  pin(name: string, key: PublicKeyFacts, source: PinnedKey['source']): Promise<void>;
}

/** Options of DbHostKeyStore. */
export interface DbHostKeyStoreOptions {
  /** known_hosts files to honour; default: the user's ~/.ssh/known_hosts. */
  knownHostsFiles?: string[];
}

/** The user's known_hosts file (%USERPROFILE%\.ssh on Windows). */
export function defaultKnownHostsFiles(): string[] {
  return [userKnownHosts()];
}

/** Pinned keys in the store (table host_keys) plus the user's known_hosts files, read-only. */
export class DbHostKeyStore implements HostKeyStore {
  private readonly files: KnownHostsFile[];

  constructor(
    private readonly store: DataStore,
    options: DbHostKeyStoreOptions = {},
  ) {
    this.files = (options.knownHostsFiles ?? defaultKnownHostsFiles()).map((p) => new KnownHostsFile(p));
  }

  /** The files a host's keys are looked up in: its own, or the defaults. */
  private filesFor(host: HostKeyQuery): KnownHostsFile[] {
    if (!host.knownHostsFiles) return this.files;
    return host.knownHostsFiles.map((p) => this.own.get(p) ?? this.own.set(p, new KnownHostsFile(p)).get(p)!);
  }
  private readonly own = new Map<string, KnownHostsFile>();

  async trustFor(host: HostKeyQuery): Promise<HostTrust> {
    const pinned = await this.pinned(host.name);
    const entries = this.filesFor(host).flatMap((f) => f.entriesFor(host.address, host.port));
    return {
      verify: (key) => decide(host, key, pinned, entries),
      preferredKeyTypes: () => [...new Set([...pinned.map((p) => p.algorithm), ...knownKeyTypes(entries, host.address, host.port)])],
    };
  }

  async pinned(name: string): Promise<PinnedKey[]> {
    return this.#pinned().execute({ name });
  }

  // Every connection asks (trustFor): built once.
  readonly #pinned = preparedOnce(() => {
    const { hostKeys, hosts } = this.store.schema;
    return this.store.db
      .select({ algorithm: hostKeys.algorithm, fingerprint: hostKeys.fingerprint, publicKey: hostKeys.publicKey, source: hostKeys.source, trustedAt: hostKeys.trustedAt })
      .from(hostKeys)
      .innerJoin(hosts, eq(hosts.id, hostKeys.hostId))
      .where(eq(hosts.name, sql.placeholder('name')))
      .prepare();
  });

  async pin(name: string, key: PublicKeyFacts, source: PinnedKey['source']): Promise<void> {
    const { hostKeys, hosts } = this.store.schema;
    await this.store.tx(async (tx) => {
      const [host] = await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name));
      if (!host) throw new Error(`pin: no host named ${name}`);
      await tx.delete(hostKeys).where(eq(hostKeys.hostId, host.id));
      await tx.insert(hostKeys).values({ hostId: host.id, algorithm: key.algorithm, fingerprint: key.fingerprint, publicKey: key.publicKey, source, trustedAt: Date.now() });
    });
  }

  /** Removes the pinned keys of a host. */
  async forget(name: string): Promise<void> {
    const { hostKeys, hosts } = this.store.schema;
    await this.store.db.delete(hostKeys).where(inArray(hostKeys.hostId, this.store.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name))));
  }
}

/** The decision about a presented key, in the order the module comment gives. */
function decide(host: HostKeyQuery, key: PublicKeyFacts, pinned: PinnedKey[], entries: KnownHostsEntry[]): HostKeyVerdict {
  const known = checkKnownHosts(entries, host.address, host.port, key);
  if (known.status === 'revoked') return { state: 'revoked', where: `${known.entry.file}:${known.entry.line}` };
  if (pinned.some((p) => p.fingerprint === key.fingerprint && p.publicKey === key.publicKey)) return { state: 'trusted', source: 'pinned' };
  if (pinned.length) {
    // Report the key of the same type first: that is the one the server replaced.
    const ordered = [...pinned.filter((p) => p.algorithm === key.algorithm), ...pinned.filter((p) => p.algorithm !== key.algorithm)];
    return { state: 'mismatch', source: 'pinned', expected: ordered.map(({ algorithm, fingerprint }) => ({ algorithm, fingerprint })) };
  }
  if (known.status === 'match') return { state: 'trusted', source: 'known_hosts', where: `${known.entry.file}:${known.entry.line}` };
  if (known.status === 'changed') {
    const expected = known.entries.map((e) => ({ algorithm: e.keyType, fingerprint: sha256Fingerprint(e.blob) }));
    const first = known.entries[0]!;
    return { state: 'mismatch', source: 'known_hosts', expected, where: `${first.file}:${first.line}` };
  }
  return { state: 'unknown' };
}
