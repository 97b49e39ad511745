/**
 * Saved scripts and their follow-ups. Guards the invariant that the follow-up graph has
 * no cycle: every save replaces the script's follow-ups and checks the whole graph in the
 * same IMMEDIATE transaction, so two processes saving at once cannot close a loop between
 * them. (The firing keeps a depth guard as a second line, see followups.ts.)
 * Scripts that schedules keep for their own body (`schedule:<name>`) are internal: they
 * are not listed, and cannot be named here (ScriptName has no ":").
 */
import type Database from 'better-sqlite3';
import type { Followup, ScriptView } from '../../shared/api';
import { CroniumError, fieldError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';

type Interpreter = ScriptView['interpreter'];

interface ScriptRow {
  id: number;
  name: string;
  interpreter: Interpreter;
  body: string;
  elevated: number;
  files: string | null;
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
  hosts: string | null;
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
    private readonly db: Database.Database,
    private readonly audit: AuditLog,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Saved scripts, sorted by name (not the schedules' own). */
  list(): ScriptView[] {
    const rows = this.db.prepare("select * from scripts where name not like 'schedule:%' order by name").all() as ScriptRow[];
    const byScript = new Map<number, FollowupRow[]>();
    for (const f of this.followupRows()) (byScript.get(f.script_id) ?? byScript.set(f.script_id, []).get(f.script_id)!).push(f);
    return rows.map((r) => toView(r, byScript.get(r.id) ?? []));
  }

  /** One saved script by name, or NOT_FOUND. */
  get(name: string): ScriptView {
    const row = this.row(name);
    return toView(row, this.followupRows(row.id));
  }

  /** The id of a saved script by name, or NOT_FOUND naming the field. */
  idOf(name: string, field = 'scriptName'): { id: number; interpreter: Interpreter; body: string } {
    const row = this.db.prepare('select id, interpreter, body, elevated, files from scripts where name = ?').get(name) as { id: number; interpreter: Interpreter; body: string; elevated: number; files: string | null } | undefined;
    if (!row) throw new CroniumError('NOT_FOUND', `no saved script named "${name}"`, 'list them with: cronium scripts list; save one with: cronium scripts save NAME --file F', { fields: [{ field, message: 'no such script' }] });
    return row;
  }

  /**
   * Creates or replaces a script and its follow-ups. A follow-up naming an unknown script or
   * host is NOT_FOUND; a cycle anywhere in the follow-up graph is FOLLOWUP_LOOP (nothing saved).
   */
  save(input: SaveScript): ScriptView {
    input.followups.forEach((f, i) => {
      if (f.hosts && f.tag !== undefined) throw fieldError(`followups.${i}`, 'give hosts or a tag, not both (neither: the host of the run that fired it)');
    });
    const now = this.clock();
    this.db
      .transaction(() => {
        // Files not given: the ones it has stay (a client that does not show them cannot drop them).
        const kept = input.files === undefined ? ((this.db.prepare('select files from scripts where name = ?').pluck().get(input.name) as string | null | undefined) ?? null) : undefined;
        const files = kept !== undefined ? kept : input.files?.length ? JSON.stringify(input.files) : null;
        const id = Number(
          this.db
            .prepare('insert into scripts (name, interpreter, body, elevated, files, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?) on conflict(name) do update set interpreter = excluded.interpreter, body = excluded.body, elevated = excluded.elevated, files = excluded.files, updated_at = excluded.updated_at returning id')
            .pluck()
            .get(input.name, input.interpreter, input.body, input.elevated ? 1 : 0, files, now, now),
        );
        this.db.prepare('delete from script_followups where script_id = ?').run(id);
        const insert = this.db.prepare('insert into script_followups (script_id, position, "on", followup_script_id, hosts, tag) values (?, ?, ?, ?, ?, ?)');
        input.followups.forEach((f, i) => {
          const target = this.db.prepare('select id from scripts where name = ?').pluck().get(f.script) as number | undefined;
          if (target === undefined) {
            throw new CroniumError('NOT_FOUND', `follow-up ${i + 1} names no saved script "${f.script}"`, `save it first: cronium scripts save ${f.script} --file F`, { fields: [{ field: `followups.${i}.script`, message: 'no such script' }] });
          }
          for (const h of f.hosts ?? []) {
            if (this.db.prepare('select 1 from hosts where name = ?').get(h) === undefined) {
              throw new CroniumError('NOT_FOUND', `follow-up ${i + 1} names no host "${h}"`, 'list them with: cronium hosts list', { fields: [{ field: `followups.${i}.hosts`, message: 'no such host' }] });
            }
          }
          insert.run(id, i, f.on, target, f.hosts ? JSON.stringify(f.hosts) : null, f.tag ?? null);
        });
        this.checkAcyclic();
      })
      .immediate();
    this.audit.recordSync('script.save', input.name, { interpreter: input.interpreter, bytes: Buffer.byteLength(input.body), followups: input.followups.map((f) => `${f.on}:${f.script}`), ...(input.files?.length ? { files: input.files.map((f) => `${f.name} -> ${f.to}`) } : {}) });
    return this.get(input.name);
  }

  /** Removes a saved script; CONFLICT naming what still uses it (schedules, other scripts' follow-ups). */
  remove(name: string): void {
    this.db
      .transaction(() => {
        const row = this.row(name);
        const schedules = this.db.prepare('select name from schedules where script_id = ? order by name').pluck().all(row.id) as string[];
        const users = this.db
          .prepare('select distinct s.name from script_followups f join scripts s on s.id = f.script_id where f.followup_script_id = ? and f.script_id != ? order by s.name')
          .pluck()
          .all(row.id, row.id) as string[];
        if (schedules.length || users.length) {
          const what = [schedules.length ? `schedule${schedules.length > 1 ? 's' : ''} ${schedules.join(', ')}` : '', users.length ? `the follow-ups of ${users.join(', ')}` : ''].filter(Boolean).join(' and ');
          throw new CroniumError('CONFLICT', `script "${name}" is used by ${what}`, 'remove those schedules, or save those scripts without this follow-up, first', { schedules, scripts: users });
        }
        this.db.prepare('delete from scripts where id = ?').run(row.id);
      })
      .immediate();
    this.audit.recordSync('script.remove', name);
  }

  /** FOLLOWUP_LOOP when the whole follow-up graph has a cycle (a script following itself included). */
  private checkAcyclic(): void {
    const edges = new Map<number, number[]>();
    for (const e of this.db.prepare('select script_id, followup_script_id from script_followups order by script_id, position').all() as { script_id: number; followup_script_id: number }[]) {
      (edges.get(e.script_id) ?? edges.set(e.script_id, []).get(e.script_id)!).push(e.followup_script_id);
    }
    const cycle = findCycle(edges);
    if (!cycle) return;
    const names = cycle.map((id) => this.db.prepare('select name from scripts where id = ?').pluck().get(id) as string);
    throw new CroniumError('FOLLOWUP_LOOP', `the follow-ups would loop: ${names.join(' -> ')}`, 'a script cannot start itself again through its follow-ups; drop one follow-up of the cycle', { cycle: names });
  }

  private row(name: string): ScriptRow {
    const row = this.db.prepare('select * from scripts where name = ?').get(name) as ScriptRow | undefined;
    if (!row) throw new CroniumError('NOT_FOUND', `no saved script named "${name}"`, 'list them with: cronium scripts list');
    return row;
  }

  private followupRows(scriptId?: number): FollowupRow[] {
    const sql = `select f.*, s.name as followup_name from script_followups f join scripts s on s.id = f.followup_script_id ${scriptId !== undefined ? 'where f.script_id = ?' : ''} order by f.script_id, f.position`;
    return this.db.prepare(sql).all(...(scriptId !== undefined ? [scriptId] : [])) as FollowupRow[];
  }
}

function toView(r: ScriptRow, followups: FollowupRow[]): ScriptView {
  return {
    id: r.id,
    name: r.name,
    interpreter: r.interpreter,
    body: r.body,
    followups: followups.map((f) => ({
      on: f.on,
      script: f.followup_name,
      ...(f.hosts ? { hosts: JSON.parse(f.hosts) as string[] } : {}),
      ...(f.tag !== null ? { tag: f.tag } : {}),
    })),
    elevated: r.elevated === 1,
    files: r.files ? (JSON.parse(r.files) as ScriptFile[]) : [],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
