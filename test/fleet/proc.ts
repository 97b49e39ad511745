// Process helpers for the test fleet: run commands, identify processes by (pid, start time) so a
// recycled PID is never signalled, and stop a recorded process together with its descendants.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A process the fleet started, identified robustly against PID reuse. */
export interface ProcessRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot), read right after spawning. */
  startTime: string;
  label: string;
}

interface ProcStat {
  ppid: number;
  state: string;
  startTime: string;
}

/** Parses /proc/<pid>/stat; the command name may contain spaces and parentheses, so split after the last ')'. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is stat field 3 (state), so field N is fields[N - 3].
  return { state: fields[0] ?? '', ppid: Number(fields[1]), startTime: fields[19] ?? '' };
}

/** Returns the start time of a live process, or undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/** True when the recorded process still runs (zombies count as gone: they hold no sockets). */
export function isRunning(rec: Pick<ProcessRecord, 'pid' | 'startTime'>): boolean {
  const st = readStat(rec.pid);
  return st !== undefined && st.startTime === rec.startTime && st.state !== 'Z' && st.state !== 'X';
}

/** Snapshot of every live process with its parent, for walking descendant trees. */
export function processTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st) table.set(Number(name), st);
  }
  return table;
}

/**
 * The still-running recorded processes plus all their descendants. sshd forks one child per
 * connection in its own session, so killing the listener's process group would leave those behind.
 */
function collectTree(records: ProcessRecord[]): ProcessRecord[] {
  const table = processTable();
  const out = new Map<number, ProcessRecord>();
  const queue: number[] = [];
  for (const rec of records) {
    const st = table.get(rec.pid);
    if (!st || st.startTime !== rec.startTime) continue;
    out.set(rec.pid, rec);
    queue.push(rec.pid);
  }
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [pid, st] of table) {
      if (st.ppid !== parent || out.has(pid)) continue;
      out.set(pid, { pid, startTime: st.startTime, label: `child of ${parent}` });
      queue.push(pid);
    }
  }
  return [...out.values()];
}

/** Sends a signal to a process only if it is still the one recorded. */
function signal(rec: ProcessRecord, sig: NodeJS.Signals): void {
  if (!isRunning(rec)) return;
  try {
    process.kill(rec.pid, sig);
  } catch {
    // It exited between the check and the kill.
  }
}

/** SIGTERMs the recorded processes and their descendants without waiting (safe in an 'exit' handler). */
export function terminateSync(records: ProcessRecord[]): void {
  for (const rec of collectTree(records)) signal(rec, 'SIGTERM');
}

/** SIGTERMs the recorded processes and their descendants, waits for them, then SIGKILLs stragglers. */
export async function terminate(records: ProcessRecord[], graceMs = 3000): Promise<void> {
  const tree = collectTree(records);
  for (const rec of tree) signal(rec, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (tree.some(isRunning) && Date.now() < deadline) await sleep(20);
  for (const rec of tree) signal(rec, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (tree.some(isRunning) && Date.now() < killDeadline) await sleep(20);
}

/** Resolves after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command and resolves with its stdout; the error names the command and carries its stderr. */
export function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Synchronous variant of run() for exit handlers; never throws. */
export function runSyncQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // Best-effort cleanup: the caller has nothing better to do with the error.
  }
}
