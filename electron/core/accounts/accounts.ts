/**
 * The people of a team server (issue #16): accounts, their roles and grants, sign-in with a
 * password (argon2id) and an optional TOTP second factor, and the sessions that follow.
 *
 * Guards:
 * - A password is kept only as its argon2id hash (64 MiB, 3 passes, one lane); a sign-in with an unknown
 *   name hashes against a dummy all the same, so the answer's timing does not tell names apart,
 *   and both fail as one SIGN_IN_FAILED.
 * - Ten failed sign-ins in a row lock the account for 15 minutes (ACCOUNT_LOCKED, across all
 *   servers: the count is in the database); a success resets the count.
 * - The TOTP secret is sealed like a host's credentials; a code is accepted once (the last time
 *   step used is kept), one step of clock drift either way.
 * - A session is a random 256-bit token handed to the client once; the store keeps its SHA-256
 *   only. It ends 12 hours after its last use or 7 days after sign-in, whichever comes first,
 *   and with the account (disabled, removed, role or password changed: every session goes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import { Secret, TOTP } from 'otpauth';
import { argon2id, argon2Verify } from 'hash-wasm';
import { CroniumError, fieldError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../db/database';
import { asBool, type DataStore } from '../db/store';
import type { SecretBox } from '../secrets/secret-box';
import { ROLES, type Principal, type Role } from './caller';

/** How long a session lives: since its last use, and at most. */
export const SESSION_IDLE_MS = 12 * 3_600_000;
export const SESSION_MAX_MS = 7 * 86_400_000;
/** Failed sign-ins in a row that lock an account, and for how long. */
export const LOCK_AFTER = 10;
export const LOCK_MS = 15 * 60_000;
/** A session's last use is written at most this often. */
const TOUCH_MS = 60_000;
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MIN_PASSWORD = 12;
const MAX_PASSWORD = 1024;
const TOTP_PERIOD = 30;
const ISSUER = 'Cronium';

/** An account as listed (never its hash or its TOTP secret). */
export interface UserInfo {
  name: string;
  role: Role;
  password: boolean;
  totp: boolean;
  oidc: boolean;
  disabled: boolean;
  lockedUntil: number | null;
  grants: { hosts: string[]; tags: string[] };
  lastSignInAt: number | null;
  createdAt: number;
}

/** A signed-in session: the token goes to the client once, with its CSRF token. */
export interface NewSession {
  token: string;
  csrf: string;
  expiresAt: number;
  user: UserInfo;
}

/** What a session token opens. */
export interface SessionPrincipal extends Principal {
  csrf: string;
  sessionId: string;
}

interface UserRow {
  id: number;
  name: string;
  role: Role;
  password_hash: string | null;
  totp_sealed: Buffer | null;
  totp_pending_sealed: Buffer | null;
  totp_last_step: number | null;
  oidc_subject: string | null;
  disabled: unknown;
  failed_sign_ins: number;
  locked_until: number | null;
  last_sign_in_at: number | null;
  created_at: number;
}

/** argon2id with 64 MiB, 3 passes, one lane (hash-wasm: WebAssembly, so no native module to build for Electron or bundle). */
const COSTS = { parallelism: 1, iterations: 3, memorySize: 65_536, hashLength: 32 } as const;
/**
 * At most `running` hashes at once, `waiting` more queued; beyond that a sign-in is refused at
 * once (SIGN_IN_BUSY). Each hash takes 64 MiB: without a bound, a flood of sign-ins to a server
 * reachable from the network would take its memory.
 */
