/**
 * App settings stored in the `settings` table, one JSON value per group, each parsed by
 * its schema on the way in and out. A stored value that no longer parses (an older or
 * hand-edited database) falls back to the group's default rather than failing a read:
 * settings are read on hot paths (the worker reads the concurrency limits at every claim).
 *
 * Reads come from a snapshot, so they stay synchronous and free on those paths; the snapshot
 * is read at open, replaced by this service's own changes at once, and read again every second
 * (`startRefresh`), so a change made by another process on the same data dir, or by another
 * server of a team, applies within a second (and is announced with settings.changed).
 */
import type Database from 'better-sqlite3';
import { inArray, sql } from 'drizzle-orm';
import type { z } from 'zod';
import { AppearanceSettings, DesktopSettings, ExecutionSettings, LogRetention, NotificationSettings, type Settings } from '../../shared/api';
import type { AuditLog } from '../audit/audit-log';
import type { Db } from '../db/database';
import type { DataStore } from '../db/store';
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
export const DEFAULT_DESKTOP: Settings['desktop'] = { startAtLogin: false, teamServers: [], autoUpdate: true, updateChannel: 'latest', updateQuietHours: null };

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

/** The stored values of the settings' keys, as parsed JSON (a key absent: not set). */
export type StoredSettings = ReadonlyMap<string, unknown>;

const KEYS = [RETENTION_KEY, ...Object.values(GROUPS).map((g) => g.key)];

/** Rows of the settings' keys to values: SQLite's JSON text parsed (a value that does not parse: not set). */
function parseStored(rows: { key: string; value: unknown }[]): StoredSettings {
  const out = new Map<string, unknown>();
  for (const r of rows) {
    if (typeof r.value !== 'string') {
      out.set(r.key, r.value);
      continue;
    }
    try {
      out.set(r.key, JSON.parse(r.value));
    } catch {
      // As if not set: the group's default.
    }
  }
  return out;
}

/** Reads and writes settings. */
export class SettingsService {
  #stored: StoredSettings;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: DataStore,
    private readonly audit: AuditLog,
    private readonly events?: EventBus,
    initial: StoredSettings = new Map(),
  ) {
    this.#stored = initial;
  }

  /** The stored settings of a store (what the constructor's `initial` takes); inside `tx`, locked for its update. */
  static async read(store: DataStore, tx?: Db): Promise<StoredSettings> {
    const { settings } = store.schema;
    // The values as stored (text on SQLite, jsonb on PostgreSQL): a hand-edited value that is not
    // JSON must read as "not set", not fail the read as drizzle's JSON column would.
    const lock = tx && store.dialect === 'postgres' ? sql` for update` : sql``;
    return parseStored(await store.rows<{ key: string; value: unknown }>(sql`select ${settings.key} as key, ${settings.value} as value from ${settings} where ${inArray(settings.key, KEYS)}${lock}`, tx));
  }

  /** read(), synchronously, from a SQLite file being opened (the synchronous openCore). */
  static readSync(sqlite: Database.Database): StoredSettings {
    return parseStored(sqlite.prepare(`select key, value from settings where key in (${KEYS.map(() => '?').join(',')})`).all(...KEYS) as { key: string; value: unknown }[]);
  }

  /** Reads the settings again; announces them when another process or server changed them. */
  async refresh(): Promise<void> {
    const next = await SettingsService.read(this.store);
    const before = JSON.stringify(this.get());
    this.#stored = next;
    if (JSON.stringify(this.get()) !== before) this.events?.emit('settings.changed', this.get());
  }

  /** Refreshes every `everyMs` until stopRefresh (the timer does not hold the process open). */
  startRefresh(everyMs = 1000): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.refresh().catch(() => {
        // The store is busy or going: the snapshot stays as it is until the next tick.
      });
    }, everyMs);
    this.#timer.unref();
  }

  stopRefresh(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  private group<G extends GroupName>(name: G, stored: StoredSettings = this.#stored): Settings[G] {
    const { key, schema, fallback } = GROUPS[name];
    const value = stored.get(key);
    if (value === undefined || value === null || typeof value !== 'object') return fallback as Settings[G];
    // Fields added later get their defaults; a field that does not parse resets the group.
    const parsed = (schema as z.ZodType).safeParse({ ...fallback, ...value });
    return (parsed.success ? parsed.data : fallback) as Settings[G];
  }

  /** The log retention policy in force (a stored value that no longer parses falls back to the default). */
  retention(): RetentionPolicy {
    const stored = this.#stored.get(RETENTION_KEY);
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

  /**
   * Changes the given settings (already parsed by the contract) in one transaction, merged with
   * what is stored now (read inside it, so a change another server made meanwhile is kept);
   * returns them all and emits settings.changed.
   */
  async set(patch: SettingsPatch): Promise<Settings> {
    const changed: string[] = [];
    const { settings } = this.store.schema;
    const stored = await this.store.tx(async (tx) => {
      const current = new Map(await SettingsService.read(this.store, tx));
      const write = async (key: string, value: unknown) => {
        const updatedAt = Date.now();
        await tx.insert(settings).values({ key, value, updatedAt }).onConflictDoUpdate({ target: settings.key, set: { value: sql`excluded.value`, updatedAt } });
        current.set(key, value);
      };
      if (patch.logsRetention) {
        await write(RETENTION_KEY, patch.logsRetention);
        await this.audit.record('settings.set', RETENTION_KEY, patch.logsRetention, tx);
        changed.push(RETENTION_KEY);
      }
      for (const name of Object.keys(GROUPS) as GroupName[]) {
        const p = patch[name];
        if (!p || Object.keys(p).length === 0) continue;
        const next = { ...this.group(name, current), ...Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) };
        // The contract parsed each field; the merged group is parsed again as a whole.
        const parsed = (GROUPS[name].schema as z.ZodType).parse(next);
        await write(GROUPS[name].key, parsed);
        await this.audit.record('settings.set', GROUPS[name].key, parsed as Record<string, unknown>, tx);
        changed.push(GROUPS[name].key);
      }
      return current;
    });
    this.#stored = stored;
    const all = this.get();
    if (changed.length) this.events?.emit('settings.changed', all);
    return all;
  }
}
