/**
 * The table `npm run bench` prints: its row type, the statistics every figure uses, and the
 * context a bench module gets to add its own rows (see the helpers slot in run.ts).
 */

/** One line of the table. */
export interface Row {
  name: string;
  median: number;
  spread: string;
  unit: string;
  baseline?: string;
  ratio?: number;
  /** Several baselines measured in the same run; each gets its own ratio (median / baseline median). */
  baselines?: Baseline[];
  target?: string;
  verdict?: 'met' | 'missed';
}

/** A baseline of a row; `failed`: the peer failed or timed out (its cell says how, and it has no ratio). */
export interface Baseline {
  label: string;
  median: number;
  unit?: string;
  failed?: string;
}

/** The baseline of a peer's samples: its median, or how it failed. */
export function peerBaseline(label: string, peer: { samples: number[]; failure?: string }): Baseline {
  if (peer.failure || peer.samples.length === 0) return { label, median: Number.NaN, failed: peer.failure ?? 'no samples' };
  return { label, median: stats(peer.samples).median };
}

/** Median and quartiles (and the 1st and 99th percentile, and the extremes) of samples. */
export function stats(samples: number[]): { median: number; p25: number; p75: number; p01: number; p99: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]!;
  return { median: at(0.5), p25: at(0.25), p75: at(0.75), p01: at(0.01), p99: at(0.99), min: s[0]!, max: s[s.length - 1]! };
}

/** The p25–p75 spread cell, with `digits` decimals. */
export function iqr(samples: number[], digits = 1): string {
  const s = stats(samples);
  return `${s.p25.toFixed(digits)}–${s.p75.toFixed(digits)}`;
}

/** What run.ts hands a bench module that adds rows itself. */
export interface BenchContext {
  rows: Row[];
  stats: typeof stats;
}

/** The baseline column: one baseline, or several separated by semicolons; a failed peer says how it failed. */
export function baselineCell(x: Row): string {
  if (x.baselines?.length) return x.baselines.map((b) => (b.failed ? `${b.label}: ${b.failed}` : `${b.label}: ${b.median.toFixed(b.median < 10 ? 2 : 1)} ${b.unit ?? 'ms'}`)).join('; ');
  return x.baseline ?? '-';
}

/** The ratio column, in the order of the baselines ('-' for a failed one). */
export function ratioCell(x: Row): string {
  if (x.baselines?.length) return x.baselines.map((b) => (b.failed || Number.isNaN(x.median) ? '-' : `${(x.median / b.median).toFixed(2)}x`)).join(' / ');
  return x.ratio ? `${x.ratio.toFixed(2)}x` : '-';
}

/** The Markdown table of every row (a row whose figure failed shows '-' and says why in its baseline). */
export function renderTable(rows: Row[]): string {
  const header = '| figure | median | spread (p25–p75 unless noted) | baseline | ratio | target | verdict |\n| --- | --- | --- | --- | --- | --- | --- |';
  const cell = (x: Row) => (Number.isNaN(x.median) ? '-' : `${x.median.toFixed(x.unit === 'ms' && x.median < 10 ? 2 : 1)} ${x.unit}`);
  return [header, ...rows.map((x) => `| ${x.name} | ${cell(x)} | ${x.spread} | ${baselineCell(x)} | ${ratioCell(x)} | ${x.target ?? '-'} | ${x.verdict ?? '-'} |`)].join('\n');
}

/** A row for an area of the benchmark that failed as a whole: the table still prints, and says why. */
export function failedRow(area: string, error: unknown): Row {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'failed';
  return { name: area, median: Number.NaN, spread: '-', unit: 'ms', baseline: `failed: ${message}` };
}
