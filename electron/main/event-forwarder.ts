/**
 * Pushes the core's events to the desktop window, with the same bounded live logs as the
 * headless door: each run.log message carries its size as `credit`, the window acknowledges
 * it once its listeners have taken it (preload, IPC_ACK_CHANNEL), and while more than
 * CLIENT_LOG_HIGH_WATER bytes are unacknowledged, batches are held back and the next one sent
 * tells the window where to read the gap from (LogBackpressure). Without this, a run printing
 * faster than the window draws would grow main's IPC queue without bound.
 * Electron-free (the window and ipcMain are interfaces) so that it is tested without the binary.
 */
import { EVENT_NAMES, IPC_ACK_CHANNEL, IPC_EVENT_CHANNEL, type EventName, type EventPayload, type IpcEventMessage } from '../shared/api';
import { LogBackpressure } from '../core/logs/log-backpressure';

/** What the forwarder needs of the window's webContents. */
export interface EventTarget {
  id: number;
  send(channel: string, message: IpcEventMessage): void;
}

/** The part of ipcMain the acknowledgements arrive on. */
export interface AckSource {
  on(channel: string, listener: (event: { sender: { id: number } }, credit: unknown) => void): void;
  removeListener(channel: string, listener: (event: { sender: { id: number } }, credit: unknown) => void): void;
}

/** Starts forwarding; returns a function that stops it. `target()` is the current window's webContents, if any. */
export function forwardEvents(
  events: { onAny(names: readonly EventName[], listener: (event: EventName, payload: unknown) => void): () => void },
  target: () => EventTarget | undefined,
  acks: AckSource,
): () => void {
  let windowId: number | undefined;
  let unacked = 0;
  let logs = new LogBackpressure(() => unacked);
  const onAck = (e: { sender: { id: number } }, credit: unknown) => {
    if (e.sender.id !== windowId || typeof credit !== 'number' || !Number.isFinite(credit) || credit < 0) return;
    unacked = Math.max(0, unacked - credit);
  };
  acks.on(IPC_ACK_CHANNEL, onAck);
  const off = events.onAny(EVENT_NAMES, (event, payload) => {
    const win = target();
    if (!win) return;
    if (win.id !== windowId) {
      // A new window starts with nothing owed and nothing missed (it reads history itself).
      windowId = win.id;
      unacked = 0;
      logs = new LogBackpressure(() => unacked);
    }
    if (event !== 'run.log') return win.send(IPC_EVENT_CHANNEL, { event, payload });
    const out = logs.admit(payload as EventPayload<'run.log'>);
    if (!out) return;
    const credit = out.chunks.reduce((n, c) => n + c.data.length, 0);
    unacked += credit;
    win.send(IPC_EVENT_CHANNEL, { event, payload: out, credit });
  });
  return () => {
    off();
    acks.removeListener(IPC_ACK_CHANNEL, onAck);
  };
}
