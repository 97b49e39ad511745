/** The host inventory: hosts, their tags and their stored credentials. */
import { and, asc, eq, inArray, or, sql, type SQL } from 'drizzle-orm';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Host } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { Db } from '../db/database';
import type { credentials, hosts } from '../db/schema';
import { asBool, asJson, preparedOnce, type DataStore } from '../db/store';
import type { EventBus } from '../events/event-bus';
import type { SecretBox } from '../secrets/secret-box';
import type { AuditLog } from '../audit/audit-log';
import type { DiagnosticReport, HostInput, HostUpdate } from '../../shared/api';
import type { z } from 'zod';
import type { SshTarget } from '../ssh/types';
import { MAX_JUMPS, resolveTarget, type TargetRecord } from './host-targets';
import type { Elevation } from '../exec/elevation';

/** A host as stored, with a password if one is set (useAgent defaults to true). */
export type NewHost = Omit<z.output<typeof HostInput>, 'useAgent'> & { useAgent?: boolean };

/** Elevation methods that need a stored password: the user's (sudo-password) or root's (su). */
function needsPassword(how: string | null | undefined): boolean {
  return how === 'sudo-password' || how === 'su';
}
function missingElevationPassword(how: string | null | undefined): CroniumError {
  return fieldError('elevationPassword', how === 'su' ? 'su elevation needs root\'s password on the host' : 'sudo-password elevation needs the password sudo asks for', how === 'su' ? 'pass --elevation-password-stdin (root\'s password on the host)' : 'pass --elevation-password-stdin (the SSH user\'s own password on the host)');
}
function strayElevationPassword(): CroniumError {
  return fieldError('elevationPassword', 'an elevation password goes with --elevation sudo-password or su only', 'pass --elevation sudo-password (or su) together with --elevation-password-stdin');
}

/** Kinds of credential stored per host. */
type CredentialKind = (typeof credentials.$inferInsert)['kind'];

/** Adds, lists and removes hosts. */
/** What a host credential's seal is bound to: its host and kind (secret-box.ts). */
export function credentialContext(hostId: number, kind: string): string {
  return `credential:${hostId}:${kind}`;
}

export class HostService {
  constructor(
    private readonly store: DataStore,
    private readonly secrets: SecretBox,
    private readonly events: EventBus,
    private readonly audit: AuditLog,
  ) {}

  /** Hosts sorted by name, optionally only those with a tag, in a group, or matching a search. */
  async list(filter: { tag?: string; group?: string; search?: string } = {}): Promise<Host[]> {
    const { hosts, hostTags } = this.store.schema;
    const db = this.store.db;
    const conditions = [];
    if (filter.group) conditions.push(eq(hosts.groupName, filter.group));
    if (filter.tag) {
      conditions.push(inArray(hosts.id, db.select({ id: hostTags.hostId }).from(hostTags).where(eq(hostTags.tag, filter.tag))));
    }
    if (filter.search) {
      const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      // Case-insensitive in both dialects (SQLite's like is for ASCII; PostgreSQL's is not at all).
      const matches = (column: unknown): SQL => sql`lower(${column}) like lower(${pattern}) escape '\\'`;
      conditions.push(or(matches(hosts.name), matches(hosts.address), matches(hosts.groupName), inArray(hosts.id, db.select({ id: hostTags.hostId }).from(hostTags).where(matches(hostTags.tag)))));
    }
    const rows = await db
      .select()
      .from(hosts)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(asc(hosts.name));
    return this.toHosts(rows);
  }

  /** One host by name, or NOT_FOUND. */
  async get(name: string): Promise<Host> {
    const { hosts } = this.store.schema;
    const [row] = await this.store.db.select().from(hosts).where(eq(hosts.name, name));
    if (!row) throw notFound(name);
    return (await this.toHosts([row]))[0]!;
  }

