/**
 * Turns the stats API's results into uPlot's aligned arrays: pure functions, tested in
 * test/unit/renderer. x values are seconds (uPlot's time scale); gaps are null.
 */
import type { MethodResult } from '../../../electron/shared/api';

/** One job of a schedule, from stats.scheduleDurations. */
export type SchedulePoint = MethodResult<'stats.scheduleDurations'>['points'][number];
/** One host's success, from stats.hostSuccess. */
export type HostSuccess = MethodResult<'stats.hostSuccess'>['hosts'][number];
/** The runner's health, from runner.health. */
export type RunnerHealth = MethodResult<'runner.health'>;

/** Durations in seconds over time: x, then succeeded jobs, then the others (failed, partial, cancelled). */
export function durationSeries(points: readonly SchedulePoint[]): [number[], (number | null)[], (number | null)[]] {
  // uPlot needs x ascending; job ids and start times almost always agree, but a clock step can reorder them.
  const done = points.filter((p) => p.durationMs !== null).sort((a, b) => a.at - b.at);
  const x = done.map((p) => p.at / 1000);
  const ok = done.map((p) => (p.status === 'succeeded' ? p.durationMs! / 1000 : null));
  const bad = done.map((p) => (p.status === 'succeeded' ? null : p.durationMs! / 1000));
  return [x, ok, bad];
}

/** The hosts a success chart shows: the worst first (lowest rate, then most runs), at most `max`. */
export function worstHosts(hosts: readonly HostSuccess[], max = 24): HostSuccess[] {
  return hosts
    .filter((h) => h.rate !== null)
    .sort((a, b) => a.rate! - b.rate! || b.total - a.total || a.host.localeCompare(b.host))
    .slice(0, max);
}

/** Below this success rate a host's bar is drawn as a problem. */
export const HEALTHY_RATE = 0.95;

/** Success rate in percent per host, for bars: x is the host's index; healthy hosts in one series, the others in a second. */
export function successSeries(hosts: readonly HostSuccess[]): [number[], (number | null)[], (number | null)[]] {
  const pct = (h: HostSuccess) => Math.round(h.rate! * 1000) / 10;
  return [hosts.map((_, i) => i), hosts.map((h) => (h.rate! >= HEALTHY_RATE ? pct(h) : null)), hosts.map((h) => (h.rate! < HEALTHY_RATE ? pct(h) : null))];
}

/** A ratio as a percentage for people: "97.5 %", "100 %", "—". */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return '—';
  const p = rate * 100;
  return `${p === 100 || p === 0 ? p.toFixed(0) : p.toFixed(1)} %`;
}

/** Per-day rates (percent, null without data): deployment success and cache hits. */
export function healthRateSeries(h: RunnerHealth): [number[], (number | null)[], (number | null)[]] {
  const x = h.days.map((d) => d.day / 1000);
  const deploy = h.days.map((d) => (d.deploys + d.deployFailures > 0 ? (100 * d.deploys) / (d.deploys + d.deployFailures) : null));
  const cache = h.days.map((d) => (d.cacheHits + d.uploads > 0 ? (100 * d.cacheHits) / (d.cacheHits + d.uploads) : null));
  return [x, deploy, cache];
}

/** Per-day failure counts: integrity, signature, tunnel, fallbacks to direct mode. */
export function healthFailureSeries(h: RunnerHealth): [number[], number[], number[], number[], number[]] {
  return [
    h.days.map((d) => d.day / 1000),
    h.days.map((d) => d.integrityFailures),
    h.days.map((d) => d.signatureFailures),
    h.days.map((d) => d.tunnelFailures),
    h.days.map((d) => d.directFallbacks),
  ];
}
