/**
 * Saved scripts and their follow-ups. Guards the invariant that the follow-up graph has
 * no cycle: every save replaces the script's follow-ups and checks the whole graph in the
 * same IMMEDIATE transaction, so two processes saving at once cannot close a loop between
 * them. (The firing keeps a depth guard as a second line, see followups.ts.)
 * Scripts that schedules keep for their own body (`schedule:<name>`) are internal: they
 * are not listed, and cannot be named here (ScriptName has no ":").
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../db/database';
import { asBool, asJson, type DataStore } from '../db/store';
import type { Followup, ScriptView } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';

type Interpreter = ScriptView['interpreter'];

interface ScriptRow {
  id: number;
  name: string;
  interpreter: Interpreter;
  body: string;
  elevated: unknown;
  files: unknown;
  created_at: number;
  updated_at: number;
}

interface FollowupRow {
  id: number;
  script_id: number;
  position: number;
  on: Followup['on'];
  followup_script_id: number;
  followup_name: string;
  hosts: unknown;
  tag: string | null;
}

/** What `save` takes. */
export interface SaveScript {
  name: string;
  interpreter: Interpreter;
  body: string;
  followups: Followup[];
  /** Runs of it start as root (by each host's elevation setting). */
  elevated?: boolean;
  /** Files it needs, already in the blob store: pushed before it runs. */
  files?: ScriptFile[];
}

/** A file a saved script needs on the host (its bytes are blobs/<sha256>). */
export interface ScriptFile {
  name: string;
  sha256: string;
  size: number;
  to: string;
  mode: number;
  owner?: string;
}

/**
 * A cycle in a directed graph given as adjacency lists, as the node path that closes it
 * (first node repeated at the end), or undefined. Iterative DFS with colours.
 */
export function findCycle<T>(edges: ReadonlyMap<T, readonly T[]>): T[] | undefined {
  const state = new Map<T, 1 | 2>(); // 1: on the current path, 2: done
  for (const start of edges.keys()) {
    if (state.has(start)) continue;
    const path: T[] = [start];
    const iters: number[] = [0];
    state.set(start, 1);
    while (path.length) {
      const node = path[path.length - 1]!;
      const next = edges.get(node) ?? [];
      const i = iters[iters.length - 1]!;
      if (i >= next.length) {
        state.set(node, 2);
        path.pop();
        iters.pop();
        continue;
      }
      iters[iters.length - 1] = i + 1;
      const to = next[i]!;
      const s = state.get(to);
      if (s === 1) return [...path.slice(path.indexOf(to)), to];
      if (s === undefined) {
        state.set(to, 1);
        path.push(to);
        iters.push(0);
      }
    }
  }
  return undefined;
}

