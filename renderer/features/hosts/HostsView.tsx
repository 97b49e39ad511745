/**
 * The Hosts view: the inventory, searchable and sortable, with add, edit, import from
 * ~/.ssh/config, remove, and bulk actions on a selection (run, diagnose in parallel with
 * results inline, tag, remove).
 */
import { useDeferredValue, useEffect, useMemo, useRef, useState } from 'react';
import type { Host } from '../../../electron/shared/api';
import { toErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate } from '../../app/route';
import { LoadStatus } from '../../components/LoadStatus';
import { useAppStore } from '../../store';
import { BulkRemoveDialog, BulkTagDialog } from './BulkDialogs';
import { HostFormDialog } from './HostFormDialog';
import { eachLimited, filterHosts, pruneSelection, sortHosts, type Sort, type SortKey } from './host-table-model';
import { HostsTable, type DiagnoseState } from './HostsTable';
import { onHostsAction } from './hosts-actions';
import { ImportHostsDialog } from './ImportHostsDialog';
import { RemoveHostDialog } from './RemoveHostDialog';

/** Whether a key press happened where typing "/" means text, not a shortcut. */
function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

/** Diagnoses at once in a bulk action (each holds an SSH connection for well under a second). */
const DIAGNOSE_PARALLEL = 8;

type Dialog = { kind: 'add' } | { kind: 'edit'; host: Host } | { kind: 'remove'; host: Host } | { kind: 'import' } | { kind: 'bulk-tag' } | { kind: 'bulk-remove' } | null;

