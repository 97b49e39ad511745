/**
 * Output compared across the hosts of a job: groups of hosts with the same exit code and output
 * (patterns and host names ignored as asked), largest first; a diff of any host against the
 * group it differs from; "Re-run on differing hosts".
 */
import { useState } from 'react';
import type { JobComparison, RunDiff } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';

/** One diff, its lines coloured by kind. */
function DiffView({ diff }: { diff: RunDiff }) {
  if (diff.identical) {
    return (
      <p className="muted" role="status">
        {diff.host} and {diff.againstHost} have the same output.
      </p>
    );
  }
  // The patch's header (=== / --- / +++) names the runs, which the line above says already.
  const lines = diff.diff.replace(/\n$/, '').split('\n');
  while (lines.length && /^(===|--- |\+\+\+ )/.test(lines[0]!)) lines.shift();
  return (
    <div className="compare-diff">
      <p className="muted">
        {diff.host} (run {diff.runId}) against {diff.againstHost} (run {diff.against}){diff.truncated ? ' · each side read up to 1 MiB' : ''}
      </p>
      <pre className="mono" aria-label={`Diff of ${diff.host} against ${diff.againstHost}`}>
        {lines.map((l, i) => (
          <span key={i} className={l.startsWith('+') && !l.startsWith('+++') ? 'diff-add' : l.startsWith('-') && !l.startsWith('---') ? 'diff-del' : l.startsWith('@@') ? 'diff-hunk' : undefined}>
            {l}
            {'\n'}
          </span>
        ))}
      </pre>
    </div>
  );
}

/** The compare panel of a job view. */
export function ComparePanel({ jobId }: { jobId: number }) {
  const api = useApi();
  const [ignore, setIgnore] = useState('');
  const [ignoreHost, setIgnoreHost] = useState(false);
  const [stderr, setStderr] = useState(false);
  const [result, setResult] = useState<JobComparison | null>(null);
  const [diff, setDiff] = useState<RunDiff | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);

  const opts = () => ({ ignore: ignore.split('\n').map((s) => s.trim()).filter(Boolean), ignoreHost, stream: stderr ? ('all' as const) : ('stdout' as const) });

  async function act(fn: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  }

  const compare = () =>
    act(async () => {
      setDiff(null);
      setResult(await api.jobs.compare({ id: jobId, ...opts() }));
    });
  const showDiff = (runId: number) => act(async () => setDiff(await api.jobs.diff({ runId, ...opts() })));
  const rerun = () =>
    act(async () => {
      const r = await api.jobs.rerun({ id: jobId, differing: true, ...opts() });
      navigate({ view: 'job', id: r.jobId });
    });

  return (
    <details className="job-compare">
      <summary>Compare outputs across hosts</summary>
      <form
        className="compare-form"
        onSubmit={(e) => {
          e.preventDefault();
          void compare();
        }}
      >
        <label>
          Ignore (regular expressions, one per line)
          <textarea className="mono" rows={2} value={ignore} onChange={(e) => setIgnore(e.target.value)} placeholder={'\\d\\d:\\d\\d:\\d\\d'} spellCheck={false} />
        </label>
        <label className="compare-check">
          <input type="checkbox" checked={ignoreHost} onChange={(e) => setIgnoreHost(e.target.checked)} /> Ignore each host&apos;s own name
        </label>
        <label className="compare-check">
          <input type="checkbox" checked={stderr} onChange={(e) => setStderr(e.target.checked)} /> Include stderr
        </label>
        <button type="submit" className="btn btn-small" disabled={busy}>
          {busy ? 'Comparing…' : 'Compare'}
        </button>
      </form>
      {error && <ErrorNotice error={error} />}
      {result && (
        <div className="compare-result">
          <p role="status">
            {result.groups.length === 1 ? 'Every finished host gave the same output.' : `${result.groups.length} groups of hosts.`}
            {result.pending ? ` ${result.pending} still running.` : ''}
          </p>
          <ol className="compare-groups" aria-label="Output groups, largest first">
            {result.groups.map((g, i) => (
              <li key={`${g.outputHash}:${g.exitCode ?? g.status}`} className="compare-group">
                <div className="compare-group-head">
                  <strong>
                    {g.runs.length} host{g.runs.length === 1 ? '' : 's'}
                  </strong>
                  <span className="muted">
                    {g.exitCode !== null ? `exit ${g.exitCode}` : g.status.replace(/_/g, ' ')} · {g.lines} line{g.lines === 1 ? '' : 's'} · <span className="mono">{g.outputHash.slice(0, 12)}</span>
                  </span>
                </div>
                <div className="compare-hosts">
                  {g.runs.map((r) =>
                    i === 0 && result.groups.length > 1 ? (
                      <span key={r.runId} className="compare-chip">
                        {r.host}
                      </span>
                    ) : (
                      <button key={r.runId} type="button" className="compare-chip compare-chip-button" onClick={() => void showDiff(r.runId)} disabled={busy || result.groups.length === 1} title={`Diff ${r.host} against the largest group`}>
                        {r.host}
                      </button>
                    ),
                  )}
                </div>
                <pre className="mono compare-sample">
                  {g.sample}
                  {g.sampleTruncated ? '…' : ''}
                </pre>
              </li>
            ))}
          </ol>
          {result.groups.length > 1 && (
            <button type="button" className="btn btn-small" onClick={() => void rerun()} disabled={busy}>
              Re-run on differing hosts ({result.groups.slice(1).reduce((n, g) => n + g.runs.length, 0)})
            </button>
          )}
          {diff && <DiffView diff={diff} />}
        </div>
      )}
    </details>
  );
}
