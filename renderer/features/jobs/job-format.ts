/** Formatting of jobs and runs for display: pure functions, tested in test/unit/renderer. */

/** "1.2 s", "340 ms", "2 min 5 s", "1 h 3 min"; an em dash for null. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A job's or run's duration: finished − started, or so far when still running (with `now`). */
export function elapsed(startedAt: number | null, finishedAt: number | null, now: number): number | null {
  if (startedAt === null) return null;
  return (finishedAt ?? now) - startedAt;
}

/** A timestamp as local date and time, short. */
export function formatTime(ts: number | null | undefined): string {
  if (ts === null || ts === undefined) return '—';
  return new Date(ts).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Statuses that will not change any more. */
const FINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'partial']);

/** Whether a job or run status is final. */
export function isFinal(status: string): boolean {
  return FINAL.has(status);
}

/** The tone a status is drawn in. */
export function statusTone(status: string): 'ok' | 'bad' | 'warn' | 'busy' | 'idle' {
  switch (status) {
    case 'succeeded':
      return 'ok';
    case 'failed':
    case 'timed_out':
    case 'lost':
      return 'bad';
    case 'partial':
    case 'cancelled':
      return 'warn';
    case 'running':
    case 'claimed':
      return 'busy';
    default:
      return 'idle';
  }
}

/** A status as words: "timed_out" → "timed out". */
export function statusLabel(status: string): string {
  return status.replace(/_/g, ' ');
}

/** The phases of a run drawn in its timing bar, as {label, ms, kind}. */
export interface Phase {
  label: string;
  ms: number;
  kind: 'setup' | 'script';
}

/** Splits a run's timings into setup (connect, deploy, start) and script (exec); null phases are left out. */
export function phases(t: { connect: number | null; deploy: number | null; start: number | null; exec: number | null }): Phase[] {
  const out: Phase[] = [];
  if (t.connect !== null) out.push({ label: 'connect', ms: t.connect, kind: 'setup' });
  if (t.deploy !== null) out.push({ label: 'deploy', ms: t.deploy, kind: 'setup' });
  if (t.start !== null) out.push({ label: 'start', ms: t.start, kind: 'setup' });
  if (t.exec !== null) out.push({ label: 'script', ms: t.exec, kind: 'script' });
  return out;
}

/** Run counts of a job as "2 succeeded, 1 failed", in a stable order. */
export function countsText(counts: Record<string, number>): string {
  const order = ['running', 'claimed', 'queued', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];
  return order
    .filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${counts[k]} ${statusLabel(k)}`)
    .join(', ');
}
