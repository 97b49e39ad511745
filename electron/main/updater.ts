/**
 * Updates of the installed app through electron-updater, from the GitHub releases that
 * .github/workflows/release.yml publishes: checked at start and daily, downloaded in the
 * background, installed when the app quits. Every decision (when to check, what a release
 * means for this version, whether to tell the user) is update-policy.ts's; this file hands
 * them to electron-updater. What is verified where (docs/desktop.md): the download's
 * sha512 against the release's latest*.yml on every OS; on Windows also the installer's
 * Authenticode signature against this app's publisher; on macOS Squirrel.Mac's check that
 * the update is signed by the same developer as the running app.
 */
import { app, dialog, Notification } from 'electron';
import electronUpdater from 'electron-updater';
import type { Settings } from '../shared/api';
import {
  afterCheck,
  afterFailure,
  effectiveChannel,
  evaluateRelease,
  parseQuietHours,
  parseUpdateInfo,
  shouldCheck,
  shouldNotify,
  type UpdateState,
} from './update-policy';
import { UpdateStateFile } from './update-state';

/** How often the timer asks shouldCheck (the policy decides whether a check is due). */
const TICK_MS = 60 * 60 * 1000;
/** The first check waits for start-up to settle. */
const FIRST_CHECK_DELAY_MS = 15_000;

/** What the updater needs from the app. */
export interface UpdaterDeps {
  dataDir: string;
  settings(): Settings['desktop'];
  onSettingsChanged(listener: (s: Settings['desktop']) => void): () => void;
}

/** The updater's handle: a manual check, and stop. */
export interface Updater {
  /** "Check for Updates…": always checks, and always answers. */
  checkNow(): Promise<void>;
  dispose(): void;
}

/** Sets up updates; in development (not packaged) only the manual check exists, and it says why nothing happens. */
export function setupUpdater(deps: UpdaterDeps): Updater {
  if (!app.isPackaged) {
    return {
      checkNow: async () => {
        await dialog.showMessageBox({ type: 'info', title: 'Check for Updates', message: 'Updates come with the installed app.', detail: 'This copy runs from a checkout: update it with git pull and npm install.' });
      },
      dispose: () => undefined,
    };
  }
  const { autoUpdater } = electronUpdater;
  const store = new UpdateStateFile(deps.dataDir);
  let state: UpdateState = store.read();
  const save = (next: UpdateState) => {
    state = next;
    store.write(next);
  };
  let manual = false;
  let busy = false;

  const configure = (s: Settings['desktop']) => {
    const channel = effectiveChannel(app.getVersion(), s.updateChannel);
    autoUpdater.allowPrerelease = channel === 'beta';
    autoUpdater.channel = channel;
    // Setting the channel allows downgrades; a user leaving beta keeps the beta until a newer stable release.
    autoUpdater.allowDowngrade = false;
  };
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = true;
  autoUpdater.logger = null;
  configure(deps.settings());

  const quiet = () => {
    try {
      return parseQuietHours(deps.settings().updateQuietHours);
    } catch {
      return null;
    }
  };

  autoUpdater.on('update-available', (raw: unknown) => {
    let version: string;
    try {
      version = parseUpdateInfo(raw).version;
    } catch {
      save(afterFailure(state, Date.now()));
      return;
    }
    save(afterCheck(state, Date.now()));
    if (evaluateRelease(app.getVersion(), version, deps.settings().updateChannel) !== 'newer') return;
    void autoUpdater.downloadUpdate().catch(() => save(afterFailure(state, Date.now())));
  });
  autoUpdater.on('update-not-available', () => {
    save(afterCheck(state, Date.now()));
    if (manual) void dialog.showMessageBox({ type: 'info', title: 'Check for Updates', message: `${app.getName()} ${app.getVersion()} is the latest version.` });
  });
  autoUpdater.on('update-downloaded', (raw: unknown) => {
    let version: string;
    try {
      version = parseUpdateInfo(raw).version;
    } catch {
      return;
    }
    if (!shouldNotify(version, state, new Date(), quiet(), manual)) return;
    save({ ...state, notifiedVersion: version });
    const text = { title: `${app.getName()} ${version} is ready`, body: 'It installs when you quit; schedules keep running until then.' };
    if (manual) void dialog.showMessageBox({ type: 'info', title: 'Check for Updates', message: text.title, detail: text.body });
    else if (Notification.isSupported()) new Notification(text).show();
  });
  autoUpdater.on('error', (e: Error) => {
    save(afterFailure(state, Date.now()));
    if (manual) void dialog.showMessageBox({ type: 'error', title: 'Check for Updates', message: 'The update check failed.', detail: e.message });
  });

  const check = async (isManual: boolean) => {
    if (busy) return;
    busy = true;
    manual = isManual;
    try {
      await autoUpdater.checkForUpdates();
    } catch {
      // Reported through the 'error' event.
    } finally {
      busy = false;
    }
  };
  const tick = (atStart: boolean) => {
    const s = deps.settings();
    if (shouldCheck(new Date(), state, { auto: s.autoUpdate, quiet: quiet() }, atStart).check) void check(false);
  };
  const first = setTimeout(() => tick(true), FIRST_CHECK_DELAY_MS);
  const timer = setInterval(() => tick(false), TICK_MS);
  const off = deps.onSettingsChanged(configure);
  return {
    checkNow: () => check(true),
    dispose: () => {
      clearTimeout(first);
      clearInterval(timer);
      off();
    },
  };
}
