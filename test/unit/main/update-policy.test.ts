/**
 * The updater's decisions (update-policy.ts) and the feed format, against a real HTTP server
 * on loopback that serves a release the way GitHub releases serve electron-builder's output:
 * latest-linux.yml, beta-linux.yml, latest-mac.yml, latest.yml and the installer files. The
 * real electron-updater needs Electron and cannot run here: these tests drive the decision
 * module and the feed parser over the served feed, download the file and check its sha512 as
 * electron-updater does; the release workflow builds and publishes the real feed.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { dump } from 'js-yaml';
import {
  afterCheck,
  afterFailure,
  backoffDelay,
  BACKOFF_BASE_MS,
  CHECK_INTERVAL_MS,
  effectiveChannel,
  EMPTY_STATE,
  evaluateRelease,
  feedFileName,
  inQuietHours,
  parseQuietHours,
  parseUpdateInfo,
  pickFile,
  sha512Matches,
  shouldCheck,
  shouldNotify,
  type UpdateChannel,
  type UpdateState,
} from '../../../electron/main/update-policy';
import { isCroniumError } from '../../../electron/shared/errors';

const appImage = randomBytes(256 * 1024);
const zip = randomBytes(64 * 1024);
const sha = (b: Buffer) => createHash('sha512').update(b).digest('base64');
let requests: string[] = [];
let server: Server;
let base = '';

/** A feed as electron-builder writes it. */
function feed(version: string, files: { url: string; bytes: Buffer }[]): string {
  return dump({
    version,
    files: files.map((f) => ({ url: f.url, sha512: sha(f.bytes), size: f.bytes.length })),
    path: files[0]!.url,
    sha512: sha(files[0]!.bytes),
    releaseDate: '2026-05-01T10:00:00.000Z',
  });
}

const routes: Record<string, { type: string; body: Buffer | string }> = {
  '/latest-linux.yml': { type: 'text/yaml', body: feed('0.2.0', [{ url: 'Cronium-Desktop-0.2.0.AppImage', bytes: appImage }, { url: 'cronium-desktop_0.2.0_amd64.deb', bytes: zip }]) },
  '/beta-linux.yml': { type: 'text/yaml', body: feed('0.3.0-beta.1', [{ url: 'Cronium-Desktop-0.3.0-beta.1.AppImage', bytes: appImage }]) },
  '/latest-mac.yml': { type: 'text/yaml', body: feed('0.2.0', [{ url: 'Cronium-Desktop-0.2.0-arm64-mac.zip', bytes: zip }, { url: 'Cronium-Desktop-0.2.0-arm64.dmg', bytes: zip }]) },
  '/latest.yml': { type: 'text/yaml', body: 'version: 0.2.0\nfiles: []\n' },
  '/broken-linux.yml': { type: 'text/yaml', body: 'version: [unclosed\n' },
  '/Cronium-Desktop-0.2.0.AppImage': { type: 'application/octet-stream', body: appImage },
};

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const r = routes[req.url ?? ''];
    if (!r) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': r.type }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** What the app does with a feed: fetch the channel's file, parse it, decide. */
async function check(current: string, channel: UpdateChannel, platform: NodeJS.Platform, arch = 'x64', file?: string) {
  const res = await fetch(`${base}/${file ?? feedFileName(effectiveChannel(current, channel), platform, arch)}`);
  if (!res.ok) throw new Error(`feed: HTTP ${res.status}`);
  const info = parseUpdateInfo(await res.text());
  return { info, verdict: evaluateRelease(current, info.version, channel) };
}

test('feed file per channel, platform and arch, as electron-updater names them', () => {
  assert.equal(feedFileName('latest', 'win32', 'x64'), 'latest.yml');
  assert.equal(feedFileName('latest', 'darwin', 'arm64'), 'latest-mac.yml');
  assert.equal(feedFileName('latest', 'linux', 'x64'), 'latest-linux.yml');
  assert.equal(feedFileName('latest', 'linux', 'arm64'), 'latest-linux-arm64.yml');
  assert.equal(feedFileName('beta', 'linux', 'x64'), 'beta-linux.yml');
  assert.equal(feedFileName('beta', 'darwin', 'x64'), 'beta-mac.yml');
});

