/**
 * The Settings form's model: values as typed from the settings in force, the checks that
 * need no server (the same ranges as the contract), and the settings.set change.
 */
import type { Settings, SettingsChange } from '../../store';

/** What the form holds: numbers as typed, empty meaning "none" where a limit is optional. */
export interface SettingsValues {
  defaultMode: Settings['execution']['defaultMode'];
  /** Seconds; empty: no timeout. */
  defaultTimeout: string;
  globalConcurrency: string;
  perHostConcurrency: string;
  runnerCheck: Settings['execution']['runnerCheck'];
  /** MiB. */
  maxOutputMiB: string;
  onFailure: boolean;
  onSuccess: boolean;
  theme: Settings['appearance']['theme'];
  startAtLogin: boolean;
  autoUpdate: boolean;
  updateChannel: Settings['desktop']['updateChannel'];
  /** "HH:MM-HH:MM"; empty: none. */
  updateQuietHours: string;
  /** Days; empty: no age limit. */
  maxAgeDays: string;
  /** Runs; empty: no count limit. */
  maxRuns: string;
  /** MiB; empty: no size limit. */
  maxTotalMiB: string;
}

/** A message per invalid field. */
export type SettingsErrors = Partial<Record<keyof SettingsValues, string>>;

const MIB = 1024 * 1024;
const opt = (n: number | null | undefined, scale = 1) => (n === null || n === undefined ? '' : String(Math.round((n / scale) * 100) / 100));

/** The form's values for the settings in force. */
export function fromSettings(s: Settings): SettingsValues {
  return {
    defaultMode: s.execution.defaultMode,
    defaultTimeout: opt(s.execution.defaultTimeoutMs, 1000),
    globalConcurrency: String(s.execution.globalConcurrency),
    perHostConcurrency: String(s.execution.perHostConcurrency),
    runnerCheck: s.execution.runnerCheck,
    maxOutputMiB: String(Math.round(s.execution.maxOutputBytes / MIB)),
    onFailure: s.notifications.onFailure,
    onSuccess: s.notifications.onSuccess,
    theme: s.appearance.theme,
    startAtLogin: s.desktop.startAtLogin,
    autoUpdate: s.desktop.autoUpdate,
    updateChannel: s.desktop.updateChannel,
    updateQuietHours: s.desktop.updateQuietHours ?? '',
    maxAgeDays: opt(s.logsRetention.maxAgeDays),
    maxRuns: opt(s.logsRetention.maxRuns),
    maxTotalMiB: opt(s.logsRetention.maxTotalBytes, MIB),
  };
}

function whole(v: string, min: number, max: number, label: string, optional: boolean): string | undefined {
  const t = v.trim();
  if (!t) return optional ? undefined : `${label} is required`;
  if (!/^\d+$/.test(t)) return `${label} must be a whole number`;
  const n = Number(t);
  if (n < min || n > max) return `${label} must be from ${min} to ${max}`;
  return undefined;
}

/** Checks what can be checked here; the app checks again. */
export function validateSettings(v: SettingsValues): SettingsErrors {
  const e: SettingsErrors = {};
  const t = v.defaultTimeout.trim();
  if (t && (!/^\d+(\.\d+)?$/.test(t) || Number(t) < 1 || Number(t) > 7 * 86_400)) e.defaultTimeout = 'Default timeout must be from 1 second to 7 days (604800 s), or empty for none';
  const g = whole(v.globalConcurrency, 1, 1024, 'Runs at once', false);
  if (g) e.globalConcurrency = g;
  const h = whole(v.perHostConcurrency, 1, 64, 'Runs at once per host', false);
  if (h) e.perHostConcurrency = h;
  const o = whole(v.maxOutputMiB, 1, 4096, 'Output limit per run', false);
  if (o) e.maxOutputMiB = o;
  const a = whole(v.maxAgeDays, 1, 36_500, 'Keep logs for', true);
  if (a) e.maxAgeDays = a;
  const r = whole(v.maxRuns, 1, 100_000_000, 'Keep logs of', true);
  if (r) e.maxRuns = r;
  const m = whole(v.maxTotalMiB, 1, 1024 * 1024 * 1024, 'Log storage', true);
  if (m) e.maxTotalMiB = m;
  const q = v.updateQuietHours.trim();
  if (q && !/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/.test(q)) e.updateQuietHours = 'Quiet hours must be HH:MM-HH:MM (24-hour, local time), e.g. 22:00-07:00, or empty for none';
  else if (q && q.slice(0, 5) === q.slice(6)) e.updateQuietHours = 'Quiet hours must start and end at different times';
  return e;
}

/** The settings.set change for valid values; the desktop group only where it applies. */
export function toSettingsChange(v: SettingsValues, desktop: boolean): SettingsChange {
  const num = (s: string) => (s.trim() ? Number(s.trim()) : undefined);
  const logsRetention: NonNullable<SettingsChange['logsRetention']> = {};
  const age = num(v.maxAgeDays);
  if (age !== undefined) logsRetention.maxAgeDays = age;
  const runs = num(v.maxRuns);
  if (runs !== undefined) logsRetention.maxRuns = runs;
  const mib = num(v.maxTotalMiB);
  if (mib !== undefined) logsRetention.maxTotalBytes = mib * MIB;
  const timeout = num(v.defaultTimeout);
  return {
    execution: {
      defaultMode: v.defaultMode,
      defaultTimeoutMs: timeout === undefined ? null : Math.round(timeout * 1000),
      globalConcurrency: Number(v.globalConcurrency.trim()),
      perHostConcurrency: Number(v.perHostConcurrency.trim()),
      runnerCheck: v.runnerCheck,
      maxOutputBytes: Number(v.maxOutputMiB.trim()) * MIB,
    },
    notifications: { onFailure: v.onFailure, onSuccess: v.onSuccess },
    appearance: { theme: v.theme },
    logsRetention,
    ...(desktop
      ? { desktop: { startAtLogin: v.startAtLogin, autoUpdate: v.autoUpdate, updateChannel: v.updateChannel, updateQuietHours: v.updateQuietHours.trim() || null } }
      : {}),
  };
}
