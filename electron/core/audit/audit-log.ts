/** Who did what, when: every change to the inventory and every run request is recorded. */
import type { Db } from '../db/database';
import { auditLog } from '../db/schema';

/** The actor of an audited action: which door or component did it. */
export type Actor = (typeof auditLog.$inferInsert)['actor'];

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
}
