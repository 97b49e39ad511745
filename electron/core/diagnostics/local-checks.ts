/**
 * This machine's side of a diagnosis: the data dir is writable, the key files are private to
 * this user, and the runner artifacts are present and verify, with a build for the host's
 * target. A run's mode depends on these as much as on the host: without artifacts `auto` runs
 * directly and `runner` fails, so their absence fails the report's runner check too.
 * Never throws: every problem is a check.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import type { DiagnosticCheck } from '../../shared/api';
import { isCroniumError } from '../../shared/errors';
import { isRunnerNotBuilt } from '../runner/artifacts';
import type { ArtifactsStatus, LocalArtifacts } from '../runner/local-artifacts';

type Check = z.infer<typeof DiagnosticCheck>;

/** What the local checks look at. */
export interface LocalSide {
  dataDir: string;
  artifacts: Pick<LocalArtifacts, 'status' | 'dir'>;
  /** A missing target would be built at the first deploy that needs it (a checkout with Go). */
  buildsOnDemand: boolean;
}

/** The local checks, and what they mean for the runner check of the host. */
export interface LocalOutcome {
  checks: Check[];
  /** Set when runs on this host cannot use the runner because of this machine: why, and what to do. */
  runnerBlocked?: { detail: string; hint: string };
}

/** The ids of the local checks, in report order. */
export const LOCAL_CHECK_IDS = ['data-dir', 'key-files', 'artifacts'] as const;

const TITLES: Record<(typeof LOCAL_CHECK_IDS)[number], string> = {
  'data-dir': 'Data dir (this machine)',
  'key-files': 'Key files (this machine)',
  artifacts: 'Runner artifacts (this machine)',
};

function check(id: (typeof LOCAL_CHECK_IDS)[number], status: Check['status'], detail: string, hint: string | null = null, data?: Record<string, unknown>): Check {
  return { id, title: TITLES[id], status, detail, hint, ...(data ? { data } : {}) };
}

const BUILD_HINT = 'build them with: cronium runner build (needs Go 1.25 or later)';

/** Runs the local checks; `hostTarget` is the runner target the host needs, when the probe found it. */
export async function localChecks(side: LocalSide, hostTarget: string | undefined, platform: NodeJS.Platform = process.platform): Promise<LocalOutcome> {
  const artifacts = await artifactsCheck(side, hostTarget);
  return { checks: [dataDirCheck(side.dataDir, platform), keyFilesCheck(side.dataDir, platform), artifacts.check], ...(artifacts.blocked ? { runnerBlocked: artifacts.blocked } : {}) };
}

/** Writable (a real write), and not readable by others: it holds the inventory, history and logs. */
function dataDirCheck(dir: string, platform: NodeJS.Platform): Check {
  const probe = join(dir, `.diagnose-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    accessSync(dir, constants.R_OK | constants.W_OK);
    writeFileSync(probe, 'ok', { flag: 'wx', mode: 0o600 });
    unlinkSync(probe);
  } catch (e) {
    return check('data-dir', 'fail', `${dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'pass --data-dir DIR or set CRONIUM_HOME to a directory you can write', { dir, writable: false });
  }
  const mode = statSync(dir).mode & 0o777;
  const data = { dir, writable: true, mode: mode.toString(8) };
  if (platform !== 'win32' && (mode & 0o077) !== 0) {
    return check('data-dir', 'warn', `${dir} is writable, but other users can look into it (mode ${mode.toString(8)})`, `it holds your hosts, job history and logs: chmod 700 "${dir}"`, data);
  }
  return check('data-dir', 'pass', `${dir} is writable${platform === 'win32' ? '' : ` and private (mode ${mode.toString(8)})`}`, null, data);
}

