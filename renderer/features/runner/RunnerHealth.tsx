/**
 * The runner's health over the last days (runner.health): totals as tiles, then per-day
 * rates (deployment success, cache hits) and failures (integrity, signature, tunnel,
 * fallbacks to direct mode), so a problem shows before users notice it.
 */
import { useCallback, useMemo } from 'react';
import type uPlot from 'uplot';
import { formatRate, healthFailureSeries, healthRateSeries, type RunnerHealth as Health } from '../charts/chart-data';
import { fitLabels, themedAxis, UPlotChart, type ChartColors } from '../charts/UPlotChart';

function day(ts: number): string {
  return new Date(ts).toLocaleDateString(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
}

/** One figure as a tile; `bad` when it should draw the eye. */
function Tile({ label, value, tone }: { label: string; value: string; tone?: 'ok' | 'bad' | undefined }) {
  return (
    <div className={`health-tile${tone ? ` health-tile-${tone}` : ''}`}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

/** The health section's body. */
export function RunnerHealthPanel({ health }: { health: Health }) {
  const t = health.totals;
  const rates = useMemo(() => healthRateSeries(health) as uPlot.AlignedData, [health]);
  const failures = useMemo(() => healthFailureSeries(health) as uPlot.AlignedData, [health]);
  const dayAxis = (c: ChartColors) => themedAxis(c, { values: (_u: uPlot, vals: number[]) => vals.map((v) => day(v * 1000)) });
  const rateOptions = useCallback(
    (c: ChartColors): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true }, y: { range: [0, 100] } },
      axes: [dayAxis(c), themedAxis(c, { size: fitLabels, values: (_u, vals) => vals.map((v) => `${v} %`) })],
      cursor: { drag: { x: false, y: false } },
      series: [
        { value: (_u, v) => (v === null ? '—' : day(v * 1000)) },
        { label: 'deployment success', stroke: c.ok, width: 2, points: { show: true, size: 5, fill: c.ok }, spanGaps: true, value: (_u, v) => (v === null ? '—' : `${v.toFixed(0)} %`) },
        { label: 'cache hits', stroke: c.accent, width: 2, points: { show: true, size: 5, fill: c.accent }, spanGaps: true, value: (_u, v) => (v === null ? '—' : `${v.toFixed(0)} %`) },
      ],
    }),
    [],
  );
  const failureOptions = useCallback(
    (c: ChartColors): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.2))] } },
      axes: [dayAxis(c), themedAxis(c, { size: fitLabels })],
      cursor: { drag: { x: false, y: false } },
      series: [
        { value: (_u, v) => (v === null ? '—' : day(v * 1000)) },
        { label: 'integrity', stroke: c.bad, width: 2, points: { show: true, size: 4, fill: c.bad } },
        { label: 'signature', stroke: c.warn, width: 2, points: { show: true, size: 4, fill: c.warn } },
        { label: 'tunnel', stroke: c.busy, width: 1.5, dash: [4, 3], points: { show: true, size: 4, fill: c.busy } },
        { label: 'direct fallback', stroke: c.idle, width: 1.5, points: { show: true, size: 4, fill: c.idle } },
      ],
    }),
    [],
  );
  const deployRate = t.deploySuccessRate;
  const n = health.days.length;
  return (
    <>
      <dl className="health-tiles" aria-label={`Runner health, last ${n} days`}>
        <Tile label="Deployment success" value={`${formatRate(deployRate)}`} tone={deployRate === null ? undefined : deployRate < 0.95 ? 'bad' : 'ok'} />
        <Tile label="Cache hit rate" value={formatRate(t.cacheHitRate)} />
        <Tile label="Runner-mode runs" value={String(t.runnerRuns)} />
        <Tile label="Integrity failures" value={String(t.integrityFailures)} tone={t.integrityFailures > 0 ? 'bad' : undefined} />
        <Tile label="Signature failures" value={String(t.signatureFailures)} tone={t.signatureFailures > 0 ? 'bad' : undefined} />
        <Tile label="Tunnel failures" value={String(t.tunnelFailures)} tone={t.tunnelFailures > 0 ? 'bad' : undefined} />
        <Tile label="Fallbacks to direct" value={String(t.directFallbacks)} />
      </dl>
      <div className="chart-grid">
        <div className="chart-panel">
          <div className="chart-panel-head">
            <h3>Deployments and cache hits per day</h3>
          </div>
          <UPlotChart
            options={rateOptions}
            data={rates}
            height={160}
            label={`Deployment success ${formatRate(deployRate)} and cache hit rate ${formatRate(t.cacheHitRate)} over the last ${n} days (${t.deploys} deployments, ${t.deployFailures} failed, ${t.cacheHits} cache hits, ${t.uploads} uploads).`}
          />
        </div>
        <div className="chart-panel">
          <div className="chart-panel-head">
            <h3>Failures per day</h3>
          </div>
          <UPlotChart
            options={failureOptions}
            data={failures}
            height={160}
            label={`Over the last ${n} days: ${t.integrityFailures} integrity failures, ${t.signatureFailures} signature failures, ${t.tunnelFailures} tunnel failures, ${t.directFallbacks} fallbacks to direct mode.`}
            table={
              <table className="table">
                <caption className="visually-hidden">Runner health per day</caption>
                <thead>
                  <tr>
                    <th scope="col">Day (UTC)</th>
                    <th scope="col" className="num">Deploys</th>
                    <th scope="col" className="num">Failed</th>
                    <th scope="col" className="num">Cache hits</th>
                    <th scope="col" className="num">Uploads</th>
                    <th scope="col" className="num">Integrity</th>
                    <th scope="col" className="num">Signature</th>
                    <th scope="col" className="num">Tunnel</th>
                    <th scope="col" className="num">Direct</th>
                  </tr>
                </thead>
                <tbody>
                  {[...health.days].reverse().map((d) => (
                    <tr key={d.day}>
                      <th scope="row">{day(d.day)}</th>
                      <td className="num">{d.deploys}</td>
                      <td className="num">{d.deployFailures}</td>
                      <td className="num">{d.cacheHits}</td>
                      <td className="num">{d.uploads}</td>
                      <td className="num">{d.integrityFailures}</td>
                      <td className="num">{d.signatureFailures}</td>
                      <td className="num">{d.tunnelFailures}</td>
                      <td className="num">{d.directFallbacks}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            }
          />
        </div>
      </div>
    </>
  );
}