  /** Adds a host; its password, if any, is sealed before it is stored. */
  async add(input: NewHost): Promise<Host> {
    const { hosts, hostTags, credentials } = this.store.schema;
    const identityFile = input.identityFile ? checkIdentityFile(input.identityFile) : null;
    if (input.passphrase !== undefined && !identityFile) {
      throw fieldError('passphrase', 'a passphrase needs an identity file', 'pass --identity FILE together with --passphrase-stdin');
    }
    if (input.proxyCommand !== undefined && input.jump !== undefined) throw fieldError('proxyCommand', 'a host is reached through a jump host or a ProxyCommand, not both', 'drop --jump, or put the jump in the command');
    if (needsPassword(input.elevation) && input.elevationPassword === undefined) throw missingElevationPassword(input.elevation);
    if (input.elevationPassword !== undefined && !needsPassword(input.elevation)) throw strayElevationPassword();
    const now = Date.now();
    const created = await this.store.tx(async (tx) => {
      if ((await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, input.name))).length) {
        throw new CroniumError('ALREADY_EXISTS', `a host named "${input.name}" already exists`, `choose another name, or remove it first: cronium hosts rm ${input.name}`, { fields: [{ field: 'name', message: 'is already taken' }] });
      }
      let jumpHostId: number | null = null;
      if (input.jump) {
        const [jump] = await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, input.jump));
        if (!jump) {
          throw fieldError('jump', `no host named "${input.jump}"`, 'add the jump host first, then refer to it by name');
        }
        jumpHostId = jump.id;
      }
      const [row] = await tx
        .insert(hosts)
        .values({ name: input.name, address: input.address, port: input.port, user: input.user ?? null, identityFile, useAgent: input.useAgent ?? true, groupName: input.group ?? null, jumpHostId, proxyCommand: input.proxyCommand ?? null, transport: input.transport ?? 'auto', sshAlias: input.sshAlias ?? null, sshOptions: input.sshOptions ?? null, sshConfigFile: input.sshConfigFile ?? null, opensshReason: input.opensshReason ?? null, elevation: input.elevation ?? null, createdAt: now, updatedAt: now })
        .returning();
      const id = row!.id;
      const tags = [...new Set(input.tags)];
      if (tags.length) await tx.insert(hostTags).values(tags.map((tag) => ({ hostId: id, tag })));
      if (input.password !== undefined) {
        await tx.insert(credentials).values({ hostId: id, kind: 'password', sealed: this.secrets.seal(input.password, credentialContext(id, 'password')), createdAt: now, updatedAt: now });
      }
      if (input.passphrase !== undefined) {
        await tx.insert(credentials).values({ hostId: id, kind: 'key_passphrase', sealed: this.secrets.seal(input.passphrase, credentialContext(id, 'key_passphrase')), createdAt: now, updatedAt: now });
      }
      await this.setCredential(tx, id, 'elevation_password', input.elevationPassword, now);
      await this.audit.record('host.add', input.name, { address: input.address, port: input.port, tags: input.tags }, tx);
      return row!;
    });
    this.events.emit('hosts.changed', { change: 'added', name: input.name });
    return this.get(created.name);
  }

  /**
   * Changes a host: each given field is set (null clears it), tags are replaced or
   * changed, and `newName` renames the host (schedules that target it by name follow;
   * refused while it has queued or running runs). Secrets are sealed before they are
   * stored; the audit log names the fields changed, never their secret values.
   */
  async update(patch: HostUpdate): Promise<Host> {
    const { hosts, hostTags, credentials, runs, schedules } = this.store.schema;
    const now = Date.now();
    const changed = Object.keys(patch).filter((k) => k !== 'name' && patch[k as keyof HostUpdate] !== undefined);
    const finalName = await this.store.tx(async (tx) => {
      const [row] = await this.store.forUpdate(tx.select().from(hosts).where(eq(hosts.name, patch.name)));
      if (!row) throw notFound(patch.name);
      const values: Partial<typeof hosts.$inferInsert> = { updatedAt: now };
      const newName = patch.newName !== undefined && patch.newName !== row.name ? patch.newName : undefined;
      if (newName !== undefined) {
        if ((await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, newName))).length) {
          throw new CroniumError('ALREADY_EXISTS', `a host named "${newName}" already exists`, 'choose another name', { fields: [{ field: 'newName', message: 'is already taken' }] });
        }
        const active = await tx.select({ id: runs.id }).from(runs).where(and(eq(runs.hostId, row.id), inArray(runs.status, ['queued', 'claimed', 'running']))).limit(1);
        if (active.length) throw new CroniumError('CONFLICT', `host "${row.name}" has queued or running runs`, 'rename it when its runs have ended, or cancel them first');
        values.name = newName;
      }
      if (patch.address !== undefined) values.address = patch.address;
      if (patch.port !== undefined) values.port = patch.port;
      if (patch.user !== undefined) values.user = patch.user;
      if (patch.useAgent !== undefined) values.useAgent = patch.useAgent;
      if (patch.group !== undefined) values.groupName = patch.group;
      if (patch.identityFile !== undefined) values.identityFile = patch.identityFile === null ? null : checkIdentityFile(patch.identityFile);
      if (patch.jump !== undefined) values.jumpHostId = patch.jump === null ? null : await this.jumpId(tx, row.id, patch.jump);
      if (patch.proxyCommand !== undefined) values.proxyCommand = patch.proxyCommand;
      if (patch.transport !== undefined) values.transport = patch.transport;
      const jumpAfter = values.jumpHostId !== undefined ? values.jumpHostId : row.jumpHostId;
      const proxyAfter = values.proxyCommand !== undefined ? values.proxyCommand : row.proxyCommand;
      if (jumpAfter !== null && proxyAfter) throw fieldError('proxyCommand', 'a host is reached through a jump host or a ProxyCommand, not both', 'clear one of them (--jump none or --proxy-command none)');
      if (patch.elevation !== undefined) values.elevation = patch.elevation;
      const elevation = values.elevation !== undefined ? values.elevation : row.elevation;
      if (typeof patch.elevationPassword === 'string' && !needsPassword(elevation)) throw strayElevationPassword();
      // Another method's password is not this one's (the user's for sudo, root's for su).
      const switched = patch.elevation !== undefined && patch.elevation !== row.elevation;
      if (needsPassword(elevation) && typeof patch.elevationPassword !== 'string') {
        const [stored] = await tx.select({ id: credentials.id }).from(credentials).where(and(eq(credentials.hostId, row.id), eq(credentials.kind, 'elevation_password')));
        if (!stored || patch.elevationPassword === null || switched) throw missingElevationPassword(elevation);
      }
      const identityFile = values.identityFile !== undefined ? values.identityFile : row.identityFile;
      if (typeof patch.passphrase === 'string' && !identityFile) {
        throw fieldError('passphrase', 'a passphrase needs an identity file', 'set the identity file together with its passphrase');
      }
      await tx.update(hosts).set(values).where(eq(hosts.id, row.id));

      if (patch.tags !== undefined || patch.addTags !== undefined || patch.removeTags !== undefined) {
        const current = (await tx.select({ tag: hostTags.tag }).from(hostTags).where(eq(hostTags.hostId, row.id))).map((t) => t.tag);
        const next = new Set(patch.tags ?? current);
        for (const t of patch.addTags ?? []) next.add(t);
        for (const t of patch.removeTags ?? []) next.delete(t);
        if (next.size > 64) throw fieldError('tags', 'a host has at most 64 tags');
        await tx.delete(hostTags).where(eq(hostTags.hostId, row.id));
        if (next.size) await tx.insert(hostTags).values([...next].map((tag) => ({ hostId: row.id, tag })));
      }
      await this.setCredential(tx, row.id, 'password', patch.password, now);
      // The sudo password belongs to sudo-password elevation: another setting drops it.
      await this.setCredential(tx, row.id, 'elevation_password', !needsPassword(elevation) && needsPassword(row.elevation) ? null : patch.elevationPassword, now);
      // A passphrase belongs to its key: clearing the identity file drops it.
      await this.setCredential(tx, row.id, 'key_passphrase', identityFile === null && patch.passphrase === undefined && row.identityFile !== null ? null : patch.passphrase, now);

      if (newName !== undefined) {
        const rows = await tx.select({ id: schedules.id, target: schedules.target }).from(schedules);
        for (const sch of rows) {
          const target = sch.target as { hosts?: string[]; tags?: string[] };
          if (!target.hosts?.includes(row.name)) continue;
          await tx
            .update(schedules)
            .set({ target: { ...target, hosts: target.hosts.map((h) => (h === row.name ? newName : h)) }, updatedAt: now })
            .where(eq(schedules.id, sch.id));
        }
      }
      const name = newName ?? row.name;
      await this.audit.record('host.update', name, { fields: changed, ...(name !== patch.name ? { previousName: patch.name } : {}) }, tx);
      return name;
    });
    this.events.emit('hosts.changed', { change: 'updated', name: finalName, ...(finalName !== patch.name ? { previousName: patch.name } : {}) });
    return this.get(finalName);
  }

  /**
   * Keeps what a diagnostics report learnt on the host's row, so that hosts.list reads
   * plain columns instead of parsing stored reports: the OS and architecture (when the
   * platform check saw them) and, when the host was reached, last_seen_at.
   */
  async noteDiagnosis(report: DiagnosticReport): Promise<void> {
    const { hosts } = this.store.schema;
    const platform = report.checks.find((c) => c.id === 'platform' && typeof c.data?.os === 'string' && c.data.os !== '')?.data;
    const reached = !report.checks.some((c) => REACH_CHECK_IDS.includes(c.id) && c.status === 'fail');
    const os = platform ? (typeof platform.distribution === 'string' && platform.distribution) || (platform.os as string) : null;
    const arch = platform && typeof platform.machine === 'string' && platform.machine ? platform.machine : null;
    await this.store.db
      .update(hosts)
      .set({ os: sql`coalesce(${os}, ${hosts.os})`, arch: sql`coalesce(${arch}, ${hosts.arch})`, ...(reached ? { lastSeenAt: report.startedAt } : {}) })
      .where(eq(hosts.name, report.host));
  }

  /** The id of a jump host for host `selfId`, refusing unknown names and loops. */
  private async jumpId(tx: Db, selfId: number, jump: string): Promise<number> {
    const { hosts } = this.store.schema;
    const [target] = await tx.select({ id: hosts.id, jumpHostId: hosts.jumpHostId }).from(hosts).where(eq(hosts.name, jump));
    if (!target) throw fieldError('jump', `no host named "${jump}"`, 'add the jump host first, then refer to it by name');
    const seen = new Set<number>();
    for (let at: number | null = target.id; at !== null; ) {
      if (at === selfId) throw fieldError('jump', `"${jump}" would make a loop of jump hosts`, 'choose a jump host that does not itself go through this host');
      if (seen.has(at)) break;
      seen.add(at);
      at = (await tx.select({ j: hosts.jumpHostId }).from(hosts).where(eq(hosts.id, at)))[0]?.j ?? null;
    }
    return target.id;
  }

  /** Sets (a string), clears (null) or leaves (undefined) one stored credential. */
  private async setCredential(tx: Db, hostId: number, kind: CredentialKind, value: string | null | undefined, now: number): Promise<void> {
    const { credentials } = this.store.schema;
    if (value === undefined) return;
    if (value === null) {
      await tx.delete(credentials).where(and(eq(credentials.hostId, hostId), eq(credentials.kind, kind)));
      return;
    }
    const sealed = this.secrets.seal(value, credentialContext(hostId, kind));
    await tx
      .insert(credentials)
      .values({ hostId, kind, sealed, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: [credentials.hostId, credentials.kind], set: { sealed, updatedAt: now } });
  }

  /** Removes a host with its tags and credentials; history keeps its name. */
  async remove(name: string): Promise<void> {
    const { hosts } = this.store.schema;
    await this.store.tx(async (tx) => {
    const [row] = await tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name));
    if (!row) throw notFound(name);
    const dependents = await tx.select({ name: hosts.name }).from(hosts).where(eq(hosts.jumpHostId, row.id));
    if (dependents.length) {
      throw new CroniumError(
        'CONFLICT',
        `host "${name}" is the jump host of ${dependents.map((d) => d.name).join(', ')}`,
        'remove those hosts or change their jump host first',
      );
    }
    await tx.delete(hosts).where(eq(hosts.id, row.id));
    await this.audit.record('host.remove', name, undefined, tx);
    });
    this.events.emit('hosts.changed', { change: 'removed', name });
  }

  /** The stored password of a host, opened; undefined when none is stored. */
  password(name: string): Promise<string | undefined> {
    return this.secret(name, 'password');
  }

  /**
   * What an elevated run on the host needs: the method and (sudo-password) the opened password,
   * or why it cannot be elevated there.
   */
  async elevationFor(name: string): Promise<{ elevation: Elevation } | { error: string; hint: string }> {
    const { hosts } = this.store.schema;
    const [row] = await this.store.db.select({ elevation: hosts.elevation }).from(hosts).where(eq(hosts.name, name));
    const how = row?.elevation ?? null;
    if (how === null || how === 'none') {
      return {
        error: how === null ? `the run asks to be elevated, and host ${name} has no elevation setting` : `the run asks to be elevated, and host ${name} is set to no elevation`,
        hint: `choose how ${name} becomes root: cronium hosts set ${name} --elevation sudo (NOPASSWD), sudo-password (with --elevation-password-stdin), doas, or su (with root's password on --elevation-password-stdin)`,
      };
    }
    if (how === 'doas') return { elevation: { method: 'doas' } };
    if (how === 'sudo') return { elevation: { method: 'sudo' } };
    const password = await this.secret(name, 'elevation_password');
    if (!password) return { error: `host ${name} is set to ${how} elevation, and no password is stored`, hint: `cronium hosts set ${name} --elevation ${how} --elevation-password-stdin` };
    return { elevation: { method: how === 'su' ? 'su' : 'sudo', password } };
  }

  /** The elevation setting with what elevationFor says, for diagnose. */
  async elevationCheckFor(name: string): Promise<{ elevation: Elevation; setting: string } | { error: string; hint: string; setting: string | null }> {
    const { hosts } = this.store.schema;
    const setting = (await this.store.db.select({ elevation: hosts.elevation }).from(hosts).where(eq(hosts.name, name)))[0]?.elevation ?? null;
    if (setting === null || setting === 'none') return { error: '', hint: '', setting };
    try {
      return { ...(await this.elevationFor(name)), setting };
    } catch (e) {
      return { error: `the sudo password of ${name} cannot be opened: ${(e as Error).message}`, hint: `store it again: cronium hosts set ${name} --elevation-password-stdin`, setting };
    }
  }

  /** A stored credential of a host, opened; undefined when none is stored. */
  async secret(name: string, kind: CredentialKind): Promise<string | undefined> {
    const { hosts, credentials } = this.store.schema;
    const [row] = await this.store.db
      .select({ sealed: credentials.sealed, hostId: credentials.hostId })
      .from(credentials)
      .innerJoin(hosts, eq(hosts.id, credentials.hostId))
      .where(and(eq(hosts.name, name), eq(credentials.kind, kind)));
    return row ? this.secrets.open(row.sealed, credentialContext(row.hostId, kind)) : undefined;
  }

  /**
   * How to reach a host over SSH: its connection facts and its jump chain, resolved
   * recursively (NOT_FOUND for an unknown host, INVALID_INPUT for a loop). Secrets are
   * opened only when a handshake asks for them.
   */
  /** Whether a host CA trusted in Cronium names a host (then auto reaches it through your own ssh). */
  caCovers?: (address: string, port: number) => Promise<boolean>;

  /**
   * The chain's records and sealed credentials are read first (resolveTarget then reports a
   * loop or a missing jump host); a credential is opened only when the handshake asks for it.
   */
  async sshTarget(name: string): Promise<SshTarget> {
    const records = new Map<string, TargetRecord>();
    for (let next: string | null = name; next !== null && !records.has(next) && records.size <= MAX_JUMPS + 1; ) {
      const record = await this.targetRecord(next);
      if (!record) break;
      records.set(next, record);
      next = record.jump;
    }
    const sealed = new Map<string, { sealed: Buffer; hostId: number }>();
    // One query per host of the chain (a jump host is rare): prepared, each is cheaper than one
    // built for the whole chain.
    for (const n of records.keys()) for (const r of await this.#credentialsOf().execute({ name: n })) sealed.set(`${n}\0${r.kind}`, r);
    return resolveTarget(
      name,
      (n) => records.get(n),
      (n, kind) => () => {
        const row = sealed.get(`${n}\0${kind}`);
        return row ? this.secrets.open(row.sealed, credentialContext(row.hostId, kind)) : undefined;
      },
    );
  }

  // Every run's connection reads these (sshTarget): built once.
  readonly #credentialsOf = preparedOnce(() => {
    const { hosts, credentials } = this.store.schema;
    return this.store.db
      .select({ kind: credentials.kind, sealed: credentials.sealed, hostId: credentials.hostId })
      .from(credentials)
      .innerJoin(hosts, eq(hosts.id, credentials.hostId))
      .where(eq(hosts.name, sql.placeholder('name')))
      .prepare();
  });
  readonly #hostRow = preparedOnce(() => {
    const { hosts } = this.store.schema;
    return this.store.db.select().from(hosts).where(eq(hosts.name, sql.placeholder('name'))).prepare();
  });

  private async targetRecord(name: string): Promise<TargetRecord | undefined> {
    const { hosts } = this.store.schema;
    const [row] = await this.#hostRow().execute({ name });
    if (!row) return undefined;
    const jump = row.jumpHostId === null ? null : ((await this.store.db.select({ name: hosts.name }).from(hosts).where(eq(hosts.id, row.jumpHostId)))[0]?.name ?? null);
    const caCovers = row.opensshReason === null && (await this.caCovers?.(row.sshOptions?.hostKeyAlias ?? row.address, row.port));
    return { name: row.name, address: row.address, port: row.port, user: row.user, identityFile: row.identityFile, useAgent: row.useAgent, jump, proxyCommand: row.proxyCommand, transport: row.transport, opensshReason: row.opensshReason ?? (caCovers ? 'a host certificate authority trusted in Cronium' : null), sshAlias: row.sshAlias, sshConfigFile: row.sshConfigFile, sshOptions: row.sshOptions };
  }

  private async toHosts(rows: (typeof hosts.$inferSelect)[]): Promise<Host[]> {
    if (rows.length === 0) return [];
    const { hosts, hostTags, credentials } = this.store.schema;
    const db = this.store.db;
    const ids = rows.map((r) => r.id);
    const tags = new Map<number, string[]>();
    const withPassword = new Set<number>();
    const withPassphrase = new Set<number>();
    const withElevationPassword = new Set<number>();
    // One query per relation for the whole page of hosts, not one per host.
    for (const chunk of chunks(ids, 500)) {
      for (const t of await db.select().from(hostTags).where(inArray(hostTags.hostId, chunk)).orderBy(asc(hostTags.tag))) {
        (tags.get(t.hostId) ?? tags.set(t.hostId, []).get(t.hostId)!).push(t.tag);
      }
      for (const c of await db
        .select({ hostId: credentials.hostId, kind: credentials.kind })
        .from(credentials)
        .where(and(inArray(credentials.hostId, chunk), inArray(credentials.kind, ['password', 'key_passphrase', 'elevation_password'])))) {
        (c.kind === 'password' ? withPassword : c.kind === 'key_passphrase' ? withPassphrase : withElevationPassword).add(c.hostId);
      }
    }
    const facts = await this.facts(ids);
    const names = new Map(rows.map((r) => [r.id, r.name]));
    const jumpIds = rows.map((r) => r.jumpHostId).filter((id): id is number => id !== null && !names.has(id));
    for (const chunk of chunks([...new Set(jumpIds)], 500)) {
      for (const j of await db.select({ id: hosts.id, name: hosts.name }).from(hosts).where(inArray(hosts.id, chunk))) names.set(j.id, j.name);
    }
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      address: r.address,
      port: r.port,
      user: r.user,
      identityFile: r.identityFile,
      jump: r.jumpHostId === null ? null : (names.get(r.jumpHostId) ?? null),
      proxyCommand: r.proxyCommand,
      sftpUnavailable: r.sftpUnavailable,
      transport: r.transport,
      opensshReason: r.opensshReason,
      sshAlias: r.sshAlias,
      sshOptions: r.sshOptions ?? null,
      tags: tags.get(r.id) ?? [],
      hasPassword: withPassword.has(r.id),
      hasPassphrase: withPassphrase.has(r.id),
      useAgent: r.useAgent,
      elevation: r.elevation,
      hasElevationPassword: withElevationPassword.has(r.id),
      group: r.groupName,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      ...(facts.get(r.id) ?? NO_FACTS),
    }));
  }

  /**
   * What the app learnt about hosts from their diagnostics, deployments and runs, in one
   * query over the whole page (each fact an indexed lookup per host): hosts.list of 1,000
   * hosts must stay in the low milliseconds.
   */
  private async facts(ids: number[]): Promise<Map<number, HostFacts>> {
    const rows = await this.store.rows<FactsRow>(this.store.dialect === 'postgres' ? factsSqlPg(ids) : factsSqlite(ids));
    const out = new Map<number, HostFacts>();
    for (const row of rows) {
      const run = asJson<[number, string, number, string | null]>(row.last_run);
      const legacyPlatform = asJson<[string | null, string | null, string | null]>(row.legacy_platform);
      // The newest report reached the host when last_seen_at is as new; reports stored before
      // noteDiagnosis existed are read from their JSON (legacy_failing).
      const diagFailing = row.diag_at === null ? null : row.last_seen_at !== null && Number(row.last_seen_at) >= Number(row.diag_at) ? false : row.legacy_failing === null ? true : asBool(row.legacy_failing) === true;
      let reachability: HostFacts['reachability'] = 'unknown';
      let reachabilityAt: number | null = null;
      const runVerdict = run ? runReachability(run[1], run[3]) : null;
      if (row.diag_at !== null && (!run || !runVerdict || row.diag_at >= run[0])) {
        reachability = diagFailing ? 'failing' : 'ok';
        reachabilityAt = row.diag_at;
      } else if (run && runVerdict) {
        reachability = runVerdict;
        reachabilityAt = run[0];
      }
      out.set(row.id, {
        reachability,
        reachabilityAt,
        os: row.os ?? (legacyPlatform ? legacyPlatform[2] || legacyPlatform[0] || null : null),
        arch: row.arch ?? (legacyPlatform?.[1] || null),
        runnerVersion: row.runner_version,
        lastRunAt: run?.[0] ?? null,
        lastRunStatus: run?.[1] ?? null,
        lastRunJobId: run?.[2] ?? null,
      });
    }
    return out;
  }
}