/** CRUD over saved scripts and their follow-ups. */
export class ScriptService {
  constructor(
    private readonly store: DataStore,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Saved scripts, sorted by name (not the schedules' own). */
  async list(): Promise<ScriptView[]> {
    const rows = await this.store.rows<ScriptRow>(sql`select * from scripts where name not like 'schedule:%' order by name`);
    const byScript = new Map<number, FollowupRow[]>();
    for (const f of await this.followupRows()) (byScript.get(Number(f.script_id)) ?? byScript.set(Number(f.script_id), []).get(Number(f.script_id))!).push(f);
    return rows.map((r) => toView(r, byScript.get(Number(r.id)) ?? []));
  }

  /** One saved script by name, or NOT_FOUND. */
  async get(name: string): Promise<ScriptView> {
    const row = await this.row(name);
    return toView(row, await this.followupRows(Number(row.id)));
  }

  /**
   * Creates or replaces a script and its follow-ups. A follow-up naming an unknown script or
   * host is NOT_FOUND; a cycle anywhere in the follow-up graph is FOLLOWUP_LOOP (nothing saved).
   */
  async save(input: SaveScript): Promise<ScriptView> {
    input.followups.forEach((f, i) => {
      if (f.hosts && f.tag !== undefined) throw fieldError(`followups.${i}`, 'give hosts or a tag, not both (neither: the host of the run that fired it)');
    });
    const now = this.clock();
    const s = this.store;
    const { scripts, scriptFollowups } = s.schema;
    await s.tx(async (tx) => {
      // One save at a time checks the graph (across servers too): two cannot close a loop between them.
      await s.lock(tx, 'cronium.scripts.graph');
      // Files not given: the ones it has stay (a client that does not show them cannot drop them).
      const [existing] = await s.rows<{ files: unknown }>(sql`select files from scripts where name = ${input.name}`, tx);
      const files = input.files === undefined ? (asJson<ScriptFile[]>(existing?.files) ?? null) : input.files.length ? input.files : null;
      const [row] = await tx
        .insert(scripts)
        .values({ name: input.name, interpreter: input.interpreter, body: input.body, elevated: input.elevated === true, files, createdAt: now, updatedAt: now })
        .onConflictDoUpdate({ target: scripts.name, set: { interpreter: input.interpreter, body: input.body, elevated: input.elevated === true, files, updatedAt: now } })
        .returning({ id: scripts.id });
      const id = row!.id;
      await s.exec(sql`delete from script_followups where script_id = ${id}`, tx);
      for (const [i, f] of input.followups.entries()) {
        const [target] = await s.rows<{ id: number }>(sql`select id from scripts where name = ${f.script}`, tx);
        if (!target) {
          throw new CroniumError('NOT_FOUND', `follow-up ${i + 1} names no saved script "${f.script}"`, `save it first: cronium scripts save ${f.script} --file F`, { fields: [{ field: `followups.${i}.script`, message: 'no such script' }] });
        }
        for (const h of f.hosts ?? []) {
          if ((await s.rows(sql`select 1 as one from hosts where name = ${h}`, tx)).length === 0) {
            throw new CroniumError('NOT_FOUND', `follow-up ${i + 1} names no host "${h}"`, 'list them with: cronium hosts list', { fields: [{ field: `followups.${i}.hosts`, message: 'no such host' }] });
          }
        }
        await tx.insert(scriptFollowups).values({ scriptId: id, position: i, on: f.on, followupScriptId: Number(target.id), hosts: f.hosts ?? null, tag: f.tag ?? null });
      }
      await this.checkAcyclic(tx);
      await this.audit.record('script.save', input.name, { interpreter: input.interpreter, bytes: Buffer.byteLength(input.body), followups: input.followups.map((f) => `${f.on}:${f.script}`), ...(input.files?.length ? { files: input.files.map((f) => `${f.name} -> ${f.to}`) } : {}) }, tx);
    });
    return this.get(input.name);
  }

  /** Removes a saved script; CONFLICT naming what still uses it (schedules, other scripts' follow-ups). */
  async remove(name: string): Promise<void> {
    const s = this.store;
    await s.tx(async (tx) => {
      await s.lock(tx, 'cronium.scripts.graph');
      const row = await this.row(name, tx);
      const id = Number(row.id);
      const schedules = (await s.rows<{ name: string }>(sql`select name from schedules where script_id = ${id} order by name`, tx)).map((r) => r.name);
      const users = (await s.rows<{ name: string }>(sql`select distinct s.name from script_followups f join scripts s on s.id = f.script_id where f.followup_script_id = ${id} and f.script_id != ${id} order by s.name`, tx)).map((r) => r.name);
      if (schedules.length || users.length) {
        const what = [schedules.length ? `schedule${schedules.length > 1 ? 's' : ''} ${schedules.join(', ')}` : '', users.length ? `the follow-ups of ${users.join(', ')}` : ''].filter(Boolean).join(' and ');
        throw new CroniumError('CONFLICT', `script "${name}" is used by ${what}`, 'remove those schedules, or save those scripts without this follow-up, first', { schedules, scripts: users });
      }
      await s.exec(sql`delete from scripts where id = ${id}`, tx);
      await this.audit.record('script.remove', name, undefined, tx);
    });
  }

  /** FOLLOWUP_LOOP when the whole follow-up graph has a cycle (a script following itself included). */
  private async checkAcyclic(tx: Db): Promise<void> {
    const edges = new Map<number, number[]>();
    for (const e of await this.store.rows<{ script_id: number; followup_script_id: number }>(sql`select script_id, followup_script_id from script_followups order by script_id, position`, tx)) {
      const from = Number(e.script_id);
      (edges.get(from) ?? edges.set(from, []).get(from)!).push(Number(e.followup_script_id));
    }
    const cycle = findCycle(edges);
    if (!cycle) return;
    const byId = new Map((await this.store.rows<{ id: number; name: string }>(sql`select id, name from scripts where id in ${cycle}`, tx)).map((r) => [Number(r.id), r.name]));
    const names = cycle.map((id) => byId.get(id) ?? String(id));
    throw new CroniumError('FOLLOWUP_LOOP', `the follow-ups would loop: ${names.join(' -> ')}`, 'a script cannot start itself again through its follow-ups; drop one follow-up of the cycle', { cycle: names });
  }

  private async row(name: string, tx?: Db): Promise<ScriptRow> {
    const [row] = await this.store.rows<ScriptRow>(sql`select * from scripts where name = ${name}`, tx);
    if (!row) throw new CroniumError('NOT_FOUND', `no saved script named "${name}"`, 'list them with: cronium scripts list');
    return row;
  }

  private followupRows(scriptId?: number): Promise<FollowupRow[]> {
    return this.store.rows<FollowupRow>(
      sql`select f.*, s.name as followup_name from script_followups f join scripts s on s.id = f.followup_script_id ${scriptId !== undefined ? sql`where f.script_id = ${scriptId}` : sql``} order by f.script_id, f.position`,
    );
  }
}

function toView(r: ScriptRow, followups: FollowupRow[]): ScriptView {
  return {
    id: Number(r.id),
    name: r.name,
    interpreter: r.interpreter,
    body: r.body,
    followups: followups.map((f) => ({
      on: f.on,
      script: f.followup_name,
      ...(f.hosts !== null && f.hosts !== undefined ? { hosts: asJson<string[]>(f.hosts)! } : {}),
      ...(f.tag !== null ? { tag: f.tag } : {}),
    })),
    elevated: asBool(r.elevated) === true,
    files: asJson<ScriptFile[]>(r.files) ?? [],
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
