/** Run durations over time of one schedule: a line of successful jobs, dots for the others. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { routeHref } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { formatDuration, formatTime } from '../jobs/job-format';
import { durationSeries, type SchedulePoint } from './chart-data';
import { fitLabels, themedAxis, UPlotChart, type ChartColors } from './UPlotChart';

/** Props of ScheduleDurationsChart. */
export interface ScheduleDurationsChartProps {
  name: string;
  /** Reload when this changes (e.g. the schedule's last fire time). */
  refreshKey?: unknown;
  height?: number;
}

/** The durations chart of a schedule, loaded from stats.scheduleDurations. */
export function ScheduleDurationsChart({ name, refreshKey, height = 140 }: ScheduleDurationsChartProps) {
  const api = useApi();
  const [points, setPoints] = useState<SchedulePoint[] | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);

  useEffect(() => {
    let live = true;
    api.stats.scheduleDurations({ name }).then(
      (r) => live && (setPoints(r.points), setError(null)),
      (e: unknown) => live && setError(toErrorInfo(e)),
    );
    return () => {
      live = false;
    };
  }, [api, name, refreshKey]);

  const data = useMemo(() => durationSeries(points ?? []) as uPlot.AlignedData, [points]);
  const options = useCallback(
    (c: ChartColors): Omit<uPlot.Options, 'width' | 'height'> => ({
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [themedAxis(c), themedAxis(c, { size: fitLabels, values: (_u, vals) => vals.map((v) => formatDuration(v * 1000)) })],
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        { label: 'succeeded', stroke: c.accent, width: 1.5, points: { show: true, size: 5, fill: c.accent }, spanGaps: true, value: (_u, v) => (v === null ? '—' : formatDuration(v * 1000)) },
        { label: 'failed / other', stroke: c.bad, width: 0, paths: () => null, points: { show: true, size: 7, fill: c.bad, stroke: c.bad }, value: (_u, v) => (v === null ? '—' : formatDuration(v * 1000)) },
      ],
    }),
    [],
  );

  if (error) return <ErrorNotice error={error} />;
  if (!points) return <p className="chart-empty">Loading durations…</p>;
  const done = points.filter((p) => p.durationMs !== null);
  if (done.length === 0) return <p className="chart-empty">No finished jobs in the last 30 days yet: the durations chart fills as the schedule fires.</p>;
  const last = done[done.length - 1]!;
  const label = `Run durations of ${name}: ${done.length} jobs in the last 30 days, the last took ${formatDuration(last.durationMs)} (${last.status}).`;
  return (
    <UPlotChart
      options={options}
      data={data}
      height={height}
      label={label}
      className="chart-durations"
      table={
        <table className="table">
          <caption className="visually-hidden">Durations of {name}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Started</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Duration
              </th>
            </tr>
          </thead>
          <tbody>
            {done
              .slice(-20)
              .reverse()
              .map((p) => (
                <tr key={p.jobId}>
                  <th scope="row">
                    <a href={routeHref({ view: 'job', id: p.jobId })}>#{p.jobId}</a>
                  </th>
                  <td>{formatTime(p.at)}</td>
                  <td>{p.status}</td>
                  <td className="num">{formatDuration(p.durationMs)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      }
    />
  );
}
