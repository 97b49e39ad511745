/** The hosts table: sortable by any column, a link to each host's detail, one remove action per row. */
import type { Host } from '../../../electron/shared/api';
import type { Sort, SortKey } from './host-table-model';

const COLUMNS: { key: SortKey; label: string; className?: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'address', label: 'Address', className: 'mono' },
  { key: 'port', label: 'Port', className: 'mono num' },
  { key: 'user', label: 'User' },
  { key: 'group', label: 'Group' },
  { key: 'tags', label: 'Tags' },
  { key: 'jump', label: 'Jump' },
];

/** Props of HostsTable. */
export interface HostsTableProps {
  hosts: readonly Host[];
  sort: Sort;
  onSort: (key: SortKey) => void;
  onRemove: (host: Host) => void;
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

/** A dense, sortable table of hosts. */
export function HostsTable({ hosts, sort, onSort, onRemove }: HostsTableProps) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">Hosts</caption>
        <thead>
          <tr>
            {COLUMNS.map((c) => {
              const active = sort.key === c.key;
              return (
                <th
                  key={c.key}
                  scope="col"
                  className={c.className}
                  aria-sort={active ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined}
                >
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
          {hosts.map((h) => (
            <tr key={h.id}>
              <th scope="row" className="host-name">
                <a href={`#hosts/${encodeURIComponent(h.name)}`}>{h.name}</a>
              </th>
              <td className="mono">{h.address}</td>
              <td className="mono num">{h.port}</td>
              <td>{h.user ?? <None />}</td>
              <td>{h.group ?? <None />}</td>
              <td>
                {h.tags.length ? (
                  <span className="tags">
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
              <td>{h.jump ?? <None />}</td>
              <td className="actions">
                <button type="button" className="btn btn-ghost btn-small" aria-label={`Remove ${h.name}`} onClick={() => onRemove(h)}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
