/**
 * Light and dark themes: the OS's choice (prefers-color-scheme) unless Settings fixes
 * one. The theme in effect is always `data-theme` on <html> (styles.css has one dark block
 * keyed on it), kept in step with the OS while the setting is "system". Views that draw with
 * computed colours (xterm, charts) listen for THEME_EVENT.
 */
import { useEffect, useSyncExternalStore } from 'react';
import { useAppStore } from '../../store';

/** The theme setting. */
export type ThemeSetting = 'system' | 'light' | 'dark';
/** Dispatched on window after data-theme changed. */
export const THEME_EVENT = 'cronium:theme';

const DARK = '(prefers-color-scheme: dark)';

/** Applies a theme setting to the document, given whether the OS prefers dark. */
export function applyTheme(setting: ThemeSetting, root: HTMLElement = document.documentElement, osDark: boolean = window.matchMedia(DARK).matches): void {
  const before = root.dataset.theme;
  root.dataset.theme = effectiveTheme(setting, osDark);
  if (before !== root.dataset.theme) window.dispatchEvent(new Event(THEME_EVENT));
}

/** The theme in effect for a setting and the OS's preference. */
export function effectiveTheme(setting: ThemeSetting, osDark: boolean): 'light' | 'dark' {
  return setting === 'system' ? (osDark ? 'dark' : 'light') : setting;
}

/** The theme that "toggle theme" switches to: the opposite of what shows now. */
export function toggledTheme(setting: ThemeSetting, osDark: boolean): 'light' | 'dark' {
  return effectiveTheme(setting, osDark) === 'dark' ? 'light' : 'dark';
}

function subscribeOs(onChange: () => void): () => void {
  const mq = window.matchMedia(DARK);
  mq.addEventListener('change', onChange);
  return () => mq.removeEventListener('change', onChange);
}

/** Whether the OS prefers dark, re-rendering when it changes. */
export function useOsDark(): boolean {
  return useSyncExternalStore(subscribeOs, () => window.matchMedia(DARK).matches);
}

/** Keeps the document's theme in step with the settings. */
export function useThemeSetting(): ThemeSetting {
  const setting = useAppStore((s) => s.settings.value?.appearance.theme ?? 'system');
  const osDark = useOsDark();
  useEffect(() => applyTheme(setting, document.documentElement, osDark), [setting, osDark]);
  return setting;
}
