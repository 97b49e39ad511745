// The desktop door's event forwarding with stand-ins for the window and ipcMain (the Electron
// binary cannot run here): events reach the window; run.log batches carry their size as credit;
// past the high-water mark of unacknowledged bytes, live output waits and goes once the window
// acknowledges (in order, nothing twice); acknowledgements from another sender do not count;
// a new window starts clean. (The pacing itself: test/unit/core/logs/live-log-feed.test.ts.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus } from '../../../electron/core/events/event-bus';
import { CLIENT_LOG_HIGH_WATER } from '../../../electron/core/logs/live-log-feed';
import { forwardEvents, type AckSource } from '../../../electron/main/event-forwarder';
import { IPC_ACK_CHANNEL, type IpcEventMessage } from '../../../electron/shared/api';

function standIns() {
  const sent: IpcEventMessage[] = [];
  const listeners = new Map<string, (e: { sender: { id: number } }, credit: unknown) => void>();
  const acks: AckSource = {
    on: (channel, l) => void listeners.set(channel, l),
    removeListener: (channel) => void listeners.delete(channel),
  };
  const ack = (senderId: number, credit: unknown) => listeners.get(IPC_ACK_CHANNEL)?.({ sender: { id: senderId } }, credit);
  return { sent, acks, ack, listeners };
}

const chunk = (seq: number, bytes: number) => ({ seq, stream: 'stdout' as const, ts: 0, data: Buffer.alloc(bytes, 65) });
/** What a chunk of n bytes weighs on the window's credit: its base64, as sent. */
const b64 = (n: number) => Math.ceil(n / 3) * 4;

test('desktop events: run.log credit, held back past the high-water mark, sent in order after an acknowledgement', () => {
  const bus = new EventBus();
  const s = standIns();
  let window: { id: number; send: (c: string, m: IpcEventMessage) => void } | undefined = { id: 7, send: (_c, m) => void s.sent.push(m) };
  // A fast rate: this test is about the window's credit, not the pacing.
  const stop = forwardEvents(bus, () => window, s.acks, { rate: 1e12, burst: 1e12, queueBytes: 1e12 });
  bus.emit('hosts.changed', { change: 'added', name: 'h1' });
  assert.deepEqual(s.sent[0], { event: 'hosts.changed', payload: { change: 'added', name: 'h1' } });
  const big = Math.ceil(CLIENT_LOG_HIGH_WATER / 2) + 1;
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(1, big)] });
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(2, big)] });
  assert.deepEqual(s.sent.slice(1).map((m) => m.credit), [b64(big), b64(big)]);
  // Over the mark now: the window is behind, so seq 3 and 4 are held back.
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(3, 10)] });
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(4, 10)] });
  assert.equal(s.sent.length, 3);
  // An acknowledgement from another webContents, or a nonsense one, changes nothing.
  s.ack(99, big * 2);
  s.ack(7, 'lots');
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(5, 10)] });
  assert.equal(s.sent.length, 3);
  s.ack(7, b64(big));
  s.ack(7, b64(big));
  bus.emitRunLog({ runId: 1, jobId: 1, host: 'h', chunks: [chunk(6, 10)] });
  const resumed = s.sent[3]!.payload as { chunks: { seq: number }[]; gapFrom?: number };
  assert.deepEqual([resumed.chunks.map((c) => c.seq), resumed.gapFrom], [[3, 4, 5, 6], undefined], 'what waited goes, in order');
  assert.equal(s.sent[3]!.credit, 4 * b64(10));
  // A new window starts with nothing owed.
  window = { id: 8, send: (_c, m) => void s.sent.push(m) };
  for (let i = 0; i < 3; i++) bus.emitRunLog({ runId: 2, jobId: 2, host: 'h', chunks: [chunk(1 + i, big)] });
  assert.equal(s.sent.length, 6);
  window = undefined;
  bus.emit('hosts.changed', { change: 'removed', name: 'h1' });
  assert.equal(s.sent.length, 6);
  stop();
  assert.equal(s.listeners.size, 0);
});