/** The computed fields of a Host. */
type HostFacts = Pick<Host, 'reachability' | 'reachabilityAt' | 'os' | 'arch' | 'runnerVersion' | 'lastRunAt' | 'lastRunStatus' | 'lastRunJobId'>;
const NO_FACTS: HostFacts = { reachability: 'unknown', reachabilityAt: null, os: null, arch: null, runnerVersion: null, lastRunAt: null, lastRunStatus: null, lastRunJobId: null };

interface FactsRow {
  id: number;
  os: string | null;
  arch: string | null;
  last_seen_at: number | null;
  diag_at: number | null;
  legacy_failing: number | boolean | null;
  legacy_platform: unknown;
  runner_version: string | null;
  last_run: unknown;
}

/** Error codes of a run that mean the host could not be reached or logged into. */
const UNREACHABLE_CODES = ['CONNECT_FAILED', 'CONNECT_TIMEOUT', 'AUTH_FAILED', 'HOST_KEY_UNKNOWN', 'HOST_KEY_MISMATCH'];
/** Diagnostic checks whose failure means the host is not reachable. */
const REACH_CHECK_IDS = ['dns', 'tcp', 'ssh', 'auth'];
const REACH_CHECKS = `(${REACH_CHECK_IDS.map((c) => `'${c}'`).join(', ')})`;

