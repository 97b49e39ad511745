/** One job: a tab per host with its live log, status, exit code, timings and output; its follow-ups; outputs compared; Cancel. */
import { useCallback, useEffect, useState } from 'react';
import type { JobView as Job } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate, routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { StatusBadge } from '../../components/StatusBadge';
import { Tabs, tabIds } from '../../components/Tabs';
import { elapsed, formatDuration, formatTime, isFinal, phases } from './job-format';
import { ComparePanel } from './ComparePanel';
import { JobTree } from './JobTree';
import { HostList, hostOptionId } from './HostList';

/** Up to this many hosts a job shows them as tabs; more get the filterable, virtualised host list. */
const MAX_TABS = 12;
import { RunTerminal } from './RunTerminal';

type Run = Job['runs'][number];

/** The setup-vs-script bar of a run's phase timings. */
function PhaseBar({ run }: { run: Run }) {
  const ps = phases(run.timings);
  const total = ps.reduce((a, p) => a + p.ms, 0);
  if (ps.length === 0 || total <= 0) return <span className="muted">No timings yet</span>;
  const setup = ps.filter((p) => p.kind === 'setup').reduce((a, p) => a + p.ms, 0);
  const summary = `setup ${formatDuration(setup)}, script ${formatDuration(total - setup)}`;
  return (
    <div className="phase">
      <div className="phase-bar" role="img" aria-label={`Phase timings: ${ps.map((p) => `${p.label} ${formatDuration(p.ms)}`).join(', ')}`}>
        {ps.map((p) => (
          <span key={p.label} className={`phase-seg phase-${p.kind} phase-${p.label}`} style={{ flexGrow: Math.max(p.ms, total / 200) }} title={`${p.label}: ${formatDuration(p.ms)}`} />
        ))}
      </div>
      <span className="phase-summary">{summary}</span>
    </div>
  );
}

