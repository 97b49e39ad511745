/** Searching, sorting and showing the hosts table: pure functions, so the view stays simple. */
import type { Host } from '../../../electron/shared/api';

/** A sortable column. */
export type SortKey = 'name' | 'address' | 'port' | 'user' | 'group' | 'tags' | 'jump' | 'reachability' | 'platform' | 'runner' | 'lastRun';
/** The table's sort order. */
export interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** "Debian GNU/Linux 13 · x86_64", or null when unknown. */
export function platformText(h: Pick<Host, 'os' | 'arch'>): string | null {
  if (!h.os && !h.arch) return null;
  return [h.os, h.arch].filter(Boolean).join(' · ');
}

/** The words for a reachability (shown with its colour, never colour alone). */
export const REACHABILITY_LABEL: Record<Host['reachability'], string> = { ok: 'Reachable', failing: 'Failing', unknown: 'Unknown' };

/** Hosts whose name, address, group, OS or a tag contains the query (case-insensitive). */
export function filterHosts(hosts: readonly Host[], query: string): Host[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...hosts];
  return hosts.filter(
    (h) =>
      h.name.toLowerCase().includes(q) ||
      h.address.toLowerCase().includes(q) ||
      (h.group?.toLowerCase().includes(q) ?? false) ||
      (platformText(h)?.toLowerCase().includes(q) ?? false) ||
      h.tags.some((t) => t.toLowerCase().includes(q)),
  );
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
const REACH_ORDER: Record<Host['reachability'], number> = { failing: 0, ok: 1, unknown: 2 };

function sortValue(h: Host, key: SortKey): string | number | null {
  switch (key) {
    case 'port':
      return h.port;
    case 'tags':
      return h.tags.length ? h.tags.join(',') : null;
    case 'reachability':
      // Failing first when ascending: the hosts that need attention.
      return h.reachability === 'unknown' ? null : REACH_ORDER[h.reachability];
    case 'platform':
      return platformText(h);
    case 'runner':
      return h.runnerVersion;
    case 'lastRun':
      return h.lastRunAt;
    default:
      return h[key];
  }
}

/** Sorts hosts by a column; empty values go last in either direction, ties by name. */
export function sortHosts(hosts: readonly Host[], sort: Sort): Host[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return [...hosts].sort((a, b) => {
    const va = sortValue(a, sort.key);
    const vb = sortValue(b, sort.key);
    if (va === null || vb === null) {
      if (va !== vb) return va === null ? 1 : -1;
    } else {
      const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : collator.compare(String(va), String(vb));
      if (c !== 0) return c * sign;
    }
    return collator.compare(a.name, b.name);
  });
}

/** "5 s ago", "3 min ago", "2 h ago", "4 d ago"; a date beyond a month. */
export function timeAgo(ts: number, now: number): string {
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  if (s < 30 * 86_400) return `${Math.floor(s / 86_400)} d ago`;
  return new Date(ts).toLocaleDateString();
}

/** The selection kept to hosts that still exist (after a removal or reload), in list order. */
export function pruneSelection(selected: ReadonlySet<string>, hosts: readonly Host[]): Set<string> {
  return new Set(hosts.filter((h) => selected.has(h.name)).map((h) => h.name));
}

/** Runs `task` over items with at most `limit` at once; resolves when all have settled. */
export async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await task(item).catch(() => undefined);
    }
  });
  await Promise.all(lanes);
}
