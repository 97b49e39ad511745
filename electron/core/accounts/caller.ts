/**
 * Who made the call being answered, and from where (issue #16): a team server's door signs the
 * person in, the dispatcher runs the handler inside `withCaller`, and what records "who" (the
 * audit log, a job's requester) reads `currentCaller()` instead of every service taking it as
 * a parameter. Work that outlives the call and is not the caller's (the worker's claim loop, the
 * scheduler's ticks) starts through `outsideCaller`, so it is never attributed to whoever
 * happened to wake it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The three roles of a team server (DESIGN: a one-person app has none, and no checks). */
export const ROLES = ['admin', 'operator', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** A signed-in person, as the checks see them. */
export interface Principal {
  id: number;
  name: string;
  role: Role;
  /** What an operator may run and schedule on (admins may everything, viewers nothing). */
  grants: { hosts: string[]; tags: string[] };
}

/** The caller of the call being answered. */
export interface Caller {
  /** The signed-in person (a team server); absent for the one-person doors. */
  principal?: Principal;
  /** Where the request came from (an IP address), when the door knows it. */
  source?: string;
}

const context = new AsyncLocalStorage<Caller>();

/** Runs `fn` as `caller`'s call. */
export function withCaller<T>(caller: Caller, fn: () => T): T {
  return context.run(caller, fn);
}

/** The caller of the call being answered, if any. */
export function currentCaller(): Caller | undefined {
  return context.getStore();
}

/** Runs `fn` outside any caller: what it starts is attributed to no one. */
export function outsideCaller<T>(fn: () => T): T {
  return context.exit(fn);
}

/** The person to record as a job's requester: the caller's, when signed in. */
export function requester(): { requestedByPerson?: string } {
  const name = currentCaller()?.principal?.name;
  return name !== undefined ? { requestedByPerson: name } : {};
}
