/** Success rate per host over the last 30 days, as bars (the worst hosts first). */
import { useCallback, useEffect, useMemo, useState } from 'react';
import uPlot from 'uplot';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatDuration } from '../jobs/job-format';
import { formatRate, successSeries, worstHosts, type HostSuccess } from './chart-data';
import { fitLabels, themedAxis, UPlotChart, type ChartColors } from './UPlotChart';

/** Props of HostSuccessChart. */
export interface HostSuccessChartProps {
  /** Reload when this changes. */
  refreshKey?: unknown;
  /** At most this many hosts (the worst). */
  max?: number;
  height?: number;
}

/** The success-per-host chart, loaded from stats.hostSuccess. */
export function HostSuccessChart({ refreshKey, max = 24, height = 170 }: HostSuccessChartProps) {
  const api = useApi();
  const [hosts, setHosts] = useState<HostSuccess[] | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);

  useEffect(() => {
    let live = true;
    api.stats.hostSuccess({}).then(
      (r) => live && (setHosts(r.hosts), setError(null)),
      (e: unknown) => live && setError(toErrorInfo(e)),
    );
    return () => {
      live = false;
    };
  }, [api, refreshKey]);

  const shown = useMemo(() => worstHosts(hosts ?? [], max), [hosts, max]);
  const names = useMemo(() => shown.map((h) => h.host), [shown]);
  const data = useMemo(() => successSeries(shown) as uPlot.AlignedData, [shown]);
  const options = useCallback(
    (c: ChartColors): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: false, range: () => [-0.5, Math.max(0.5, names.length - 0.5)] }, y: { range: [0, 100] } },
      axes: [
        themedAxis(c, { splits: () => names.map((_, i) => i), values: (_u, vals) => vals.map((v) => names[v] ?? ''), grid: { show: false }, rotate: names.length > 8 ? -30 : 0, size: names.length > 8 ? 60 : 30 }),
        themedAxis(c, { size: fitLabels, values: (_u, vals) => vals.map((v) => `${v} %`) }),
      ],
      legend: { show: false },
      cursor: { show: false },
      series: [
        {},
        { label: 'success rate', fill: c.accent, stroke: c.accent, paths: uPlot.paths.bars!({ size: [0.6, 48], align: 0 }), points: { show: false } },
        { label: 'below 95 %', fill: c.bad, stroke: c.bad, paths: uPlot.paths.bars!({ size: [0.6, 48], align: 0 }), points: { show: false } },
      ],
    }),
    [names],
  );

  if (error) return <ErrorNotice error={error} />;
  if (!hosts) return <p className="chart-empty">Loading success rates…</p>;
  if (shown.length === 0) return <p className="chart-empty">No finished runs in the last 30 days.</p>;
  const label = `Success rate per host over the last 30 days: ${shown.map((h) => `${h.host} ${formatRate(h.rate)}`).join(', ')}.`;
  return (
    <UPlotChart
      options={options}
      data={data}
      height={height}
      label={label}
      className="chart-host-success"
      table={
        <table className="table">
          <caption className="visually-hidden">Success rate per host</caption>
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col" className="num">
                Success
              </th>
              <th scope="col" className="num">
                Runs
              </th>
              <th scope="col" className="num">
                Failed
              </th>
              <th scope="col" className="num">
                Mean duration
              </th>
            </tr>
          </thead>
          <tbody>
            {shown.map((h) => (
              <tr key={h.host}>
                <th scope="row">
                  <a href={routeHref({ view: 'host', name: h.host })}>{h.host}</a>
                </th>
                <td className="num">{formatRate(h.rate)}</td>
                <td className="num">{h.total}</td>
                <td className="num">{h.failed + h.timedOut + h.lost}</td>
                <td className="num">{formatDuration(h.avgMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}