/** secret.key, helper-token.key and keys/*: regular files of this user, readable by nobody else (keys/ itself 0700). */
function keyFilesCheck(dataDir: string, platform: NodeJS.Platform): Check {
  if (platform === 'win32') return check('key-files', 'pass', 'not checked on Windows: the data dir inherits your profile\'s permissions');
  const files = ['secret.key', 'helper-token.key'].map((f) => join(dataDir, f)).filter((f) => existsSync(f));
  const keysDir = join(dataDir, 'keys');
  const problems: string[] = [];
  const uid = process.getuid?.();
  if (existsSync(keysDir)) {
    const st = lstatSync(keysDir);
    if (!st.isDirectory()) problems.push(`${keysDir} is not a directory`);
    else {
      if ((st.mode & 0o077) !== 0) problems.push(`${keysDir} has mode ${(st.mode & 0o777).toString(8)} (want 700)`);
      for (const f of readdirSync(keysDir)) if (!f.endsWith('.tmp')) files.push(join(keysDir, f));
    }
  }
  for (const f of files) {
    const st = lstatSync(f);
    if (!st.isFile()) problems.push(`${f} is not a regular file`);
    else if ((st.mode & 0o077) !== 0) problems.push(`${f} has mode ${(st.mode & 0o777).toString(8)} (want 600)`);
    if (uid !== undefined && st.uid !== uid) problems.push(`${f} belongs to uid ${st.uid}, not to you (${uid})`);
  }
  const data = { files: files.length, problems };
  if (problems.length) {
    return check('key-files', 'fail', `other users could read or replace the keys: ${problems.join('; ')}`, `make them yours and private: chmod 700 "${keysDir}"; chmod 600 on each key file (secret.key, helper-token.key, keys/*)`, data);
  }
  return check('key-files', 'pass', files.length ? `${files.length} key file(s), each private to you (mode 600)` : 'no key files yet (they are made on first use, private)', null, data);
}

async function artifactsCheck(side: LocalSide, hostTarget: string | undefined): Promise<{ check: Check; blocked?: LocalOutcome['runnerBlocked'] }> {
  const dir = side.artifacts.dir;
  const onDemand = side.buildsOnDemand ? ' (Go is here: the first run in auto or runner mode also builds it)' : '';
  let status: ArtifactsStatus;
  try {
    status = await side.artifacts.status();
  } catch (e) {
    if (isRunnerNotBuilt(e)) {
      const detail = `no runner artifacts in ${dir}: runs use direct mode in auto mode, and fail in runner mode`;
      return { check: check('artifacts', 'fail', detail, `${BUILD_HINT}${onDemand}`, { dir, built: false }), blocked: { detail: 'the runner is not built on this machine', hint: `${BUILD_HINT}${onDemand}` } };
    }
    const message = isCroniumError(e) ? e.message : String(e);
    const hint = 'rebuild them (cronium runner build) or reinstall Cronium; check with: cronium runner verify';
    return { check: check('artifacts', 'fail', `the runner artifacts in ${dir} cannot be read: ${message}`, hint, { dir }), blocked: { detail: 'the runner artifacts on this machine cannot be read', hint } };
  }
  const targets = status.artifacts.map((a) => a.target);
  const data = { dir, version: status.version, protocol: status.protocol, signer: status.signer.kind, trust: status.trust, targets, hostTarget: hostTarget ?? null };
  if (!status.ok) {
    const bad = status.artifacts.filter((a) => a.status !== 'verified').map((a) => `${a.target}: ${a.error ?? 'invalid'}`);
    const hint = 'never run: rebuild them (cronium runner build) or reinstall Cronium; check with: cronium runner verify';
    return { check: check('artifacts', 'fail', `the runner artifacts in ${dir} do not verify: ${bad.join('; ')}`, hint, data), blocked: { detail: 'the runner artifacts on this machine do not verify', hint } };
  }
  const what = `runner ${status.version} (protocol ${status.protocol}) for ${targets.join(', ')}, verified (${status.signer.kind} key ${status.signer.fingerprint.slice(0, 16)}…)`;
  if (hostTarget && !targets.includes(hostTarget)) {
    const hint = `build it with: cronium runner build --target ${hostTarget} --keep (or every target: cronium runner build)${onDemand}`;
    return {
      check: check('artifacts', 'fail', `${what}, but not for this host's ${hostTarget}`, hint, data),
      blocked: { detail: `the runner is not built on this machine for this host's ${hostTarget}`, hint },
    };
  }
  return { check: check('artifacts', 'pass', hostTarget ? `${what}, including this host's ${hostTarget}` : what, null, data) };
}