export class KdfGate {
  #running = 0;
  readonly #queue: (() => void)[] = [];
  constructor(
    private readonly running: number,
    private readonly waiting: number,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.running) {
      if (this.#queue.length >= this.waiting) throw new CroniumError('SIGN_IN_BUSY', 'too many sign-ins at once');
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else this.#running++;
    try {
      return await fn();
    } finally {
      // Hand the slot to the next in line, or free it.
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }
}

const gate = new KdfGate(2, 64);
const kdf = {
  hash: (password: string) => gate.run(() => argon2id({ ...COSTS, password, salt: randomBytes(16), outputType: 'encoded' })),
  verify: (hash: string, password: string) =>
    gate.run(async () => {
      try {
        return await argon2Verify({ password, hash });
      } catch {
        // Not an argon2 hash at all (a row changed by hand): no match.
        return false;
      }
    }),
};
let dummy: Promise<string> | undefined;

/** A session token's stored form. */
export function sessionId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Checks an account name (lower-cased first). */
export function checkName(raw: string, field = 'name'): string {
  const name = raw.trim().toLowerCase();
  if (!NAME.test(name)) throw fieldError(field, `"${raw.slice(0, 80)}" is not an account name`, 'use 1-64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
  return name;
}

function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD) throw fieldError('password', `too short (${password.length} characters, at least ${MIN_PASSWORD})`, 'choose a longer passphrase: length matters more than symbols');
  if (password.length > MAX_PASSWORD) throw fieldError('password', `too long (at most ${MAX_PASSWORD} characters)`);
}

function checkRole(role: string): Role {
  if (!(ROLES as readonly string[]).includes(role)) throw fieldError('role', `"${role}" is not a role`, `use one of: ${ROLES.join(', ')}`);
  return role as Role;
}

/** The accounts of a team server; see the file's comment. */
export class AccountService {
  constructor(
    private readonly store: DataStore,
    private readonly secrets: SecretBox,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  /** How many accounts there are. */
  async count(): Promise<number> {
    const [r] = await this.store.rows<{ n: number }>(sql`select count(*) as n from users`);
    return Number(r?.n ?? 0);
  }

  /** Every account, by name. */
  async list(): Promise<UserInfo[]> {
    const rows = await this.store.rows<UserRow>(sql`select * from users order by name`);
    const grants = await this.store.rows<{ user_id: number; kind: 'host' | 'tag'; value: string }>(sql`select user_id, kind, value from user_grants order by value`);
    return rows.map((r) => this.info(r, grants.filter((g) => Number(g.user_id) === Number(r.id))));
  }

  /** One account, or NOT_FOUND. */
  async get(rawName: string): Promise<UserInfo> {
    const r = await this.row(checkName(rawName));
    return this.info(r, await this.grantRows(r.id));
  }

  /** Adds an account; a password is required unless it signs in with OpenID Connect. */
  async add(args: { name: string; role: string; password?: string; oidcSubject?: string }): Promise<UserInfo> {
    const name = checkName(args.name);
    const role = checkRole(args.role);
    if (args.password === undefined && args.oidcSubject === undefined) throw fieldError('password', 'required (or an OpenID Connect identity)', 'give the password on stdin: cronium users add NAME --role ROLE --password-stdin');
    if (args.password !== undefined) checkPassword(args.password);
    const hash = args.password !== undefined ? await kdf.hash(args.password) : null;
    const now = this.now();
    await this.store.tx(async (tx) => {
      const [exists] = await this.store.rows<{ id: number }>(sql`select id from users where name = ${name}`, tx);
      if (exists) throw new CroniumError('ALREADY_EXISTS', `an account named "${name}" exists`, 'pick another name, or change that account: cronium users set NAME');
      await tx.insert(this.store.schema.users).values({ name, role, passwordHash: hash, oidcSubject: args.oidcSubject ?? null, createdAt: now, updatedAt: now });
      await this.audit.record('user.add', name, { role, ...(args.oidcSubject ? { oidc: true } : {}) }, tx);
    });
    return this.get(name);
  }

  /** Changes an account: role, password, disabled, unlock. Any change of role, password or disabled ends its sessions. */
  async update(rawName: string, patch: { role?: string; password?: string; disabled?: boolean; unlock?: boolean }): Promise<UserInfo> {
    const name = checkName(rawName);
    const role = patch.role !== undefined ? checkRole(patch.role) : undefined;
    if (patch.password !== undefined) checkPassword(patch.password);
    const hash = patch.password !== undefined ? await kdf.hash(patch.password) : undefined;
    const { users, userSessions } = this.store.schema;
    await this.store.tx(async (tx) => {
      const r = await this.row(name, tx);
      if ((role !== undefined && role !== 'admin') || patch.disabled === true) await this.keepAnAdmin(r, tx);
      await tx
        .update(users)
        .set({
          ...(role !== undefined ? { role } : {}),
          ...(hash !== undefined ? { passwordHash: hash } : {}),
          ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
          ...(patch.unlock || hash !== undefined ? { failedSignIns: 0, lockedUntil: null } : {}),
          updatedAt: this.now(),
        })
        .where(eq(users.id, r.id));
      if (role !== undefined || hash !== undefined || patch.disabled !== undefined) await tx.delete(userSessions).where(eq(userSessions.userId, r.id));
      await this.audit.record('user.update', name, { ...(role ? { role } : {}), ...(hash ? { password: 'changed' } : {}), ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}), ...(patch.unlock ? { unlock: true } : {}) }, tx);
    });
    return this.get(name);
  }

