/** One host: its facts, diagnostics (run and history), runner deployments and recent runs. */
import { useCallback, useEffect, useState } from 'react';
import type { DiagnosticReport, MethodResult } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate, routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { StatusBadge } from '../../components/StatusBadge';
import { useAppStore, type RunnerDeployment } from '../../store';
import { countsText, elapsed, formatDuration, formatTime } from '../jobs/job-format';
import { DeploymentsTable } from '../runner/RunnerView';
import { hostKeyProblemOfError, hostKeyProblemOfReport, type HostKeyProblem } from './host-key';
import { HostFormDialog } from './HostFormDialog';
import { TrustHostKeyDialog } from './TrustHostKeyDialog';

type Job = MethodResult<'jobs.list'>[number];

const ICON: Record<string, string> = { pass: '✓', warn: '!', fail: '✕' };

/** A diagnostics report as a checklist. */
function Checklist({ report }: { report: DiagnosticReport }) {
  return (
    <ul className="checklist" aria-label={`Checks of ${report.host}`}>
      {report.checks.map((c) => (
        <li key={c.id} className={`check check-${c.status}`}>
          <span className="check-icon" aria-hidden="true">
            {ICON[c.status] ?? '?'}
          </span>
          <div className="check-body">
            <div className="check-title">
              {c.title} <span className="visually-hidden">: {c.status}</span>
            </div>
            <div className="check-detail">{c.detail}</div>
            {c.hint && <div className="check-hint">{c.hint}</div>}
          </div>
        </li>
      ))}
    </ul>
  );
}

