/** Cron parsing and the DST behaviour Cronium promises (see electron/core/scheduler/cron.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeCron, nextRuns, parseCron } from '../../../../electron/core/scheduler/cron';
import { CroniumError } from '../../../../electron/shared/errors';

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

test('5 and 6 fields (seconds first), in a time zone', () => {
  assert.deepEqual(iso(nextRuns('*/5 * * * *', 'UTC', new Date('2026-01-01T00:01:00Z'), 2)), ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']);
  assert.deepEqual(iso(nextRuns('*/10 * * * * *', 'UTC', new Date('2026-01-01T00:00:01Z'), 2)), ['2026-01-01T00:00:10.000Z', '2026-01-01T00:00:20.000Z']);
  // 09:00 in Berlin (UTC+1 in winter) is 08:00Z.
  assert.deepEqual(iso(nextRuns('0 9 * * *', 'Europe/Berlin', new Date('2026-01-05T00:00:00Z'), 1)), ['2026-01-05T08:00:00.000Z']);
  assert.equal(describeCron('*/5 * * * *'), 'Every 5 minutes');
});

test('bad expressions and zones name the field', () => {
  const field = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof CroniumError && e.code === 'INVALID_INPUT');
      return (e.details?.fields as { field: string }[])[0]!.field;
    }
    return 'accepted';
  };
  assert.equal(field(() => parseCron('* * *', 'UTC')), 'cron');
  assert.equal(field(() => parseCron('61 * * * *', 'UTC')), 'cron');
  assert.equal(field(() => parseCron('* * * * * * *', 'UTC')), 'cron');
  assert.equal(field(() => parseCron('* * * * *', 'Mars/Olympus')), 'tz');
  assert.equal(field(() => parseCron('* * * * *', 'America/New_York')), 'accepted');
});

// America/New_York: clocks go 02:00 EST -> 03:00 EDT on 2026-03-08 (07:00Z),
// and 02:00 EDT -> 01:00 EST on 2026-11-01 (06:00Z).
test('DST gap: a time that does not exist fires once, at the end of the gap', () => {
  assert.deepEqual(iso(nextRuns('30 2 * * *', 'America/New_York', new Date('2026-03-07T12:00:00Z'), 3)), [
    '2026-03-08T07:00:00.000Z', // 03:00 EDT, the first instant after the gap
    '2026-03-09T06:30:00.000Z', // 02:30 EDT again
    '2026-03-10T06:30:00.000Z',
  ]);
});

test('DST repeat: a fixed time fires once, at its first occurrence', () => {
  assert.deepEqual(iso(nextRuns('30 1 * * *', 'America/New_York', new Date('2026-10-31T12:00:00Z'), 2)), [
    '2026-11-01T05:30:00.000Z', // 01:30 EDT; 01:30 EST (06:30Z) does not fire
    '2026-11-02T06:30:00.000Z',
  ]);
});

test('DST: schedules within the hour follow real time through both transitions', () => {
  assert.deepEqual(iso(nextRuns('*/30 * * * *', 'America/New_York', new Date('2026-11-01T04:50:00Z'), 6)), [
    '2026-11-01T05:00:00.000Z', // 01:00 EDT
    '2026-11-01T05:30:00.000Z', // 01:30 EDT
    '2026-11-01T06:00:00.000Z', // 01:00 EST (the repeated hour)
    '2026-11-01T06:30:00.000Z', // 01:30 EST
    '2026-11-01T07:00:00.000Z',
    '2026-11-01T07:30:00.000Z',
  ]);
  const spring = nextRuns('*/15 * * * *', 'America/New_York', new Date('2026-03-08T06:40:00Z'), 4);
  const gaps = spring.slice(1).map((d, i) => d.getTime() - spring[i]!.getTime());
  assert.deepEqual(gaps, [15 * 60_000, 15 * 60_000, 15 * 60_000], 'no fire lost or doubled across the gap');
});
