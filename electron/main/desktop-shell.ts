/**
 * The desktop shell around the window: the application menu, the tray (running-job
 * count, pause / resume scheduling, open, quit), notifications of finished jobs, and the
 * login item. Thin: every decision is a pure function of desktop-model.ts; this file
 * only hands their results to Electron and wires events.
 */
import { app, Menu, nativeImage, Notification, Tray, type MenuItemConstructorOptions } from 'electron';
import { homedir } from 'node:os';
import type { Core } from '../core/core';
import type { ExecutionRuntime } from '../core/exec/runtime';
import { IPC_EVENT_CHANNEL, type EventPayload } from '../shared/api';
import { applyAutostart, autostartPath } from './autostart';
import { installCliCommand, currentLayout } from './cli-command';
import { offersCliInstall } from './cli-install';
import { dockMenuItems, loginItemNotice, loginItemSettings, loginMechanism, menuTemplate, healthNotificationFor, promptNotificationFor, notificationFor, trayIconBitmap, trayModel, type MenuCommand, type MenuItemSpec, type TrayItem, type TrayModel } from './desktop-model';
import type { Updater } from './updater';

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
  /** The updater, for the menu's Check for Updates…. */
  updater: Updater;
}

/** What the shell shows, for the smoke test's driver (main.ts exposes it only with --enable-smoke-test-driver). */
export interface ShellProbe {
  tray(): TrayModel & { alive: boolean };
  /** Clicks a tray menu item, as the user would. */
  clickTray(id: TrayItem['id']): void;
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

/** Sets up the menu, tray, dock menu, notifications and login item; returns a probe and a function that undoes the subscriptions. */
export function setupDesktopShell(deps: DesktopShellDeps): { probe: ShellProbe; dispose: () => void } {
  const { core, execution } = deps;
  const appName = app.getName();
  let paused = false;

  const send = (command: EventPayload<'ui.command'>['command']) => {
    const win = deps.showWindow();
    win.webContents.send(IPC_EVENT_CHANNEL, { event: 'ui.command', payload: { command } satisfies EventPayload<'ui.command'> });
  };
  const onCommand = (c: MenuCommand) => {
    if (c === 'quit') deps.quit();
    else if (c === 'checkUpdates') void deps.updater.checkNow();
    else if (c === 'installCli' || c === 'uninstallCli') void installCliCommand(c === 'installCli');
    else send(c);
  };
  const layout = currentLayout();
  Menu.setApplicationMenu(Menu.buildFromTemplate(toElectron(menuTemplate({ platform: process.platform, dev: !app.isPackaged, appName, cliInstall: offersCliInstall(layout.kind) }), onCommand)));

  // The tray: rebuilt on run status changes (coalesced) and on pause / resume.
  const activeJobs = core.store.sqlite.prepare("select count(*) from jobs where status in ('queued', 'running')").pluck();
  const icon = (running: number) => nativeImage.createFromBitmap(trayIconBitmap(ICON_SIZE, { running: running > 0, paused }), { width: ICON_SIZE, height: ICON_SIZE, scaleFactor: 2 });
  const tray = new Tray(icon(0));
  const click = (id: TrayItem['id']) => {
    if (id === 'open') deps.showWindow();
    else if (id === 'quit') deps.quit();
    else if (id === 'pause') {
      paused = true;
      void execution.scheduler.stop();
      refresh();
    } else if (id === 'resume') {
      paused = false;
      execution.scheduler.start();
      refresh();
    }
  };
  const toMenu = (items: TrayItem[]) => Menu.buildFromTemplate(items.map((i) => ({ label: i.label, enabled: i.enabled, click: () => click(i.id) })));
  let model: TrayModel = trayModel({ running: 0, paused, windowVisible: false }, appName);
  const refresh = () => {
    const running = activeJobs.get() as number;
    const state = { running, paused, windowVisible: deps.windowVisible() };
    model = trayModel(state, appName);
    tray.setImage(icon(running));
    tray.setToolTip(model.tooltip);
    tray.setContextMenu(toMenu(model.items));
    // macOS: the same controls on the Dock icon's menu (Quit is the dock's own).
    if (process.platform === 'darwin') app.dock?.setMenu(toMenu(dockMenuItems(state, appName)));
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
  const onStatus = async (p: EventPayload<'run.status'>) => {
    refreshSoon();
    if (!p.jobStatus || !Notification.isSupported()) return;
    try {
      const text = notificationFor(await core.jobs.get(p.jobId), core.settings.get().notifications);
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

  // Start at login follows the setting: the OS login item on macOS and Windows, an XDG autostart entry on Linux.
  let startAtLogin = core.settings.get().desktop.startAtLogin;
  const applyLogin = (enabled: boolean, changed: boolean) => {
    const how = loginMechanism(process.platform, app.isPackaged);
    if (how === 'login-item') {
      app.setLoginItemSettings(loginItemSettings(enabled));
      const notice = changed && enabled ? loginItemNotice(process.platform, app.getLoginItemSettings().status) : null;
      if (notice && Notification.isSupported()) new Notification({ title: 'Start at login', body: notice }).show();
    }
    if (how === 'xdg-autostart') {
      try {
        applyAutostart(enabled, layout.runtime, autostartPath(process.env, homedir()), changed);
      } catch (e) {
        console.error(`start at login: ${(e as Error).message}`);
      }
    }
  };
  applyLogin(startAtLogin, false);
  const onSettings = (s: EventPayload<'settings.changed'>) => {
    if (s.desktop.startAtLogin === startAtLogin) return;
    startAtLogin = s.desktop.startAtLogin;
    applyLogin(startAtLogin, true);
  };

  // Schedules' health transitions (missed, late, failing, recovered), as each schedule's notify says.
  const onHealth = async (p: EventPayload<'schedule.health'>) => {
    if (!Notification.isSupported()) return;
    try {
      const notify = (await core.scheduleHealth.list()).find((s) => s.name === p.schedule)?.notify ?? false;
      const text = healthNotificationFor(p, notify);
      if (!text) return;
      const n = new Notification({ title: text.title, body: text.body });
      n.on('click', () => deps.showWindow());
      n.show();
    } catch {
      // The schedule was removed meanwhile.
    }
  };
  // A host asks a person (a one-time code): the dialog is in the window, which may be hidden in the tray.
  const onPrompt = (p: EventPayload<'auth.prompt'>) => {
    if (!Notification.isSupported()) return deps.showWindow();
    const text = promptNotificationFor(p);
    const n = new Notification({ title: text.title, body: text.body });
    n.on('click', () => deps.showWindow());
    n.show();
  };
  const offs = [core.events.on('run.status', (p) => void onStatus(p)), core.events.on('settings.changed', onSettings), core.events.on('schedule.health', (p) => void onHealth(p)), core.events.on('auth.prompt', onPrompt)];
  return {
    probe: { tray: () => ({ ...model, alive: !tray.isDestroyed() }), clickTray: click },
    dispose: () => {
      offs.forEach((off) => off());
      if (timer) clearTimeout(timer);
      tray.destroy();
    },
  };
}
