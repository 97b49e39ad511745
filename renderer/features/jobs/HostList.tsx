/**
 * The hosts of a job with many of them: status filters with counts, a name filter, and a
 * virtualised listbox (a thousand hosts put only the rows in view in the DOM). Arrow keys, Page
 * Up/Down, Home and End move the selection within what the filters show.
 */
import { useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { filterCounts, filterRuns, HOST_FILTERS, scrollToRow, visibleRange, type HostFilter } from './host-list';

/** Height of one row in px (styles: .host-list-row). */
const ROW = 28;

/** Props of HostList. */
export interface HostListProps<R extends { id: number; host: string; status: string }> {
  runs: readonly R[];
  selected: string;
  onSelect: (host: string) => void;
  idPrefix: string;
}

/** The option id of a host's row. */
export const hostOptionId = (prefix: string, host: string) => `${prefix}-host-${host}`;

/** The filterable, virtualised list of a job's hosts. */
export function HostList<R extends { id: number; host: string; status: string }>({ runs, selected, onSelect, idPrefix }: HostListProps<R>) {
  const [filter, setFilter] = useState<HostFilter>('all');
  const [query, setQuery] = useState('');
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const box = useRef<HTMLDivElement>(null);
  const counts = useMemo(() => filterCounts(runs), [runs]);
  const shown = useMemo(() => filterRuns(runs, filter, query), [runs, filter, query]);
  const { start, end } = visibleRange(scrollTop, height, ROW, shown.length);
  const index = shown.findIndex((r) => r.host === selected);

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setHeight(el.clientHeight || 400);
    measure();
    const ro = typeof ResizeObserver === 'function' ? new ResizeObserver(measure) : undefined;
    ro?.observe(el);
    return () => ro?.disconnect();
  }, []);

  const moveTo = (i: number) => {
    const r = shown[Math.max(0, Math.min(shown.length - 1, i))];
    if (!r) return;
    onSelect(r.host);
    const el = box.current;
    const i2 = shown.indexOf(r);
    if (el) {
      const top = scrollToRow(i2, el.scrollTop, el.clientHeight, ROW);
      if (top !== el.scrollTop) {
        el.scrollTop = top;
        setScrollTop(top);
      }
    }
  };
  const onKeyDown = (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(height / ROW) - 1);
    const at = index < 0 ? -1 : index;
    const next =
      e.key === 'ArrowDown' ? at + 1 : e.key === 'ArrowUp' ? at - 1 : e.key === 'PageDown' ? at + page : e.key === 'PageUp' ? at - page : e.key === 'Home' ? 0 : e.key === 'End' ? shown.length - 1 : undefined;
    if (next === undefined) return;
    e.preventDefault();
    moveTo(next);
  };

  return (
    <div className="host-list">
      <div className="host-list-filters" role="group" aria-label="Show hosts">
        {HOST_FILTERS.map((f) => (
          <button
            key={f.id}
            type="button"
            className="chip"
            aria-pressed={filter === f.id}
            onClick={() => {
              setFilter(f.id);
              setScrollTop(0);
              if (box.current) box.current.scrollTop = 0;
            }}
          >
            {f.label} <span className="chip-count">{counts[f.id].toLocaleString('en')}</span>
          </button>
        ))}
        <input
          type="search"
          className="host-list-search"
          placeholder="Filter hosts"
          aria-label="Filter hosts by name"
          value={query}
          onChange={(e) => {
            setQuery(e.target.value);
            setScrollTop(0);
            if (box.current) box.current.scrollTop = 0;
          }}
        />
      </div>
      <div
        ref={box}
        className="host-list-box"
        role="listbox"
        tabIndex={0}
        aria-label={`Hosts of this job: ${shown.length.toLocaleString('en')} shown of ${runs.length.toLocaleString('en')}`}
        aria-activedescendant={index >= start && index < end ? hostOptionId(idPrefix, selected) : undefined}
        onKeyDown={onKeyDown}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        <div style={{ height: shown.length * ROW, position: 'relative' }}>
          {shown.slice(start, end).map((r, k) => (
            <div
              key={r.id}
              id={hostOptionId(idPrefix, r.host)}
              role="option"
              aria-selected={r.host === selected}
              aria-setsize={shown.length}
              aria-posinset={start + k + 1}
              className="host-list-row"
              style={{ transform: `translateY(${(start + k) * ROW}px)` }}
              onClick={() => onSelect(r.host)}
            >
              <span className={`dot dot-${r.status}`} aria-hidden="true" />
              <span className="host-list-name">{r.host}</span>
              <span className="host-list-status muted">{r.status.replace(/_/g, ' ')}</span>
            </div>
          ))}
        </div>
        {shown.length === 0 && <p className="placeholder">No host matches.</p>}
      </div>
    </div>
  );
}
