/** The host inventory: hosts, their tags and their stored credentials. */
import type Database from 'better-sqlite3';
import { and, asc, eq, inArray, like, or, sql } from 'drizzle-orm';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Host } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { Db } from '../db/database';
import { credentials, hosts, hostTags, runs, schedules } from '../db/schema';
import type { EventBus } from '../events/event-bus';
import type { SecretBox } from '../secrets/secret-box';
import type { AuditLog } from '../audit/audit-log';
import type { DiagnosticReport, HostInput, HostUpdate } from '../../shared/api';
import type { z } from 'zod';
import type { SshTarget } from '../ssh/types';
import { resolveTarget, type TargetRecord } from './host-targets';
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
    if (input.proxyCommand !== undefined && input.jump !== undefined) throw fieldError('proxyCommand', 'a host is reached through a jump host or a ProxyCommand, not both', 'drop --jump, or put the jump in the command');
    if (needsPassword(input.elevation) && input.elevationPassword === undefined) throw missingElevationPassword(input.elevation);
    if (input.elevationPassword !== undefined && !needsPassword(input.elevation)) throw strayElevationPassword();
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
        .values({ name: input.name, address: input.address, port: input.port, user: input.user ?? null, identityFile, useAgent: input.useAgent ?? true, groupName: input.group ?? null, jumpHostId, proxyCommand: input.proxyCommand ?? null, transport: input.transport ?? 'auto', sshAlias: input.sshAlias ?? null, sshOptions: input.sshOptions ?? null, sshConfigFile: input.sshConfigFile ?? null, opensshReason: input.opensshReason ?? null, elevation: input.elevation ?? null, createdAt: now, updatedAt: now })
        .returning()
        .get();
      const tags = [...new Set(input.tags)];
      if (tags.length) tx.insert(hostTags).values(tags.map((tag) => ({ hostId: row.id, tag }))).run();
      if (input.password !== undefined) {
        tx.insert(credentials).values({ hostId: row.id, kind: 'password', sealed: this.secrets.seal(input.password, credentialContext(row.id, 'password')), createdAt: now, updatedAt: now }).run();
      }
      if (input.passphrase !== undefined) {
        tx.insert(credentials).values({ hostId: row.id, kind: 'key_passphrase', sealed: this.secrets.seal(input.passphrase, credentialContext(row.id, 'key_passphrase')), createdAt: now, updatedAt: now }).run();
      }
      this.setCredential(tx, row.id, 'elevation_password', input.elevationPassword, now);
      return row;
    });
    this.audit.recordSync('host.add', input.name, { address: input.address, port: input.port, tags: input.tags });
    this.events.emit('hosts.changed', { change: 'added', name: input.name });
    return this.get(created.name);
  }

  /**
   * Changes a host: each given field is set (null clears it), tags are replaced or
   * changed, and `newName` renames the host (schedules that target it by name follow;
   * refused while it has queued or running runs). Secrets are sealed before they are
   * stored; the audit log names the fields changed, never their secret values.
   */
  update(patch: HostUpdate): Host {
    const now = Date.now();
    const changed = Object.keys(patch).filter((k) => k !== 'name' && patch[k as keyof HostUpdate] !== undefined);
    const finalName = this.db.transaction((tx) => {
      const row = tx.select().from(hosts).where(eq(hosts.name, patch.name)).get();
      if (!row) throw notFound(patch.name);
      const values: Partial<typeof hosts.$inferInsert> = { updatedAt: now };
      const newName = patch.newName !== undefined && patch.newName !== row.name ? patch.newName : undefined;
      if (newName !== undefined) {
        if (tx.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, newName)).get()) {
          throw new CroniumError('ALREADY_EXISTS', `a host named "${newName}" already exists`, 'choose another name', { fields: [{ field: 'newName', message: 'is already taken' }] });
        }
        const active = tx.select({ id: runs.id }).from(runs).where(and(eq(runs.hostId, row.id), inArray(runs.status, ['queued', 'claimed', 'running']))).get();
        if (active) throw new CroniumError('CONFLICT', `host "${row.name}" has queued or running runs`, 'rename it when its runs have ended, or cancel them first');
        values.name = newName;
      }
      if (patch.address !== undefined) values.address = patch.address;
      if (patch.port !== undefined) values.port = patch.port;
      if (patch.user !== undefined) values.user = patch.user;
      if (patch.useAgent !== undefined) values.useAgent = patch.useAgent;
      if (patch.group !== undefined) values.groupName = patch.group;
      if (patch.identityFile !== undefined) values.identityFile = patch.identityFile === null ? null : checkIdentityFile(patch.identityFile);
      if (patch.jump !== undefined) values.jumpHostId = patch.jump === null ? null : this.jumpId(tx, row.id, patch.jump);
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
        const stored = tx.select({ id: credentials.id }).from(credentials).where(and(eq(credentials.hostId, row.id), eq(credentials.kind, 'elevation_password'))).get();
        if (!stored || patch.elevationPassword === null || switched) throw missingElevationPassword(elevation);
      }
      const identityFile = values.identityFile !== undefined ? values.identityFile : row.identityFile;
      if (typeof patch.passphrase === 'string' && !identityFile) {
        throw fieldError('passphrase', 'a passphrase needs an identity file', 'set the identity file together with its passphrase');
      }
      tx.update(hosts).set(values).where(eq(hosts.id, row.id)).run();

      if (patch.tags !== undefined || patch.addTags !== undefined || patch.removeTags !== undefined) {
        const current = tx.select({ tag: hostTags.tag }).from(hostTags).where(eq(hostTags.hostId, row.id)).all().map((t) => t.tag);
        const next = new Set(patch.tags ?? current);
        for (const t of patch.addTags ?? []) next.add(t);
        for (const t of patch.removeTags ?? []) next.delete(t);
        if (next.size > 64) throw fieldError('tags', 'a host has at most 64 tags');
        tx.delete(hostTags).where(eq(hostTags.hostId, row.id)).run();
        if (next.size) tx.insert(hostTags).values([...next].map((tag) => ({ hostId: row.id, tag }))).run();
      }
      this.setCredential(tx, row.id, 'password', patch.password, now);
      // The sudo password belongs to sudo-password elevation: another setting drops it.
      this.setCredential(tx, row.id, 'elevation_password', !needsPassword(elevation) && needsPassword(row.elevation) ? null : patch.elevationPassword, now);
      // A passphrase belongs to its key: clearing the identity file drops it.
      this.setCredential(tx, row.id, 'key_passphrase', identityFile === null && patch.passphrase === undefined && row.identityFile !== null ? null : patch.passphrase, now);

      if (newName !== undefined) {
        const rows = tx.select({ id: schedules.id, target: schedules.target }).from(schedules).all();
        for (const sch of rows) {
          const target = sch.target as { hosts?: string[]; tags?: string[] };
          if (!target.hosts?.includes(row.name)) continue;
          tx.update(schedules)
            .set({ target: { ...target, hosts: target.hosts.map((h) => (h === row.name ? newName : h)) }, updatedAt: now })
            .where(eq(schedules.id, sch.id))
            .run();
        }
      }
      return newName ?? row.name;
      // IMMEDIATE: it reads then writes; a deferred one fails with SQLITE_BUSY when another process wrote meanwhile.
    }, { behavior: 'immediate' });
    this.audit.recordSync('host.update', finalName, { fields: changed, ...(finalName !== patch.name ? { previousName: patch.name } : {}) });
    this.events.emit('hosts.changed', { change: 'updated', name: finalName, ...(finalName !== patch.name ? { previousName: patch.name } : {}) });
    return this.get(finalName);
  }

  /**
   * Keeps what a diagnostics report learnt on the host's row, so that hosts.list reads
   * plain columns instead of parsing stored reports: the OS and architecture (when the
   * platform check saw them) and, when the host was reached, last_seen_at.
   */
  noteDiagnosis(report: DiagnosticReport): void {
    const platform = report.checks.find((c) => c.id === 'platform' && typeof c.data?.os === 'string' && c.data.os !== '')?.data;
    const reached = !report.checks.some((c) => REACH_CHECK_IDS.includes(c.id) && c.status === 'fail');
    const os = platform ? (typeof platform.distribution === 'string' && platform.distribution) || (platform.os as string) : null;
    const arch = platform && typeof platform.machine === 'string' && platform.machine ? platform.machine : null;
    this.db
      .update(hosts)
      .set({ os: sql`coalesce(${os}, ${hosts.os})`, arch: sql`coalesce(${arch}, ${hosts.arch})`, ...(reached ? { lastSeenAt: report.startedAt } : {}) })
      .where(eq(hosts.name, report.host))
      .run();
  }

  /** The id of a jump host for host `selfId`, refusing unknown names and loops. */
  private jumpId(tx: Pick<Db, 'select'>, selfId: number, jump: string): number {
    const target = tx.select({ id: hosts.id, jumpHostId: hosts.jumpHostId }).from(hosts).where(eq(hosts.name, jump)).get();
    if (!target) throw fieldError('jump', `no host named "${jump}"`, 'add the jump host first, then refer to it by name');
    const seen = new Set<number>();
    for (let at: number | null = target.id; at !== null; ) {
      if (at === selfId) throw fieldError('jump', `"${jump}" would make a loop of jump hosts`, 'choose a jump host that does not itself go through this host');
      if (seen.has(at)) break;
      seen.add(at);
      at = tx.select({ j: hosts.jumpHostId }).from(hosts).where(eq(hosts.id, at)).get()?.j ?? null;
    }
    return target.id;
  }

  /** Sets (a string), clears (null) or leaves (undefined) one stored credential. */
  private setCredential(tx: Pick<Db, 'insert' | 'delete'>, hostId: number, kind: CredentialKind, value: string | null | undefined, now: number): void {
    if (value === undefined) return;
    if (value === null) {
      tx.delete(credentials).where(and(eq(credentials.hostId, hostId), eq(credentials.kind, kind))).run();
      return;
    }
    tx.insert(credentials)
      .values({ hostId, kind, sealed: this.secrets.seal(value, credentialContext(hostId, kind)), createdAt: now, updatedAt: now })
      .onConflictDoUpdate({ target: [credentials.hostId, credentials.kind], set: { sealed: this.secrets.seal(value, credentialContext(hostId, kind)), updatedAt: now } })
      .run();
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
    this.audit.recordSync('host.remove', name);
    this.events.emit('hosts.changed', { change: 'removed', name });
  }

  /** The stored password of a host, opened; undefined when none is stored. */
  password(name: string): string | undefined {
    return this.secret(name, 'password');
  }

  /**
   * What an elevated run on the host needs: the method and (sudo-password) the opened password,
   * or why it cannot be elevated there.
   */
  elevationFor(name: string): { elevation: Elevation } | { error: string; hint: string } {
    const row = this.db.select({ elevation: hosts.elevation }).from(hosts).where(eq(hosts.name, name)).get();
    const how = row?.elevation ?? null;
    if (how === null || how === 'none') {
      return {
        error: how === null ? `the run asks to be elevated, and host ${name} has no elevation setting` : `the run asks to be elevated, and host ${name} is set to no elevation`,
        hint: `choose how ${name} becomes root: cronium hosts set ${name} --elevation sudo (NOPASSWD), sudo-password (with --elevation-password-stdin), doas, or su (with root's password on --elevation-password-stdin)`,
      };
    }
    if (how === 'doas') return { elevation: { method: 'doas' } };
    if (how === 'sudo') return { elevation: { method: 'sudo' } };
    const password = this.secret(name, 'elevation_password');
    if (!password) return { error: `host ${name} is set to ${how} elevation, and no password is stored`, hint: `cronium hosts set ${name} --elevation ${how} --elevation-password-stdin` };
    return { elevation: { method: how === 'su' ? 'su' : 'sudo', password } };
  }

  /** The elevation setting with what elevationFor says, for diagnose. */
  elevationCheckFor(name: string): { elevation: Elevation; setting: string } | { error: string; hint: string; setting: string | null } {
    const setting = this.db.select({ elevation: hosts.elevation }).from(hosts).where(eq(hosts.name, name)).get()?.elevation ?? null;
    if (setting === null || setting === 'none') return { error: '', hint: '', setting };
    try {
      return { ...this.elevationFor(name), setting };
    } catch (e) {
      return { error: `the sudo password of ${name} cannot be opened: ${(e as Error).message}`, hint: `store it again: cronium hosts set ${name} --elevation-password-stdin`, setting };
    }
  }

  /** A stored credential of a host, opened; undefined when none is stored. */
  secret(name: string, kind: CredentialKind): string | undefined {
    const row = this.db
      .select({ sealed: credentials.sealed, hostId: credentials.hostId })
      .from(credentials)
      .innerJoin(hosts, eq(hosts.id, credentials.hostId))
      .where(and(eq(hosts.name, name), eq(credentials.kind, kind)))
      .get();
    return row ? this.secrets.open(row.sealed, credentialContext(row.hostId, kind)) : undefined;
  }

  /**
   * How to reach a host over SSH: its connection facts and its jump chain, resolved
   * recursively (NOT_FOUND for an unknown host, INVALID_INPUT for a loop). Secrets are
   * opened only when a handshake asks for them.
   */
  /** Whether a host CA trusted in Cronium names a host (then auto reaches it through your own ssh). */
  caCovers?: (address: string, port: number) => boolean;

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
    return { name: row.name, address: row.address, port: row.port, user: row.user, identityFile: row.identityFile, useAgent: row.useAgent, jump, proxyCommand: row.proxyCommand, transport: row.transport, opensshReason: row.opensshReason ?? (this.caCovers?.(row.sshOptions?.hostKeyAlias ?? row.address, row.port) ? 'a host certificate authority trusted in Cronium' : null), sshAlias: row.sshAlias, sshConfigFile: row.sshConfigFile, sshOptions: row.sshOptions };
  }

  private toHosts(rows: (typeof hosts.$inferSelect)[]): Host[] {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const tags = new Map<number, string[]>();
    const withPassword = new Set<number>();
    const withPassphrase = new Set<number>();
    const withElevationPassword = new Set<number>();
    // One query per relation for the whole page of hosts, not one per host.
    for (const chunk of chunks(ids, 500)) {
      for (const t of this.db.select().from(hostTags).where(inArray(hostTags.hostId, chunk)).orderBy(asc(hostTags.tag)).all()) {
        (tags.get(t.hostId) ?? tags.set(t.hostId, []).get(t.hostId)!).push(t.tag);
      }
      for (const c of this.db
        .select({ hostId: credentials.hostId, kind: credentials.kind })
        .from(credentials)
        .where(and(inArray(credentials.hostId, chunk), inArray(credentials.kind, ['password', 'key_passphrase', 'elevation_password'])))
        .all()) {
        (c.kind === 'password' ? withPassword : c.kind === 'key_passphrase' ? withPassphrase : withElevationPassword).add(c.hostId);
      }
    }
    const facts = this.facts(ids);
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
  private facts(ids: number[]): Map<number, HostFacts> {
    const sqlite = (this.db as unknown as { $client: Database.Database }).$client;
    const rows = (this.factsStatement ??= sqlite.prepare(FACTS_SQL)).all(JSON.stringify(ids)) as FactsRow[];
    const out = new Map<number, HostFacts>();
    for (const row of rows) {
      const run = row.last_run ? (JSON.parse(row.last_run) as [number, string, number, string | null]) : null;
      const legacyPlatform = row.legacy_platform ? (JSON.parse(row.legacy_platform) as [string | null, string | null, string | null]) : null;
      // The newest report reached the host when last_seen_at is as new; reports stored before
      // noteDiagnosis existed are read from their JSON (legacy_failing).
      const diagFailing = row.diag_at === null ? null : row.last_seen_at !== null && row.last_seen_at >= row.diag_at ? false : row.legacy_failing === null ? true : row.legacy_failing === 1;
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
  private factsStatement: Database.Statement | undefined;
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
  legacy_failing: number | null;
  legacy_platform: string | null;
  runner_version: string | null;
  last_run: string | null;
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
 * Per host of a JSON array of ids: the stored OS, architecture and last_seen_at (kept by
 * noteDiagnosis), the time of the newest diagnostics report, the version of the newest
 * ready runner deployment, and the newest finished run, each an indexed lookup. Only for
 * a host whose row noteDiagnosis never filled (reports from before it, or a host never
 * reached) are stored reports read as JSON (legacy_*).
 */
const FACTS_SQL = `
select h.id as id, h.os as os, h.arch as arch, h.last_seen_at as last_seen_at,
  (select d.created_at from diagnostics d where d.host_id = h.id order by d.created_at desc limit 1) as diag_at,
  case when h.last_seen_at is null and h.os is null then
    (select exists(select 1 from json_each(d.report, '$.checks') c
        where json_extract(c.value, '$.id') in ${REACH_CHECKS} and json_extract(c.value, '$.status') = 'fail')
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
from hosts h where h.id in (select value from json_each(?))`;

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
