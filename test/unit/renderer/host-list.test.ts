// The big job's host list model: status groups and counts, the name filter, and the rows a
// virtualised list renders (bounded whatever the job's size) and scrolls to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterCounts, filterOf, filterRuns, scrollToRow, visibleRange } from '../../../renderer/features/jobs/host-list';

const statuses = ['queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'];
const runs = Array.from({ length: 1000 }, (_, i) => ({ id: i + 1, host: `web-${String(i + 1).padStart(4, '0')}`, status: statuses[i % statuses.length]! }));

test('every run status has one filter; counts add up to all', () => {
  assert.deepEqual(
    statuses.map(filterOf),
    ['active', 'active', 'active', 'succeeded', 'failed', 'failed', 'cancelled', 'failed'],
  );
  const c = filterCounts(runs);
  assert.equal(c.all, 1000);
  assert.equal(c.active + c.failed + c.succeeded + c.cancelled, 1000);
  assert.deepEqual([c.active, c.failed, c.succeeded, c.cancelled], [375, 375, 125, 125]);
});

test('filters and the name query keep the order; the query is a case-insensitive substring', () => {
  assert.equal(filterRuns(runs, 'failed', '').length, 375);
  assert.deepEqual(filterRuns(runs, 'all', 'WEB-099').map((r) => r.host), ['web-0990', 'web-0991', 'web-0992', 'web-0993', 'web-0994', 'web-0995', 'web-0996', 'web-0997', 'web-0998', 'web-0999']);
  assert.deepEqual(filterRuns(runs, 'succeeded', '0004').map((r) => r.host), ['web-0004']);
  assert.deepEqual(filterRuns(runs, 'succeeded', 'nope'), []);
});

test('the rendered rows are those in view plus the overscan, bounded for any size and scroll', () => {
  assert.deepEqual(visibleRange(0, 280, 28, 1000), { start: 0, end: 19 });
  assert.deepEqual(visibleRange(28 * 500, 280, 28, 1000), { start: 492, end: 519 });
  assert.deepEqual(visibleRange(28 * 995, 280, 28, 1000), { start: 987, end: 1000 });
  assert.deepEqual(visibleRange(1e9, 280, 28, 1000), { start: 991, end: 1000 });
  assert.deepEqual(visibleRange(0, 280, 28, 0), { start: 0, end: 0 });
  for (const n of [1, 10, 1000, 100_000]) {
    const r = visibleRange(28 * Math.floor(n / 2), 560, 28, n);
    assert.ok(r.end - r.start <= 560 / 28 + 1 + 16 && r.end <= n && r.start >= 0, `${n}: ${JSON.stringify(r)}`);
  }
});

test('scrolling to a row moves only as far as needed', () => {
  assert.equal(scrollToRow(5, 0, 280, 28), 0, 'in view');
  assert.equal(scrollToRow(20, 0, 280, 28), 21 * 28 - 280, 'below: its bottom at the bottom');
  assert.equal(scrollToRow(3, 28 * 10, 280, 28), 28 * 3, 'above: its top at the top');
});
