/** The host inventory: hosts, their tags and their stored credentials. */
import { and, asc, eq, inArray, like, or, sql } from 'drizzle-orm';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Host } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { Db } from '../db/database';
import { credentials, hosts, hostTags } from '../db/schema';
import type { EventBus } from '../events/event-bus';
import type { SecretBox } from '../secrets/secret-box';
import type { AuditLog } from '../audit/audit-log';
import type { HostInput } from '../../shared/api';
import type { z } from 'zod';
import type { SshTarget } from '../ssh/types';
import { resolveTarget, type TargetRecord } from './host-targets';

/** A host as stored, with a password if one is set (useAgent defaults to true). */
export type NewHost = Omit<z.output<typeof HostInput>, 'useAgent'> & { useAgent?: boolean };

/** Kinds of credential stored per host. */
type CredentialKind = (typeof credentials.$inferInsert)['kind'];

/** Adds, lists and removes hosts. */
export class HostService {
  constructor(
    private readonly db: Db,
    private readonly secrets: SecretBox,
    private readonly events: EventBus,
    private readonly audit: AuditLog,
  ) {}

  /** Hosts sorted by name, optionally only those with a tag, in a group, or matching a search. */
  list(filter: { tag?: string; group?: string; search?: string } = {}): Host[] {
    const conditions = [];
    if (filter.group) conditions.push(eq(hosts.groupName, filter.group));
    if (filter.tag) {
      conditions.push(inArray(hosts.id, this.db.select({ id: hostTags.hostId }).from(hostTags).where(eq(hostTags.tag, filter.tag))));
    }
    if (filter.search) {
      const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(
        or(
          sql`${hosts.name} like ${pattern} escape '\\'`,
          sql`${hosts.address} like ${pattern} escape '\\'`,
          sql`${hosts.groupName} like ${pattern} escape '\\'`,
          inArray(hosts.id, this.db.select({ id: hostTags.hostId }).from(hostTags).where(like(hostTags.tag, pattern))),
        ),
      );
    }
    const rows = this.db
      .select()
      .from(hosts)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(asc(hosts.name))
      .all();
    return this.toHosts(rows);
  }

  /** One host by name, or NOT_FOUND. */
  get(name: string): Host {
    const row = this.db.select().from(hosts).where(eq(hosts.name, name)).get();
    if (!row) throw notFound(name);
    return this.toHosts([row])[0]!;
  }