/** What a finished run says about reaching its host, or null when it says nothing (cancelled before it connected, lost). */
function runReachability(status: string, errorCode: string | null): 'ok' | 'failing' | null {
  if (errorCode && UNREACHABLE_CODES.includes(errorCode)) return 'failing';
  if (status === 'succeeded' || status === 'failed' || status === 'timed_out') return 'ok';
  return null;
}

/**
 * Per host of a list of ids: the stored OS, architecture and last_seen_at (kept by
 * noteDiagnosis), the time of the newest diagnostics report, the version of the newest
 * ready runner deployment, and the newest finished run, each an indexed lookup. Only for
 * a host whose row noteDiagnosis never filled (reports from before it, or a host never
 * reached) are stored reports read as JSON (legacy_*). One query per dialect: their JSON
 * functions differ.
 */
function factsSqlite(ids: number[]): SQL {
  return sql`
select h.id as id, h.os as os, h.arch as arch, h.last_seen_at as last_seen_at,
  (select d.created_at from diagnostics d where d.host_id = h.id order by d.created_at desc limit 1) as diag_at,
  case when h.last_seen_at is null and h.os is null then
    (select exists(select 1 from json_each(d.report, '$.checks') c
        where json_extract(c.value, '$.id') in ${sql.raw(REACH_CHECKS)} and json_extract(c.value, '$.status') = 'fail')
      from diagnostics d where d.host_id = h.id order by d.created_at desc limit 1)
  end as legacy_failing,
  case when h.os is null then
    (select json_array(json_extract(c.value, '$.data.os'), json_extract(c.value, '$.data.machine'), json_extract(c.value, '$.data.distribution'))
      from diagnostics d, json_each(d.report, '$.checks') c
      where d.host_id = h.id and json_extract(c.value, '$.id') = 'platform' and coalesce(json_extract(c.value, '$.data.os'), '') <> ''
      order by d.created_at desc limit 1)
  end as legacy_platform,
  (select rd.version from runner_deployments rd where rd.host_id = h.id and rd.status = 'ready' order by rd.updated_at desc limit 1) as runner_version,
  (select json_array(r.finished_at, r.status, r.job_id, r.error_code) from runs r
    where r.host_id = h.id and r.finished_at is not null order by r.finished_at desc limit 1) as last_run
from hosts h where h.id in (select value from json_each(${JSON.stringify(ids)}))`;
}