  /** Removes an account (its sessions and grants with it); the last admin cannot go. */
  async remove(rawName: string): Promise<void> {
    const name = checkName(rawName);
    await this.store.tx(async (tx) => {
      const r = await this.row(name, tx);
      await this.keepAnAdmin(r, tx);
      await tx.delete(this.store.schema.users).where(eq(this.store.schema.users.id, r.id));
      await this.audit.record('user.remove', name, undefined, tx);
    });
  }

  /** A person changes their own password: the current one first. */
  async changePassword(rawName: string, current: string, password: string): Promise<UserInfo> {
    const name = checkName(rawName);
    const r = await this.row(name);
    if (r.password_hash === null || !(await kdf.verify(r.password_hash, current.slice(0, MAX_PASSWORD)))) {
      throw new CroniumError('SIGN_IN_FAILED', 'the current password is wrong', 'give your current password as it is now');
    }
    return this.update(name, { password });
  }

  /** Grants an operator hosts (by name) and tags; `revoke` takes them back. */
  async grant(rawName: string, what: { hosts?: string[]; tags?: string[] }, revoke = false): Promise<UserInfo> {
    const name = checkName(rawName);
    const { userGrants } = this.store.schema;
    const items = [...(what.hosts ?? []).map((v) => ({ kind: 'host' as const, value: v })), ...(what.tags ?? []).map((v) => ({ kind: 'tag' as const, value: v }))];
    if (items.length === 0) throw fieldError('hosts', 'name at least one host or tag', 'cronium users grant NAME --host web1 --tag prod');
    await this.store.tx(async (tx) => {
      const r = await this.row(name, tx);
      for (const g of items) {
        if (revoke) await tx.delete(userGrants).where(and(eq(userGrants.userId, r.id), eq(userGrants.kind, g.kind), eq(userGrants.value, g.value)));
        else await tx.insert(userGrants).values({ userId: r.id, kind: g.kind, value: g.value }).onConflictDoNothing();
      }
      await this.audit.record(revoke ? 'user.revoke' : 'user.grant', name, { hosts: what.hosts ?? [], tags: what.tags ?? [] }, tx);
    });
    return this.get(name);
  }

  /** Starts TOTP enrolment: a new secret, returned once (as a URI for an authenticator app); confirmed by its first code. */
  async totpBegin(rawName: string): Promise<{ secret: string; uri: string }> {
    const name = checkName(rawName);
    const r = await this.row(name);
    const secret = new Secret({ size: 20 });
    const { users } = this.store.schema;
    await this.store.db.update(users).set({ totpPendingSealed: this.secrets.seal(secret.base32, this.totpContext(r.id)), updatedAt: this.now() }).where(eq(users.id, r.id));
    return { secret: secret.base32, uri: this.totp(name, secret).toString() };
  }

  /** Finishes TOTP enrolment with a code of the new secret; from then on sign-in asks for a code. */
  async totpConfirm(rawName: string, code: string): Promise<UserInfo> {
    const name = checkName(rawName);
    const { users } = this.store.schema;
    await this.store.tx(async (tx) => {
      const r = await this.row(name, tx, true);
      if (!r.totp_pending_sealed) throw new CroniumError('NOT_FOUND', 'no TOTP enrolment is under way for this account', 'start one first (cronium users totp NAME, or Account in the app)');
      const secret = this.secrets.open(Buffer.from(r.totp_pending_sealed), this.totpContext(r.id));
      const step = this.checkCode(name, secret, code, null);
      if (step === undefined) throw fieldError('code', 'that code is not the current one of the new secret', "check the authenticator app's clock, and enter the code it shows now");
      await tx.update(users).set({ totpSealed: Buffer.from(r.totp_pending_sealed), totpPendingSealed: null, totpLastStep: step, updatedAt: this.now() }).where(eq(users.id, r.id));
      await this.audit.record('user.totp', name, { enabled: true }, tx);
    });
    return this.get(name);
  }

  /** Turns TOTP off for an account (an admin, when a person lost their device). */
  async totpDisable(rawName: string): Promise<UserInfo> {
    const name = checkName(rawName);
    const { users } = this.store.schema;
    await this.store.tx(async (tx) => {
      const r = await this.row(name, tx);
      await tx.update(users).set({ totpSealed: null, totpPendingSealed: null, totpLastStep: null, updatedAt: this.now() }).where(eq(users.id, r.id));
      await this.audit.record('user.totp', name, { enabled: false }, tx);
    });
    return this.get(name);
  }

