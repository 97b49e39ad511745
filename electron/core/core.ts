/**
 * The Electron-free core: everything the three doors (desktop, CLI, headless) share.
 * Doors open it with their own SecretBox and door name, then bind `dispatch` to their
 * transport and forward `events` to their clients.
 */
import { join } from 'node:path';
import { BlobStore } from './blobs/blob-store';
import { ScheduleHealth } from './scheduler/health';
import { HealthService } from './scheduler/health-service';
import { createDispatcher, type Dispatch } from './api/dispatcher';
import { createHandlers } from './api/handlers';
import { DiagnosticsService } from './diagnostics/diagnostics-service';
import { AuditLog } from './audit/audit-log';
import { openStore, type Store } from './db/database';
import { EventBus } from './events/event-bus';
import { ExecService } from './exec/exec-service';
import { Executor } from './exec/executor';
import { RunnerExecutor } from './exec/runner-mode';
import { HostService } from './hosts/host-service';
import { HostTrustService } from './hosts/host-trust';
import { LogService } from './logs/log-service';
import { JobQueue } from './queue/job-queue';
import { ScheduleService } from './scheduler/schedule-service';
import { SettingsService } from './settings/settings-service';
import { StatsService } from './stats/stats-service';
import { HelperApi } from './helper-api/helper-api';
import { HelperHttpDoor } from './helper-api/http-door';
import { HelperRuntime } from './helper-api/runtime';
import { HelperTokens } from './helper-api/tokens';
import { VariableService } from './vars/variable-service';
import { FollowupService } from './scripts/followups';
import { ScriptService } from './scripts/script-service';
import type { WorkerOptions } from './exec/worker';
import { assetPath, ensureDataDir, packageRoot, PRODUCT_NAME } from './paths';
import { RunnerDeployer } from './runner/deploy';
import { LocalArtifacts } from './runner/local-artifacts';
import { releasePublicKey } from './runner/release-key';
import { OnDemandBuilder } from './runner/on-demand-build';
import { InstallationKeys } from './runner/payload';
import { KeyFileSecretBox, type SecretBox } from './secrets/secret-box';
import { resealLegacy } from './secrets/reseal';
import { SqliteHostKeyStore, type HostKeyStore } from './ssh/host-key-store';
import { HostCaStore } from './ssh/host-cas';
import { OpenSshPool, TransportRouter } from './ssh/openssh-transport';
import { PromptBroker } from './ssh/prompt-broker';
import { Ssh2Pool, type Ssh2PoolOptions } from './ssh/ssh2-pool';
import type { SshPool } from './ssh/types';

/** Which door opened the core. */
export type Door = 'desktop' | 'headless' | 'cli';

/** Options for opening the core. */
export interface CoreOptions {
  dataDir: string;
  door: Door;
  /** The desktop passes its safeStorage box; the CLI and headless doors use the key file. */
  secrets?: SecretBox;
  /** SSH pool tuning, and the known_hosts files to honour (default: ~/.ssh/known_hosts). */
  ssh?: Ssh2PoolOptions & { knownHostsFiles?: string[] };
  /**
   * The runner artifacts to deploy (default: the installed ones, else resources/runner) and the
   * key they must be signed with (default: the artifacts dir's own cosign.pub, i.e. development builds).
   * buildOnDemand: build a target the artifacts lack on the first deploy that needs it (default: when
   * the artifacts dir is a source checkout's resources/runner, next to the runner's Go sources).
   */
  runner?: { artifactsDir?: string; trustedPublicKeyPem?: string; buildOnDemand?: boolean };
}