test('the served feed: a newer stable release is found, downloaded and verified by sha512; a tampered file is not', async () => {
  requests = [];
  const { info, verdict } = await check('0.1.0', 'latest', 'linux');
  assert.deepEqual(requests, ['/latest-linux.yml']);
  assert.equal(info.version, '0.2.0');
  assert.equal(verdict, 'newer');
  const file = pickFile(info, 'linux');
  assert.equal(file?.url, 'Cronium-Desktop-0.2.0.AppImage');
  assert.equal(pickFile(info, 'linux', 'deb')?.url, 'cronium-desktop_0.2.0_amd64.deb');
  const bytes = new Uint8Array(await (await fetch(`${base}/${file!.url}`)).arrayBuffer());
  assert.equal(bytes.length, file!.size);
  assert.equal(sha512Matches(bytes, file!.sha512), true);
  bytes[1000] = bytes[1000]! ^ 1;
  assert.equal(sha512Matches(bytes, file!.sha512), false, 'one flipped bit is caught');
  // macOS updates from the zip (Squirrel.Mac), never the dmg.
  const mac = await check('0.1.0', 'latest', 'darwin', 'arm64');
  assert.equal(pickFile(mac.info, 'darwin')?.url, 'Cronium-Desktop-0.2.0-arm64-mac.zip');
});

test('channels: stable users are not offered betas; beta users and beta builds are', async () => {
  assert.equal((await check('0.1.0', 'latest', 'linux')).verdict, 'newer');
  const beta = await check('0.1.0', 'beta', 'linux');
  assert.equal(beta.info.version, '0.3.0-beta.1');
  assert.equal(beta.verdict, 'newer');
  // A prerelease in the stable channel's feed is skipped for a stable user.
  assert.equal(evaluateRelease('0.1.0', '0.3.0-beta.1', 'latest'), 'prerelease-skipped');
  // A beta build follows beta whatever the setting says.
  assert.equal(effectiveChannel('0.3.0-beta.1', 'latest'), 'beta');
  assert.equal((await check('0.3.0-beta.1', 'latest', 'linux')).verdict, 'not-newer');
  assert.equal(evaluateRelease('0.3.0-beta.1', '0.3.0-beta.2', 'latest'), 'newer');
  assert.equal(evaluateRelease('0.3.0-beta.2', '0.3.0', 'latest'), 'newer', 'the final release follows its betas');
});

test('semver compare: never a downgrade, same version is not an update, build metadata is ignored, junk is invalid', () => {
  assert.equal(evaluateRelease('0.10.0', '0.9.9', 'latest'), 'not-newer', 'numeric, not lexical');
  assert.equal(evaluateRelease('1.0.0', '1.0.0', 'latest'), 'not-newer');
  assert.equal(evaluateRelease('1.0.0', '1.0.0+build.7', 'latest'), 'not-newer');
  assert.equal(evaluateRelease('1.0.0', '1.0.1', 'beta'), 'newer');
  assert.equal(evaluateRelease('1.0.0', 'v1.2', 'latest'), 'invalid');
  assert.equal(evaluateRelease('dev', '1.0.0', 'latest'), 'invalid');
});

test('malformed feeds are INVALID_INPUT with the field named; a missing feed is an HTTP failure', async () => {
  const noFiles = await check('0.1.0', 'latest', 'win32').catch((e: unknown) => e);
  assert.ok(isCroniumError(noFiles));
  assert.equal(noFiles.code, 'INVALID_INPUT');
  assert.match(noFiles.message, /files/);
  const broken = await check('0.1.0', 'latest', 'linux', 'x64', 'broken-linux.yml').catch((e: unknown) => e);
  assert.ok(isCroniumError(broken));
  assert.match(broken.message, /not YAML/);
  assert.match(broken.hint ?? '', /retry later/);
  await assert.rejects(check('0.1.0', 'latest', 'linux', 'arm64'), /HTTP 404/);
  assert.throws(() => parseUpdateInfo({ version: '0.2', files: [{ url: 'a', sha512: 'x' }] }), /version must be a semantic version/);
  assert.throws(() => parseUpdateInfo({ version: '0.2.0', files: [{ url: 'a', sha512: 'not base64!' }] }), /files\.0\.sha512 must be base64/);
});

const at = (iso: string) => new Date(iso);
const H = 60 * 60 * 1000;

test('checks: at start, then daily; not when switched off; a manual check is never asked', () => {
  const prefs = { auto: true, quiet: null };
  const now = at('2026-05-01T12:00:00');
  assert.deepEqual(shouldCheck(now, EMPTY_STATE, prefs, true), { check: true, reason: 'start' });
  const checked = afterCheck(EMPTY_STATE, now.getTime());
  assert.deepEqual(shouldCheck(new Date(now.getTime() + 2 * H), checked, prefs, true), { check: false, reason: 'not-due', nextAt: now.getTime() + CHECK_INTERVAL_MS });
  assert.deepEqual(shouldCheck(new Date(now.getTime() + 24 * H), checked, prefs, false), { check: true, reason: 'due' });
  assert.deepEqual(shouldCheck(now, EMPTY_STATE, { auto: false, quiet: null }, true), { check: false, reason: 'disabled', nextAt: null });
  // A clock set back does not stop checks for days.
  assert.equal(shouldCheck(new Date(now.getTime() - 48 * H), checked, prefs, false).check, true);
});

