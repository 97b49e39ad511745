/** Who did what, when: every change to the inventory and every run request is recorded. */
import { lt, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import type { auditLog } from '../db/schema';
import { asJson, type DataStore } from '../db/store';
import type { AuditEntry } from '../../shared/api';
import { currentCaller } from '../accounts/caller';

/** The actor of an audited action: which door or component did it. */
export type Actor = (typeof auditLog.$inferInsert)['actor'];

const DOORS: ReadonlySet<Actor> = new Set(['cli', 'desktop', 'headless']);

/**
 * How long the audit log keeps its rows: 400 days (a year and a bit, for yearly reviews), and
 * at most two million rows (a few hundred MB), whichever is reached first; the oldest go first.
 */
export const AUDIT_RETENTION = { maxAgeDays: 400, maxRows: 2_000_000 } as const;

/** Appends to the audit log. */
export class AuditLog {
  constructor(
    private readonly store: DataStore,
    private readonly actor: Actor,
  ) {}

  private entry(action: string, target?: string, detail?: Record<string, unknown>) {
    // A door's entries name the person who called and from where (a team server); the
    // scheduler's, the runner's and the helpers' are their own.
    const caller = DOORS.has(this.actor) ? currentCaller() : undefined;
    return { ts: Date.now(), actor: this.actor, action, target: target ?? null, detail: detail ?? null, person: caller?.principal?.name ?? null, source: caller?.source ?? null };
  }

  /** Records one action (inside `tx` when given, so it lands with the change); details must never hold a secret. */
  async record(action: string, target?: string, detail?: Record<string, unknown>, tx?: Db): Promise<void> {
    await (tx ?? this.store.db).insert(this.store.schema.auditLog).values(this.entry(action, target, detail));
  }

  /** Entries after an id, oldest first (a page of the trail; the JSON lines export pages with it). */
  async list(args: { afterId: number; since?: number | undefined; person?: string | undefined; limit: number }): Promise<AuditEntry[]> {
    const rows = await this.store.rows<{ id: number; ts: number; actor: string; person: string | null; source: string | null; action: string; target: string | null; detail: unknown }>(
      sql`select id, ts, actor, person, source, action, target, detail from audit_log where id > ${args.afterId}${args.since !== undefined ? sql` and ts >= ${args.since}` : sql``}${args.person !== undefined ? sql` and person = ${args.person}` : sql``} order by id limit ${args.limit}`,
    );
    return rows.map((r) => ({ id: Number(r.id), ts: Number(r.ts), actor: r.actor, person: r.person, source: r.source, action: r.action, target: r.target, detail: asJson<Record<string, unknown>>(r.detail) }));
  }

  /** Deletes rows past the retention limits; returns how many went. */
  async prune(now = Date.now(), limits: { maxAgeDays: number; maxRows: number } = AUDIT_RETENTION): Promise<number> {
    const { auditLog: t } = this.store.schema;
    const byAge = await this.store.exec(sql`delete from ${t} where ${lt(t.ts, now - limits.maxAgeDays * 86_400_000)}`);
    const byCount = await this.store.exec(sql`delete from ${t} where ${t.id} <= (select id from audit_log order by id desc limit 1 offset ${limits.maxRows})`);
    return byAge + byCount;
  }
}
