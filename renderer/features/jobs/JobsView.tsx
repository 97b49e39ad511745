/** The Jobs view: recent jobs with a status filter; a row opens the job. */
import { useEffect, useState } from 'react';
import { navigate, routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { StatusBadge } from '../../components/StatusBadge';
import { useAppStore, type JobStatus } from '../../store';
import { countsText, elapsed, formatDuration, formatTime } from './job-format';

const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'partial', 'cancelled'];

/** The Jobs view. */
export function JobsView() {
  const list = useAppStore((s) => s.jobs.list);
  const loaded = useAppStore((s) => s.jobs.loaded);
  const error = useAppStore((s) => s.jobs.error);
  const status = useAppStore((s) => s.jobs.status);
  const load = useAppStore((s) => s.jobs.load);
  const setStatus = useAppStore((s) => s.jobs.setStatus);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    void load();
  }, [load]);
  const anyRunning = list.some((j) => j.status === 'running' || j.status === 'queued');
  useEffect(() => {
    if (!anyRunning) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [anyRunning]);

  return (
    <section className="view" aria-labelledby="jobs-title">
      <header className="view-header">
        <h1 id="jobs-title">Jobs</h1>
        {loaded && <span className="view-count">{list.length === 1 ? '1 job' : `${list.length} jobs`}</span>}
        <div className="toolbar">
          <label htmlFor="jobs-status" className="toolbar-label">
            Status
          </label>
          <select id="jobs-status" value={status ?? ''} onChange={(e) => setStatus((e.target.value || null) as JobStatus | null)}>
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <a className="btn btn-primary" href={routeHref({ view: 'run' })}>
            Run a script
          </a>
        </div>
      </header>
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
            Loading jobs…
          </p>
        )
      ) : list.length === 0 ? (
        <section className="empty" aria-labelledby="jobs-empty-title">
          <h2 id="jobs-empty-title">{status ? `No ${status} jobs` : 'No jobs yet'}</h2>
          <p>A job runs a script on one or more hosts. Schedules start jobs too.</p>
          <a className="btn btn-primary" href={routeHref({ view: 'run' })}>
            Run a script
          </a>
        </section>
      ) : (
        <div className="table-wrap">
          <table className="table table-clickable">
            <caption className="visually-hidden">Jobs</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Hosts</th>
                <th scope="col">Runs</th>
                <th scope="col">Created</th>
                <th scope="col" className="num">
                  Duration
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((j) => (
                <tr key={j.id} onClick={() => navigate({ view: 'job', id: j.id })}>
                  <th scope="row">
                    <a href={routeHref({ view: 'job', id: j.id })} onClick={(e) => e.stopPropagation()}>
                      #{j.id}
                    </a>
                    {j.schedule && <span className="muted"> · {j.schedule}</span>}
                  </th>
                  <td>
                    <StatusBadge status={j.status} />
                  </td>
                  <td className="cell-hosts" title={j.hosts.join(', ')}>
                    {j.hosts.slice(0, 4).join(', ')}
                    {j.hosts.length > 4 ? ` +${j.hosts.length - 4}` : ''}
                  </td>
                  <td className="muted">{countsText(j.counts)}</td>
                  <td>{formatTime(j.createdAt)}</td>
                  <td className="num">{formatDuration(elapsed(j.startedAt, j.finishedAt, now))}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
