/**
 * The Electron main process: glue only. Start-up reads top to bottom: one instance,
 * the app scheme, then on ready the core, the window, IPC and event forwarding.
 * Domain logic lives in electron/core.
 */
import { app, ipcMain, safeStorage, BrowserWindow, dialog } from 'electron';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCore, type Core } from '../core/core';
import { startExecution, type ExecutionRuntime } from '../core/exec/runtime';
import { assetPath, resolveDataDir } from '../core/paths';
import { EVENT_NAMES, IPC_EVENT_CHANNEL } from '../shared/api';
import { isCroniumError } from '../shared/errors';
import { APP_ORIGIN, registerAppScheme, serveApp } from './app-protocol';
import { bindIpc, ownWindowOnly } from './ipc';
import { SafeStorageSecretBox } from './safe-storage-secret-box';
import { createMainWindow, hardenWebContents, preloadPath } from './window';

const mainDir = dirname(fileURLToPath(import.meta.url));
let core: Core | undefined;
let execution: ExecutionRuntime | undefined;
let mainWindow: BrowserWindow | undefined;

function setupSingleInstance(): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  return true;
}

function setupCore(): Core {
  const dataDir = resolveDataDir(undefined);
  return openCore({ dataDir, door: 'desktop', secrets: new SafeStorageSecretBox(safeStorage, dataDir) });
}

function setupWindow(): BrowserWindow {
  const win = createMainWindow(preloadPath(mainDir));
  win.on('closed', () => {
    mainWindow = undefined;
  });
  return win;
}

function setupIpc(c: Core): void {
  bindIpc(ipcMain, c.dispatch, ownWindowOnly(() => mainWindow?.webContents.id, APP_ORIGIN));
  c.events.onAny(EVENT_NAMES, (event, payload) => mainWindow?.webContents.send(IPC_EVENT_CHANNEL, { event, payload }));
}

async function onReady(): Promise<void> {
  hardenWebContents();
  serveApp(assetPath('renderer', 'dist/renderer'));
  try {
    core = setupCore();
  } catch (e) {
    // A data dir that cannot be opened (newer schema, damaged file) is shown, not swallowed.
    const message = isCroniumError(e) ? `${e.message}\n\n${e.hint ?? ''}` : String(e);
    dialog.showErrorBox('Cronium cannot open its data', message);
    app.exit(1);
    return;
  }
  setupIpc(core);
  // Runs queued jobs and fires schedules while the app runs (tray and notifications: later).
  execution = startExecution(core, `desktop:${process.pid}`);
  mainWindow = setupWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) mainWindow = setupWindow();
  });
}

if (setupSingleInstance()) {
  registerAppScheme();
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let quitting = false;
  app.on('will-quit', (e) => {
    if (quitting || !execution) return void core?.close();
    // Stop the runs first (their scripts are killed on the hosts), then close the core.
    e.preventDefault();
    quitting = true;
    void execution.stop().finally(() => {
      core?.close();
      app.quit();
    });
  });
  void app.whenReady().then(onReady);
}