  /** Signs a person in with name, password and (when enrolled) a TOTP code; a new session. */
  async signIn(args: { name: string; password: string; code?: string; source?: string; client?: string }): Promise<NewSession> {
    const failed = () => new CroniumError('SIGN_IN_FAILED', 'wrong name or password');
    let name: string;
    try {
      name = checkName(args.name);
    } catch {
      throw failed();
    }
    const [r] = await this.store.rows<UserRow>(sql`select * from users where name = ${name}`);
    const now = this.now();
    if (r && r.locked_until !== null && Number(r.locked_until) > now) {
      throw new CroniumError('ACCOUNT_LOCKED', `this account is locked until ${new Date(Number(r.locked_until)).toISOString()} after ${LOCK_AFTER} failed sign-ins`, undefined, { until: Number(r.locked_until) });
    }
    // The same work for a name that does not exist, a disabled account and a wrong password.
    dummy ??= kdf.hash(randomBytes(16).toString('hex'));
    const hash = r?.password_hash ?? (await dummy);
    const good = (await kdf.verify(hash, args.password.slice(0, MAX_PASSWORD))) && r !== undefined && r.password_hash !== null && !asBool(r.disabled);
    if (!r || !good) {
      if (r) await this.failure(r, now);
      throw failed();
    }
    let step: number | null = null;
    if (r.totp_sealed) {
      if (args.code === undefined || args.code === '') throw new CroniumError('TOTP_REQUIRED', 'this account needs the code of its authenticator app too');
      const secret = this.secrets.open(Buffer.from(r.totp_sealed), this.totpContext(r.id));
      const s = this.checkCode(name, secret, args.code, r.totp_last_step === null ? null : Number(r.totp_last_step));
      if (s === undefined) {
        await this.failure(r, now);
        throw new CroniumError('SIGN_IN_FAILED', 'wrong or already used code', 'enter the code your authenticator app shows now (each code signs in once)');
      }
      step = s;
    }
    return this.open(r, now, { step, ...(args.source ? { source: args.source } : {}), ...(args.client ? { client: args.client } : {}) });
  }

  /** Signs in the account linked to an OpenID Connect identity ("issuer subject"); a new session. */
  async signInOidc(identity: string, where: { source?: string; client?: string } = {}): Promise<NewSession> {
    const [r] = await this.store.rows<UserRow>(sql`select * from users where oidc_subject = ${identity}`);
    if (!r || asBool(r.disabled)) {
      await this.audit.record('user.signInFailed', r?.name, { oidc: identity.slice(0, 300), ...(r ? { disabled: true } : { unknown: true }) });
      throw new CroniumError('SIGN_IN_FAILED', 'no account of this team server is linked to that identity', 'an admin links it: cronium users add NAME --role ROLE --oidc-subject "ISSUER SUBJECT"', { identity: identity.slice(0, 300) });
    }
    return this.open({ ...r, id: Number(r.id) }, this.now(), { step: null, ...where });
  }

  /**
   * The person of a session token, or undefined (unknown, expired, or the account disabled).
   * Touches the session's last use at most once a minute.
   */
  async principal(token: string): Promise<SessionPrincipal | undefined> {
    if (token.length < 16 || token.length > 128) return undefined;
    const id = sessionId(token);
    const now = this.now();
    const [s] = await this.store.rows<{ user_id: number; csrf: string; last_seen_at: number; expires_at: number }>(sql`select user_id, csrf, last_seen_at, expires_at from user_sessions where id = ${id}`);
    if (!s || Number(s.expires_at) <= now || Number(s.last_seen_at) + SESSION_IDLE_MS <= now) return undefined;
    const [r] = await this.store.rows<UserRow>(sql`select * from users where id = ${s.user_id}`);
    if (!r || asBool(r.disabled)) return undefined;
    if (now - Number(s.last_seen_at) >= TOUCH_MS) await this.store.exec(sql`update user_sessions set last_seen_at = ${now} where id = ${id}`);
    const grants = await this.grantRows(r.id);
    return { id: Number(r.id), name: r.name, role: r.role, grants: this.grantsOf(grants), csrf: s.csrf, sessionId: id };
  }

  /** Ends a session (sign out); unknown tokens are ignored. */
  async signOut(token: string): Promise<void> {
    await this.store.exec(sql`delete from user_sessions where id = ${sessionId(token)}`);
  }

  /** Deletes sessions past their time; returns how many went. */
  async pruneSessions(): Promise<number> {
    const { userSessions: t } = this.store.schema;
    const now = this.now();
    return this.store.exec(sql`delete from ${t} where ${lt(t.expiresAt, now)} or ${lt(t.lastSeenAt, now - SESSION_IDLE_MS)}`);
  }

