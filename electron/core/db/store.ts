/**
 * The store port (issue #16): the one interface the services use, over SQLite (one person's app,
 * the default) or PostgreSQL (a team server). Services write their queries once, with drizzle's
 * builders, and always `await` them:
 * - `store.db` runs a statement on its own (autocommit); `store.tx(fn)` runs `fn(tx)` as one
 *   transaction, and every statement of it goes through `tx`.
 * - `store.schema` holds the tables to query: SQLite's (schema.ts) or their PostgreSQL twins
 *   (schema.pg.ts, generated from schema.ts and kept current by a test). The twins have the same
 *   columns and JavaScript types, so both are typed as SQLite's; drizzle builds each dialect's
 *   SQL from the table objects it is given. Never use the sync `.all()`, `.get()`, `.run()`:
 *   PostgreSQL has no such thing (the SQLite port refuses them at run time, in transactions too).
 * - `store.rows(sql)` / `store.exec(sql)` run hand-written SQL in both dialects.
 *
 * SQLite is one connection in this thread, so an async transaction must not let another task's
 * statements in: they would join it, and vanish if it rolled back. The SQLite store therefore
 * gates `store.db` while a transaction is open: a statement issued outside the transaction waits
 * for its end (a statement issued through `store.db` *inside* the transaction would wait for
 * ever, so it fails at once ("store misuse"), the bug PostgreSQL would show as a statement
 * outside the transaction). Transactions run one at a time, as SQLite's single writer does
 * anyway; SQLite-only hot paths (the queue, the log writer) run their own synchronous transactions
 * through `store.exclusive(fn)`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { SQL } from 'drizzle-orm';
import type { Db } from './database';
import * as sqliteSchema from './schema';

/** Which database a store is on. */
export type Dialect = 'sqlite' | 'postgres';

/** The tables, typed as SQLite's (the PostgreSQL twins have the same columns and types). */
export type Schema = typeof sqliteSchema;

/** What every service sees of the store. */
export interface DataStore {
  readonly dialect: Dialect;
  /** Statements on their own. */
  readonly db: Db;
  /** The tables of this dialect. */
  readonly schema: Schema;
  /** Runs fn as one transaction; its statements go through `tx`. Rolled back if fn throws. */
  tx<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Rows of a hand-written query (through `tx` when given). */
  rows<T>(query: SQL, tx?: Db): Promise<T[]>;
  /** Runs a hand-written statement; resolves to the number of rows it changed. */
  exec(query: SQL, tx?: Db): Promise<number>;
  /**
   * Runs a synchronous fn when no transaction of the port is open (SQLite-only hot paths with
   * their own synchronous transactions: the queue, the log writer); at once on PostgreSQL.
   */
  exclusive<T>(fn: () => T): Promise<T>;
  /**
   * A select inside `tx` that the transaction will update: `FOR UPDATE` on PostgreSQL (other
   * servers' transactions wait for the row); as it is on SQLite, whose transactions run one at a
   * time already.
   */
  forUpdate<Q extends object>(query: Q): Q;
  /**
   * Inside `tx`: waits until no other transaction holds `name`, then holds it until `tx` ends
   * (pg_advisory_xact_lock on PostgreSQL, for checks across tables such as the follow-up graph;
   * nothing on SQLite, whose transactions run one at a time).
   */
  lock(tx: Db, name: string): Promise<void>;
}

/** A statement through `store.db` inside a transaction of the same store: a bug. */
function txMisuse(): Error {
  return new Error('store misuse: a statement went around the open transaction (store.db inside store.tx; use its tx handle)');
}

/** Serialises SQLite's async transactions and holds other statements while one is open. */
class SqliteGate {
  #open: { done: Promise<void>; token: symbol } | undefined;
  readonly #context = new AsyncLocalStorage<symbol>();

