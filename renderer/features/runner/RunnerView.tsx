/**
 * The Runner view: this installation's artifacts (hash and signature per target), the
 * runner per host (its current deployment, with a clean-up), the runner's health over
 * time, and every deployment.
 */
import { useEffect, useMemo, useState } from 'react';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Modal } from '../../components/Modal';
import { useAppStore, type RunnerDeployment } from '../../store';
import { formatTime } from '../jobs/job-format';
import { formatBytes } from './format';
import { RunnerHealthPanel } from './RunnerHealth';
import './runner.css';

export { formatBytes } from './format';

/** The newest deployment of each host (the list is newest first), sorted by host. */
export function currentPerHost(deployments: readonly RunnerDeployment[]): RunnerDeployment[] {
  const seen = new Map<string, RunnerDeployment>();
  for (const d of deployments) if (!seen.has(d.host)) seen.set(d.host, d);
  return [...seen.values()].sort((a, b) => a.host.localeCompare(b.host));
}

/** A deployment status badge. */
function DeployStatus({ status }: { status: RunnerDeployment['status'] }) {
  const tone = status === 'ready' ? 'ok' : status === 'failed' ? 'bad' : status === 'deploying' ? 'busy' : 'idle';
  return <span className={`status status-${tone}`}>{status}</span>;
}