/** The host detail view. */
export function HostDetail({ name }: { name: string }) {
  const api = useApi();
  const host = useAppStore((s) => s.hosts.list.find((h) => h.name === name));
  const hostsLoaded = useAppStore((s) => s.hosts.loaded);
  const [report, setReport] = useState<DiagnosticReport | null>(null);
  const [history, setHistory] = useState<DiagnosticReport[]>([]);
  const [deployments, setDeployments] = useState<RunnerDeployment[]>([]);
  const [jobs, setJobs] = useState<Job[]>([]);
  const [diagnosing, setDiagnosing] = useState(false);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [keyProblem, setKeyProblem] = useState<HostKeyProblem | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const [editing, setEditing] = useState(false);

  const loadSide = useCallback(
    () =>
      Promise.allSettled([api.diagnostics.list({ name, limit: 20 }), api.runner.deployments({ name, limit: 50 }), api.jobs.list({ host: name, limit: 20 })]).then(([h, d, j]) => {
        if (h.status === 'fulfilled') {
          setHistory(h.value);
          setReport((r) => r ?? h.value[0] ?? null);
        }
        if (d.status === 'fulfilled') setDeployments(d.value);
        if (j.status === 'fulfilled') setJobs(j.value);
        const failed = [h, d, j].find((x) => x.status === 'rejected');
        setError(failed ? toErrorInfo(failed.reason) : null);
      }),
    [api, name],
  );

  useEffect(() => {
    void loadSide();
  }, [loadSide]);

  async function diagnose() {
    setDiagnosing(true);
    setError(null);
    setAnnouncement('Diagnosing…');
    try {
      const r = await api.hosts.diagnose({ name });
      setReport(r);
      setAnnouncement(`Diagnostics finished: ${r.status}.`);
      const p = hostKeyProblemOfReport(r);
      if (p) setKeyProblem(p);
      void loadSide();
    } catch (e) {
      const p = hostKeyProblemOfError(e, name);
      if (p) setKeyProblem(p);
      else setError(toErrorInfo(e));
      setAnnouncement('');
    } finally {
      setDiagnosing(false);
    }
  }

  if (hostsLoaded && !host) {
    return (
      <section className="view" aria-labelledby="host-title">
        <header className="view-header">
          <a className="back-link" href="#hosts">
            <span aria-hidden="true">←</span> Hosts
          </a>
          <h1 id="host-title">{name}</h1>
        </header>
        <ErrorNotice error={{ code: 'NOT_FOUND', message: `There is no host named ${name}.` }} />
      </section>
    );
  }

  return (
    <section className="view" aria-labelledby="host-title">
      <header className="view-header">
        <a className="back-link" href="#hosts">
          <span aria-hidden="true">←</span> Hosts
        </a>
        <h1 id="host-title">{name}</h1>
        {host && (
          <span className="muted mono">
            {host.user ? `${host.user}@` : ''}
            {host.address}:{host.port}
            {host.jump ? ` via ${host.jump}` : ''}
          </span>
        )}
        <div className="toolbar">
          {host && (
            <button type="button" className="btn" onClick={() => setEditing(true)}>
              Edit
            </button>
          )}
          <a className="btn" href={routeHref({ view: 'run', host: name })}>
            Run a script
          </a>
          <button type="button" className="btn btn-primary" onClick={() => void diagnose()} disabled={diagnosing}>
            {diagnosing ? 'Diagnosing…' : 'Diagnose'}
          </button>
        </div>
      </header>
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      {error && <ErrorNotice error={error} />}
      <div className="detail-grid">
        <section className="section" aria-labelledby="diag-title">
          <h2 id="diag-title" className="section-title">
            Diagnostics
            {report && (
              <span className="section-meta">
                <span className={`status status-${report.status === 'pass' ? 'ok' : report.status === 'warn' ? 'warn' : 'bad'}`}>{report.status}</span> {formatTime(report.startedAt)} · {formatDuration(report.durationMs)}
              </span>
            )}
          </h2>
          {report ? <Checklist report={report} /> : <p className="muted">Not diagnosed yet. Diagnose checks DNS, TCP, SSH, authentication, the shell, interpreters, the runner cache and more.</p>}
          {history.length > 1 && (
            <details className="history">
              <summary>History ({history.length})</summary>
              <ul className="history-list">
                {history.map((h, i) => (
                  <li key={h.id ?? i}>
                    <button type="button" className="link-button" onClick={() => setReport(h)} aria-current={report === h ? 'true' : undefined}>
                      <span className={`check-dot check-${h.status}`} aria-hidden="true" /> {formatTime(h.startedAt)} — {h.status}
                      {h.checks.some((c) => c.status === 'fail') ? `: ${h.checks.filter((c) => c.status === 'fail').map((c) => c.title).join(', ')}` : ''}
                    </button>
                  </li>
                ))}
              </ul>
            </details>
          )}
        </section>
        <div className="detail-side">
          <section className="section" aria-labelledby="host-runs-title">
            <h2 id="host-runs-title" className="section-title">
              Recent jobs
            </h2>
            {jobs.length === 0 ? (
              <p className="muted">No jobs on this host yet.</p>
            ) : (
              <ul className="mini-list">
                {jobs.map((j) => (
                  <li key={j.id}>
                    <a href={routeHref({ view: 'job', id: j.id, host: name })}>#{j.id}</a> <StatusBadge status={j.status} /> <span className="muted">{formatTime(j.createdAt)} · {formatDuration(j.finishedAt === null ? null : elapsed(j.startedAt, j.finishedAt, j.finishedAt))} · {countsText(j.counts)}</span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="section" aria-labelledby="host-deploy-title">
            <h2 id="host-deploy-title" className="section-title">
              Runner deployments
            </h2>
            {deployments.length === 0 ? <p className="muted">The runner has not been deployed here.</p> : <DeploymentsTable deployments={deployments} caption={`Runner deployments on ${name}`} showHost={false} />}
          </section>
        </div>
      </div>
      {editing && host && (
        <HostFormDialog
          host={host}
          onClose={() => setEditing(false)}
          onSaved={(saved) => {
            setEditing(false);
            setAnnouncement(`Saved host ${saved.name}.`);
            if (saved.name !== name) navigate({ view: 'host', name: saved.name });
          }}
        />
      )}
      {keyProblem && (
        <TrustHostKeyDialog
          problem={keyProblem}
          onClose={() => setKeyProblem(null)}
          onTrusted={() => {
            setKeyProblem(null);
            setAnnouncement(`Trusted the host key of ${keyProblem.host}.`);
            void diagnose();
          }}
        />
      )}
    </section>
  );
}
