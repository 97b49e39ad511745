/** Who did what, when: every change to the inventory and every run request is recorded. */
import { lt, sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { auditLog } from '../db/schema';

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
    private readonly db: Db,
    private readonly actor: Actor,
  ) {}

  /** Records one action; details must never hold a secret. */
  record(action: string, target?: string, detail?: Record<string, unknown>): void {
    this.db.insert(auditLog).values({ ts: Date.now(), actor: this.actor, action, target: target ?? null, detail: detail ?? null }).run();
  }

  /** Deletes rows past the retention limits; returns how many went. */
  prune(now = Date.now(), limits: { maxAgeDays: number; maxRows: number } = AUDIT_RETENTION): number {
    const byAge = this.db.delete(auditLog).where(lt(auditLog.ts, now - limits.maxAgeDays * 86_400_000)).run().changes;
    const byCount = this.db
      .delete(auditLog)
      .where(sql`${auditLog.id} <= (select id from audit_log order by id desc limit 1 offset ${limits.maxRows})`)
      .run().changes;
    return byAge + byCount;
  }
}
