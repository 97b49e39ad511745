/**
 * The model of a big job's host list: status groups with counts, a name filter, and which rows a
 * virtualised list puts in the DOM (only those in view, plus a few either side).
 */

/** The status filters of the host list. */
export type HostFilter = 'all' | 'active' | 'failed' | 'succeeded' | 'cancelled';

/** Labels of the filters, in their order. */
export const HOST_FILTERS: { id: HostFilter; label: string }[] = [
  { id: 'all', label: 'All' },
  { id: 'active', label: 'Running' },
  { id: 'failed', label: 'Failed' },
  { id: 'succeeded', label: 'Succeeded' },
  { id: 'cancelled', label: 'Cancelled' },
];

/** Which filter a run status belongs to (besides all). */
export function filterOf(status: string): Exclude<HostFilter, 'all'> {
  switch (status) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
    case 'timed_out':
    case 'lost':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
    default:
      return 'active';
  }
}

/** Runs per filter. */
export function filterCounts(runs: readonly { status: string }[]): Record<HostFilter, number> {
  const counts: Record<HostFilter, number> = { all: runs.length, active: 0, failed: 0, succeeded: 0, cancelled: 0 };
  for (const r of runs) counts[filterOf(r.status)]++;
  return counts;
}

/** The runs a filter and a name query (case-insensitive substring) keep, in their order. */
export function filterRuns<R extends { host: string; status: string }>(runs: readonly R[], filter: HostFilter, query: string): R[] {
  const q = query.trim().toLowerCase();
  return runs.filter((r) => (filter === 'all' || filterOf(r.status) === filter) && (!q || r.host.toLowerCase().includes(q)));
}

/** The rows [start, end) to render for a scroll position: those in view plus `overscan` either side. */
export function visibleRange(scrollTop: number, viewportHeight: number, rowHeight: number, count: number, overscan = 8): { start: number; end: number } {
  if (count === 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const inView = Math.ceil(Math.max(viewportHeight, rowHeight) / rowHeight) + 1;
  const start = Math.max(0, Math.min(count - 1, first) - overscan);
  const end = Math.min(count, first + inView + overscan);
  return { start, end: Math.max(end, start + 1) };
}

/** The scrollTop that brings row `index` into view (unchanged when it already is). */
export function scrollToRow(index: number, scrollTop: number, viewportHeight: number, rowHeight: number): number {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewportHeight) return top + rowHeight - viewportHeight;
  return scrollTop;
}
