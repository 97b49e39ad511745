/** Who did what, when: every change to the inventory and every run request is recorded. */
import { lt, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import type { auditLog } from '../db/schema';
import type { DataStore } from '../db/store';

/** The actor of an audited action: which door or component did it. */
export type Actor = (typeof auditLog.$inferInsert)['actor'];

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
    return { ts: Date.now(), actor: this.actor, action, target: target ?? null, detail: detail ?? null };
  }

  /** Records one action (inside `tx` when given, so it lands with the change); details must never hold a secret. */
  async record(action: string, target?: string, detail?: Record<string, unknown>, tx?: Db): Promise<void> {
    await (tx ?? this.store.db).insert(this.store.schema.auditLog).values(this.entry(action, target, detail));
  }

  /** Deletes rows past the retention limits; returns how many went. */
  async prune(now = Date.now(), limits: { maxAgeDays: number; maxRows: number } = AUDIT_RETENTION): Promise<number> {
    const { auditLog: t } = this.store.schema;
    const byAge = await this.store.exec(sql`delete from ${t} where ${lt(t.ts, now - limits.maxAgeDays * 86_400_000)}`);
    const byCount = await this.store.exec(sql`delete from ${t} where ${t.id} <= (select id from audit_log order by id desc limit 1 offset ${limits.maxRows})`);
    return byAge + byCount;
  }
}
