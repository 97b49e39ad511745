// The chart models: stats results into uPlot's aligned arrays, the worst hosts first, rates as words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationSeries, formatRate, healthFailureSeries, healthRateSeries, successSeries, worstHosts, type HostSuccess, type RunnerHealth } from '../../../renderer/features/charts/chart-data';

const host = (name: string, rate: number | null, total = 10): HostSuccess => ({ host: name, total, succeeded: 0, failed: 0, timedOut: 0, cancelled: 0, lost: 0, rate, avgMs: null, lastAt: null });

test('durationSeries: seconds on both axes, successes and the rest in two series, unfinished jobs left out', () => {
  const [x, ok, bad] = durationSeries([
    { jobId: 1, at: 10_000, durationMs: 1500, status: 'succeeded', runs: 1, succeeded: 1 },
    { jobId: 2, at: 20_000, durationMs: 500, status: 'failed', runs: 1, succeeded: 0 },
    { jobId: 3, at: 30_000, durationMs: null, status: 'running', runs: 1, succeeded: 0 },
  ]);
  assert.deepEqual(x, [10, 20]);
  assert.deepEqual(ok, [1.5, null]);
  assert.deepEqual(bad, [null, 0.5]);
});

test('worstHosts and successSeries: lowest rate first, then most runs; hosts without a rate left out', () => {
  const shown = worstHosts([host('a', 1), host('b', 0.5, 3), host('c', 0.5, 9), host('d', null), host('e', 0.9)], 3);
  assert.deepEqual(shown.map((h) => h.host), ['c', 'b', 'e']);
  assert.deepEqual(successSeries([...shown, host('f', 0.95)]), [[0, 1, 2, 3], [null, null, null, 95], [50, 50, 90, null]]);
});

test('formatRate: percent with one decimal, whole at the ends, a dash for none', () => {
  assert.equal(formatRate(1), '100 %');
  assert.equal(formatRate(0), '0 %');
  assert.equal(formatRate(0.9751), '97.5 %');
  assert.equal(formatRate(null), '—');
});

test('health series: rates only where there was something to rate', () => {
  const day = (d: number, p: Partial<RunnerHealth['days'][number]>) => ({ day: d * 86_400_000, deploys: 0, deployFailures: 0, cacheHits: 0, uploads: 0, integrityFailures: 0, signatureFailures: 0, tunnelFailures: 0, directFallbacks: 0, runnerRuns: 0, ...p });
  const h = {
    since: 0,
    days: [day(1, { deploys: 3, deployFailures: 1, cacheHits: 9, uploads: 1 }), day(2, { integrityFailures: 2, directFallbacks: 1 })],
    totals: { deploys: 3, deployFailures: 1, cacheHits: 9, uploads: 1, integrityFailures: 2, signatureFailures: 0, tunnelFailures: 0, directFallbacks: 1, runnerRuns: 0, deploySuccessRate: 0.75, cacheHitRate: 0.9 },
  } satisfies RunnerHealth;
  assert.deepEqual(healthRateSeries(h), [[86_400, 172_800], [75, null], [90, null]]);
  assert.deepEqual(healthFailureSeries(h), [[86_400, 172_800], [0, 2], [0, 0], [0, 0], [0, 1]]);
});
