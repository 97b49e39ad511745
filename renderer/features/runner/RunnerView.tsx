/** The Runner view: this installation's artifacts (hash and signature per target) and deployments per host. */
import { useEffect } from 'react';
import { routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { useAppStore, type RunnerDeployment } from '../../store';
import { formatTime } from '../jobs/job-format';

/** A byte count as KB/MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
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

  useEffect(() => {
    void load();
  }, [load]);

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
      <section className="section" aria-labelledby="deployments-title">
        <h2 id="deployments-title" className="section-title">
          Deployments
        </h2>
        {deploymentsError && <ErrorNotice error={deploymentsError} />}
        {loaded && !deploymentsError && deployments.length === 0 ? (
          <p className="muted">No host has the runner yet. It is deployed on a host’s first run in auto or runner mode.</p>
        ) : (
          deployments.length > 0 && <DeploymentsTable deployments={deployments} caption="Runner deployments" />
        )}
      </section>
    </section>
  );
}
