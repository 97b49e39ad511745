/**
 * The updater's decisions, as pure functions over plain data so that they are tested
 * without Electron (electron-updater cannot run without it): which feed file a platform
 * reads, what a release in it means for this version (semver, the latest/beta channel,
 * never a downgrade), when an automatic check is due (at start, then daily; never in
 * quiet hours; backing off after failures), whether to tell the user (once per version),
 * and the feed's format (electron-builder's latest*.yml) parsed at the boundary. updater.ts
 * hands these to electron-updater, which downloads, verifies and installs.
 */
import { createHash } from 'node:crypto';
import { load } from 'js-yaml';
import semver from 'semver';
import { z } from 'zod';
import { CroniumError } from '../shared/errors';

/** latest: stable releases only; beta: prereleases too. */
export type UpdateChannel = 'latest' | 'beta';

/** Daily checks. */
export const CHECK_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** The first retry after a failed check; doubling up to the check interval. */
export const BACKOFF_BASE_MS = 30 * 60 * 1000;

/**
 * The feed file electron-updater reads from a release for a channel: `latest.yml` on
 * Windows, `latest-mac.yml` on macOS, `latest-linux.yml` (`-arm64` on arm64) on Linux;
 * `beta*.yml` for the beta channel. electron-builder writes them when it builds.
 */
export function feedFileName(channel: UpdateChannel, platform: NodeJS.Platform, arch: string): string {
  if (platform === 'darwin') return `${channel}-mac.yml`;
  if (platform === 'linux') return arch === 'x64' ? `${channel}-linux.yml` : `${channel}-linux-${arch}.yml`;
  return `${channel}.yml`;
}

/** The channel in force: a prerelease build always follows beta (as electron-updater's allowPrerelease does). */
export function effectiveChannel(current: string, preferred: UpdateChannel): UpdateChannel {
  return preferred === 'beta' || semver.prerelease(current) !== null ? 'beta' : 'latest';
}

/** What a release offered by the feed means for the running version. */
export type ReleaseVerdict = 'newer' | 'not-newer' | 'prerelease-skipped' | 'invalid';

/** Compares by semver; a prerelease is offered only on the beta channel; never a downgrade. */
export function evaluateRelease(current: string, offered: string, channel: UpdateChannel): ReleaseVerdict {
  const have = semver.valid(current);
  const got = semver.valid(offered);
  if (!have || !got) return 'invalid';
  if (semver.prerelease(got) !== null && effectiveChannel(have, channel) !== 'beta') return 'prerelease-skipped';
  return semver.gt(got, have) ? 'newer' : 'not-newer';
}

/** Quiet hours, local time, "HH:MM-HH:MM"; may wrap past midnight ("22:00-07:00"). */
export interface QuietHours {
  /** Minutes after midnight. */
  start: number;
  end: number;
}

/** Parses "22:00-07:00"; null for null; INVALID_INPUT otherwise. */
export function parseQuietHours(text: string | null): QuietHours | null {
  if (text === null) return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!m) throw new CroniumError('INVALID_INPUT', `invalid quiet hours "${text}": expected HH:MM-HH:MM`, 'e.g. 22:00-07:00 (local time), or none');
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = Number(m[3]) * 60 + Number(m[4]);
  if (start === end) throw new CroniumError('INVALID_INPUT', `invalid quiet hours "${text}": start and end are the same`, 'e.g. 22:00-07:00 (local time), or none');
  return { start, end };
}

/** Whether a local time is inside quiet hours (the start is inside, the end is not). */
export function inQuietHours(now: Date, quiet: QuietHours | null): boolean {
  if (!quiet) return false;
  const t = now.getHours() * 60 + now.getMinutes();
  return quiet.start < quiet.end ? t >= quiet.start && t < quiet.end : t >= quiet.start || t < quiet.end;
}

/** The next instant quiet hours end (local time). */
export function quietHoursEnd(now: Date, quiet: QuietHours): Date {
  const end = new Date(now);
  end.setHours(Math.floor(quiet.end / 60), quiet.end % 60, 0, 0);
  if (end.getTime() <= now.getTime()) end.setDate(end.getDate() + 1);
  return end;
}

/** What the updater remembers between starts (update-state.ts stores it). */
export interface UpdateState {
  /** The last check that completed (found something or not). */
  lastCheckAt: number | null;
  /** Checks failed in a row since the last one that completed. */
  failures: number;
  lastFailureAt: number | null;
  /** The version the user was last told about: never twice. */
  notifiedVersion: string | null;
}

/** A state with nothing in it. */
export const EMPTY_STATE: UpdateState = { lastCheckAt: null, failures: 0, lastFailureAt: null, notifiedVersion: null };

/** The delay before retrying after `failures` failures in a row: 30 min, 1 h, 2 h ... up to a day. */
export function backoffDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(CHECK_INTERVAL_MS, BACKOFF_BASE_MS * 2 ** (failures - 1));
}

