/**
 * Start at login on Linux, where Electron's setLoginItemSettings does nothing: an XDG
 * autostart entry (`~/.config/autostart/cronium-desktop.desktop`, honouring
 * $XDG_CONFIG_HOME) that starts the app with `--hidden`, so it opens in the tray. The
 * entry's Exec line is quoted by the Desktop Entry Specification's rules (which the tests
 * check against GLib, the library desktops start autostart entries with). The file is
 * written when the setting is on and removed when it is off; an entry the user switched off
 * in their desktop's settings (X-GNOME-Autostart-enabled=false, Hidden=true) stays off
 * until they turn the setting on again in Cronium.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { PRODUCT_NAME } from '../core/paths';
import { CroniumError } from '../shared/errors';

/** The entry's file name (the app's executable name, as desktops expect). */
export const AUTOSTART_FILE = 'cronium-desktop.desktop';

/** `$XDG_CONFIG_HOME/autostart/cronium-desktop.desktop`, `~/.config/...` when it is unset or relative (as the spec says). */
export function autostartPath(env: NodeJS.ProcessEnv, home: string): string {
  const config = env.XDG_CONFIG_HOME && path.posix.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.posix.join(home, '.config');
  return path.posix.join(config, 'autostart', AUTOSTART_FILE);
}

/** Characters that oblige an Exec argument to be quoted (Desktop Entry Specification, "The Exec key"). */
const RESERVED = /[ \t\n"'\\><~|&;$*?#()`]/;

/**
 * One Exec argument: quoted when it holds a reserved character (escaping ", `, $ and \
 * inside the quotes), % doubled, and then the string-value escape (\ doubled) applied on
 * top, as the spec requires: a literal $ ends up as \\$ and a literal \ as \\\\.
 */
export function execArg(arg: string): string {
  if (/[\r\n\0]/.test(arg)) {
    throw new CroniumError('INVALID_INPUT', 'the app\u2019s path holds a line break, which an autostart entry cannot express', 'move Cronium Desktop to a path without line breaks');
  }
  const quoted = arg === '' || RESERVED.test(arg) ? `"${arg.replace(/["`$\\]/g, '\\$&')}"` : arg;
  return quoted.replace(/%/g, '%%').replace(/\\/g, '\\\\');
}

/** The autostart entry for a program (the app binary, or the AppImage file). */
export function autostartEntry(program: string): string {
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    `Name=${PRODUCT_NAME}`,
    'Comment=Starts Cronium in the tray at login, so that schedules fire',
    `Exec=${[program, '--hidden'].map(execArg).join(' ')}`,
    'Icon=cronium-desktop',
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

/** Whether an existing entry was switched off by the user in their desktop's startup settings. */
export function disabledByUser(content: string): boolean {
  return /^X-GNOME-Autostart-enabled\s*=\s*false\s*$/m.test(content) || /^Hidden\s*=\s*true\s*$/m.test(content);
}

/** What applying the setting does to the file. */
export type AutostartAction = { action: 'write'; content: string } | { action: 'remove' } | { action: 'keep'; why: string };

/**
 * The change for a setting and what the file holds now. At start-up (`changed` false) an
 * entry the user switched off in their desktop's startup settings stays off; when the
 * user turns the setting on in Cronium (`changed` true) it is written afresh. An entry
 * that is already right is left as it is; a moved app (another Exec) is rewritten.
 */
export function autostartAction(enabled: boolean, program: string, existing: string | null, changed: boolean): AutostartAction {
  if (!enabled) return existing === null ? { action: 'keep', why: 'no entry' } : { action: 'remove' };
  const content = autostartEntry(program);
  if (existing === content) return { action: 'keep', why: 'up to date' };
  if (existing !== null && !changed && disabledByUser(existing)) return { action: 'keep', why: "switched off in the desktop's startup settings" };
  return { action: 'write', content };
}

/** Applies the setting to the file (atomically: a desktop reading the dir at login never sees half an entry). */
export function applyAutostart(enabled: boolean, program: string, file: string, changed: boolean): AutostartAction {
  let existing: string | null;
  try {
    existing = readFileSync(file, 'utf8');
  } catch {
    existing = null;
  }
  const step = autostartAction(enabled, program, existing, changed);
  if (step.action === 'remove') rmSync(file, { force: true });
  if (step.action === 'write') {
    mkdirSync(path.posix.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, step.content, { mode: 0o644 });
    renameSync(tmp, file);
  }
  return step;
}
