/**
 * The desktop shell's decisions, as pure functions over plain data so that they are
 * tested without the Electron binary: the tray (running-job count, pause / resume,
 * open, quit), the application menu template with the usual shortcuts, which finished
 * jobs notify, the login-item settings, and the tray icon's pixels. desktop-shell.ts
 * hands their results to Electron and holds no logic of its own.
 */

/** The state the tray shows. */
export interface TrayState {
  /** Jobs queued or running in the data dir. */
  running: number;
  /** Scheduling paused from the tray. */
  paused: boolean;
  /** The main window is visible. */
  windowVisible: boolean;
}

/** A tray menu item; `id` names what a click does. */
export interface TrayItem {
  id: 'status' | 'open' | 'pause' | 'resume' | 'quit';
  label: string;
  enabled: boolean;
}

/** What the tray shows: a tooltip and its menu. */
export interface TrayModel {
  tooltip: string;
  items: TrayItem[];
}

/** "1 job running", "3 jobs running", "No jobs running". */
export function runningText(n: number): string {
  if (n === 0) return 'No jobs running';
  return `${n} ${n === 1 ? 'job' : 'jobs'} running`;
}

/** The tray's tooltip and menu for a state. */
export function trayModel(s: TrayState, appName: string): TrayModel {
  const status = `${runningText(s.running)}${s.paused ? ' · scheduling paused' : ''}`;
  return {
    tooltip: `${appName}: ${status}`,
    items: [
      { id: 'status', label: status, enabled: false },
      { id: 'open', label: s.windowVisible ? `Show ${appName}` : `Open ${appName}`, enabled: true },
      s.paused ? { id: 'resume', label: 'Resume scheduling', enabled: true } : { id: 'pause', label: 'Pause scheduling', enabled: true },
      { id: 'quit', label: `Quit ${appName}`, enabled: true },
    ],
  };
}

/** Menu commands: the first four reach the window (ui.command), the rest main (the rest of the menu is Electron roles). */
export type MenuCommand = 'palette' | 'settings' | 'hosts' | 'jobs' | 'quit' | 'checkUpdates' | 'installCli' | 'uninstallCli';

/** The dock menu (macOS): the tray's items but quit, which the dock has itself. */
export function dockMenuItems(s: TrayState, appName: string): TrayItem[] {
  return trayModel(s, appName).items.filter((i) => i.id !== 'quit');
}

/** A menu item: an Electron role, a command, a separator or a submenu. Mirrors MenuItemConstructorOptions. */
export interface MenuItemSpec {
  label?: string;
  role?: string;
  accelerator?: string;
  command?: MenuCommand;
  type?: 'separator';
  submenu?: MenuItemSpec[];
}

/**
 * The application menu: on macOS the app menu first (About, Settings Cmd+,, Hide, Quit);
 * File (Settings elsewhere, Close window Ctrl+W, Quit Ctrl+Q), Edit (the text roles, so
 * copy and paste work in inputs), View (palette Cmd/Ctrl+K, Hosts, Jobs, reload Cmd/Ctrl+R,
 * zoom in / out / reset, full screen, DevTools in development only), Window.
 */