  private async open(r: UserRow, now: number, extra: { step: number | null; source?: string | undefined; client?: string | undefined }): Promise<NewSession> {
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const expiresAt = now + SESSION_MAX_MS;
    const { users, userSessions } = this.store.schema;
    await this.store.tx(async (tx) => {
      await tx.insert(userSessions).values({ id: sessionId(token), userId: r.id, csrf, source: extra.source?.slice(0, 200) ?? null, client: extra.client?.slice(0, 200) ?? null, createdAt: now, lastSeenAt: now, expiresAt });
      await tx
        .update(users)
        .set({ failedSignIns: 0, lockedUntil: null, lastSignInAt: now, ...(extra.step !== null ? { totpLastStep: extra.step } : {}) })
        .where(eq(users.id, r.id));
      await this.audit.record('user.signIn', r.name, { ...(extra.source ? { from: extra.source } : {}), ...(extra.step !== null ? { totp: true } : {}) }, tx);
    });
    return { token, csrf, expiresAt, user: await this.get(r.name) };
  }

  private async failure(r: UserRow, now: number): Promise<void> {
    await this.store.tx(async (tx) => {
      const [c] = await this.store.rows<{ n: number }>(sql`update users set failed_sign_ins = failed_sign_ins + 1 where id = ${r.id} returning failed_sign_ins as n`, tx);
      const n = Number(c?.n ?? 0);
      if (n >= LOCK_AFTER) await this.store.exec(sql`update users set locked_until = ${now + LOCK_MS}, failed_sign_ins = 0 where id = ${r.id}`, tx);
      await this.audit.record('user.signInFailed', r.name, { failures: n, ...(n >= LOCK_AFTER ? { locked: true } : {}) }, tx);
    });
  }

  /** The TOTP step a code belongs to (one step of drift), or undefined; never a step at or before `last`. */
  private checkCode(name: string, base32: string, code: string, last: number | null): number | undefined {
    if (!/^\d{6}$/.test(code.trim())) return undefined;
    const totp = this.totp(name, Secret.fromBase32(base32));
    const now = this.now();
    const delta = totp.validate({ token: code.trim(), timestamp: now, window: 1 });
    if (delta === null) return undefined;
    const step = Math.floor(now / 1000 / TOTP_PERIOD) + delta;
    if (last !== null && step <= last) return undefined;
    return step;
  }

  private totp(name: string, secret: Secret): TOTP {
    return new TOTP({ issuer: ISSUER, label: name, algorithm: 'SHA1', digits: 6, period: TOTP_PERIOD, secret });
  }

  private totpContext(userId: number): string {
    return `users.totp:${userId}`;
  }

  /** Refuses to leave the team without an enabled admin. */
  private async keepAnAdmin(r: UserRow, tx: Db): Promise<void> {
    if (r.role !== 'admin') return;
    const [c] = await this.store.rows<{ n: number }>(sql`select count(*) as n from users where role = 'admin' and disabled = ${this.store.dialect === 'sqlite' ? 0 : false} and id <> ${r.id}`, tx);
    if (Number(c?.n ?? 0) === 0) throw new CroniumError('CONFLICT', `"${r.name}" is the last admin`, 'make another account admin first');
  }

  private async row(name: string, tx?: Db, forUpdate = false): Promise<UserRow> {
    const [r] = await this.store.rows<UserRow>(forUpdate && this.store.dialect === 'postgres' ? sql`select * from users where name = ${name} for update` : sql`select * from users where name = ${name}`, tx);
    if (!r) throw new CroniumError('NOT_FOUND', `no account named "${name}"`, 'list them with: cronium users list');
    return { ...r, id: Number(r.id) };
  }

  private async grantRows(userId: number): Promise<{ kind: 'host' | 'tag'; value: string }[]> {
    return this.store.rows(sql`select kind, value from user_grants where user_id = ${userId} order by value`);
  }

  private grantsOf(rows: { kind: 'host' | 'tag'; value: string }[]): { hosts: string[]; tags: string[] } {
    return { hosts: rows.filter((g) => g.kind === 'host').map((g) => g.value), tags: rows.filter((g) => g.kind === 'tag').map((g) => g.value) };
  }

  private info(r: UserRow, grants: { kind: 'host' | 'tag'; value: string }[]): UserInfo {
    const now = this.now();
    return {
      name: r.name,
      role: r.role,
      password: r.password_hash !== null,
      totp: r.totp_sealed !== null,
      oidc: r.oidc_subject !== null,
      disabled: asBool(r.disabled) === true,
      lockedUntil: r.locked_until !== null && Number(r.locked_until) > now ? Number(r.locked_until) : null,
      grants: this.grantsOf(grants),
      lastSignInAt: r.last_sign_in_at === null ? null : Number(r.last_sign_in_at),
      createdAt: Number(r.created_at),
    };
  }
}
