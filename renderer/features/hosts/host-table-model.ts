/** Searching and sorting the hosts table: pure functions, so the view stays simple. */
import type { Host } from '../../../electron/shared/api';

/** A sortable column. */
export type SortKey = 'name' | 'address' | 'port' | 'user' | 'group' | 'tags' | 'jump';
/** The table's sort order. */
export interface Sort {
  key: SortKey;
  dir: 'asc' | 'desc';
}

/** Hosts whose name, address, group or a tag contains the query (case-insensitive). */
export function filterHosts(hosts: readonly Host[], query: string): Host[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...hosts];
  return hosts.filter(
    (h) =>
      h.name.toLowerCase().includes(q) ||
      h.address.toLowerCase().includes(q) ||
      (h.group?.toLowerCase().includes(q) ?? false) ||
      h.tags.some((t) => t.toLowerCase().includes(q)),
  );
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function sortValue(h: Host, key: SortKey): string | number | null {
  switch (key) {
    case 'port':
      return h.port;
    case 'tags':
      return h.tags.length ? h.tags.join(',') : null;
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