export function menuTemplate(opts: { platform: NodeJS.Platform; dev: boolean; appName: string; cliInstall?: boolean }): MenuItemSpec[] {
  const mac = opts.platform === 'darwin';
  const sep: MenuItemSpec = { type: 'separator' };
  const settings: MenuItemSpec = { label: mac ? 'Settings…' : 'Settings', accelerator: 'CmdOrCtrl+,', command: 'settings' };
  const quit: MenuItemSpec = { label: `Quit ${opts.appName}`, accelerator: 'CmdOrCtrl+Q', command: 'quit' };
  const updates: MenuItemSpec = { label: 'Check for Updates…', command: 'checkUpdates' };
  // As VS Code offers `code`: where no installer puts the command on the PATH (macOS, AppImage).
  const cli: MenuItemSpec[] = opts.cliInstall
    ? [sep, { label: "Install 'cronium' Command in PATH", command: 'installCli' }, { label: "Uninstall 'cronium' Command from PATH", command: 'uninstallCli' }]
    : [];
  const template: MenuItemSpec[] = [];
  if (mac) {
    template.push({ label: opts.appName, submenu: [{ role: 'about' }, updates, sep, settings, ...cli, sep, { role: 'hide' }, { role: 'hideOthers' }, { role: 'unhide' }, sep, quit] });
  }
  template.push({ label: 'File', submenu: mac ? [{ role: 'close', accelerator: 'CmdOrCtrl+W' }] : [settings, ...cli, sep, { role: 'close', accelerator: 'CmdOrCtrl+W' }, quit] });
  template.push({ label: 'Edit', submenu: [{ role: 'undo' }, { role: 'redo' }, sep, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] });
  template.push({
    label: 'View',
    submenu: [
      { label: 'Command Palette…', accelerator: 'CmdOrCtrl+K', command: 'palette' },
      { label: 'Hosts', accelerator: 'CmdOrCtrl+1', command: 'hosts' },
      { label: 'Jobs', accelerator: 'CmdOrCtrl+2', command: 'jobs' },
      sep,
      { role: 'reload', accelerator: 'CmdOrCtrl+R' },
      ...(opts.dev ? [{ role: 'forceReload' }, { role: 'toggleDevTools', accelerator: mac ? 'Alt+Cmd+I' : 'Ctrl+Shift+I' }] : []),
      sep,
      { role: 'resetZoom', accelerator: 'CmdOrCtrl+0' },
      { role: 'zoomIn', accelerator: 'CmdOrCtrl+Plus' },
      { role: 'zoomOut', accelerator: 'CmdOrCtrl+-' },
      sep,
      { role: 'togglefullscreen' },
    ],
  });
  template.push({ label: 'Window', submenu: mac ? [{ role: 'minimize' }, { role: 'zoom' }, sep, { role: 'front' }] : [{ role: 'minimize' }] });
  // Elsewhere the update check lives in Help, as in most apps.
  if (!mac) template.push({ label: 'Help', submenu: [updates, sep, { role: 'about' }] });
  return template;
}

/** A finished job, as far as a notification needs it. */
export interface FinishedJob {
  id: number;
  status: string;
  schedule: string | null;
  hosts: string[];
  counts: Record<string, number>;
}

/** A desktop notification's text. */
export interface NotificationText {
  title: string;
  body: string;
}

/**
 * Whether a finished job notifies, and with what. One notification per job (never per
 * host: a fan-out to 100 hosts is one job); failed and partial jobs per onFailure,
 * succeeded per onSuccess, a cancelled job never (the user did it).
 */
export function notificationFor(job: FinishedJob, prefs: { onFailure: boolean; onSuccess: boolean }): NotificationText | null {
  const what = job.schedule ? `${job.schedule} (job #${job.id})` : `Job #${job.id}`;
  const on = job.hosts.length === 1 ? `on ${job.hosts[0]}` : `on ${job.hosts.length} hosts`;
  if (job.status === 'succeeded') {
    return prefs.onSuccess ? { title: `${what} succeeded`, body: `Ran ${on}.` } : null;
  }
  if (job.status === 'failed' || job.status === 'partial') {
    if (!prefs.onFailure) return null;
    const bad = (job.counts.failed ?? 0) + (job.counts.timed_out ?? 0) + (job.counts.lost ?? 0);
    const body = job.hosts.length === 1 ? `Failed ${on}.` : `Failed on ${bad} of ${job.hosts.length} hosts.`;
    return { title: `${what} failed`, body };
  }
  return null;
}