  /** Undefined when nothing is open; else a promise of the open transaction's end. */
  wait(): Promise<void> | undefined {
    const open = this.#open;
    if (!open) return undefined;
    if (this.#context.getStore() === open.token) throw txMisuse();
    return open.done;
  }

  async run<T>(sqlite: Database.Database, fn: () => Promise<T>): Promise<T> {
    // A transaction begun inside this one would wait for it for ever.
    if (this.#open && this.#context.getStore() === this.#open.token) throw new Error('store misuse: a transaction inside a transaction (pass its tx handle down instead)');
    // Checked and taken with no await in between, or two waiters would both take it.
    while (this.#open) await this.#open.done;
    let release!: () => void;
    const token = Symbol('tx');
    this.#open = { done: new Promise<void>((r) => (release = r)), token };
    try {
      sqlite.exec('BEGIN IMMEDIATE');
      try {
        const out = await this.#context.run(token, fn);
        sqlite.exec('COMMIT');
        return out;
      } catch (e) {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        throw e;
      }
    } finally {
      this.#open = undefined;
      release();
    }
  }
}

/** What the wrapper waits on: the SQLite gate, or nothing (a transaction's own handle). */
interface Gate {
  wait(): Promise<void> | undefined;
}
const NO_GATE: Gate = { wait: () => undefined };

const PROMISE_METHODS = new Set<PropertyKey>(['then', 'catch', 'finally', 'execute']);
const SYNC_ONLY = new Set<PropertyKey>(['all', 'get', 'run', 'values', 'transaction']);

/**
 * Wraps a drizzle handle or builder so that awaiting it first waits for the gate. Methods run
 * on the real object (drizzle's classes keep private state); objects they return are wrapped
 * in turn, so `db.select().from(t).where(…)` is gated wherever the chain ends.
 */
function gated<T extends object>(target: T, gate: Gate, cache = new WeakMap<object, object>()): T {
  const known = cache.get(target);
  if (known) return known as T;
  const proxy = new Proxy(target, {
    get(t, prop) {
      const value: unknown = Reflect.get(t, prop, t);
      if (PROMISE_METHODS.has(prop) && typeof (t as { then?: unknown }).then === 'function') {
        const then = (t as unknown as PromiseLike<unknown>).then.bind(t);
        // The statement runs inside drizzle's then, synchronously: so the gate is checked again
        // right before it, after every wait (another transaction may have begun meanwhile).
        const settle = (onOk?: (v: unknown) => unknown, onErr?: (e: unknown) => unknown): Promise<unknown> => {
          let waiting: Promise<void> | undefined;
          try {
            waiting = gate.wait();
          } catch (e) {
            return Promise.reject(e).then(onOk, onErr);
          }
          return waiting ? waiting.then(() => settle(onOk, onErr)) : Promise.resolve(then(onOk, onErr));
        };
        if (prop === 'then') return settle;
        if (prop === 'execute') return () => settle();
        if (prop === 'catch') return (onErr?: (e: unknown) => unknown) => settle(undefined, onErr);
        return (onFinally?: () => void) => settle((v) => (onFinally?.(), v), (e) => (onFinally?.(), Promise.reject(e)));
      }
      if (typeof value !== 'function') return value;
      if (SYNC_ONLY.has(prop)) {
        // The synchronous forms would slip past the gate (and do not exist on PostgreSQL); an
        // insert's .values(rows) is not one of them.
        return (...args: unknown[]) => {
          if (prop === 'values' && args.length > 0) return gated((value as (...a: unknown[]) => object).apply(t, args), gate, cache);
          throw new Error(`store misuse: .${String(prop)}() is synchronous and SQLite-only (${prop === 'transaction' ? 'use store.tx' : 'await the statement'})`);
        };
      }
      return (...args: unknown[]) => {
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(t, args);
        if (out === t) return proxy;
        // Builders, and what they hand to other builders (subqueries, SQL): wrapped in turn.
        return out !== null && typeof out === 'object' && !Array.isArray(out) && !Buffer.isBuffer(out) ? gated(out, gate, cache) : out;
      };
    },
  });
  cache.set(target, proxy);
  return proxy;
}

/** Hand-written statements kept prepared by a SQLite store. */
const STATEMENTS = 256;

/** The SQLite store's port over its drizzle handle and raw connection. */
export function sqliteDataStore(db: Db, sqlite: Database.Database): DataStore {
  const gate = new SqliteGate();
  const outside = gated(db, gate);
  // A transaction's handle does not wait (it holds the gate) but refuses the synchronous forms
  // too, so code that passes on SQLite does not fail on PostgreSQL.
  const inside = gated(db, NO_GATE);
  // Waits until no transaction is open, then runs fn at once: no await between the last check and
  // the statement, or a transaction begun meanwhile would take it in.
  const exclusive = async <T>(fn: () => T): Promise<T> => {
    for (let w = gate.wait(); w; w = gate.wait()) await w;
    return fn();
  };
  // Hand-written statements are prepared once per text (drizzle prepares them at every call; the
  // hot paths run the same few texts per run), the least recently used dropped past STATEMENTS.
  const dialect = (db as unknown as { dialect: { sqlToQuery(q: SQL): { sql: string; params: unknown[] } } }).dialect;
  const statements = new Map<string, Database.Statement>();
  const prepared = (query: SQL): { st: Database.Statement; params: unknown[] } => {
    const q = dialect.sqlToQuery(query);
    let st = statements.get(q.sql);
    if (st) statements.delete(q.sql);
    else {
      st = sqlite.prepare(q.sql);
      if (statements.size >= STATEMENTS) statements.delete(statements.keys().next().value!);
    }
    statements.set(q.sql, st);
    return { st, params: q.params };
  };
  const all = <T>(query: SQL): T[] => {
    const { st, params } = prepared(query);
    return st.all(...params) as T[];
  };
  const run = (query: SQL): number => {
    const { st, params } = prepared(query);
    return st.run(...params).changes;
  };
  return {
    dialect: 'sqlite',
    db: outside,
    schema: sqliteSchema,
    tx: (fn) => gate.run(sqlite, () => fn(inside)),
    // Inside a transaction (tx given) the statement is its own: no waiting for the gate it holds.
    rows: async <T>(query: SQL, tx?: Db) => (tx ? all<T>(query) : exclusive(() => all<T>(query))),
    exec: async (query: SQL, tx?: Db) => (tx ? run(query) : exclusive(() => run(query))),
    exclusive,
    forUpdate: (query) => query,
    lock: async () => undefined,
  };
}

/**
 * A builder query of a hot path (one or more per run), built and prepared on its first call and
 * reused after: drizzle builds a query's SQL at every call, and SQLite prepares it again, which
 * is most of what a small query costs (a host's row by name: 0.19 ms built, 0.02 ms prepared).
 * `build` returns the query with `sql.placeholder(name)` where its values go, then `.prepare()`;
 * callers run it with `.execute({ name: value })`. Placeholders take the driver's values as
 * they are (no column mapping): use them for text and integer columns. It runs on `store.db`,
 * so never inside `store.tx` (SQLite says "store misuse"; PostgreSQL would run it outside the
 * transaction).
 */
export function preparedOnce<Q>(build: () => Q): () => Q {
  let q: Q | undefined;
  return () => (q ??= build());
}

/** A boolean column of a hand-written query's row: 0/1 on SQLite, true/false on PostgreSQL. */
export function asBool(v: unknown): boolean | null {
  if (v === null || v === undefined) return null;
  return v === true || v === 1 || v === '1' || v === 't';
}

/** A JSON column of a hand-written query's row: text on SQLite, already parsed on PostgreSQL. */
export function asJson<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