  /** Adds a host; its password, if any, is sealed before it is stored. */
  add(input: NewHost): Host {
    const identityFile = input.identityFile ? checkIdentityFile(input.identityFile) : null;
    if (input.passphrase !== undefined && !identityFile) {
      throw fieldError('passphrase', 'a passphrase needs an identity file', 'pass --identity FILE together with --passphrase-stdin');
    }
    const now = Date.now();
    const created = this.db.transaction((tx) => {
      if (tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, input.name)).get()) {
        throw new CroniumError('ALREADY_EXISTS', `a host named "${input.name}" already exists`, `choose another name, or remove it first: cronium hosts rm ${input.name}`, { fields: [{ field: 'name', message: 'is already taken' }] });
      }
      let jumpHostId: number | null = null;
      if (input.jump) {
        const jump = tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, input.jump)).get();
        if (!jump) {
          throw fieldError('jump', `no host named "${input.jump}"`, 'add the jump host first, then refer to it by name');
        }
        jumpHostId = jump.id;
      }
      const row = tx
        .insert(hosts)
        .values({ name: input.name, address: input.address, port: input.port, user: input.user ?? null, identityFile, useAgent: input.useAgent ?? true, groupName: input.group ?? null, jumpHostId, createdAt: now, updatedAt: now })
        .returning()
        .get();
      const tags = [...new Set(input.tags)];
      if (tags.length) tx.insert(hostTags).values(tags.map((tag) => ({ hostId: row.id, tag }))).run();
      if (input.password !== undefined) {
        tx.insert(credentials).values({ hostId: row.id, kind: 'password', sealed: this.secrets.seal(input.password), createdAt: now, updatedAt: now }).run();
      }
      if (input.passphrase !== undefined) {
        tx.insert(credentials).values({ hostId: row.id, kind: 'key_passphrase', sealed: this.secrets.seal(input.passphrase), createdAt: now, updatedAt: now }).run();
      }
      return row;
    });
    this.audit.record('host.add', input.name, { address: input.address, port: input.port, tags: input.tags });
    this.events.emit('hosts.changed', { change: 'added', name: input.name });
    return this.get(created.name);
  }

  /** Removes a host with its tags and credentials; history keeps its name. */
  remove(name: string): void {
    const row = this.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name)).get();
    if (!row) throw notFound(name);
    const dependents = this.db.select({ name: hosts.name }).from(hosts).where(eq(hosts.jumpHostId, row.id)).all();
    if (dependents.length) {
      throw new CroniumError(
        'CONFLICT',
        `host "${name}" is the jump host of ${dependents.map((d) => d.name).join(', ')}`,
        'remove those hosts or change their jump host first',
      );
    }
    this.db.delete(hosts).where(eq(hosts.id, row.id)).run();
    this.audit.record('host.remove', name);
    this.events.emit('hosts.changed', { change: 'removed', name });
  }

  /** The stored password of a host, opened; undefined when none is stored. */
  password(name: string): string | undefined {
    return this.secret(name, 'password');
  }

  /** A stored credential of a host, opened; undefined when none is stored. */
  secret(name: string, kind: CredentialKind): string | undefined {
    const row = this.db
      .select({ sealed: credentials.sealed })
      .from(credentials)
      .innerJoin(hosts, eq(hosts.id, credentials.hostId))
      .where(and(eq(hosts.name, name), eq(credentials.kind, kind)))
      .get();
    return row ? this.secrets.open(row.sealed) : undefined;
  }

  /**
   * How to reach a host over SSH: its connection facts and its jump chain, resolved
   * recursively (NOT_FOUND for an unknown host, INVALID_INPUT for a loop). Secrets are
   * opened only when a handshake asks for them.
   */
  sshTarget(name: string): SshTarget {
    return resolveTarget(
      name,
      (n) => this.targetRecord(n),
      (n, kind) => () => this.secret(n, kind),
    );
  }

  private targetRecord(name: string): TargetRecord | undefined {
    const row = this.db.select().from(hosts).where(eq(hosts.name, name)).get();
    if (!row) return undefined;
    const jump = row.jumpHostId === null ? null : (this.db.select({ name: hosts.name }).from(hosts).where(eq(hosts.id, row.jumpHostId)).get()?.name ?? null);
    return { name: row.name, address: row.address, port: row.port, user: row.user, identityFile: row.identityFile, useAgent: row.useAgent, jump };
  }

  private toHosts(rows: (typeof hosts.$inferSelect)[]): Host[] {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const tags = new Map<number, string[]>();
    const withPassword = new Set<number>();
    const withPassphrase = new Set<number>();
    // One query per relation for the whole page of hosts, not one per host.
    for (const chunk of chunks(ids, 500)) {
      for (const t of this.db.select().from(hostTags).where(inArray(hostTags.hostId, chunk)).orderBy(asc(hostTags.tag)).all()) {
        (tags.get(t.hostId) ?? tags.set(t.hostId, []).get(t.hostId)!).push(t.tag);
      }
      for (const c of this.db
        .select({ hostId: credentials.hostId, kind: credentials.kind })
        .from(credentials)
        .where(and(inArray(credentials.hostId, chunk), inArray(credentials.kind, ['password', 'key_passphrase'])))
        .all()) {
        (c.kind === 'password' ? withPassword : withPassphrase).add(c.hostId);
      }
    }
    const names = new Map(rows.map((r) => [r.id, r.name]));
    const jumpIds = rows.map((r) => r.jumpHostId).filter((id): id is number => id !== null && !names.has(id));
    for (const chunk of chunks([...new Set(jumpIds)], 500)) {
      for (const j of this.db.select({ id: hosts.id, name: hosts.name }).from(hosts).where(inArray(hosts.id, chunk)).all()) names.set(j.id, j.name);
    }
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      address: r.address,
      port: r.port,
      user: r.user,
      identityFile: r.identityFile,
      jump: r.jumpHostId === null ? null : (names.get(r.jumpHostId) ?? null),
      tags: tags.get(r.id) ?? [],
      hasPassword: withPassword.has(r.id),
      hasPassphrase: withPassphrase.has(r.id),
      useAgent: r.useAgent,
      group: r.groupName,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    }));
  }
}

function notFound(name: string): CroniumError {
  return new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list the hosts with: cronium hosts list');
}

/** Checks that an identity file exists and is a file; returns its absolute path. */
function checkIdentityFile(path: string): string {
  const abs = resolve(path.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw fieldError('identityFile', `${abs} does not exist or is not a file`, 'pass the path of a private key file, e.g. ~/.ssh/id_ed25519');
  }
  return abs;
}

function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
