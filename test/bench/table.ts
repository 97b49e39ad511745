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
  baselines?: { label: string; median: number; unit?: string }[];
  target?: string;
  verdict?: 'met' | 'missed';
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
