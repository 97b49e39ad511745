/**
 * The main window, locked down: context isolation and the sandbox on, no Node in the
 * renderer, no navigation away from the app, no new windows (web links open in the
 * user's browser; a team server of the workspace switcher opens its own window, see
 * team-windows.ts), no permission grants, no webviews.
 */
import { app, BrowserWindow, session, shell, type Session, type WebContents } from 'electron';
import type { TeamServerRef } from '../shared/api';
import { LOCKED_DOWN, openDecision, teamNavigationAllowed, teamWebPreferences } from './team-windows';
import { join } from 'node:path';
import { APP_ORIGIN } from './app-protocol';

/** Opens the main window on the app's index page; `show: false` keeps it hidden (started at login, to the tray). */
export function createMainWindow(preloadPath: string, opts: { show?: boolean } = {}): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 560,
    show: false,
    title: app.getName(),
    webPreferences: { ...LOCKED_DOWN, preload: preloadPath },
  });
  if (opts.show !== false) win.once('ready-to-show', () => win.show());
  void win.loadURL(`${APP_ORIGIN}/index.html`);
  return win;
}

/** The windows of team servers opened so far, by origin (one each; focused when opened again). */
const teamWindows = new Map<string, BrowserWindow>();
/** The web contents of team servers' windows: their own navigation rules. */
const teamContents = new WeakSet<WebContents>();

function denyPermissions(s: Session): void {
  s.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  s.setPermissionCheckHandler(() => false);
}

/** Opens (or focuses) a team server's window: its own session, no preload (team-windows.ts). */
function openTeamWindow(origin: string, name: string): void {
  const open = teamWindows.get(origin);
  if (open && !open.isDestroyed()) {
    open.show();
    open.focus();
    return;
  }
  const prefs = teamWebPreferences(origin);
  denyPermissions(session.fromPartition(prefs.partition));
  const win = new BrowserWindow({ width: 1280, height: 820, minWidth: 900, minHeight: 560, title: `${name} — ${app.getName()}`, webPreferences: prefs });
  teamContents.add(win.webContents);
  teamWindows.set(origin, win);
  win.on('closed', () => teamWindows.delete(origin));
  void win.loadURL(`${origin}/`);
}

/**
 * Applies the navigation and permission rules to every web contents the app creates. The app's
 * window never leaves the app; a team server's window (workspace switcher) may go where its page
 * goes over http(s); new windows of either open in the user's browser, except a configured team
 * server's address from the app's window, which opens that server's window.
 */
export function hardenWebContents(teamServers: () => readonly TeamServerRef[] = () => []): void {
  denyPermissions(session.defaultSession);
  app.on('web-contents-created', (_event, contents) => {
    const allowed = (url: string) => (teamContents.has(contents) ? teamNavigationAllowed(url) : url.startsWith(`${APP_ORIGIN}/`));
    contents.on('will-navigate', (event, url) => {
      if (!allowed(url)) event.preventDefault();
    });
    contents.on('will-redirect', (event, url) => {
      if (!allowed(url)) event.preventDefault();
    });
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      const d = teamContents.has(contents) ? openDecision(url, []) : openDecision(url, teamServers());
      if (d.action === 'team') openTeamWindow(d.origin, d.name);
      else if (d.action === 'external') void shell.openExternal(d.url);
      return { action: 'deny' };
    });
  });
}

/** The preload script next to the bundled main process. */
export function preloadPath(mainDir: string): string {
  return join(mainDir, '..', 'preload', 'preload.cjs');
}
