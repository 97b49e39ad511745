/** App settings stored in the `settings` table, each parsed by its schema on the way in and out. */
import type Database from 'better-sqlite3';
import { LogRetention, type Settings } from '../../shared/api';
import type { AuditLog } from '../audit/audit-log';
import type { RetentionPolicy } from '../logs/log-service';

/** Log retention when nothing is set: 90 days and 2 GiB in all. */
export const DEFAULT_RETENTION: RetentionPolicy = { maxAgeDays: 90, maxTotalBytes: 2 * 1024 ** 3 };

const RETENTION_KEY = 'logs.retention';

/** Reads and writes settings. */
export class SettingsService {
  constructor(
    private readonly db: Database.Database,
    private readonly audit: AuditLog,
  ) {}

  /** The log retention policy in force (a stored value that no longer parses falls back to the default). */
  retention(): RetentionPolicy {
    const raw = this.db.prepare('select value from settings where key = ?').pluck().get(RETENTION_KEY) as string | undefined;
    if (raw === undefined) return DEFAULT_RETENTION;
    try {
      const parsed = LogRetention.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : DEFAULT_RETENTION;
    } catch {
      return DEFAULT_RETENTION;
    }
  }

  /** Every setting. */
  get(): Settings {
    return { logsRetention: this.retention() };
  }

  /** Replaces the given settings (already parsed by the contract); returns them all. */
  set(patch: Partial<Settings>): Settings {
    if (patch.logsRetention) {
      this.db
        .prepare('insert into settings (key, value, updated_at) values (?, ?, ?) on conflict(key) do update set value = excluded.value, updated_at = excluded.updated_at')
        .run(RETENTION_KEY, JSON.stringify(patch.logsRetention), Date.now());
      this.audit.record('settings.set', RETENTION_KEY, patch.logsRetention);
    }
    return this.get();
  }
}
