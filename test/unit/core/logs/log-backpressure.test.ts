import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIENT_LOG_HIGH_WATER, LogBackpressure } from '../../../../electron/core/logs/log-backpressure';

const batch = (runId: number, seqs: number[]) => ({ runId, jobId: 1, host: 'h', chunks: seqs.map((seq) => ({ seq, stream: 'stdout' as const, ts: 0, data: 'eA==' })) });

test('a client with a full socket gets no live logs, then one gap marker to read from the store', () => {
  let queued = 0;
  const bp = new LogBackpressure(() => queued);
  assert.deepEqual(bp.admit(batch(1, [1, 2])), batch(1, [1, 2]), 'passes through while the socket drains');
  queued = CLIENT_LOG_HIGH_WATER + 1;
  assert.equal(bp.admit(batch(1, [3, 4])), undefined);
  assert.equal(bp.admit(batch(1, [5])), undefined);
  assert.equal(bp.admit(batch(2, [7])), undefined);
  queued = 0;
  assert.deepEqual(bp.admit(batch(1, [6])), { ...batch(1, []), gapFrom: 3 }, 'read run 1 from seq 3');
  assert.deepEqual(bp.admit(batch(1, [7])), batch(1, [7]), 'then live again');
  assert.deepEqual(bp.admit(batch(2, [8])), { ...batch(2, []), gapFrom: 7 });
});