/** The deployments table; also used in the host detail. */
export function DeploymentsTable({ deployments, caption, showHost = true }: { deployments: readonly RunnerDeployment[]; caption: string; showHost?: boolean }) {
  return (
    <div className="table-wrap">
      <table className="table">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {showHost && <th scope="col">Host</th>}
            <th scope="col">Version</th>
            <th scope="col">Target</th>
            <th scope="col">Status</th>
            <th scope="col">Path</th>
            <th scope="col">Verified</th>
            <th scope="col">Updated</th>
          </tr>
        </thead>
        <tbody>
          {deployments.map((d) => (
            <tr key={d.id}>
              {showHost && (
                <th scope="row">
                  <a href={routeHref({ view: 'host', name: d.host })}>{d.host}</a>
                </th>
              )}
              <td className="mono">{d.version}</td>
              <td className="mono">{d.target}</td>
              <td>
                <DeployStatus status={d.status} />
                {d.error && <div className="cell-error">{d.error}</div>}
              </td>
              <td className="mono cell-path" title={d.path ?? undefined}>
                {d.path ?? '—'}
              </td>
              <td>{formatTime(d.verifiedAt)}</td>
              <td>{formatTime(d.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The Runner view. */
export function RunnerView() {
  const artifacts = useAppStore((s) => s.runner.artifacts);
  const artifactsError = useAppStore((s) => s.runner.artifactsError);
  const deployments = useAppStore((s) => s.runner.deployments);
  const deploymentsError = useAppStore((s) => s.runner.deploymentsError);
  const loaded = useAppStore((s) => s.runner.loaded);
  const loading = useAppStore((s) => s.runner.loading);
  const load = useAppStore((s) => s.runner.load);

  const health = useAppStore((s) => s.runner.health);
  const healthError = useAppStore((s) => s.runner.healthError);
  const healthDays = useAppStore((s) => s.runner.healthDays);
  const setHealthDays = useAppStore((s) => s.runner.setHealthDays);
  const clean = useAppStore((s) => s.runner.clean);
  const [confirmClean, setConfirmClean] = useState<string | null>(null);
  const [cleaning, setCleaning] = useState<string | null>(null);
  const [cleanError, setCleanError] = useState<ErrorInfo | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const perHost = useMemo(() => currentPerHost(deployments), [deployments]);

  useEffect(() => {
    void load();
  }, [load]);

  async function doClean(host: string) {
    setConfirmClean(null);
    setCleaning(host);
    setCleanError(null);
    try {
      const r = await clean(host);
      setAnnouncement(`Cleaned up ${host}: ${r.removed.length === 1 ? '1 runner version' : `${r.removed.length} runner versions`} removed.`);
    } catch (e) {
      setCleanError(toErrorInfo(e));
    } finally {
      setCleaning(null);
    }
  }

  return (
    <section className="view" aria-labelledby="runner-title">
      <header className="view-header">
        <h1 id="runner-title">Runner</h1>
        {artifacts && (
          <span className="view-count">
            version {artifacts.version} · protocol {artifacts.protocol}
          </span>
        )}
        <div className="toolbar">
          <button type="button" className="btn" onClick={() => void load()} disabled={loading}>
            Refresh
          </button>
        </div>
      </header>
      {!loaded && (
        <p className="placeholder" role="status">
          Loading the runner…
        </p>
      )}
      <section className="section" aria-labelledby="artifacts-title">
        <h2 id="artifacts-title" className="section-title">
          Artifacts
        </h2>
        {artifactsError && <ErrorNotice error={artifactsError} />}
        {artifacts && (
          <>
            <div className={`notice ${artifacts.ok ? 'notice-ok' : 'notice-error'}`} role="status">
              <p>
                <span className="notice-message">{artifacts.ok ? 'Every artifact verifies.' : 'Some artifacts do not verify; they will not be deployed.'}</span>{' '}
                <span className="muted">
                  Signed by the {artifacts.signer.kind} key <span className="mono">{artifacts.signer.fingerprint}</span>
                  {artifacts.trust === 'pinned' ? ', checked against the pinned key' : ', checked against the directory’s own cosign.pub (development build)'}. Built {artifacts.builtAt}.
                </span>
              </p>
            </div>
            <div className="table-wrap">
              <table className="table">
                <caption className="visually-hidden">Runner artifacts</caption>
                <thead>
                  <tr>
                    <th scope="col">Target</th>
                    <th scope="col">Hash and signature</th>
                    <th scope="col">SHA-256</th>
                    <th scope="col" className="num">
                      Size
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {artifacts.artifacts.map((a) => (
                    <tr key={a.target}>
                      <th scope="row" className="mono">
                        {a.target}
                      </th>
                      <td>
                        <span className={`status status-${a.status === 'verified' ? 'ok' : 'bad'}`}>{a.status}</span>
                        {a.error && <div className="cell-error">{a.error}</div>}
                      </td>
                      <td className="mono" title={a.sha256}>
                        {a.sha256.slice(0, 16)}…
                      </td>
                      <td className="num">{formatBytes(a.size)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <p className="muted small section-foot">
              From <span className="mono">{artifacts.dir}</span>
            </p>
          </>
        )}
      </section>
      <section className="section" aria-labelledby="health-title">
        <div className="section-head-row">
          <h2 id="health-title" className="section-title">
            Health
          </h2>
          <label htmlFor="health-days" className="toolbar-label">
            Over
          </label>
          <select id="health-days" value={healthDays} onChange={(e) => setHealthDays(Number(e.target.value))}>
            {[7, 14, 30, 90].map((d) => (
              <option key={d} value={d}>
                the last {d} days
              </option>
            ))}
          </select>
        </div>
        {healthError && <ErrorNotice error={healthError} />}
        {health && <RunnerHealthPanel health={health} />}
      </section>
      <section className="section" aria-labelledby="per-host-title">
        <h2 id="per-host-title" className="section-title">
          Hosts
        </h2>
        {cleanError && <ErrorNotice error={cleanError} />}
        <p className="visually-hidden" role="status">
          {announcement}
        </p>
        {perHost.length === 0 ? (
          loaded && !deploymentsError && <p className="muted">None yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Runner per host</caption>
              <thead>
                <tr>
                  <th scope="col">Host</th>
                  <th scope="col">Version</th>
                  <th scope="col">Target</th>
                  <th scope="col">Status</th>
                  <th scope="col">Verified</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {perHost.map((d) => (
                  <tr key={d.host}>
                    <th scope="row">
                      <a href={routeHref({ view: 'host', name: d.host })}>{d.host}</a>
                    </th>
                    <td className="mono">{d.version}</td>
                    <td className="mono">{d.target}</td>
                    <td>
                      <DeployStatus status={d.status} />
                      {d.error && <div className="cell-error">{d.error}</div>}
                    </td>
                    <td>{formatTime(d.verifiedAt)}</td>
                    <td className="num">
                      {d.status !== 'removed' && (
                        <button type="button" className="btn btn-small" disabled={cleaning === d.host} onClick={() => setConfirmClean(d.host)} aria-label={`Clean up the runner on ${d.host}`}>
                          {cleaning === d.host ? 'Cleaning…' : 'Clean up'}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="section" aria-labelledby="deployments-title">
        <h2 id="deployments-title" className="section-title">
          Deployments
        </h2>
        <p className="muted small">Every deployment, newest first: uploads, checks of a cached runner, failures and removals.</p>
        {deploymentsError && <ErrorNotice error={deploymentsError} />}
        {loaded && !deploymentsError && deployments.length === 0 ? (
          <p className="muted">No host has the runner yet. It is deployed on a host’s first run in auto or runner mode.</p>
        ) : (
          deployments.length > 0 && <DeploymentsTable deployments={deployments} caption="Runner deployments" />
        )}
      </section>
      {confirmClean && (
        <Modal title={`Clean up ${confirmClean}?`} onClose={() => setConfirmClean(null)} role="alertdialog" className="modal-confirm">
          <p className="modal-body">Every cached runner version is removed from {confirmClean}. The next run in auto or runner mode deploys it again.</p>
          <div className="form-actions">
            <button type="button" className="btn" data-autofocus="" onClick={() => setConfirmClean(null)}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={() => void doClean(confirmClean)}>
              Clean up
            </button>
          </div>
        </Modal>
      )}
    </section>
  );
}