/** The core's services, as the handlers see them. */
export interface Services {
  info: { name: string; version: string; dataDir: string; platform: string };
  store: Store;
  events: EventBus;
  /** Hosts' keyboard-interactive questions, asked of the app's clients (the desktop and headless doors). */
  prompts: PromptBroker;
  /** Host certificate authorities trusted in Cronium (the OpenSSH transport). */
  hostCas: HostCaStore;
  secrets: SecretBox;
  audit: AuditLog;
  hosts: HostService;
  diagnostics: DiagnosticsService;
  /** Runner deployment: artifacts, per-host deployments, deploy and clean. */
  runner: RunnerDeployer;
  /** Pinned host keys and known_hosts. */
  hostKeys: HostKeyStore;
  /** The SSH connection pool, shared by everything that reaches a host. */
  ssh: SshPool;
  /** Host-key review and trust (hosts.scanKeys, hosts.trust). */
  hostTrust: HostTrustService;
  /** The job queue (jobs and runs in SQLite, leases). */
  queue: JobQueue;
  /** Run logs: storage, live feed, retention. */
  logs: LogService;
  /** Runs one run on one host (direct mode; runner mode through its seam). Workers use it. */
  executor: Executor;
  /** The job API: run, list, get, cancel, logs; workers of this process attach to it. */
  jobs: ExecService;
  /** Cron schedules. */
  schedules: ScheduleService;
  /** Schedules' health transitions (missed, late, failing, recovered) and their alerts; the scheduler records them. */
  health: ScheduleHealth;
  /** Schedules' alert settings, health view, events and test alerts. */
  scheduleHealth: HealthService;
  /** Files of push jobs and of saved scripts (blobs/<sha256>). */
  blobs: BlobStore;
  /** App settings (log retention, …). */
  settings: SettingsService;
  /** Aggregations for charts and the runner's health (read-only SQL). */
  stats: StatsService;
  /** Variables for scripts: global and per host, secret ones sealed. */
  vars: VariableService;
  /** The helper API that scripts' runtime helpers reach (tunnel or in-band). */
  helperApi: HelperApi;
  /** Saved scripts and their follow-ups. */
  scripts: ScriptService;
  /** Fires follow-up jobs when runs of saved scripts end. */
  followups: FollowupService;
  /**
   * What every Worker of this core is given (spread into its options): masking of the secret
   * variables a run's host sees, follow-ups fired in the transaction that ends a run, and the
   * recovery sweep of follow-ups a crash left unfired.
   */
  runHooks: Required<Pick<WorkerOptions, 'secrets' | 'elevation' | 'blobPath' | 'finalized' | 'recovered'>>;
}

/** The opened core: its services, the dispatcher over them, and close. */
export interface Core extends Services {
  dispatch: Dispatch;
  close(): void;
}

import { appVersion } from './version';
export { appVersion, useAppVersion } from './version';

