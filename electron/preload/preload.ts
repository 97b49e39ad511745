/**
 * The preload: exposes `window.cronium` (the contract's methods and events) through
 * contextBridge, and nothing else: no ipcRenderer, no Node.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { IPC_ACK_CHANNEL, IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL, type Envelope, type EventName, type IpcEventMessage } from '../shared/api';
import { buildBridge } from './bridge';

type Listener = (payload: unknown) => void;
const listeners = new Map<EventName, Set<Listener>>();

ipcRenderer.on(IPC_EVENT_CHANNEL, (_event, message: IpcEventMessage) => {
  try {
    for (const listener of listeners.get(message.event) ?? []) listener(message.payload);
  } finally {
    // Live logs are bounded by what the window has taken (electron/main/event-forwarder.ts).
    if (message.credit !== undefined) ipcRenderer.send(IPC_ACK_CHANNEL, message.credit);
  }
});

contextBridge.exposeInMainWorld(
  'cronium',
  buildBridge(
    (method, args) => ipcRenderer.invoke(IPC_INVOKE_CHANNEL, method, args) as Promise<Envelope<unknown>>,
    (event, listener) => {
      const set = listeners.get(event) ?? listeners.set(event, new Set()).get(event)!;
      set.add(listener);
      return () => set.delete(listener);
    },
  ),
);
