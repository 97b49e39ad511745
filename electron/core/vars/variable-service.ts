/**
 * Variables for scripts: global, or per host (per host wins). Guards these invariants:
 * - a secret variable's value is stored only sealed by the SecretBox (`value` null,
 *   `sealed` set), and never leaves the core through the API (VariableView.value null);
 * - once secret, a variable stays secret: setting it again (from the API without
 *   `secret`, or from a script) keeps it sealed; to make it plain, remove it first;
 * - every secret value a host can see is masked in that host's run logs
 *   (`secretValuesFor`, wired into the worker by the core).
 * The helper API reads and writes variables for a run's host through `getForRun` and
 * `setFromScript`.
 */
import type Database from 'better-sqlite3';
import type { VariableView } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { SecretBox } from '../secrets/secret-box';

interface Row {
  id: number;
  host_id: number | null;
  host_name: string | null;
  key: string;
  value: string | null;
  secret: number;
  sealed: Buffer | null;
  updated_at: number;
}

const SELECT = 'select v.id, v.host_id, h.name as host_name, v.key, v.value, v.secret, v.sealed, v.updated_at from variables v left join hosts h on h.id = v.host_id';

/** Reads and writes variables; secret ones sealed. */
/** What a secret variable's seal is bound to: its scope (a host, or global) and key (secret-box.ts). */
export function variableContext(hostId: number | null, key: string): string {
  return `variable:${hostId ?? '*'}:${key}`;
}

