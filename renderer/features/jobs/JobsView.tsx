/**
 * The Jobs view: recent jobs with filters (status, host, schedule, time range) and the
 * success rate per host over the last 30 days; a row opens the job.
 */
import { useEffect, useMemo, useState } from 'react';
import { navigate, routeHref } from '../../app/route';
import { LoadStatus } from '../../components/LoadStatus';
import { StatusBadge } from '../../components/StatusBadge';
import { useAppStore, type JobStatus } from '../../store';
import type { JobsRange } from '../../store/types';
import { HostSuccessChart } from '../charts/HostSuccessChart';
import { countsText, elapsed, formatDuration, formatTime } from './job-format';

const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'partial', 'cancelled'];
const RANGES: { id: JobsRange; label: string }[] = [
  { id: '1h', label: 'Last hour' },
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
  { id: '30d', label: 'Last 30 days' },
  { id: 'all', label: 'Any time' },
];

/** The Jobs view. */
export function JobsView() {
  const list = useAppStore((s) => s.jobs.list);
  const loaded = useAppStore((s) => s.jobs.loaded);
  const error = useAppStore((s) => s.jobs.error);
  const filter = useAppStore((s) => s.jobs.filter);
  const load = useAppStore((s) => s.jobs.load);
  const setFilter = useAppStore((s) => s.jobs.setFilter);
  const hosts = useAppStore((s) => s.hosts.list);
  const schedules = useAppStore((s) => s.schedules.list);
  const schedulesLoaded = useAppStore((s) => s.schedules.loaded);
  const loadSchedules = useAppStore((s) => s.schedules.load);
  const [now, setNow] = useState(() => Date.now());
  const [showChart, setShowChart] = useState(true);

  useEffect(() => {
    void load();
  }, [load]);
  useEffect(() => {
    if (!schedulesLoaded) void loadSchedules();
  }, [schedulesLoaded, loadSchedules]);
  const anyRunning = list.some((j) => j.status === 'running' || j.status === 'queued');
  useEffect(() => {
    if (!anyRunning) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [anyRunning]);

  const filtered = filter.status !== null || filter.host !== null || filter.schedule !== null || filter.range !== 'all';
  const hostNames = useMemo(() => {
    const names = hosts.map((h) => h.name);
    if (filter.host && !names.includes(filter.host)) names.push(filter.host);
    return names;
  }, [hosts, filter.host]);
  // The chart reloads when the newest job changes state.
  const chartKey = list[0] ? `${list[0].id}:${list[0].status}` : '';

  return (
    <section className="view" aria-labelledby="jobs-title">
      <header className="view-header">
        <h1 id="jobs-title">Jobs</h1>
        {loaded && <span className="view-count">{list.length === 1 ? '1 job' : `${list.length} jobs`}</span>}
        <div className="toolbar">
          <a className="btn btn-primary" href={routeHref({ view: 'run' })}>
            Run a script
          </a>
        </div>
      </header>
      <div className="toolbar jobs-filters" role="group" aria-label="Filter jobs">
        <label htmlFor="jobs-status" className="toolbar-label">
          Status
        </label>
        <select id="jobs-status" value={filter.status ?? ''} onChange={(e) => setFilter({ status: (e.target.value || null) as JobStatus | null })}>
          <option value="">All</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <label htmlFor="jobs-host" className="toolbar-label">
          Host
        </label>
        <select id="jobs-host" value={filter.host ?? ''} onChange={(e) => setFilter({ host: e.target.value || null })}>
          <option value="">All</option>
          {hostNames.map((h) => (
            <option key={h} value={h}>
              {h}
            </option>
          ))}
        </select>
        <label htmlFor="jobs-schedule" className="toolbar-label">
          Schedule
        </label>
        <select id="jobs-schedule" value={filter.schedule ?? ''} onChange={(e) => setFilter({ schedule: e.target.value || null })}>
          <option value="">All</option>
          {schedules.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
        <label htmlFor="jobs-range" className="toolbar-label">
          Created
        </label>
        <select id="jobs-range" value={filter.range} onChange={(e) => setFilter({ range: e.target.value as JobsRange })}>
          {RANGES.map((r) => (
            <option key={r.id} value={r.id}>
              {r.label}
            </option>
          ))}
        </select>
        {filtered && (
          <button type="button" className="btn btn-small btn-ghost" onClick={() => setFilter({ status: null, host: null, schedule: null, range: 'all' })}>
            Clear filters
          </button>
        )}
      </div>
      <section className="chart-panel" aria-labelledby="host-success-title">
        <div className="chart-panel-head">
          <h2 id="host-success-title">Success rate per host</h2>
          <span className="muted small">last 30 days, worst first</span>
          <button type="button" className="btn btn-small btn-ghost" aria-expanded={showChart} aria-controls="host-success-body" onClick={() => setShowChart((v) => !v)}>
            {showChart ? 'Hide' : 'Show'}
          </button>
        </div>
        <div id="host-success-body" hidden={!showChart}>
          {showChart && <HostSuccessChart refreshKey={chartKey} />}
        </div>
      </section>
      <LoadStatus loaded={loaded} error={error} onRetry={() => void load()} what="jobs" />
      {!loaded ? null : list.length === 0 ? (
        <section className="empty" aria-labelledby="jobs-empty-title">
          <h2 id="jobs-empty-title">{filter.status ? `No ${filter.status} jobs` : filtered ? 'No jobs match these filters' : 'No jobs yet'}</h2>
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
                    {j.scriptName && <span className="muted"> · {j.scriptName}</span>}
                    {j.parentJobId !== null && <span className="muted"> · follow-up of #{j.parentJobId}</span>}
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
