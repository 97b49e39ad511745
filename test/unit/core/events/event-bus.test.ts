// Live output on the bus: the doors' feeds take it as bytes; the contract's run.log event (base64)
// is made only when something listens to it, and then carries the same bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, encodeRunLog, type RawRunLog } from '../../../../electron/core/events/event-bus';
import type { EventPayload } from '../../../../electron/shared/api';

const batch = (): RawRunLog => ({ runId: 3, jobId: 2, host: 'h', chunks: [{ seq: 1, stream: 'stdout', ts: 5, data: Buffer.from('héllo\n\0\xff', 'latin1') }], gapFrom: 1 });

test('emitRunLog: bytes to raw listeners; the contract event only with listeners, in base64 of the same bytes', () => {
  const bus = new EventBus();
  const raw: RawRunLog[] = [];
  const offRaw = bus.onRunLog((b) => void raw.push(b));
  const expected = encodeRunLog(batch());
  let encodes = 0;
  const toString = Buffer.prototype.toString;
  Buffer.prototype.toString = function (this: Buffer, ...args: Parameters<Buffer['toString']>) {
    if (args[0] === 'base64') encodes++;
    return toString.apply(this, args);
  } as Buffer['toString'];
  try {
    const b = batch();
    bus.emitRunLog(b);
    assert.equal(raw.length, 1);
    assert.equal(raw[0]!.chunks[0]!.data, b.chunks[0]!.data, 'the same Buffer, not a copy');
    assert.equal(encodes, 0, 'nobody listens to run.log: nothing is encoded');
    const wire: EventPayload<'run.log'>[] = [];
    const off = bus.on('run.log', (e) => void wire.push(e));
    bus.emitRunLog(b);
    assert.equal(encodes, 1);
    assert.deepEqual(wire, [expected]);
    assert.deepEqual(Buffer.from(wire[0]!.chunks[0]!.data, 'base64'), b.chunks[0]!.data);
    assert.equal(wire[0]!.gapFrom, 1);
    off();
    offRaw();
    bus.emitRunLog(b);
    assert.equal(raw.length, 2, 'unsubscribed');
    assert.equal(encodes, 1);
  } finally {
    Buffer.prototype.toString = toString;
  }
});
