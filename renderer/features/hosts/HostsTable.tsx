/**
 * The hosts table: a checkbox per row for bulk actions, sortable columns (name, address,
 * tags, reachability, OS and architecture, runner version, last run), a link to each
 * host's detail, and Edit / Remove per row. Bulk diagnostics show their result in the
 * row's reachability cell while they run and after.
 */
import type { DiagnosticReport, Host } from '../../../electron/shared/api';
import type { ErrorInfo } from '../../api';
import { routeHref } from '../../app/route';
import { StatusBadge } from '../../components/StatusBadge';
import { platformText, REACHABILITY_LABEL, timeAgo, type Sort, type SortKey } from './host-table-model';

const COLUMNS: { key: SortKey; label: string; className?: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'address', label: 'Address', className: 'mono' },
  { key: 'tags', label: 'Tags' },
  { key: 'reachability', label: 'Reachability' },
  { key: 'platform', label: 'OS' },
  { key: 'runner', label: 'Runner' },
  { key: 'lastRun', label: 'Last run' },
];

/** A bulk diagnostics result for one host. */
export type DiagnoseState = { state: 'running' } | { state: 'done'; report: DiagnosticReport } | { state: 'error'; error: ErrorInfo };

/** Props of HostsTable. */
export interface HostsTableProps {
  hosts: readonly Host[];
  sort: Sort;
  onSort: (key: SortKey) => void;
  selected: ReadonlySet<string>;
  onSelect: (name: string, on: boolean) => void;
  onSelectAll: (on: boolean) => void;
  onEdit: (host: Host) => void;
  onRemove: (host: Host) => void;
  diagnoses: ReadonlyMap<string, DiagnoseState>;
  now: number;
}

/** An empty value, silent to the eye but spoken as "none". */
function None() {
  return (
    <>
      <span className="muted" aria-hidden="true">
        —
      </span>
      <span className="visually-hidden">none</span>
    </>
  );
}

const REPORT_TONE = { pass: 'ok', warn: 'warn', fail: 'bad' } as const;
const REPORT_LABEL = { pass: 'All checks pass', warn: 'Passes with warnings', fail: 'Checks failed' } as const;

/** The reachability cell: a running or finished bulk diagnosis wins over the stored verdict. */
function Reachability({ host, diagnosis }: { host: Host; diagnosis: DiagnoseState | undefined }) {
  if (diagnosis?.state === 'running') {
    return (
      <span className="status status-busy" role="status">
        Diagnosing…
      </span>
    );
  }
  if (diagnosis?.state === 'error') {
    return (
      <span className="status status-bad" title={diagnosis.error.hint ?? undefined}>
        {diagnosis.error.message}
      </span>
    );
  }
  if (diagnosis?.state === 'done') {
    const failed = diagnosis.report.checks.filter((c) => c.status === 'fail').map((c) => c.title);
    return (
      <a className={`status status-${REPORT_TONE[diagnosis.report.status]}`} href={routeHref({ view: 'host', name: host.name })} title={failed.join(', ') || undefined}>
        {REPORT_LABEL[diagnosis.report.status]}
        {failed.length > 0 && <span className="visually-hidden">: {failed.join(', ')}</span>}
      </a>
    );
  }
  const tone = host.reachability === 'ok' ? 'ok' : host.reachability === 'failing' ? 'bad' : 'idle';
  return (
    <span className={`status status-${tone}`} title={host.reachabilityAt ? `as of ${new Date(host.reachabilityAt).toLocaleString()}` : 'no diagnostics or runs yet'}>
      {REACHABILITY_LABEL[host.reachability]}
    </span>
  );
}

/** A dense, sortable, selectable table of hosts. */
export function HostsTable({ hosts, sort, onSort, selected, onSelect, onSelectAll, onEdit, onRemove, diagnoses, now }: HostsTableProps) {
  const all = hosts.length > 0 && hosts.every((h) => selected.has(h.name));
  const some = !all && hosts.some((h) => selected.has(h.name));
  return (
    <div className="table-wrap">
      <table className="table hosts-table">
        <caption className="visually-hidden">Hosts</caption>
        <thead>
          <tr>
            <td className="select-cell">
              <input
                type="checkbox"
                aria-label="Select all shown hosts"
                checked={all}
                ref={(el) => {
                  if (el) el.indeterminate = some;
                }}
                onChange={(e) => onSelectAll(e.target.checked)}
              />
            </td>
            {COLUMNS.map((c) => {
              const active = sort.key === c.key;
              return (
                <th key={c.key} scope="col" className={c.className} aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}>
                  <button type="button" className="sort-button" onClick={() => onSort(c.key)}>
                    {c.label}
                    <span className={`sort-indicator${active ? ' sort-active' : ''}`} aria-hidden="true">
                      {active && sort.dir === 'desc' ? '▾' : '▴'}
                    </span>
                  </button>
                </th>
              );
            })}
            <th scope="col" className="actions">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {hosts.map((h) => {
            const platform = platformText(h);
            return (
              <tr key={h.id} className={selected.has(h.name) ? 'row-selected' : undefined}>
                <td className="select-cell">
                  <input type="checkbox" aria-label={`Select ${h.name}`} checked={selected.has(h.name)} onChange={(e) => onSelect(h.name, e.target.checked)} />
                </td>
                <th scope="row" className="host-name">
                  <a href={routeHref({ view: 'host', name: h.name })}>{h.name}</a>
                </th>
                <td className="mono" title={`${h.user ? `${h.user}@` : ''}${h.address}:${h.port}${h.jump ? ` via ${h.jump}` : ''}`}>
                  {h.address}
                  {h.port !== 22 && <span className="muted">:{h.port}</span>}
                </td>
                <td>
                  {h.tags.length || h.group ? (
                    <span className="tags">
                      {h.group && (
                        <span className="tag tag-group" title="group">
                          {h.group}
                        </span>
                      )}
                      {h.tags.map((t) => (
                        <span key={t} className="tag">
                          {t}
                        </span>
                      ))}
                    </span>
                  ) : (
                    <None />
                  )}
                </td>
                <td>
                  <Reachability host={h} diagnosis={diagnoses.get(h.name)} />
                </td>
                <td>{platform ?? <None />}</td>
                <td className="mono">{h.runnerVersion ?? <None />}</td>
                <td>
                  {h.lastRunAt !== null && h.lastRunStatus !== null ? (
                    <span className="last-run">
                      <StatusBadge status={h.lastRunStatus} />{' '}
                      {h.lastRunJobId !== null ? (
                        <a href={routeHref({ view: 'job', id: h.lastRunJobId, host: h.name })} title={new Date(h.lastRunAt).toLocaleString()}>
                          {timeAgo(h.lastRunAt, now)}
                        </a>
                      ) : (
                        timeAgo(h.lastRunAt, now)
                      )}
                    </span>
                  ) : (
                    <None />
                  )}
                </td>
                <td className="actions">
                  <button type="button" className="btn btn-quiet btn-small" aria-label={`Edit ${h.name}`} onClick={() => onEdit(h)}>
                    Edit
                  </button>
                  <button type="button" className="btn btn-ghost btn-small" aria-label={`Remove ${h.name}`} onClick={() => onRemove(h)}>
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
