/**
 * Deploys the runner to a host and re-checks it before every run (DESIGN.md "Runner").
 *
 * One deploy: verify the local artifacts with the trusted key (before any connection), run the
 * prepare script (platform, cache location, what is cached), pick the target's artifact; when the
 * cached binary's SHA-256 (computed by the host's own tools) matches, that is the whole deploy
 * (a cache hit: the per-run integrity check). Otherwise upload to a temporary name in the version
 * dir, verify there, pin installation.pub and the host's host-id.<id>, rename atomically, and prune all but the
 * two newest versions.
 *
 * Invariants: the binary at `<cache>/<version>-<sha12>/cronium-runner` is only ever replaced by a
 * rename of a file whose hash the host verified, so concurrent deploys (in this process or
 * others) leave exactly one valid binary; a mismatching cached binary is reported
 * (RUNNER_INTEGRITY_FAILED, recorded) and replaced, never run; every outcome on a reachable host
 * is a row of runner_deployments; nothing secret goes on a command line.
 */
import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CroniumError, isCroniumError } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import type { runnerDeployments } from '../db/schema';
import { preparedOnce, type DataStore } from '../db/store';
import { CACHE_LOCATIONS, cacheProblem } from '../diagnostics/remote-probe';
import { runnerTargetFor } from '../diagnostics/runner-target';
import type { SftpSession, SshConnection, SshPool, SshTarget } from '../ssh/types';
import { SshChannelError } from '../ssh/ssh-errors';
import {
  cleanScript,
  installCommand,
  parseClean,
  parseInstall,
  parsePrepare,
  pinnedKeyText,
  prepareScript,
  SCRIPT_COMMAND,
  runnerLayout,
  runnerLayoutOf,
  usableStatRecord,
  versionDirName,
  sftpTempPath,
  type InstallMode,
  type InstallOutcome,
  type PrepareFacts,
} from './deploy-scripts';
import { isRunnerNotBuilt } from './artifacts';
import { artifactsNotBuilt, targetNotBuilt, type ArtifactsStatus, type LocalArtifacts, type VerifiedArtifact } from './local-artifacts';
import type { InstallationKeys } from './payload';

/** Why a deploy could not happen on this host at all; `auto` mode runs the script directly instead. */
export const DIRECT_FALLBACK_REASONS = ['no-cache-location', 'unsupported-platform', 'no-sha256-tool', 'no-artifact', 'no-artifacts', 'no-space'] as const;
/** A structural reason of RUNNER_DEPLOY_FAILED, in `error.details.reason`. */
export type DeployFailureReason = (typeof DIRECT_FALLBACK_REASONS)[number] | 'script-failed' | 'upload-failed';

/** True when the error says the runner cannot work on this host (so `auto` mode should run directly); the message says why. */
export function isDirectFallback(err: unknown): err is CroniumError {
  return (
    isCroniumError(err) &&
    err.code === 'RUNNER_DEPLOY_FAILED' &&
    (DIRECT_FALLBACK_REASONS as readonly unknown[]).includes(err.details?.reason)
  );
}

/** The host id a runner deployed by this installation answers to (its `host-id.<id>` file; payloads carry it). */
export function runnerHostId(hostDbId: number, installationKeyId: string): string {
  return `h${hostDbId}-${installationKeyId.slice(0, 12)}`;
}

/** A row of runner_deployments, as the API shows it. */
export interface DeploymentRecord {
  id: number;
  host: string;
  version: string;
  target: string;
  path: string | null;
  sha256: string;
  status: 'deploying' | 'ready' | 'failed' | 'removed';
  error: string | null;
  createdAt: number;
  updatedAt: number;
  verifiedAt: number | null;
}