test('quiet hours: wrap past midnight, block automatic checks until they end, parse strictly', () => {
  const quiet = parseQuietHours('22:00-07:00')!;
  assert.deepEqual(quiet, { start: 22 * 60, end: 7 * 60 });
  assert.equal(inQuietHours(at('2026-05-01T21:59:00'), quiet), false);
  assert.equal(inQuietHours(at('2026-05-01T22:00:00'), quiet), true);
  assert.equal(inQuietHours(at('2026-05-02T03:00:00'), quiet), true);
  assert.equal(inQuietHours(at('2026-05-02T07:00:00'), quiet), false);
  const day = parseQuietHours('09:30-17:00')!;
  assert.equal(inQuietHours(at('2026-05-01T12:00:00'), day), true);
  assert.equal(inQuietHours(at('2026-05-01T18:00:00'), day), false);
  const d = shouldCheck(at('2026-05-01T23:30:00'), EMPTY_STATE, { auto: true, quiet }, true);
  assert.deepEqual(d, { check: false, reason: 'quiet-hours', nextAt: at('2026-05-02T07:00:00').getTime() });
  const early = shouldCheck(at('2026-05-02T01:00:00'), EMPTY_STATE, { auto: true, quiet }, false);
  assert.equal(early.check === false && early.nextAt, at('2026-05-02T07:00:00').getTime());
  assert.equal(parseQuietHours(null), null);
  for (const bad of ['22-07', '24:00-07:00', '22:00-22:00', '22:00 - 07:00', '7:00-9:00']) {
    assert.throws(() => parseQuietHours(bad), (e: unknown) => isCroniumError(e) && e.code === 'INVALID_INPUT' && /HH:MM-HH:MM|the same/.test(e.message + (e.hint ?? '')), bad);
  }
});

test('failure backoff: 30 min, doubling, capped at a day; a completed check resets it', () => {
  assert.deepEqual([0, 1, 2, 3, 6, 7, 40].map(backoffDelay), [0, BACKOFF_BASE_MS, 2 * BACKOFF_BASE_MS, 4 * BACKOFF_BASE_MS, 32 * BACKOFF_BASE_MS, CHECK_INTERVAL_MS, CHECK_INTERVAL_MS]);
  const prefs = { auto: true, quiet: null };
  const t0 = at('2026-05-01T12:00:00').getTime();
  let s: UpdateState = afterFailure(EMPTY_STATE, t0);
  assert.deepEqual(shouldCheck(new Date(t0 + 10 * 60_000), s, prefs, false), { check: false, reason: 'backoff', nextAt: t0 + BACKOFF_BASE_MS });
  assert.deepEqual(shouldCheck(new Date(t0 + BACKOFF_BASE_MS), s, prefs, false), { check: true, reason: 'retry' });
  s = afterFailure(s, t0 + BACKOFF_BASE_MS);
  assert.equal(s.failures, 2);
  assert.deepEqual(shouldCheck(new Date(t0 + 2 * BACKOFF_BASE_MS), s, prefs, false), { check: false, reason: 'backoff', nextAt: t0 + 3 * BACKOFF_BASE_MS });
  s = afterCheck(s, t0 + 3 * BACKOFF_BASE_MS);
  assert.deepEqual({ failures: s.failures, lastFailureAt: s.lastFailureAt }, { failures: 0, lastFailureAt: null });
  assert.equal(shouldCheck(new Date(t0 + 4 * BACKOFF_BASE_MS), s, prefs, false).check, false, 'next check a day after the one that worked');
});

test("don't nag twice for the same version; not in quiet hours; a manual check always answers", () => {
  const noon = at('2026-05-01T12:00:00');
  const night = at('2026-05-01T23:00:00');
  const quiet = parseQuietHours('22:00-07:00');
  assert.equal(shouldNotify('0.2.0', EMPTY_STATE, noon, quiet, false), true);
  const told = { ...EMPTY_STATE, notifiedVersion: '0.2.0' };
  assert.equal(shouldNotify('0.2.0', told, noon, quiet, false), false);
  assert.equal(shouldNotify('0.2.1', told, noon, quiet, false), true, 'a newer version is news');
  assert.equal(shouldNotify('0.2.1', told, night, quiet, false), false);
  assert.equal(shouldNotify('0.2.0', told, night, quiet, true), true);
});
