/**
 * A minimal client of `cronium serve`'s WebSocket API (the path the browser uses), for the
 * benchmarks: typed-enough calls, and event listeners that see each message with the wall-clock
 * time it arrived (taken before parsing, so JSON cost of the client is not charged to the app).
 * Also reads a process's resident memory from /proc (current and peak).
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

/** An event as it arrived: name, payload, and Date.now() at arrival. */
export interface ArrivedEvent {
  event: string;
  payload: unknown;
  at: number;
}

/** A connected API client. */
export interface ApiClient {
  call<T = unknown>(method: string, args?: unknown): Promise<T>;
  /** Adds a listener for every event; returns a function removing it. */
  onEvent(listener: (e: ArrivedEvent) => void): () => void;
  close(): void;
}

/** Connects to `cronium serve` at the URL it printed (token in the query). */
export async function connectApi(serveUrl: string): Promise<ApiClient> {
  const u = new URL(serveUrl);
  const token = u.searchParams.get('token') ?? '';
  const ws = new WebSocket(`ws://${u.host}/api?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(e: ArrivedEvent) => void>();
  let nextId = 1;
  ws.on('message', (data) => {
    const at = Date.now();
    const msg = JSON.parse(data.toString()) as { type: string; id?: number; ok?: boolean; result?: unknown; error?: { code: string; message: string }; event?: string; payload?: unknown };
    if (msg.type === 'reply' && msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (!p) return;
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${msg.error?.code}: ${msg.error?.message}`));
    } else if (msg.type === 'event' && msg.event) {
      for (const l of listeners) l({ event: msg.event, payload: msg.payload, at });
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('close', () => {
    for (const p of pending.values()) p.reject(new Error('the API socket closed'));
    pending.clear();
  });
  return {
    call: <T>(method: string, args?: unknown) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, method, args: args ?? {} }));
      }),
    onEvent: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: () => ws.close(),
  };
}

/** Resident memory of a process in MB: now (VmRSS) and the peak since it started (VmHWM). */
/** CPU time a process used so far (user + system), in seconds (/proc/PID/stat, clock ticks of 1/100 s). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU time of the whole machine so far, busy and total, in seconds (/proc/stat; clock ticks of 1/100 s). */
export function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / 100, total: (busy + idle + iowait) / 100 };
}

export function processMemory(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Resolves when a job has ended (its last run's run.status carries jobStatus); rejects after `timeoutMs`. */
export function jobEnded(api: ApiClient, jobId: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`job ${jobId} did not end in ${timeoutMs} ms`));
    }, timeoutMs);
    const off = api.onEvent((e) => {
      const p = e.payload as { jobId?: number; jobStatus?: string };
      if (e.event === 'run.status' && p.jobId === jobId && p.jobStatus) {
        clearTimeout(timer);
        off();
        resolve(p.jobStatus);
      }
    });
  });
}
