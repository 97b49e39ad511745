/** window.cronium: the desktop door's bridge, exposed by the Electron preload. */
import type { CroniumBridge } from '../../electron/shared/api';

declare global {
  interface Window {
    /** Present in the desktop app only; headless mode builds a WebSocket bridge instead. */
    readonly cronium?: CroniumBridge;
  }
}

export {};