/** Opens the data dir, the store (migrating it) and the services. */
export function openCore(options: CoreOptions): Core {
  const dataDir = ensureDataDir(options.dataDir);
  const store = openStore(dataDir);
  try {
    const events = new EventBus();
    const secrets = options.secrets ?? new KeyFileSecretBox(dataDir);
    resealLegacy(store.sqlite, secrets);
    const audit = new AuditLog(store.data, options.door === 'headless' ? 'headless' : options.door, store.db);
    const { knownHostsFiles, ...poolOptions } = options.ssh ?? {};
    const hostKeys = new SqliteHostKeyStore(store.db, knownHostsFiles ? { knownHostsFiles } : {});
    const builtin = new Ssh2Pool(hostKeys, poolOptions);
    // Hosts set (or found by import) to need it go through your own ssh, one ControlMaster each.
    const hostCas = new HostCaStore(store.db, audit);
    const openssh = new OpenSshPool({ dir: join(dataDir, 'ssh'), pinned: (name) => hostKeys.pinned(name).map((k) => k.publicKey), cas: () => hostCas.lines() });
    const ssh = new TransportRouter(builtin, openssh);
    // The app's clients answer hosts' questions (a dialog); the CLI sets a terminal prompt of its own.
    const prompts = new PromptBroker(events);
    if (options.door !== 'cli' && !poolOptions.prompter) ssh.setPrompter(prompts.ask);
    const hosts = new HostService(store.db, secrets, events, audit);
    hosts.caCovers = (address, port) => hostCas.covers(address, port);
    const blobs = new BlobStore(join(dataDir, 'blobs'));
    const health = new ScheduleHealth(store.sqlite, events);
    // Files of push jobs that retention removed go with them.
    blobs.prune(
      new Set(
        store.sqlite
          .prepare("select json_extract(push, '$.sha256') from jobs where push is not null union select f.value ->> '$.sha256' from jobs, json_each(jobs.files) f where jobs.files is not null union select f.value ->> '$.sha256' from scripts, json_each(scripts.files) f where scripts.files is not null")
          .pluck()
          .all() as string[],
      ),
    );
    const queue = new JobQueue(store);
    const logs = new LogService(store);
    const keys = new InstallationKeys(dataDir);
    const artifactsDir = options.runner?.artifactsDir ?? assetPath('runner', 'resources/runner');
    const runnerSrcDir = join(packageRoot(), 'runner');
    const checkoutDir = join(packageRoot(), 'resources', 'runner');
    const buildOnDemand = options.runner?.buildOnDemand ?? (options.runner?.artifactsDir === undefined && artifactsDir === checkoutDir && OnDemandBuilder.available(runnerSrcDir));
    const builder = buildOnDemand ? new OnDemandBuilder({ outDir: artifactsDir, runnerSrcDir, version: appVersion(), dataDir, events }) : undefined;
    const localArtifacts = new LocalArtifacts({
      dir: artifactsDir,
      ...((options.runner?.trustedPublicKeyPem ?? releasePublicKey()) ? { trustedPublicKeyPem: options.runner?.trustedPublicKeyPem ?? releasePublicKey() } : {}),
    });
    const deployer = new RunnerDeployer({
      db: store.db,
      pool: ssh,
      resolve: (name) => hosts.sshTarget(name),
      keys,
      artifacts: localArtifacts,
      ...(builder ? { builder } : {}),
      audit,
    });
    const vars = new VariableService(store.sqlite, secrets, audit);
    const followups = new FollowupService({ db: store.sqlite, queue, audit });
    const helperApi = new HelperApi({ db: store.sqlite, tokens: new HelperTokens(dataDir), vars, audit: new AuditLog(store.data, 'helper', store.db) });
    const helperDoor = new HelperHttpDoor(helperApi);
    const helpers = new HelperRuntime({ api: helperApi, door: helperDoor, tokens: helperApi.tokens });
    const settings = new SettingsService(store.data, audit, events, SettingsService.readSync(store.sqlite));
    settings.startRefresh();
    const services: Services = {
      info: { name: PRODUCT_NAME, version: appVersion(), dataDir, platform: process.platform },
      store,
      events,
      prompts,
      hostCas,
      secrets,
      audit,
      hosts,
      hostKeys,
      ssh,
      hostTrust: new HostTrustService(hosts, ssh, hostKeys, audit, events),
      queue,
      logs,
      executor: new Executor({ pool: ssh, resolve: (name) => hosts.sshTarget(name), runner: new RunnerExecutor({ deployer, keys, helpers, check: () => settings.execution().runnerCheck }) }),
      jobs: new ExecService({ db: store.sqlite, queue, logs, hosts, audit, blobs }),
      schedules: new ScheduleService(store, audit),
      health,
      blobs,
      scheduleHealth: new HealthService(store.sqlite, secrets, health, audit),
      settings,
      diagnostics: new DiagnosticsService({ db: store.db, pool: ssh, resolve: (name) => hosts.sshTarget(name), local: { dataDir, artifacts: localArtifacts, buildsOnDemand: builder !== undefined }, elevation: (name) => hosts.elevationCheckFor(name) }),
      runner: deployer,
      stats: new StatsService(store.sqlite),
      vars,
      helperApi,
      scripts: new ScriptService(store.sqlite, audit),
      followups,
      runHooks: {
        secrets: (_job, run) => vars.secretValuesFor(run.hostId),
        blobPath: (sha) => blobs.pathOf(sha),
        elevation: (host) => {
          try {
            return hosts.elevationFor(host);
          } catch (e) {
            return { error: `the elevation password of ${host} cannot be opened: ${(e as Error).message}`, hint: 'store it again: cronium hosts set NAME --elevation sudo-password --elevation-password-stdin' };
          }
        },
        finalized: (runIds) => void followups.fire(runIds),
        recovered: () => {
          try {
            followups.sweep();
          } catch (e) {
            process.stderr.write(`cronium: follow-up recovery failed: ${(e as Error).message}\n`);
          }
        },
      },
    };
    const close = () => {
      // Ends every SSH connection now (the sockets finish closing in the background).
      void ssh.close();
      helperDoor.close();
      settings.stopRefresh();
      logs.close();
      store.close();
    };
    return { ...services, dispatch: createDispatcher(createHandlers(services)), close };
  } catch (e) {
    store.close();
    throw e;
  }
}
