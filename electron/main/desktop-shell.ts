/**
 * The desktop shell around the window: the application menu, the tray (running-job
 * count, pause / resume scheduling, open, quit), notifications of finished jobs, and the
 * login item. Thin: every decision is a pure function of desktop-model.ts; this file
 * only hands their results to Electron and wires events.
 */
import { app, Menu, nativeImage, Notification, Tray, type MenuItemConstructorOptions } from 'electron';
import type { Core } from '../core/core';
import type { ExecutionRuntime } from '../core/exec/runtime';
import { IPC_EVENT_CHANNEL, type EventPayload } from '../shared/api';
import { loginItemSettings, menuTemplate, notificationFor, trayIconBitmap, trayModel, type MenuCommand, type MenuItemSpec } from './desktop-model';

/** What the shell needs from main. */
export interface DesktopShellDeps {
  core: Core;
  execution: ExecutionRuntime;
  /** The main window, shown (created if needed). */
  showWindow(): Electron.BrowserWindow;
  /** Whether the main window is visible now. */
  windowVisible(): boolean;
  /** Quits for real (stops the runs, closes the core). */
  quit(): void;
}

const ICON_SIZE = 32;

function toElectron(spec: MenuItemSpec[], onCommand: (c: MenuCommand) => void): MenuItemConstructorOptions[] {
  return spec.map((s) => {
    const item: MenuItemConstructorOptions = {};
    if (s.type) item.type = s.type;
    if (s.label) item.label = s.label;
    if (s.role) item.role = s.role as MenuItemConstructorOptions['role'];
    if (s.accelerator) item.accelerator = s.accelerator;
    if (s.command) {
      const command = s.command;
      item.click = () => onCommand(command);
    }
    if (s.submenu) item.submenu = toElectron(s.submenu, onCommand);
    return item;
  });
}

/** Sets up the menu, tray, notifications and login item; returns a function that undoes the subscriptions. */
export function setupDesktopShell(deps: DesktopShellDeps): () => void {
  const { core, execution } = deps;
  const appName = app.getName();
  let paused = false;

  const send = (command: Exclude<MenuCommand, 'quit'>) => {
    const win = deps.showWindow();
    win.webContents.send(IPC_EVENT_CHANNEL, { event: 'ui.command', payload: { command } satisfies EventPayload<'ui.command'> });
  };
  const onCommand = (c: MenuCommand) => (c === 'quit' ? deps.quit() : send(c));
  Menu.setApplicationMenu(Menu.buildFromTemplate(toElectron(menuTemplate({ platform: process.platform, dev: !app.isPackaged, appName }), onCommand)));

  // The tray: rebuilt on run status changes (coalesced) and on pause / resume.
  const activeJobs = core.store.sqlite.prepare("select count(*) from jobs where status in ('queued', 'running')").pluck();
  const icon = (running: number) => nativeImage.createFromBitmap(trayIconBitmap(ICON_SIZE, { running: running > 0, paused }), { width: ICON_SIZE, height: ICON_SIZE, scaleFactor: 2 });
  const tray = new Tray(icon(0));
  const refresh = () => {
    const running = activeJobs.get() as number;
    const model = trayModel({ running, paused, windowVisible: deps.windowVisible() }, appName);
    tray.setImage(icon(running));
    tray.setToolTip(model.tooltip);
    tray.setContextMenu(
      Menu.buildFromTemplate(
        model.items.map((i) => ({
          label: i.label,
          enabled: i.enabled,
          click: () => {
            if (i.id === 'open') deps.showWindow();
            else if (i.id === 'quit') deps.quit();
            else if (i.id === 'pause') {
              paused = true;
              execution.scheduler.stop();
              refresh();
            } else if (i.id === 'resume') {
              paused = false;
              execution.scheduler.start();
              refresh();
            }
          },
        })),
      ),
    );
  };
  tray.on('click', () => deps.showWindow());
  let timer: NodeJS.Timeout | undefined;
  const refreshSoon = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      refresh();
    }, 300);
  };
  refresh();

  // One notification per finished job, as the settings say.
  const onStatus = (p: EventPayload<'run.status'>) => {
    refreshSoon();
    if (!p.jobStatus || !Notification.isSupported()) return;
    try {
      const text = notificationFor(core.jobs.get(p.jobId), core.settings.get().notifications);
      if (!text) return;
      const n = new Notification({ title: text.title, body: text.body });
      n.on('click', () => {
        const win = deps.showWindow();
        win.webContents.send(IPC_EVENT_CHANNEL, { event: 'ui.command', payload: { command: 'jobs' } satisfies EventPayload<'ui.command'> });
      });
      n.show();
    } catch {
      // A job removed meanwhile: nothing to tell.
    }
  };

  // Start at login follows the setting (packaged builds only: in development it would register the bare Electron binary).
  const applyLogin = (startAtLogin: boolean) => {
    if (app.isPackaged) app.setLoginItemSettings(loginItemSettings(startAtLogin));
  };
  applyLogin(core.settings.get().desktop.startAtLogin);

  const offs = [core.events.on('run.status', onStatus), core.events.on('settings.changed', (s) => applyLogin(s.desktop.startAtLogin))];
  return () => {
    offs.forEach((off) => off());
    if (timer) clearTimeout(timer);
    tray.destroy();
  };
}
