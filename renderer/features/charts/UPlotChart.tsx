/**
 * A uPlot chart as a React component. The uPlot instance is a live handle kept in a ref
 * (never in the store); it is created once per options identity, fed new data with
 * setData, resized with the box (ResizeObserver) and rebuilt when the OS theme flips,
 * since its colours are read from the page's CSS variables.
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './charts.css';

/** The CSS colours a chart draws with. */
export interface ChartColors {
  text: string;
  muted: string;
  grid: string;
  accent: string;
  ok: string;
  bad: string;
  warn: string;
  busy: string;
  idle: string;
}

/** Reads the theme's colours from CSS variables. */
export function chartColors(el: HTMLElement): ChartColors {
  const css = getComputedStyle(el);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', '#1c2230'),
    muted: v('--muted', '#5b6474'),
    grid: v('--border', '#dde1e7'),
    accent: v('--accent', '#2b62d9'),
    ok: v('--ok', '#1d7a46'),
    bad: v('--bad', '#c22f2f'),
    warn: v('--warn', '#8a5a00'),
    busy: v('--busy', '#2b62d9'),
    idle: v('--idle', '#5b6474'),
  };
}

/** A y axis wide enough for its longest label (uPlot's fixed default clips "500 ms"). */
export function fitLabels(_u: uPlot, values: string[] | null): number {
  const longest = values?.reduce((n, v) => Math.max(n, String(v).length), 0) ?? 3;
  return Math.ceil(longest * 6.6) + 18;
}

/** Axis defaults in the theme's colours. */
export function themedAxis(c: ChartColors, extra: uPlot.Axis = {}): uPlot.Axis {
  return { stroke: c.muted, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 }, font: '11px system-ui, sans-serif', ...extra };
}

/** Props of UPlotChart. */
export interface UPlotChartProps {
  /** Builds the options (without width/height) from the theme's colours. */
  options: (c: ChartColors) => Omit<uPlot.Options, 'width' | 'height'>;
  data: uPlot.AlignedData;
  height?: number;
  /** What the chart shows, in words (its accessible name). */
  label: string;
  /** A text alternative: the chart's figures as a table. */
  table?: React.ReactNode;
  className?: string;
}

/** One chart. `options` should be stable (useCallback) or the chart is rebuilt each render. */
export function UPlotChart({ options, data, height = 180, label, table, className }: UPlotChartProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const dataRef = useRef(data);

  // Before the build effect, so a rebuilt chart starts from the newest data.
  useEffect(() => {
    dataRef.current = data;
    plotRef.current?.setData(data);
  }, [data]);

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    let plot: uPlot | null = null;
    const build = () => {
      plot?.destroy();
      const width = Math.max(200, Math.floor(box.clientWidth));
      plot = new uPlot({ ...options(chartColors(box)), width, height }, dataRef.current, box);
      plotRef.current = plot;
    };
    build();
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, Math.floor(box.clientWidth));
      if (plot && Math.abs(plot.width - w) > 1) plot.setSize({ width: w, height });
    });
    ro.observe(box);
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    scheme.addEventListener('change', build);
    // The app can also fix a theme on <html data-theme>.
    const mo = new MutationObserver(build);
    mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => {
      ro.disconnect();
      mo.disconnect();
      scheme.removeEventListener('change', build);
      plot?.destroy();
      plotRef.current = null;
    };
  }, [options, height]);

  return (
    <figure className={`chart${className ? ` ${className}` : ''}`}>
      <div ref={boxRef} className="chart-box" role="img" aria-label={label} />
      {table && (
        <details className="chart-table">
          <summary>Show as table</summary>
          {table}
        </details>
      )}
    </figure>
  );
}