/** The outcome of a deploy (or of the per-run check): where the verified runner is. */
export interface DeployResult {
  deployment: DeploymentRecord;
  host: string;
  version: string;
  protocol: number;
  target: string;
  /** The binary on the host. */
  path: string;
  cacheDir: string;
  /** `<cacheDir>/state`, the runner's default state dir. */
  stateDir: string;
  /** What payloads for this host must carry as hostId. */
  hostId: string;
  sha256: string;
  /** The host's fastest SHA-256 tool, chosen once here (openssl, sha256sum, shasum or sha256): the per-run check uses it alone. */
  shaTool?: string;
  /** From the store (known()): the stat record the per-run check last printed for this binary. */
  statRecord?: string;
  /** True when the verified binary was already there (nothing uploaded). */
  cached: boolean;
  /** Set when a cached binary failed its check (RUNNER_INTEGRITY_FAILED, recorded) and was replaced. */
  integrityFailure: string | null;
  /** How the binary travelled, when it did. */
  transport: 'exec-gzip' | 'exec' | 'sftp' | null;
  uploadedBytes: number;
  /** Version dirs removed to keep two. */
  pruned: string[];
  timings: { connectMs: number; prepareMs: number; uploadMs: number; totalMs: number };
}

/** The outcome of a clean. */
export interface CleanResult {
  host: string;
  /** Version dirs removed, with their location. */
  removed: { location: string; path: string }[];
  /** Deployment rows marked removed. */
  deployments: number;
}

/** What the deployer needs from the core. */
export interface RunnerDeployerDeps {
  store: DataStore;
  pool: SshPool;
  /** Resolves a host of the inventory (NOT_FOUND when there is none) to its target, jump chain included. */
  resolve: (name: string) => Promise<SshTarget>;
  keys: InstallationKeys;
  artifacts: LocalArtifacts;
  /**
   * Builds a target the artifacts lack on the first deploy that needs it (a checkout with Go);
   * without it, or when it cannot build, such a deploy fails "no-artifact(s)" (auto mode runs directly).
   */
  builder?: { build(target: string, signal?: AbortSignal): Promise<void> };
  audit?: AuditLog;
  /** Upload by SFTP where the host has it (default); false: always the exec stream. */
  sftp?: boolean;
}

/** Deploys, checks, lists and cleans runner deployments. */
export class RunnerDeployer {
  readonly #inflight = new Map<string, Promise<DeployResult>>();
  /** Hosts whose SFTP failed: later deploys go straight to the exec stream. */
  readonly #noSftp = new Set<string>();
  #recordedArtifacts = '';

  constructor(private readonly deps: RunnerDeployerDeps) {}

  /**
   * Makes sure the host has the verified runner and returns where: a cache hit costs one round
   * trip (this is the check before every run). Concurrent calls for one host share one deploy.
   * `conn`: an open connection to the host to use instead of the pool's (the executor's).
   */
  /**
   * The runner this installation last verified on the host, from the store, when it is the one it
   * would deploy now (same version and SHA-256 as the verified local artifact for its target):
   * runner mode then goes straight to the per-run check on the host (one round trip), which
   * falls back to a full deploy-or-verify when the binary is not there or not right. Undefined
   * when there is no such record (nothing touches the host here).
   */
  async known(name: string): Promise<DeployResult | undefined> {
    let status: ArtifactsStatus;
    let hostDbId: number;
    try {
      hostDbId = await this.#hostDbId(name);
      status = await this.deps.artifacts.status();
    } catch {
      return undefined;
    }
    if (!status.ok) return undefined;
    const [row] = await this.#readyDeployment().execute({ hostId: hostDbId, version: status.version });
    const entry = row && status.artifacts.find((a) => a.target === row.target && a.sha256 === row.sha256 && a.status === 'verified');
    if (!row?.path || !entry) return undefined;
    const layout = runnerLayoutOf(row.path, status.version, entry.sha256);
    if (layout.path !== row.path) return undefined;
    return {
      deployment: this.#toRecord(row, name),
      host: name,
      version: status.version,
      protocol: status.protocol,
      target: row.target,
      path: layout.path,
      cacheDir: layout.cacheDir,
      stateDir: layout.stateDir,
      hostId: runnerHostId(hostDbId, this.deps.keys.keyId()),
      sha256: entry.sha256,
      ...(row.statRecord ? { statRecord: row.statRecord } : {}),
      cached: true,
      integrityFailure: null,
      transport: null,
      uploadedBytes: 0,
      pruned: [],
      timings: { connectMs: 0, prepareMs: 0, uploadMs: 0, totalMs: 0 },
    };
  }