/** Reads and writes variables; secret ones sealed. */
export class VariableService {
  constructor(
    private readonly db: Database.Database,
    private readonly secrets: SecretBox,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Without host: every global and every per-host variable; with host: the set that host sees (per-host wins). */
  list(filter: { host?: string } = {}): VariableView[] {
    if (filter.host === undefined) {
      const rows = this.db.prepare(`${SELECT} order by v.key, v.host_id is not null, h.name`).all() as Row[];
      return rows.map(toView);
    }
    const hostId = this.hostId(filter.host);
    const rows = this.db.prepare(`${SELECT} where v.host_id is null or v.host_id = ? order by v.key, v.host_id is null`).all(hostId) as Row[];
    const seen = new Set<string>();
    return rows.filter((r) => !seen.has(r.key) && seen.add(r.key)).map(toView);
  }

  /** A variable; with host, the value that host sees (per-host, else global). NOT_FOUND when none. */
  get(key: string, host?: string): VariableView {
    const row = host === undefined ? this.row(null, key) : this.effective(this.hostId(host), key);
    if (!row) {
      throw new CroniumError('NOT_FOUND', `no variable "${key}"${host !== undefined ? ` for host ${host} (per-host or global)` : ''}`, `set it with: cronium vars set ${key} VALUE${host !== undefined ? ` [--host ${host}]` : ''}`);
    }
    return toView(row);
  }

  /** Sets a global variable, or a per-host one; a secret is sealed (and an existing secret stays secret). */
  set(input: { key: string; value: string; host?: string; secret?: boolean }): VariableView {
    const hostId = input.host === undefined ? null : this.hostId(input.host);
    const secret = this.write(hostId, input.key, input.value, input.secret === true);
    this.audit.recordSync('var.set', input.key, { scope: hostId === null ? 'global' : 'host', ...(input.host !== undefined ? { host: input.host } : {}), secret });
    return toView(this.row(hostId, input.key)!);
  }

  /** Removes a global variable, or a per-host one; NOT_FOUND when there is none. */
  remove(key: string, host?: string): void {
    const hostId = host === undefined ? null : this.hostId(host);
    const n = this.db.prepare(`delete from variables where key = ? and ${hostId === null ? 'host_id is null' : 'host_id = ?'}`).run(...(hostId === null ? [key] : [key, hostId])).changes;
    if (n === 0) throw new CroniumError('NOT_FOUND', `no ${hostId === null ? 'global' : `per-host (${host})`} variable "${key}"`, 'list them with: cronium vars list');
    this.audit.recordSync('var.remove', key, { scope: hostId === null ? 'global' : 'host', ...(host !== undefined ? { host } : {}) });
  }

  /**
   * The value a run on a host sees (per-host wins over global), opened when secret; null
   * when neither exists. `hostId` null: only globals. For the helper API's getVariable.
   */
  getForRun(hostId: number | null, key: string): { value: string; secret: boolean } | null {
    const row = this.effective(hostId, key);
    if (!row) return null;
    return { value: this.valueOf(row), secret: row.secret === 1 };
  }

  /**
   * A script's setVariable: updates the per-host variable of its host when one exists with
   * that key, else the global one (created when absent). A secret stays secret (sealed).
   */
  setFromScript(hostId: number | null, key: string, value: string): void {
    const target = hostId !== null && this.row(hostId, key) ? hostId : null;
    this.write(target, key, value, false);
  }

  /** A script's setVariable in a host-scoped job (the default): the host's own variable, created when absent; a secret stays secret. */
  setForHostFromScript(hostId: number, key: string, value: string): void {
    this.write(hostId, key, value, false);
  }

  /** Every secret value a run on this host could see (the globals and its own), for masking its log. */
  secretValuesFor(hostId: number | null): string[] {
    const rows = this.db.prepare('select id, host_id, key, value, secret, sealed from variables where secret = 1 and (host_id is null or host_id = ?)').all(hostId) as Row[];
    const out: string[] = [];
    for (const r of rows) {
      try {
        out.push(this.valueOf(r));
      } catch {
        // Sealed by another door's box (SECRET_UNAVAILABLE): no run of this door can read it either.
      }
    }
    return out;
  }

  /** Writes a value; returns whether it is stored secret. */
  private write(hostId: number | null, key: string, value: string, secret: boolean): boolean {
    const now = this.clock();
    return this.db
      .transaction(() => {
        const existing = this.row(hostId, key);
        const sealed = secret || existing?.secret === 1;
        const stored = sealed ? { value: null, sealed: this.secrets.seal(value, variableContext(hostId, key)) } : { value, sealed: null };
        if (existing) {
          this.db.prepare('update variables set value = ?, sealed = ?, secret = ?, updated_at = ? where id = ?').run(stored.value, stored.sealed, sealed ? 1 : 0, now, existing.id);
        } else {
          this.db.prepare('insert into variables (host_id, key, value, secret, sealed, updated_at) values (?, ?, ?, ?, ?, ?)').run(hostId, key, stored.value, sealed ? 1 : 0, stored.sealed, now);
        }
        return sealed;
      })
      .immediate();
  }

  private valueOf(row: Pick<Row, 'value' | 'secret' | 'sealed' | 'host_id' | 'key'>): string {
    if (row.secret === 1) {
      if (!row.sealed) throw new CroniumError('INTERNAL', 'a secret variable has no sealed value');
      return this.secrets.open(row.sealed, variableContext(row.host_id, row.key));
    }
    return row.value ?? '';
  }

  private row(hostId: number | null, key: string): Row | undefined {
    return (hostId === null
      ? this.db.prepare(`${SELECT} where v.key = ? and v.host_id is null`).get(key)
      : this.db.prepare(`${SELECT} where v.key = ? and v.host_id = ?`).get(key, hostId)) as Row | undefined;
  }

  private effective(hostId: number | null, key: string): Row | undefined {
    return (hostId !== null ? this.row(hostId, key) : undefined) ?? this.row(null, key);
  }

  private hostId(name: string): number {
    const id = this.db.prepare('select id from hosts where name = ?').pluck().get(name) as number | undefined;
    if (id === undefined) throw new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list them with: cronium hosts list');
    return id;
  }
}

function toView(r: Row): VariableView {
  return {
    key: r.key,
    scope: r.host_id === null ? 'global' : 'host',
    host: r.host_id === null ? null : r.host_name,
    secret: r.secret === 1,
    value: r.secret === 1 ? null : r.value,
    updatedAt: r.updated_at,
  };
}