/** Facts of one run, above its log. */
function RunFacts({ run, now }: { run: Run; now: number }) {
  return (
    <div className="run-facts">
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd>
            <StatusBadge status={run.status} />
          </dd>
        </div>
        <div>
          <dt>Exit code</dt>
          <dd className="mono">{run.exitCode ?? (run.signal ? run.signal : '—')}</dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd title={run.modeReason ?? undefined}>
            {run.mode ?? '—'}
            {run.runnerVersion ? ` · runner ${run.runnerVersion}` : ''}
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(run.timings.total ?? elapsed(run.startedAt, run.finishedAt, now))}</dd>
        </div>
        {run.condition !== null && (
          <div>
            <dt>Condition</dt>
            <dd className="mono">{String(run.condition)}</dd>
          </div>
        )}
        {run.helperTransport !== null && run.helperTransport !== 'none' && (
          <div>
            <dt>Helpers</dt>
            <dd>{run.helperTransport === 'tunnel' ? 'SSH tunnel' : 'in-band'}</dd>
          </div>
        )}
        <div className="facts-wide">
          <dt>Timings</dt>
          <dd>
            <PhaseBar run={run} />
          </dd>
        </div>
      </dl>
      {run.errorCode && (
        <div className="run-error">
          <ErrorNotice role="status" error={{ code: run.errorCode, message: run.errorMessage ?? run.errorCode, ...(run.errorHint ? { hint: run.errorHint } : {}) }} />
        </div>
      )}
      {run.modeReason && <p className="muted small">Mode: {run.modeReason}</p>}
      {run.output !== null && (
        <details className="run-output" open>
          <summary>Output</summary>
          <pre className="json">{JSON.stringify(run.output, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

/** Props of JobView. */
export interface JobViewProps {
  id: number;
  host: string | undefined;
}

/** The job view. */
export function JobView({ id, host }: JobViewProps) {
  const api = useApi();
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [cancelError, setCancelError] = useState<ErrorInfo | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [now, setNow] = useState(() => Date.now());

  const load = useCallback(
    () =>
      api.jobs.get({ id }).then(
        (j) => {
          setJob(j);
          setError(null);
          setNow(Date.now());
        },
        (e: unknown) => setError(toErrorInfo(e)),
      ),
    [api, id],
  );

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = api.on('run.status', (e) => {
      if (e.jobId !== id || timer) return;
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, 100);
    });
    void load();
    return () => {
      off();
      if (timer) clearTimeout(timer);
    };
  }, [api, id, load]);

  const running = job !== null && !isFinal(job.status);
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [running]);

  async function cancel() {
    setCancelling(true);
    setCancelError(null);
    try {
      await api.jobs.cancel({ id });
      await load();
    } catch (e) {
      setCancelError(toErrorInfo(e));
    } finally {
      setCancelling(false);
    }
  }

  const runs = job?.runs ?? [];
  const selected = runs.find((r) => r.host === host) ?? runs[0];
  const prefix = `job-${id}`;

  return (
    <section className="view view-fill" aria-labelledby="job-title">
      <header className="view-header">
        <a className="back-link" href="#jobs">
          <span aria-hidden="true">←</span> Jobs
        </a>
        <h1 id="job-title">Job {id}</h1>
        {job && <StatusBadge status={job.status} />}
        {job && (
          <span className="muted">
            {job.kind === 'schedule' && job.schedule ? `schedule ${job.schedule} · ` : ''}
            {job.scriptName && (
              <>
                script <a href={routeHref({ view: 'scripts', name: job.scriptName })}>{job.scriptName}</a> ·{' '}
              </>
            )}
            {job.interpreter} · {formatTime(job.createdAt)} · {formatDuration(elapsed(job.startedAt, job.finishedAt, now))}
          </span>
        )}
        <div className="toolbar">
          {running && (
            <button type="button" className="btn btn-danger-outline" onClick={() => void cancel()} disabled={cancelling}>
              {cancelling ? 'Cancelling…' : 'Cancel job'}
            </button>
          )}
        </div>
      </header>
      {error && (
        <ErrorNotice error={error}>
          <button type="button" className="btn btn-small" onClick={() => void load()}>
            Retry
          </button>
        </ErrorNotice>
      )}
      {cancelError && <ErrorNotice error={cancelError} />}
      {!job ? (
        !error && (
          <p className="placeholder" role="status">
            Loading job…
          </p>
        )
      ) : (
        <>
          {job.parentJobId !== null && (
            <p className="job-lineage muted">
              A follow-up of <a href={routeHref({ view: 'job', id: job.parentJobId })}>job #{job.parentJobId}</a>.
            </p>
          )}
          <JobTree id={id} refreshKey={`${job.status}:${job.finishedAt ?? ''}`} />
          <details className="job-script">
            <summary>Script</summary>
            <pre className="mono">{job.script}</pre>
          </details>
          {runs.length > 1 && <ComparePanel jobId={id} />}
          {selected && runs.length > MAX_TABS && (
            <div className="job-hosts-split">
              <HostList runs={runs} selected={selected.host} onSelect={(h) => navigate({ view: 'job', id, host: h })} idPrefix={prefix} />
              <div role="region" aria-label={`Run on ${selected.host}`} id={`${hostOptionId(prefix, selected.host)}-panel`} className="tab-panel">
                <RunFacts run={selected} now={now} />
                <RunTerminal key={selected.id} api={api} runId={selected.id} host={selected.host} jobId={id} />
              </div>
            </div>
          )}
          {selected && runs.length <= MAX_TABS && (
            <>
              <Tabs
                label="Hosts of this job"
                idPrefix={prefix}
                items={runs.map((r) => ({
                  id: r.host,
                  label: (
                    <>
                      <span className={`dot dot-${r.status}`} aria-hidden="true" />
                      {r.host}
                      <span className="visually-hidden"> ({r.status.replace(/_/g, ' ')})</span>
                    </>
                  ),
                }))}
                selected={selected.host}
                onSelect={(h) => navigate({ view: 'job', id, host: h })}
              />
              <div role="tabpanel" id={tabIds(prefix, selected.host).panel} aria-labelledby={tabIds(prefix, selected.host).tab} className="tab-panel">
                <RunFacts run={selected} now={now} />
                <RunTerminal key={selected.id} api={api} runId={selected.id} host={selected.host} jobId={id} />
              </div>
            </>
          )}
        </>
      )}
    </section>
  );
}