  /**
   * Keeps the stat record the per-run check printed for the binary at `path` (it hashed right just
   * before), so a later app process can skip the hash too while the binary stats the same.
   */
  async recordStat(name: string, path: string, record: string | null): Promise<void> {
    const { runnerDeployments, hosts } = this.deps.store.schema;
    await this.deps.store.db
      .update(runnerDeployments)
      .set({ statRecord: record })
      .where(and(inArray(runnerDeployments.hostId, this.deps.store.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, name))), eq(runnerDeployments.path, path), eq(runnerDeployments.status, 'ready')));
  }

  deploy(name: string, opts: { signal?: AbortSignal; conn?: SshConnection } = {}): Promise<DeployResult> {
    const running = this.#inflight.get(name);
    if (running) return running;
    const p = this.#deploy(name, opts.signal, opts.conn).finally(() => this.#inflight.delete(name));
    this.#inflight.set(name, p);
    return p;
  }

  /** The local artifacts and their verdicts (recorded in runner_artifacts). */
  async artifacts(): Promise<ArtifactsStatus> {
    const status = await this.deps.artifacts.status();
    await this.#recordArtifacts(status, true);
    return status;
  }

  /** Deployment rows, newest first; of one host when named. */
  async deployments(opts: { name?: string; limit?: number } = {}): Promise<DeploymentRecord[]> {
    const { runnerDeployments, hosts } = this.deps.store.schema;
    const hostId = opts.name === undefined ? undefined : await this.#hostDbId(opts.name);
    const rows = await this.deps.store.db
      .select({ d: runnerDeployments, host: hosts.name })
      .from(runnerDeployments)
      .innerJoin(hosts, eq(hosts.id, runnerDeployments.hostId))
      .where(hostId === undefined ? undefined : eq(runnerDeployments.hostId, hostId))
      .orderBy(desc(runnerDeployments.updatedAt), desc(runnerDeployments.id))
      .limit(opts.limit ?? 100);
    return rows.map((r) => toRecord(r.d, r.host));
  }

  /** Removes every cached runner version from the host (the state dir stays) and marks its deployments removed. */
  async clean(name: string, opts: { signal?: AbortSignal } = {}): Promise<CleanResult> {
    const hostDbId = await this.#hostDbId(name);
    const conn = await this.deps.pool.connect(await this.deps.resolve(name), opts.signal);
    const res = await conn.exec(SCRIPT_COMMAND, { stdin: cleanScript(), ...(opts.signal ? { signal: opts.signal } : {}) });
    const out = parseClean(res.stdout);
    if (!out?.complete) {
      throw new CroniumError('RUNNER_DEPLOY_FAILED', `the clean script did not run on ${name}: ${describeExec(res)}`, undefined, { reason: 'script-failed' });
    }
    if (out.failed.length) {
      const f = out.failed.map((x) => `${x.path}/${x.dir}: ${x.message}`).join('; ');
      throw new CroniumError('RUNNER_DEPLOY_FAILED', `could not remove every cached runner on ${name}: ${f}`, undefined, { reason: 'script-failed' });
    }
    const now = Date.now();
    const { runnerDeployments } = this.deps.store.schema;
    const marked = await this.deps.store.db
      .update(runnerDeployments)
      .set({ status: 'removed', updatedAt: now })
      .where(and(eq(runnerDeployments.hostId, hostDbId), inArray(runnerDeployments.status, ['ready', 'deploying'])))
      .returning({ id: runnerDeployments.id });
    const removed = out.removed.map((r) => ({ location: r.location, path: `${r.path}/${r.dir}` }));
    await this.deps.audit?.record('runner.clean', name, { removed: removed.map((r) => r.path) });
    return { host: name, removed, deployments: marked.length };
  }

  async #deploy(name: string, signal: AbortSignal | undefined, given: SshConnection | undefined): Promise<DeployResult> {
    const t0 = performance.now();
    const hostDbId = await this.#hostDbId(name);
    // The local artifacts are verified before anything reaches the host; undefined: none built yet, and the builder may build them.
    let status = await this.#localStatus(name);

    const conn = given ?? (await this.deps.pool.connect(await this.deps.resolve(name), signal));
    const tConnected = performance.now();
    const sig = signal ? { signal } : {};
    const rec = new DeploymentRow(this.deps.store, hostDbId, status?.version ?? '-');
    const hostId = runnerHostId(hostDbId, this.deps.keys.keyId());
    const prepare = async (s: ArtifactsStatus | undefined) => {
      const prep = await conn.exec(SCRIPT_COMMAND, { stdin: prepareScript(s ? s.artifacts.map((a) => versionDirName(s.version, a.sha256)) : [], hostId), ...sig });
      const parsed = parsePrepare(prep.stdout);
      if (!parsed?.facts.complete) {
        throw new CroniumError('RUNNER_DEPLOY_FAILED', `the deploy script did not run on ${name}: ${describeExec(prep)}`, 'check the host with: cronium diagnose ' + name, {
          reason: 'script-failed',
        });
      }
      return parsed;
    };
    try {
      let facts = await prepare(status);
      const match = runnerTargetFor(facts.uname.s, facts.uname.m, facts.uname.longBit);
      if (!match.target) {
        const uname = `${facts.uname.s} ${facts.uname.m}`.trim();
        throw new CroniumError('RUNNER_DEPLOY_FAILED', `${match.reason} (uname -sm: "${uname}", LONG_BIT ${facts.uname.longBit || '?'})`, 'run scripts on this host with --mode direct', {
          reason: 'unsupported-platform',
          uname,
          longBit: facts.uname.longBit,
        });
      }
      rec.target = match.target;
      if (!status?.artifacts.some((a) => a.target === match.target)) {
        // Nothing built for this target: build it now where this is a checkout with Go, then look at the host's cache again.
        status = await this.#buildFor(name, match.target, status, signal);
        rec.version = status.version;
        facts = await prepare(status);
      }
      const tPrepared = performance.now();
      const art = await this.deps.artifacts.artifact(match.target);
      rec.sha256 = art.entry.sha256;
      if (!facts.chosen) throw noLocation(name, facts);
      if (!facts.shaTool) {
        throw new CroniumError('RUNNER_DEPLOY_FAILED', `${name} has no sha256sum, shasum, sha256 or openssl to verify the runner with`, 'install coreutils (sha256sum) on the host, or use --mode direct', {
          reason: 'no-sha256-tool',
        });
      }
      const dirName = versionDirName(art.version, art.entry.sha256);
      const { dir, path, stateDir } = runnerLayout(facts.chosen, art.version, art.entry.sha256);
      rec.path = path;
      const pubPem = this.deps.keys.publicKeyPem();
      const pubSha = sha256Hex(Buffer.from(pinnedKeyText(pubPem)));
      const base = {
        host: name,
        version: art.version,
        protocol: art.protocol,
        target: match.target,
        path,
        cacheDir: facts.chosen,
        stateDir,
        hostId,
        sha256: art.entry.sha256,
        shaTool: facts.shaTool,
      };

      const have = facts.have.get(dirName);
      let integrityFailure: string | null = null;
      let mode: InstallMode = 'raw';
      if (have && have.sha256 === art.entry.sha256) {
        if (have.pubSha256 === pubSha && have.hostId === hostId) {
          const deployment = await rec.verified();
          // Counted for the runner's health (cache hit rate); one small row per check.
          await this.deps.audit?.record('runner.cache-hit', name, { version: art.version, target: match.target });
          return {
            ...base,
            deployment: this.#toRecord(deployment, name),
            cached: true,
            integrityFailure: null,
            transport: null,
            uploadedBytes: 0,
            pruned: [],
            timings: timings(t0, tConnected, tPrepared, tPrepared),
          };
        }
        // The binary is right, its pinned key or host id is not (another installation deployed here): rewrite those.
        mode = 'none';
      } else if (have) {
        integrityFailure = `the cached runner at ${path} has SHA-256 ${have.sha256 || '(unreadable)'}, expected ${art.entry.sha256}: it was changed on the host and will not be run; replacing it`;
        await rec.integrityFailed(integrityFailure);
        await this.deps.audit?.record('runner.integrity-failed', name, { path, expected: art.entry.sha256, actual: have.sha256 });
      }

      await rec.start();
      const { transport, bytes, outcome } = await this.#install(conn, name, art, mode, { cacheDir: facts.chosen, dir, pubPem, hostId, gzip: facts.gzip }, signal);
      const tUploaded = performance.now();
      const record = outcome.stat.join('\n');
      const statRecord = usableStatRecord(record) ? record : null;
      const deployment = await rec.ready(statRecord);
      if (outcome.removed.length) await rec.markPruned(outcome.removed.map((d) => `${facts.chosen}/${d}/cronium-runner`));
      await this.deps.audit?.record('runner.deploy', name, { version: art.version, target: match.target, path, sha256: art.entry.sha256, replaced: integrityFailure !== null });
      return {
        ...base,
        deployment: this.#toRecord(deployment, name),
        cached: false,
        integrityFailure,
        transport,
        uploadedBytes: bytes,
        pruned: outcome.removed,
        ...(statRecord ? { statRecord } : {}),
        timings: timings(t0, tConnected, tPrepared, tUploaded),
      };
    } catch (err) {
      // Nothing built here at all is this machine's state, not the host's: no deployment row.
      if (isCroniumError(err) && err.details?.reason === 'no-artifacts') throw err;
      if (isCroniumError(err) && (err.code === 'RUNNER_DEPLOY_FAILED' || err.code === 'RUNNER_INTEGRITY_FAILED')) await rec.failed(`${err.code}: ${err.message}`);
      else if (rec.id !== undefined) await rec.failed(`${isCroniumError(err) ? err.code : 'INTERNAL'}: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** The verified local artifacts; undefined when none are built and a builder may build them. */
  async #localStatus(name: string): Promise<ArtifactsStatus | undefined> {
    let status: ArtifactsStatus;
    try {
      status = await this.deps.artifacts.status();
    } catch (e) {
      // Nothing built is not an integrity failure (nothing can have been tampered with): build, or let auto mode run directly.
      if (!isRunnerNotBuilt(e)) throw e;
      if (this.deps.builder) return undefined;
      throw artifactsNotBuilt(this.deps.artifacts.dir);
    }
    await this.#recordArtifacts(status);
    if (!status.ok) {
      // A manifest with any artifact that does not verify is not trusted for any target.
      const bad = status.artifacts.filter((a) => a.status !== 'verified').map((a) => `${a.target}: ${a.error ?? 'invalid'}`);
      throw new CroniumError(
        'RUNNER_INTEGRITY_FAILED',
        `the runner artifacts in ${status.dir} do not verify (${bad.join('; ') || 'no artifacts'}); nothing was uploaded to ${name}`,
        'rebuild them (cronium runner build) or reinstall Cronium; check with: cronium runner verify',
        { reason: 'local-artifact', invalid: bad },
      );
    }
    return status;
  }

  /** Builds the target on demand and returns the new verified status; the "no-artifact(s)" fallback when it cannot. */
  async #buildFor(name: string, target: string, before: ArtifactsStatus | undefined, signal: AbortSignal | undefined): Promise<ArtifactsStatus> {
    const dir = this.deps.artifacts.dir;
    const missing = (buildError?: string) => (before ? targetNotBuilt(dir, target, buildError) : artifactsNotBuilt(dir, buildError));
    if (!this.deps.builder) throw missing();
    try {
      await this.deps.builder.build(target, signal);
    } catch (e) {
      signal?.throwIfAborted();
      // Without Go the reason is the usual one; a build that failed says how, in one line.
      const noGo = isCroniumError(e) && /cannot run the Go toolchain/.test(e.message);
      throw missing(noGo ? undefined : ((e as Error).message.split('\n')[0] ?? 'unknown error'));
    }
    const status = await this.#localStatus(name);
    if (!status?.artifacts.some((a) => a.target === target)) throw missing('the build did not produce it');
    return status;
  }

  async #install(
    conn: SshConnection,
    name: string,
    art: VerifiedArtifact,
    mode: InstallMode,
    where: { cacheDir: string; dir: string; pubPem: string; hostId: string; gzip: boolean },
    signal: AbortSignal | undefined,
  ): Promise<{ transport: DeployResult['transport']; bytes: number; outcome: InstallOutcome }> {
    const tag = randomBytes(6).toString('hex');
    const sig = signal ? { signal } : {};
    let transport: DeployResult['transport'] = null;
    let stdin: Buffer | undefined;
    if (mode !== 'none') {
      // SFTP first where the host has it; a stream over exec (gzip where it can) otherwise.
      if (this.deps.sftp !== false && !this.#noSftp.has(name) && !(await this.#sftpKnownMissing(name)) && (await this.#sftpPut(conn, name, sftpTempPath(where.cacheDir, tag), art.bytes, signal))) {
        mode = 'put';
        transport = 'sftp';
      } else {
        mode = where.gzip ? 'gz' : 'raw';
        stdin = mode === 'gz' ? await art.gzipped() : art.bytes;
        transport = mode === 'gz' ? 'exec-gzip' : 'exec';
      }
    }
    const command = installCommand({ dir: where.dir, tag, sha256: art.entry.sha256, mode, publicKeyPem: where.pubPem, hostId: where.hostId });
    const res = await conn.exec(command, { stdin: stdin ?? '', ...sig });
    const outcome = parseInstall(res.stdout);
    if (!outcome || (!outcome.complete && !outcome.fail && outcome.mismatch === undefined)) {
      throw new CroniumError('RUNNER_DEPLOY_FAILED', `the install command did not run: ${describeExec(res)}`, undefined, { reason: 'upload-failed' });
    }
    if (outcome.fail) {
      const detail = outcome.fail.message.trim();
      // A full disk is the host's state, not a broken upload: auto mode runs the script directly.
      if (/no space left on device|disk quota exceeded/i.test(detail)) {
        throw new CroniumError('RUNNER_DEPLOY_FAILED', `the host has no space left for the runner in ${where.dir} (it needs about ${Math.ceil(art.entry.size / 1048576)} MiB): ${detail}`, `free space there, or run with --mode direct; auto mode already does`, { reason: 'no-space' });
      }
      throw new CroniumError('RUNNER_DEPLOY_FAILED', `installing the runner in ${where.dir} failed at ${outcome.fail.step}: ${detail}`, undefined, {
        reason: 'upload-failed',
      });
    }
    if (outcome.mismatch !== undefined) {
      throw new CroniumError('RUNNER_DEPLOY_FAILED', `the uploaded runner arrived corrupted (SHA-256 on the host ${outcome.mismatch || 'unreadable'}, expected ${art.entry.sha256}); nothing was installed`, 'retry the deploy', {
        reason: 'upload-failed',
      });
    }
    if (outcome.installed !== art.entry.sha256) {
      throw new CroniumError('RUNNER_INTEGRITY_FAILED', `after the rename, ${where.dir}/cronium-runner has SHA-256 ${outcome.installed || '(unreadable)'}, expected ${art.entry.sha256}`, 'retry the deploy', {
        reason: 'post-install-check',
      });
    }
    return { transport, bytes: transport === 'sftp' ? art.bytes.length : (stdin?.length ?? 0), outcome };
  }

  /** Writes the binary by SFTP; false (and remembered for the host) when SFTP is not to be had. Aborts propagate. */
  async #sftpPut(conn: SshConnection, name: string, path: string, bytes: Buffer, signal: AbortSignal | undefined): Promise<boolean> {
    let session: SftpSession | undefined;
    try {
      session = await conn.sftp(signal);
      await session.writeFile(path, bytes, 0o600);
      return true;
    } catch (err) {
      signal?.throwIfAborted();
      // No SFTP subsystem, or one a noisy login shell corrupts: the exec stream works anyway.
      const kind = (isCroniumError(err) ? err.details?.kind : undefined) as string | undefined;
      if (kind === 'unavailable' || !isCroniumError(err) || err.code === 'CONNECT_FAILED') this.#noSftp.add(name);
      // A missing subsystem is the host's make-up: remembered in the inventory, so later processes
      // (each CLI run) do not ask again; diagnose checks it afresh.
      if (kind === 'unavailable') await recordSftpUnavailable(this.deps.store, name, err instanceof SshChannelError ? err.description : (err as Error).message);
      if (session && !session.closed) await session.unlink(path).catch(() => undefined);
      return false;
    } finally {
      await session?.close().catch(() => undefined);
    }
  }

  /** True when the inventory says the host has no SFTP. */
  async #sftpKnownMissing(name: string): Promise<boolean> {
    const { hosts } = this.deps.store.schema;
    const [row] = await this.deps.store.db.select({ why: hosts.sftpUnavailable }).from(hosts).where(eq(hosts.name, name));
    return row?.why != null;
  }

  #toRecord(row: typeof runnerDeployments.$inferSelect, host: string): DeploymentRecord {
    return toRecord(row, host);
  }

  // A fan-out's every run asks both (known): built once.
  readonly #hostIdOf = preparedOnce(() => {
    const { hosts } = this.deps.store.schema;
    return this.deps.store.db.select({ id: hosts.id }).from(hosts).where(eq(hosts.name, sql.placeholder('name'))).prepare();
  });
  readonly #readyDeployment = preparedOnce(() => {
    const { runnerDeployments } = this.deps.store.schema;
    return this.deps.store.db
      .select()
      .from(runnerDeployments)
      .where(and(eq(runnerDeployments.hostId, sql.placeholder('hostId')), eq(runnerDeployments.status, 'ready'), eq(runnerDeployments.version, sql.placeholder('version'))))
      .orderBy(desc(runnerDeployments.verifiedAt), desc(runnerDeployments.id))
      .limit(1)
      .prepare();
  });

  async #hostDbId(name: string): Promise<number> {
    const [row] = await this.#hostIdOf().execute({ name });
    if (!row) throw new CroniumError('NOT_FOUND', `no host named "${name}"`, 'list the hosts with: cronium hosts list');
    return row.id;
  }

  async #recordArtifacts(status: ArtifactsStatus, force = false): Promise<void> {
    const key = JSON.stringify([status.version, status.builtAt, status.artifacts.map((a) => [a.target, a.sha256, a.status, a.error])]);
    if (key === this.#recordedArtifacts && !force) return;
    const now = Date.now();
    const { runnerArtifacts } = this.deps.store.schema;
    await this.deps.store.tx(async (tx) => {
      for (const a of status.artifacts) {
        const values = {
          version: status.version,
          target: a.target,
          sha256: a.sha256,
          size: a.size,
          signerKind: status.signer.kind,
          signerFingerprint: status.signer.fingerprint,
          status: a.status,
          error: a.error,
          verifiedAt: now,
        };
        await tx
          .insert(runnerArtifacts)
          .values(values)
          .onConflictDoUpdate({ target: [runnerArtifacts.version, runnerArtifacts.target], set: values });
      }
    });
    this.#recordedArtifacts = key;
  }
}

/** The runner_deployments row of one deploy, written as the deploy goes. */
class DeploymentRow {
  id: number | undefined;
  target = 'unknown';
  sha256 = '';
  path: string | null = null;

  constructor(
    private readonly store: DataStore,
    private readonly hostId: number,
    /** Set once known (a deploy that builds the artifacts first learns it late). */
    public version: string,
  ) {}

  /** A cache hit: refresh the newest matching ready row, or record one (deployed by someone else). */
  async verified(): Promise<typeof runnerDeployments.$inferSelect> {
    const now = Date.now();
    const { runnerDeployments } = this.store.schema;
    const [row] = await this.store.db
      .select({ id: runnerDeployments.id })
      .from(runnerDeployments)
      .where(
        and(
          eq(runnerDeployments.hostId, this.hostId),
          eq(runnerDeployments.version, this.version),
          eq(runnerDeployments.sha256, this.sha256),
          eq(runnerDeployments.path, this.path ?? ''),
          eq(runnerDeployments.status, 'ready'),
        ),
      )
      .orderBy(desc(runnerDeployments.id))
      .limit(1);
    if (row) {
      // Verified again (a full check): a stat record from before no longer stands for it.
      const [updated] = await this.store.db.update(runnerDeployments).set({ verifiedAt: now, updatedAt: now, statRecord: null }).where(eq(runnerDeployments.id, row.id)).returning();
      return updated!;
    }
    return this.#insert('ready', null, now);
  }

  /** Starts the row of an upload. */
  async start(): Promise<void> {
    this.id = (await this.#insert('deploying', null, Date.now())).id;
  }

  /** Marks the upload ready, with the stat record the install printed before its last hash (null: none usable). */
  async ready(statRecord: string | null = null): Promise<typeof runnerDeployments.$inferSelect> {
    const now = Date.now();
    const { runnerDeployments } = this.store.schema;
    const [row] = await this.store.db.update(runnerDeployments).set({ status: 'ready', error: null, updatedAt: now, verifiedAt: now, statRecord }).where(eq(runnerDeployments.id, this.id!)).returning();
    return row!;
  }

  async failed(error: string): Promise<void> {
    const now = Date.now();
    const { runnerDeployments } = this.store.schema;
    if (this.id !== undefined) {
      await this.store.db.update(runnerDeployments).set({ status: 'failed', error, updatedAt: now, target: this.target, sha256: this.sha256, path: this.path }).where(eq(runnerDeployments.id, this.id));
    } else {
      await this.#insert('failed', error, now);
    }
  }

  /** A cached binary failed its check: the ready rows of that path become failed with the error (or a failed row is added when none was recorded). */
  async integrityFailed(error: string): Promise<void> {
    const now = Date.now();
    const { runnerDeployments } = this.store.schema;
    const updated = await this.store.db
      .update(runnerDeployments)
      .set({ status: 'failed', error: `RUNNER_INTEGRITY_FAILED: ${error}`, updatedAt: now })
      .where(and(eq(runnerDeployments.hostId, this.hostId), eq(runnerDeployments.path, this.path ?? ''), eq(runnerDeployments.status, 'ready')))
      .returning({ id: runnerDeployments.id });
    if (updated.length === 0) await this.#insert('failed', `RUNNER_INTEGRITY_FAILED: ${error}`, now);
  }

  /** Version dirs the install pruned: their rows are removed. */
  async markPruned(paths: string[]): Promise<void> {
    if (!paths.length) return;
    const { runnerDeployments } = this.store.schema;
    await this.store.db
      .update(runnerDeployments)
      .set({ status: 'removed', updatedAt: Date.now() })
      .where(and(eq(runnerDeployments.hostId, this.hostId), inArray(runnerDeployments.path, paths), inArray(runnerDeployments.status, ['ready', 'deploying', 'failed'])));
  }

  async #insert(status: 'deploying' | 'ready' | 'failed', error: string | null, now: number): Promise<typeof runnerDeployments.$inferSelect> {
    const { runnerDeployments } = this.store.schema;
    const [row] = await this.store.db
      .insert(runnerDeployments)
      .values({
        hostId: this.hostId,
        version: this.version,
        target: this.target,
        path: this.path,
        sha256: this.sha256,
        status,
        error,
        createdAt: now,
        updatedAt: now,
        verifiedAt: status === 'ready' ? now : null,
      })
      .returning();
    return row!;
  }
}

function toRecord(row: typeof runnerDeployments.$inferSelect, host: string): DeploymentRecord {
  return {
    id: row.id,
    host,
    version: row.version,
    target: row.target,
    path: row.path,
    sha256: row.sha256,
    status: row.status,
    error: row.error,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    verifiedAt: row.verifiedAt,
  };
}

/** RUNNER_DEPLOY_FAILED naming every cache location and why it cannot hold the runner. */
function noLocation(name: string, facts: PrepareFacts): CroniumError {
  const locations = CACHE_LOCATIONS.map((loc) => {
    const c = facts.facts.caches.find((x) => x.id === loc.id);
    const problem = c ? (cacheProblem(c, facts.uid) ?? 'unusable') : 'not probed';
    return { id: loc.id, label: loc.label, path: c?.path || null, problem };
  });
  const list = locations.map((l) => `${l.path ?? l.label}: ${l.problem}`).join('; ');
  return new CroniumError(
    'RUNNER_DEPLOY_FAILED',
    `no runner cache location on ${name} is writable and executable: ${list}`,
    'give the runner one private, writable, executable place (e.g. remove noexec from /tmp or /dev/shm, or point XDG_CACHE_HOME at an exec mount), or use --mode direct',
    { reason: 'no-cache-location', locations },
  );
}

function describeExec(res: { code: number | null; signal: string | null; stderr: Buffer }): string {
  const err = res.stderr.toString('utf8').trim().split('\n').slice(-3).join(' / ').slice(0, 500);
  return `exit ${res.code ?? `signal ${res.signal ?? '?'}`}${err ? `: ${err}` : ''}`;
}

function timings(t0: number, connected: number, prepared: number, uploaded: number): DeployResult['timings'] {
  const r = (x: number) => Math.round(x * 10) / 10;
  return { connectMs: r(connected - t0), prepareMs: r(prepared - connected), uploadMs: r(uploaded - prepared), totalMs: r(performance.now() - t0) };
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Records in the inventory why the host has no SFTP (null: it has); runner deploys read it. */
export async function recordSftpUnavailable(store: DataStore, name: string, why: string | null): Promise<void> {
  const { hosts } = store.schema;
  await store.db.update(hosts).set({ sftpUnavailable: why }).where(eq(hosts.name, name));
}