/** The desktop notification of a schedule's health transition (the schedule's notify setting decides). */
export function healthNotificationFor(e: { schedule: string; kind: 'missed' | 'late' | 'failing' | 'recovered' | 'test'; reason: string }, notify: boolean): NotificationText | null {
  if (!notify) return null;
  const title = { missed: `${e.schedule} missed a run`, late: `${e.schedule} is running late`, failing: `${e.schedule} is failing`, recovered: `${e.schedule} recovered`, test: `${e.schedule}: test alert` }[e.kind];
  return { title, body: e.reason.length > 200 ? `${e.reason.slice(0, 199)}…` : e.reason };
}

/** A host's question (a one-time code) as a notification: the window comes forward with the dialog on click. */
export function promptNotificationFor(e: { host: string; prompts: { prompt: string }[] }): NotificationText {
  const asks = e.prompts.map((p) => p.prompt.trim().replace(/:$/, '')).filter(Boolean).join(', ') || 'an answer';
  const body = `Cronium needs your answer to connect: ${asks}`;
  return { title: `${e.host} asks for ${asks.length > 60 ? 'an answer' : asks}`, body: body.length > 200 ? `${body.slice(0, 199)}…` : body };
}

/** The login item: open at login, with `--hidden` (Windows and Linux pass it; macOS reports wasOpenedAtLogin). */
export function loginItemSettings(startAtLogin: boolean): { openAtLogin: boolean; args: string[] } {
  return { openAtLogin: startAtLogin, args: startAtLogin ? ['--hidden'] : [] };
}

/**
 * How start at login is kept on each OS: Electron's login item on macOS (the system's
 * Login Items) and Windows (the Run registry key, with --hidden); on Linux, where
 * Electron's call does nothing, an XDG autostart entry (autostart.ts). Not in
 * development, where it would register the bare Electron binary.
 */
export function loginMechanism(platform: NodeJS.Platform, packaged: boolean): 'login-item' | 'xdg-autostart' | 'none' {
  if (!packaged) return 'none';
  if (platform === 'darwin' || platform === 'win32') return 'login-item';
  if (platform === 'linux') return 'xdg-autostart';
  return 'none';
}

/**
 * What to tell the user after turning start at login on, from the login item's status
 * (macOS 13+: the system may wait for the user's approval in System Settings); null: nothing.
 */
export function loginItemNotice(platform: NodeJS.Platform, status: string | undefined): string | null {
  if (platform !== 'darwin') return null;
  if (status === 'requires-approval') return 'To start at login, allow Cronium Desktop in System Settings \u203a General \u203a Login Items.';
  if (status === 'not-found') return 'macOS could not register Cronium Desktop as a login item: move the app to the Applications folder and turn the setting on again.';
  return null;
}

/** Whether the app was started at login, so it starts in the tray without a window. */
export function startedHidden(argv: readonly string[], wasOpenedAtLogin: boolean): boolean {
  return wasOpenedAtLogin || argv.includes('--hidden');
}

/**
 * The tray icon's pixels: a ring in the app's accent colour, with a filled dot while jobs
 * run and a gap (a pause) while scheduling is paused. BGRA, size × size, as
 * nativeImage.createFromBitmap takes them.
 */
export function trayIconBitmap(size: number, s: { running: boolean; paused: boolean }): Buffer {
  const buf = Buffer.alloc(size * size * 4);
  const c = (size - 1) / 2;
  const outer = size / 2 - 0.5;
  const inner = outer - Math.max(1.5, size / 8);
  const dot = size / 5;
  const [r, g, b] = [0x2b, 0x62, 0xd9];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const ring = d <= outer && d >= inner;
      // A pause: the ring's top is cut.
      const cut = s.paused && y < c && Math.abs(x - c) < size / 6;
      const on = (ring && !cut) || (s.running && d <= dot);
      if (!on) continue;
      const i = (y * size + x) * 4;
      buf[i] = b;
      buf[i + 1] = g;
      buf[i + 2] = r;
      buf[i + 3] = 255;
    }
  }
  return buf;
}

/**
 * What closing the window does: hide it and keep running (the scheduler goes on) unless
 * the app is quitting.
 */
export function onWindowClose(quitting: boolean): 'hide' | 'close' {
  return quitting ? 'close' : 'hide';
}
