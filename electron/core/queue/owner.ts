/**
 * Lease owners that can be proven dead. A lease names its owner as
 * `<kind>:<pid>:<start>@<machine>`: the process id, the process's start time (clock ticks
 * since boot, /proc/<pid>/stat field 22) and the machine it runs on (the kernel's boot id and
 * the pid namespace, so two containers on one kernel never compare each other's pids). Another
 * process on the same machine may take a lease over at once when that pid is gone or now
 * belongs to a process that started at another time (a reused pid); anywhere else (another
 * machine, another pid namespace, a platform without /proc) only the lease's expiry frees it.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** This process's identity where it can be proven: `{ start, machine }`, or null (no /proc). */
function selfIdentity(): { start: string; machine: string } | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const ns = /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
    const start = processStart(process.pid);
    if (!boot || !ns || start === null) return null;
    return { start, machine: `${boot}.${ns}` };
  } catch {
    return null;
  }
}

let self: ReturnType<typeof selfIdentity> | undefined;
function identity(): ReturnType<typeof selfIdentity> {
  if (self === undefined) self = selfIdentity();
  return self;
}

/** A process's start time (clock ticks since boot), or null when it does not exist or is a zombie. */
export function processStart(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // A zombie (killed, not yet reaped by its parent) runs nothing: as good as gone.
  if (fields[0] === 'Z' || fields[0] === 'X') return null;
  return fields[19] ?? null; // field 22 overall
}

/** The lease owner name of this process, e.g. `serve:4242:873311@<boot id>.<pid ns>`. */
export function ownerName(kind: string, pid = process.pid): string {
  const id = identity();
  return id && pid === process.pid ? `${kind}:${pid}:${id.start}@${id.machine}` : `${kind}:${pid}`;
}

/**
 * Whether the owner of a lease is provably dead: it names this machine (same boot, same pid
 * namespace) and its pid is gone or belongs to a process started at another time. An owner
 * this cannot judge (older names, another machine, no /proc) is not dead: its lease expires.
 */
export function ownerIsDead(owner: string): boolean {
  const m = /^[a-z]+:(\d+):(\d+)@(.+)$/.exec(owner);
  if (!m) return false;
  const id = identity();
  if (!id || m[3] !== id.machine) return false;
  const pid = Number(m[1]);
  if (pid === process.pid) return m[2] !== id.start;
  const start = processStart(pid);
  return start === null || start !== m[2];
}
