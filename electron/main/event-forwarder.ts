/**
 * Pushes the core's events to the desktop window, with the same paced and bounded live logs as
 * the headless door (LiveLogFeed): each run.log message carries its size as `credit`, the
 * window acknowledges it once its listeners have taken it (preload, IPC_ACK_CHANNEL), and while
 * more than CLIENT_LOG_HIGH_WATER bytes are unacknowledged, live output waits (the newest kept,
 * what is left out said in the next batch). Without this, a run printing faster than the
 * window draws would grow main's IPC queue without bound.
 * Electron-free (the window and ipcMain are interfaces) so that it is tested without the binary.
 */
import { EVENT_NAMES, IPC_ACK_CHANNEL, IPC_EVENT_CHANNEL, type EventName, type IpcEventMessage } from '../shared/api';
import { LiveLogFeed, type LiveLogFeedOptions } from '../core/logs/live-log-feed';
import type { RawRunLog } from '../core/events/event-bus';

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
  events: { onAny(names: readonly EventName[], listener: (event: EventName, payload: unknown) => void): () => void; onRunLog(listener: (batch: RawRunLog) => void): () => void },
  target: () => EventTarget | undefined,
  acks: AckSource,
  feedOptions: Partial<Omit<LiveLogFeedOptions, 'queued' | 'send'>> = {},
): () => void {
  let windowId: number | undefined;
  let unacked = 0;
  const newFeed = (id: number | undefined) =>
    new LiveLogFeed({
      ...feedOptions,
      queued: () => unacked,
      send: (batch) => {
        // Sent later by the feed's timer: only to the window it was meant for.
        const win = target();
        if (!win || win.id !== id) return;
        const credit = batch.chunks.reduce((n, c) => n + c.data.length, 0);
        unacked += credit;
        win.send(IPC_EVENT_CHANNEL, { event: 'run.log', payload: batch, credit });
      },
    });
  let logs = newFeed(windowId);
  const onAck = (e: { sender: { id: number } }, credit: unknown) => {
    if (e.sender.id !== windowId || typeof credit !== 'number' || !Number.isFinite(credit) || credit < 0) return;
    unacked = Math.max(0, unacked - credit);
  };
  acks.on(IPC_ACK_CHANNEL, onAck);
  const current = (): EventTarget | undefined => {
    const win = target();
    if (win && win.id !== windowId) {
      // A new window starts with nothing owed and nothing missed (it reads history itself).
      windowId = win.id;
      unacked = 0;
      logs.close();
      logs = newFeed(windowId);
    }
    return win;
  };
  const off = events.onAny(
    EVENT_NAMES.filter((e) => e !== 'run.log'),
    (event, payload) => current()?.send(IPC_EVENT_CHANNEL, { event, payload }),
  );
  // Live output as bytes: the feed encodes only what it sends.
  const offLogs = events.onRunLog((batch) => {
    if (current()) logs.push(batch);
  });
  return () => {
    off();
    offLogs();
    logs.close();
    acks.removeListener(IPC_ACK_CHANNEL, onAck);
  };
}
