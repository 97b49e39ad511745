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
import { sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { asBool, type DataStore } from '../db/store';
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
  secret: unknown;
  sealed: Buffer | null;
  updated_at: number;
}

const SELECT = sql.raw('select v.id, v.host_id, h.name as host_name, v.key, v.value, v.secret, v.sealed, v.updated_at from variables v left join hosts h on h.id = v.host_id');

/** Reads and writes variables; secret ones sealed. */
/** What a secret variable's seal is bound to: its scope (a host, or global) and key (secret-box.ts). */
export function variableContext(hostId: number | null, key: string): string {
  return `variable:${hostId ?? '*'}:${key}`;
}

/** Reads and writes variables; secret ones sealed. */
export class VariableService {
  constructor(
    private readonly store: DataStore,
    private readonly secrets: SecretBox,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Without host: every global and every per-host variable; with host: the set that host sees (per-host wins). */
  async list(filter: { host?: string } = {}): Promise<VariableView[]> {
    if (filter.host === undefined) {
      const rows = await this.store.rows<Row>(sql`${SELECT} order by v.key, v.host_id is not null, h.name`);
      return rows.map(toView);
    }
    const hostId = await this.hostId(filter.host);
    const rows = await this.store.rows<Row>(sql`${SELECT} where v.host_id is null or v.host_id = ${hostId} order by v.key, v.host_id is null`);
    const seen = new Set<string>();
    return rows.filter((r) => !seen.has(r.key) && seen.add(r.key)).map(toView);
  }

  /** A variable; with host, the value that host sees (per-host, else global). NOT_FOUND when none. */
  async get(key: string, host?: string): Promise<VariableView> {
    const row = host === undefined ? await this.row(null, key) : await this.effective(await this.hostId(host), key);
    if (!row) {
      throw new CroniumError('NOT_FOUND', `no variable "${key}"${host !== undefined ? ` for host ${host} (per-host or global)` : ''}`, `set it with: cronium vars set ${key} VALUE${host !== undefined ? ` [--host ${host}]` : ''}`);
    }
    return toView(row);
  }

  /** Sets a global variable, or a per-host one; a secret is sealed (and an existing secret stays secret). */
  async set(input: { key: string; value: string; host?: string; secret?: boolean }): Promise<VariableView> {
    const hostId = input.host === undefined ? null : await this.hostId(input.host);
    const secret = await this.write(hostId, input.key, input.value, input.secret === true);
    await this.audit.record('var.set', input.key, { scope: hostId === null ? 'global' : 'host', ...(input.host !== undefined ? { host: input.host } : {}), secret });
    return toView((await this.row(hostId, input.key))!);
  }

  /** Removes a global variable, or a per-host one; NOT_FOUND when there is none. */
  async remove(key: string, host?: string): Promise<void> {
    const hostId = host === undefined ? null : await this.hostId(host);
    const n = await this.store.exec(sql`delete from variables where key = ${key} and ${hostId === null ? sql`host_id is null` : sql`host_id = ${hostId}`}`);
    if (n === 0) throw new CroniumError('NOT_FOUND', `no ${hostId === null ? 'global' : `per-host (${host})`} variable "${key}"`, 'list them with: cronium vars list');
    await this.audit.record('var.remove', key, { scope: hostId === null ? 'global' : 'host', ...(host !== undefined ? { host } : {}) });
  }

  /**
   * The value a run on a host sees (per-host wins over global), opened when secret; null
   * when neither exists. `hostId` null: only globals. For the helper API's getVariable.
   */
  async getForRun(hostId: number | null, key: string): Promise<{ value: string; secret: boolean } | null> {
    const row = await this.effective(hostId, key);
    if (!row) return null;
    return { value: this.valueOf(row), secret: asBool(row.secret) === true };
  }

  /**
   * A script's setVariable: updates the per-host variable of its host when one exists with
   * that key, else the global one (created when absent). A secret stays secret (sealed).
   */
  async setFromScript(hostId: number | null, key: string, value: string): Promise<void> {
    const target = hostId !== null && (await this.row(hostId, key)) ? hostId : null;
    await this.write(target, key, value, false);
  }

  /** A script's setVariable in a host-scoped job (the default): the host's own variable, created when absent; a secret stays secret. */
  async setForHostFromScript(hostId: number, key: string, value: string): Promise<void> {
    await this.write(hostId, key, value, false);
  }

  /** Every secret value a run on this host could see (the globals and its own), for masking its log. */
  async secretValuesFor(hostId: number | null): Promise<string[]> {
    const rows = await this.store.rows<Row>(sql`select id, host_id, key, value, secret, sealed from variables where secret = ${this.store.dialect === 'postgres' ? sql`true` : sql`1`} and (host_id is null or host_id = ${hostId})`);
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
  private async write(hostId: number | null, key: string, value: string, secret: boolean): Promise<boolean> {
    const now = this.clock();
    const { variables } = this.store.schema;
    return this.store.tx(async (tx) => {
      // One writer of a key at a time (across servers too): "once secret, stays secret" reads then writes.
      await this.store.lock(tx, `cronium.var:${key}`);
      const existing = await this.row(hostId, key, tx);
      const sealed = secret || asBool(existing?.secret) === true;
      const stored = sealed ? { value: null, sealed: this.secrets.seal(value, variableContext(hostId, key)) } : { value, sealed: null };
      if (existing) {
        await this.store.exec(sql`update variables set value = ${stored.value}, sealed = ${stored.sealed}, secret = ${this.store.dialect === 'postgres' ? sealed : sealed ? 1 : 0}, updated_at = ${now} where id = ${existing.id}`, tx);
      } else {
        await tx.insert(variables).values({ hostId, key, value: stored.value, secret: sealed, sealed: stored.sealed, updatedAt: now });
      }
      return sealed;
    });
  }

  private valueOf(row: Pick<Row, 'value' | 'secret' | 'sealed' | 'host_id' | 'key'>): string {
    if (asBool(row.secret)) {
      if (!row.sealed) throw new CroniumError('INTERNAL', 'a secret variable has no sealed value');
      return this.secrets.open(row.sealed, variableContext(row.host_id === null ? null : Number(row.host_id), row.key));
    }
    return row.value ?? '';
  }

  private async row(hostId: number | null, key: string, tx?: Db): Promise<Row | undefined> {
    const [row] = await this.store.rows<Row>(hostId === null ? sql`${SELECT} where v.key = ${key} and v.host_id is null` : sql`${SELECT} where v.key = ${key} and v.host_id = ${hostId}`, tx);
    return row;
  }

  private async effective(hostId: number | null, key: string): Promise<Row | undefined> {
    return (hostId !== null ? await this.row(hostId, key) : undefined) ?? (await this.row(null, key));
  }

  private async hostId(name: string): Promise<number> {
    const [row] = await this.store.rows<{ id: number }>(sql`select id from hosts where name = ${name}`);
    if (!row) throw new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list them with: cronium hosts list');
    return Number(row.id);
  }
}

function toView(r: Row): VariableView {
  return {
    key: r.key,
    scope: r.host_id === null ? 'global' : 'host',
    host: r.host_id === null ? null : r.host_name,
    secret: asBool(r.secret) === true,
    value: asBool(r.secret) ? null : r.value,
    updatedAt: Number(r.updated_at),
  };
}
