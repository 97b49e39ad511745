/** The Hosts view: the inventory, searchable and sortable, with add and remove. */
import { useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { Host } from '../../../electron/shared/api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useAppStore } from '../../store';
import { AddHostDialog } from './AddHostDialog';
import { filterHosts, sortHosts, type Sort, type SortKey } from './host-table-model';
import { HostsTable } from './HostsTable';
import { RemoveHostDialog } from './RemoveHostDialog';

/** Whether a key press happened where typing "/" means text, not a shortcut. */
function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

/** The Hosts view. */
export function HostsView() {
  const list = useAppStore((s) => s.hosts.list);
  const loaded = useAppStore((s) => s.hosts.loaded);
  const error = useAppStore((s) => s.hosts.error);
  const load = useAppStore((s) => s.hosts.load);

  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<Sort>({ key: 'name', dir: 'asc' });
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Host | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const searchRef = useRef<HTMLInputElement>(null);

  const deferredQuery = useDeferredValue(query);
  const rows = useMemo(() => sortHosts(filterHosts(list, deferredQuery), sort), [list, deferredQuery, sort]);

  // "/" jumps to the search box, as in most dense list UIs.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target) || document.querySelector('dialog[open]')) return;
      e.preventDefault();
      searchRef.current?.focus();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);

  const onSort = (key: SortKey) => setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  const filtering = deferredQuery.trim() !== '';
  const count = filtering ? `${rows.length} of ${list.length}` : `${list.length} ${list.length === 1 ? 'host' : 'hosts'}`;

  return (
    <section className="view" aria-labelledby="hosts-title">
      <header className="view-header">
        <h1 id="hosts-title">Hosts</h1>
        {loaded && (
          <span className="view-count" aria-live="polite">
            {count}
          </span>
        )}
        <div className="toolbar">
          <div role="search" className="search">
            <label htmlFor="hosts-search" className="visually-hidden">
              Search hosts
            </label>
            <input
              ref={searchRef}
              id="hosts-search"
              type="search"
              value={query}
              onChange={(e) => setQuery(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape' && query) {
                  e.preventDefault();
                  setQuery('');
                }
              }}
              placeholder="Search name, address or tag"
              aria-keyshortcuts="/"
              autoComplete="off"
              spellCheck={false}
            />
            <kbd className="search-key" aria-hidden="true">
              /
            </kbd>
          </div>
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
            Add host
          </button>
        </div>
      </header>

      <p className="visually-hidden" role="status">
        {announcement}
      </p>

      {error && (
        <ErrorNotice error={error}>
          <button type="button" className="btn btn-small" onClick={() => void load()}>
            Retry
          </button>
        </ErrorNotice>
      )}

      {!loaded ? (
        !error && (
          <p className="placeholder" role="status">
            Loading hosts…
          </p>
        )
      ) : list.length === 0 ? (
        <section className="empty" aria-labelledby="hosts-empty-title">
          <h2 id="hosts-empty-title">No hosts yet</h2>
          <p>Add the machines Cronium should run scripts on. They are stored locally; nothing connects until you run something.</p>
          <p className="muted">
            From a terminal: <code>cronium hosts add web1 --address 10.0.0.5</code> or <code>cronium hosts import</code>
          </p>
          <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>
            Add host
          </button>
        </section>
      ) : rows.length === 0 ? (
        <section className="empty" aria-labelledby="hosts-nomatch-title">
          <h2 id="hosts-nomatch-title">No hosts match “{deferredQuery.trim()}”</h2>
          <p>Search looks at names, addresses and tags.</p>
          <button
            type="button"
            className="btn"
            onClick={() => {
              setQuery('');
              searchRef.current?.focus();
            }}
          >
            Clear search
          </button>
        </section>
      ) : (
        <HostsTable hosts={rows} sort={sort} onSort={onSort} onRemove={setRemoving} />
      )}

      {adding && (
        <AddHostDialog
          onClose={() => setAdding(false)}
          onAdded={(host) => {
            setAdding(false);
            setAnnouncement(`Added host ${host.name}.`);
          }}
        />
      )}
      {removing && (
        <RemoveHostDialog
          host={removing}
          onClose={() => setRemoving(null)}
          onRemoved={(name) => {
            setRemoving(null);
            setAnnouncement(`Removed host ${name}.`);
          }}
        />
      )}
    </section>
  );
}
