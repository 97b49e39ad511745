/**
 * The Electron main process: glue only. Start-up reads top to bottom: one instance,
 * the app scheme, then on ready the core, IPC and event forwarding, execution, the
 * window and the desktop shell (menu, tray, notifications, login item). Closing the
 * window hides it: the app, its worker and the scheduler keep running in the tray
 * until Quit (tray, menu, Cmd/Ctrl+Q). Domain logic lives in electron/core.
 */
import { app, ipcMain, safeStorage, BrowserWindow, dialog } from 'electron';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCore, type Core } from '../core/core';
import { startExecution, type ExecutionRuntime } from '../core/exec/runtime';
import { ownerName } from '../core/queue/owner';
import { startLocalDoor } from '../cli/local-door';
import { assetPath, resolveDataDir } from '../core/paths';
import { isCroniumError } from '../shared/errors';
import { APP_ORIGIN, registerAppScheme, serveApp } from './app-protocol';
import { forwardEvents } from './event-forwarder';
import { bindIpc, ownWindowOnly } from './ipc';
import { onWindowClose, startedHidden } from './desktop-model';
import { setupDesktopShell, type ShellProbe } from './desktop-shell';
import { setupUpdater } from './updater';
import { SafeStorageSecretBox } from './safe-storage-secret-box';
import { createMainWindow, hardenWebContents, preloadPath } from './window';

const mainDir = dirname(fileURLToPath(import.meta.url));
let core: Core | undefined;
let execution: ExecutionRuntime | undefined;
let mainWindow: BrowserWindow | undefined;
/** Set once a real quit starts: until then, closing the window only hides it. */
let quitting = false;

function setupSingleInstance(): boolean {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return false;
  }
  app.on('second-instance', () => {
    if (core) showWindow();
  });
  return true;
}

function setupCore(): Core {
  const dataDir = resolveDataDir(undefined);
  return openCore({ dataDir, door: 'desktop', secrets: new SafeStorageSecretBox(safeStorage, dataDir) });
}

function setupWindow(show = true): BrowserWindow {
  const win = createMainWindow(preloadPath(mainDir), { show });
  win.on('close', (e) => {
    if (onWindowClose(quitting) === 'hide') {
      e.preventDefault();
      win.hide();
    }
  });
  win.on('closed', () => {
    mainWindow = undefined;
  });
  return win;
}

/** Shows the main window, creating it if it was closed. */
function showWindow(): BrowserWindow {
  mainWindow ??= setupWindow();
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
  return mainWindow;
}

/**
 * With --enable-smoke-test-driver (as VS Code's smoke tests do), what the shell shows is
 * readable from the main process by the release workflow's smoke test (Playwright's
 * electronApp.evaluate): the tray's model and its clicks, and the scheduler's state. Read
 * only, plus what a user can click; absent without the flag.
 */
function exposeSmokeDriver(probe: ShellProbe): void {
  if (!process.argv.includes('--enable-smoke-test-driver')) return;
  (globalThis as { croniumSmoke?: unknown }).croniumSmoke = {
    tray: () => probe.tray(),
    clickTray: (id: Parameters<ShellProbe['clickTray']>[0]) => probe.clickTray(id),
    windowVisible: () => mainWindow?.isVisible() ?? false,
    dataDir: () => core?.info.dataDir,
  };
}

function setupIpc(c: Core): void {
  bindIpc(ipcMain, c.dispatch, ownWindowOnly(() => mainWindow?.webContents.id, APP_ORIGIN));
  forwardEvents(c.events, () => mainWindow?.webContents, ipcMain);
}

async function onReady(): Promise<void> {
  // The workspace switcher's team servers (Settings), read when a window is opened.
  hardenWebContents(() => core?.settings.get().desktop.teamServers ?? []);
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
  // Runs queued jobs and fires schedules while the app runs, window open or not.
  execution = startExecution(core, ownerName('desktop'));
  // The `cronium` command talks to this app over its data dir's socket (one worker, one pool).
  startLocalDoor(core, core.info.dataDir).then(
    (door) => app.once('will-quit', () => void door.close()),
    (e: unknown) => console.error(`cronium: the local door did not start: ${(e as Error).message}`),
  );
  mainWindow = setupWindow(!startedHidden(process.argv, app.getLoginItemSettings().wasOpenedAtLogin));
  const c = core;
  const updater = setupUpdater({
    dataDir: c.info.dataDir,
    settings: () => c.settings.get().desktop,
    onSettingsChanged: (listener) => c.events.on('settings.changed', (s) => listener(s.desktop)),
  });
  const shell = setupDesktopShell({
    core,
    execution,
    showWindow,
    windowVisible: () => mainWindow?.isVisible() ?? false,
    quit: () => app.quit(),
    updater,
  });
  exposeSmokeDriver(shell.probe);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0 || !mainWindow?.isVisible()) showWindow();
  });
}

if (setupSingleInstance()) {
  registerAppScheme();
  // The window only hides on close, so this fires only if it was destroyed: keep running in the tray.
  app.on('window-all-closed', () => undefined);
  app.on('before-quit', () => {
    quitting = true;
  });
  let stopping = false;
  app.on('will-quit', (e) => {
    if (stopping || !execution) return void core?.close();
    // Stop the runs first (their scripts are killed on the hosts), then close the core.
    e.preventDefault();
    stopping = true;
    void execution.stop().finally(() => {
      core?.close();
      app.quit();
    });
  });
  void app.whenReady().then(onReady);
}