function factsSqlPg(ids: number[]): SQL {
  return sql`
select h.id as id, h.os as os, h.arch as arch, h.last_seen_at as last_seen_at,
  (select d.created_at from diagnostics d where d.host_id = h.id order by d.created_at desc limit 1) as diag_at,
  case when h.last_seen_at is null and h.os is null then
    (select exists(select 1 from jsonb_array_elements(d.report -> 'checks') c
        where c ->> 'id' in ${sql.raw(REACH_CHECKS)} and c ->> 'status' = 'fail')
      from diagnostics d where d.host_id = h.id order by d.created_at desc limit 1)
  end as legacy_failing,
  case when h.os is null then
    (select jsonb_build_array(c -> 'data' ->> 'os', c -> 'data' ->> 'machine', c -> 'data' ->> 'distribution')
      from diagnostics d, jsonb_array_elements(d.report -> 'checks') c
      where d.host_id = h.id and c ->> 'id' = 'platform' and coalesce(c -> 'data' ->> 'os', '') <> ''
      order by d.created_at desc limit 1)
  end as legacy_platform,
  (select rd.version from runner_deployments rd where rd.host_id = h.id and rd.status = 'ready' order by rd.updated_at desc limit 1) as runner_version,
  (select jsonb_build_array(r.finished_at, r.status, r.job_id, r.error_code) from runs r
    where r.host_id = h.id and r.finished_at is not null order by r.finished_at desc limit 1) as last_run
from hosts h where h.id = any(${`{${ids.join(',')}}`}::bigint[])`;
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