/** The Hosts view. */
export function HostsView() {
  const api = useApi();
  const list = useAppStore((s) => s.hosts.list);
  const loaded = useAppStore((s) => s.hosts.loaded);
  const error = useAppStore((s) => s.hosts.error);
  const load = useAppStore((s) => s.hosts.load);

  const [query, setQuery] = useState('');
  const [sort, setSort] = useState<Sort>({ key: 'name', dir: 'asc' });
  const [dialog, setDialog] = useState<Dialog>(null);
  const [selected, setSelected] = useState<Set<string>>(() => new Set());
  const [diagnoses, setDiagnoses] = useState<Map<string, DiagnoseState>>(() => new Map());
  const [announcement, setAnnouncement] = useState('');
  const [now, setNow] = useState(() => Date.now());
  const searchRef = useRef<HTMLInputElement>(null);

  const deferredQuery = useDeferredValue(query);
  const rows = useMemo(() => sortHosts(filterHosts(list, deferredQuery), sort), [list, deferredQuery, sort]);
  // The selection only ever holds hosts that exist (a removal elsewhere drops them).
  const selection = useMemo(() => pruneSelection(selected, list), [selected, list]);
  const selectedNames = useMemo(() => list.filter((h) => selection.has(h.name)).map((h) => h.name), [list, selection]);

  useEffect(() => {
    // Fresh facts (reachability, last run) whenever the view opens; "x min ago" ticks.
    void load();
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, [load]);

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

  // The palette and the desktop menu can ask for the Add host and Import dialogs.
  useEffect(() => onHostsAction((action) => setDialog({ kind: action === 'add-host' ? 'add' : 'import' })), []);

  const onSort = (key: SortKey) => setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  const onSelect = (name: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(name);
      else next.delete(name);
      return next;
    });
  const onSelectAll = (on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      for (const h of rows) {
        if (on) next.add(h.name);
        else next.delete(h.name);
      }
      return next;
    });
  const closeDialog = () => setDialog(null);
  const done = (message: string) => {
    setDialog(null);
    setAnnouncement(message);
  };

  async function diagnoseSelected() {
    const names = [...selectedNames];
    setDiagnoses((d) => new Map([...d, ...names.map((n) => [n, { state: 'running' } as DiagnoseState] as const)]));
    setAnnouncement(`Diagnosing ${names.length} ${names.length === 1 ? 'host' : 'hosts'}…`);
    let failed = 0;
    await eachLimited(names, DIAGNOSE_PARALLEL, async (name) => {
      let result: DiagnoseState;
      try {
        const report = await api.hosts.diagnose({ name });
        if (report.status === 'fail') failed++;
        result = { state: 'done', report };
      } catch (e) {
        failed++;
        result = { state: 'error', error: toErrorInfo(e) };
      }
      setDiagnoses((d) => new Map(d).set(name, result));
    });
    setAnnouncement(`Diagnostics done: ${names.length - failed} of ${names.length} passed.`);
    void load();
  }

  const filtering = deferredQuery.trim() !== '';
  const count = filtering ? `${rows.length} of ${list.length}` : `${list.length} ${list.length === 1 ? 'host' : 'hosts'}`;
  const anyDiagnosing = [...diagnoses.values()].some((d) => d.state === 'running');

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
              placeholder="Search hosts"
              aria-keyshortcuts="/"
              autoComplete="off"
              spellCheck={false}
            />
            <kbd className="search-key" aria-hidden="true">
              /
            </kbd>
          </div>
          <button type="button" className="btn" onClick={() => setDialog({ kind: 'import' })}>
            Import…
          </button>
          <button type="button" className="btn btn-primary" onClick={() => setDialog({ kind: 'add' })}>
            Add host
          </button>
        </div>
      </header>

      <p className="visually-hidden" role="status">
        {announcement}
      </p>

      {selectedNames.length > 0 && (
        <div className="bulk-bar" role="toolbar" aria-label="Selected hosts">
          <span className="bulk-count">{selectedNames.length} selected</span>
          <button type="button" className="btn btn-small btn-primary" onClick={() => navigate({ view: 'run', hosts: selectedNames })}>
            Run…
          </button>
          <button type="button" className="btn btn-small" disabled={anyDiagnosing} onClick={() => void diagnoseSelected()}>
            {anyDiagnosing ? 'Diagnosing…' : 'Diagnose'}
          </button>
          <button type="button" className="btn btn-small" onClick={() => setDialog({ kind: 'bulk-tag' })}>
            Tag…
          </button>
          <button type="button" className="btn btn-small btn-ghost" onClick={() => setDialog({ kind: 'bulk-remove' })}>
            Remove…
          </button>
          <button type="button" className="btn btn-small btn-quiet" onClick={() => setSelected(new Set())}>
            Clear selection
          </button>
        </div>
      )}

      <LoadStatus loaded={loaded} error={error} onRetry={() => void load()} what="hosts" />

      {!loaded ? null : list.length === 0 ? (
        <section className="empty" aria-labelledby="hosts-empty-title">
          <h2 id="hosts-empty-title">No hosts yet</h2>
          <p>Add the machines Cronium should run scripts on. They are stored locally; nothing connects until you run something.</p>
          <p className="muted">
            From a terminal: <code>cronium hosts add web1 --address 10.0.0.5</code> or <code>cronium hosts import</code>
          </p>
          <div className="empty-actions">
            <button type="button" className="btn btn-primary" onClick={() => setDialog({ kind: 'add' })}>
              Add host
            </button>
            <button type="button" className="btn" onClick={() => setDialog({ kind: 'import' })}>
              Import from SSH config
            </button>
          </div>
        </section>
      ) : rows.length === 0 ? (
        <section className="empty" aria-labelledby="hosts-nomatch-title">
          <h2 id="hosts-nomatch-title">No hosts match “{deferredQuery.trim()}”</h2>
          <p>Search looks at names, addresses, groups, tags and OS.</p>
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
        <HostsTable
          hosts={rows}
          sort={sort}
          onSort={onSort}
          selected={selection}
          onSelect={onSelect}
          onSelectAll={onSelectAll}
          onEdit={(host) => setDialog({ kind: 'edit', host })}
          onRemove={(host) => setDialog({ kind: 'remove', host })}
          diagnoses={diagnoses}
          now={now}
        />
      )}

      {dialog?.kind === 'add' && <HostFormDialog onClose={closeDialog} onSaved={(host) => done(`Added host ${host.name}.`)} />}
      {dialog?.kind === 'edit' && <HostFormDialog host={dialog.host} onClose={closeDialog} onSaved={(host) => done(`Saved host ${host.name}.`)} />}
      {dialog?.kind === 'remove' && <RemoveHostDialog host={dialog.host} onClose={closeDialog} onRemoved={(name) => done(`Removed host ${name}.`)} />}
      {dialog?.kind === 'import' && (
        <ImportHostsDialog
          onClose={closeDialog}
          onImported={(r) => {
            done(`Imported ${r.added.length} ${r.added.length === 1 ? 'host' : 'hosts'}${r.skipped.length ? `, skipped ${r.skipped.length}` : ''}.`);
            void load();
          }}
        />
      )}
      {dialog?.kind === 'bulk-tag' && <BulkTagDialog names={selectedNames} onClose={closeDialog} onDone={done} />}
      {dialog?.kind === 'bulk-remove' && (
        <BulkRemoveDialog
          names={selectedNames}
          onClose={closeDialog}
          onDone={(m) => {
            setSelected(new Set());
            done(m);
          }}
        />
      )}
    </section>
  );
}
