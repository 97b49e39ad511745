/**
 * App settings stored in the `settings` table, one JSON value per group, each parsed by
 * its schema on the way in and out. A stored value that no longer parses (an older or
 * hand-edited database) falls back to the group's default rather than failing a read:
 * settings are read on hot paths (the worker reads the concurrency limits at every claim).
 */
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { AppearanceSettings, DesktopSettings, ExecutionSettings, LogRetention, NotificationSettings, type Settings } from '../../shared/api';
import type { AuditLog } from '../audit/audit-log';
import type { EventBus } from '../events/event-bus';
import type { RetentionPolicy } from '../logs/log-service';

/** Log retention when nothing is set: 90 days and 2 GiB in all. */
export const DEFAULT_RETENTION: RetentionPolicy = { maxAgeDays: 90, maxTotalBytes: 2 * 1024 ** 3 };

/** Execution defaults: the worker's own limits before settings existed. */
export const DEFAULT_EXECUTION: Settings['execution'] = { defaultMode: 'auto', defaultTimeoutMs: null, globalConcurrency: 32, perHostConcurrency: 4, runnerCheck: 'stat', maxOutputBytes: 256 * 2 ** 20 };
/** Notify about failures, not about successes. */
export const DEFAULT_NOTIFICATIONS: Settings['notifications'] = { onFailure: true, onSuccess: false };
/** Follow the OS. */
export const DEFAULT_APPEARANCE: Settings['appearance'] = { theme: 'system' };
/** Start at login is opt-in; updates are checked automatically on the stable channel, at any hour. */
export const DEFAULT_DESKTOP: Settings['desktop'] = { startAtLogin: false, autoUpdate: true, updateChannel: 'latest', updateQuietHours: null };

const RETENTION_KEY = 'logs.retention';

/** The merged groups: key in the table, schema, default. */
const GROUPS = {
  execution: { key: 'execution', schema: ExecutionSettings, fallback: DEFAULT_EXECUTION },
  notifications: { key: 'notifications', schema: NotificationSettings, fallback: DEFAULT_NOTIFICATIONS },
  appearance: { key: 'appearance', schema: AppearanceSettings, fallback: DEFAULT_APPEARANCE },
  desktop: { key: 'desktop', schema: DesktopSettings, fallback: DEFAULT_DESKTOP },
} as const;
type GroupName = keyof typeof GROUPS;

/** A change to the settings: logsRetention replaces, the other groups merge field by field. */
export type SettingsPatch = { logsRetention?: Settings['logsRetention'] | undefined } & { [G in GroupName]?: Partial<Settings[G]> | undefined };

/** Reads and writes settings. */
export class SettingsService {
  constructor(
    private readonly db: Database.Database,
    private readonly audit: AuditLog,
    private readonly events?: EventBus,
  ) {}

  private raw(key: string): unknown {
    const raw = this.db.prepare('select value from settings where key = ?').pluck().get(key) as string | undefined;
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      return undefined;
    }
  }

  private write(key: string, value: unknown): void {
    this.db
      .prepare('insert into settings (key, value, updated_at) values (?, ?, ?) on conflict(key) do update set value = excluded.value, updated_at = excluded.updated_at')
      .run(key, JSON.stringify(value), Date.now());
  }

  private group<G extends GroupName>(name: G): Settings[G] {
    const { key, schema, fallback } = GROUPS[name];
    const stored = this.raw(key);
    if (stored === undefined) return fallback as Settings[G];
    // Fields added later get their defaults; a field that does not parse resets the group.
    const parsed = (schema as z.ZodType).safeParse({ ...fallback, ...(stored as object) });
    return (parsed.success ? parsed.data : fallback) as Settings[G];
  }

  /** The log retention policy in force (a stored value that no longer parses falls back to the default). */
  retention(): RetentionPolicy {
    const stored = this.raw(RETENTION_KEY);
    if (stored === undefined) return DEFAULT_RETENTION;
    const parsed = LogRetention.safeParse(stored);
    return parsed.success ? parsed.data : DEFAULT_RETENTION;
  }

  /** Execution defaults and limits in force. */
  execution(): Settings['execution'] {
    return this.group('execution');
  }

  /** Every setting. */
  get(): Settings {
    return {
      logsRetention: this.retention(),
      execution: this.group('execution'),
      notifications: this.group('notifications'),
      appearance: this.group('appearance'),
      desktop: this.group('desktop'),
    };
  }

  /** Changes the given settings (already parsed by the contract) in one transaction; returns them all and emits settings.changed. */
  set(patch: SettingsPatch): Settings {
    const changed: string[] = [];
    // IMMEDIATE: the merge reads then writes, and a deferred transaction whose snapshot
    // another process (serve's worker, the scheduler) wrote past fails with SQLITE_BUSY.
    this.db.transaction(() => {
      if (patch.logsRetention) {
        this.write(RETENTION_KEY, patch.logsRetention);
        this.audit.record('settings.set', RETENTION_KEY, patch.logsRetention);
        changed.push(RETENTION_KEY);
      }
      for (const name of Object.keys(GROUPS) as GroupName[]) {
        const p = patch[name];
        if (!p || Object.keys(p).length === 0) continue;
        const next = { ...this.group(name), ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
        // The contract parsed each field; the merged group is parsed again as a whole.
        const parsed = (GROUPS[name].schema as z.ZodType).parse(next);
        this.write(GROUPS[name].key, parsed);
        this.audit.record('settings.set', GROUPS[name].key, parsed as Record<string, unknown>);
        changed.push(GROUPS[name].key);
      }
    }).immediate();
    const all = this.get();
    if (changed.length) this.events?.emit('settings.changed', all);
    return all;
  }
}