/** Why an automatic check does or does not run now, and when the next one is due. */
export type CheckDecision =
  | { check: true; reason: 'start' | 'due' | 'retry' }
  | { check: false; reason: 'disabled' | 'quiet-hours' | 'backoff' | 'not-due'; nextAt: number | null };

/**
 * Whether an automatic check runs now. At start it runs unless the last one was under a
 * day ago; later, once a day; after failures, on the backoff schedule instead; never in
 * quiet hours (the downloads are large, and a scheduler's night is when its jobs run).
 * A manual check ("Check for Updates…") does not ask.
 */
export function shouldCheck(now: Date, state: UpdateState, prefs: { auto: boolean; quiet: QuietHours | null }, atStart: boolean): CheckDecision {
  const t = now.getTime();
  if (!prefs.auto) return { check: false, reason: 'disabled', nextAt: null };
  if (prefs.quiet && inQuietHours(now, prefs.quiet)) return { check: false, reason: 'quiet-hours', nextAt: quietHoursEnd(now, prefs.quiet).getTime() };
  if (state.failures > 0 && state.lastFailureAt !== null) {
    const retryAt = state.lastFailureAt + backoffDelay(state.failures);
    return t >= retryAt ? { check: true, reason: 'retry' } : { check: false, reason: 'backoff', nextAt: retryAt };
  }
  if (state.lastCheckAt === null || t - state.lastCheckAt >= CHECK_INTERVAL_MS || t < state.lastCheckAt) return { check: true, reason: atStart ? 'start' : 'due' };
  return { check: false, reason: 'not-due', nextAt: state.lastCheckAt + CHECK_INTERVAL_MS };
}

/** The state after a check that completed. */
export function afterCheck(state: UpdateState, now: number): UpdateState {
  return { ...state, lastCheckAt: now, failures: 0, lastFailureAt: null };
}

/** The state after a check or download that failed. */
export function afterFailure(state: UpdateState, now: number): UpdateState {
  return { ...state, failures: state.failures + 1, lastFailureAt: now };
}

/** Whether to tell the user that a version is ready: once per version, never in quiet hours for an automatic check. */
export function shouldNotify(version: string, state: UpdateState, now: Date, quiet: QuietHours | null, manual: boolean): boolean {
  if (manual) return true;
  return state.notifiedVersion !== version && !inQuietHours(now, quiet);
}

/** One file of a release in the feed. */
const UpdateFile = z.object({
  url: z.string().min(1),
  sha512: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, { error: 'must be base64' }),
  size: z.int().nonnegative().optional(),
});
/** electron-builder's update info (latest*.yml), as electron-updater reads it. */
export const UpdateInfoSchema = z.object({
  version: z.string().refine((v) => semver.valid(v) !== null, { error: 'must be a semantic version' }),
  files: z.array(UpdateFile).min(1),
  path: z.string().optional(),
  sha512: z.string().optional(),
  releaseDate: z.string().optional(),
  releaseName: z.string().nullish(),
  releaseNotes: z.unknown().optional(),
});
/** A release as the feed describes it. */
export type UpdateInfo = z.infer<typeof UpdateInfoSchema>;

/** Parses update info from electron-updater or a feed's YAML; INVALID_INPUT naming the field otherwise. */
export function parseUpdateInfo(input: unknown): UpdateInfo {
  let data = input;
  if (typeof input === 'string') {
    try {
      data = load(input);
    } catch (e) {
      throw new CroniumError('INVALID_INPUT', `the update feed is not YAML: ${(e as Error).message.split('\n')[0]}`, 'the release is missing its latest*.yml or it is damaged; retry later');
    }
  }
  const parsed = UpdateInfoSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CroniumError('INVALID_INPUT', `the update feed is malformed: ${issue ? `${issue.path.join('.') || 'feed'} ${issue.message}` : 'unreadable'}`, 'the release is missing its latest*.yml or it is damaged; retry later');
  }
  return parsed.data;
}

/** The installer file electron-updater takes from a release for a platform (and install kind on Linux). */
export function pickFile(info: UpdateInfo, platform: NodeJS.Platform, linuxKind: 'appimage' | 'deb' = 'appimage'): UpdateInfo['files'][number] | undefined {
  const ext = platform === 'darwin' ? '.zip' : platform === 'win32' ? '.exe' : linuxKind === 'deb' ? '.deb' : '.AppImage';
  return info.files.find((f) => f.url.endsWith(ext));
}

/** Whether bytes match the feed's sha512 (base64), as electron-updater checks every download. */
export function sha512Matches(bytes: Uint8Array, expectedBase64: string): boolean {
  return createHash('sha512').update(bytes).digest('base64') === expectedBase64;
}
