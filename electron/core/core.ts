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
import { AccountService } from './accounts/accounts';
import { authorize } from './accounts/access';
import { openStore, type Store } from './db/database';
import type { DataStore } from './db/store';
import type { PgStore } from './db/pg-store';
import type pg from 'pg';
import { EventBus } from './events/event-bus';
import { PgEventRelay } from './events/pg-event-relay';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ExecService } from './exec/exec-service';
import { Executor } from './exec/executor';
import { RunnerExecutor } from './exec/runner-mode';
import { HostService } from './hosts/host-service';
import { HostTrustService } from './hosts/host-trust';
import { LogService } from './logs/log-service';
import { JobQueue, sqliteQueue, type Queue } from './queue/job-queue';
import { OutputCompare } from './exec/compare';
import { ScheduleService } from './scheduler/schedule-service';
import { SettingsService, type StoredSettings } from './settings/settings-service';
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
import { DbHostKeyStore, type HostKeyStore } from './ssh/host-key-store';
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
  /** People with accounts and roles (a team server's; always on with a database, off by default on SQLite). */
  accounts?: boolean;
  /** The accounts' clock (sessions, TOTP, locks); tests move it. */
  now?: () => number;
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
  /** The job queue (jobs and runs with leases, in the store). */
  queue: Queue;
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
  /** A team server's accounts (issue #16); absent on SQLite (one person's app). */
  accounts?: AccountService;
  /** A team server's database (issue #16): sessions of their own for LISTEN; absent on SQLite. */
  database?: { url: string; session(name?: string): Promise<pg.Client> };
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

/** What the services run on: the store and what differs between its two databases. */
interface Backend {
  /** The store port every service uses. */
  data: DataStore;
  /** The SQLite store (its raw handle for the desktop's and the CLI's local paths); a team server's refuses. */
  store: Store;
  queue: Queue;
  logs: LogService;
  /** The settings as stored, read at open. */
  settings: StoredSettings;
  database?: Services['database'];
  /** The files of push jobs and scripts still referenced (the blob store keeps only those). */
  referencedBlobs: Set<string> | undefined;
  close(): void;
}

/** Opens the data dir, its SQLite store (migrating it) and the services: the desktop's and the CLI's core. */
export function openCore(options: CoreOptions): Core {
  const dataDir = ensureDataDir(options.dataDir);
  const store = openStore(dataDir);
  try {
    const secrets = options.secrets ?? new KeyFileSecretBox(dataDir);
    resealLegacy(store.sqlite, secrets);
    // Files of push jobs that retention removed go with them.
    const referencedBlobs = new Set(
      store.sqlite
        .prepare("select json_extract(push, '$.sha256') from jobs where push is not null union select f.value ->> '$.sha256' from jobs, json_each(jobs.files) f where jobs.files is not null union select f.value ->> '$.sha256' from scripts, json_each(scripts.files) f where scripts.files is not null")
        .pluck()
        .all() as string[],
    );
    const backend: Backend = {
      data: store.data,
      store,
      queue: sqliteQueue(store, new JobQueue(store)),
      logs: new LogService(store),
      settings: SettingsService.readSync(store.sqlite),
      referencedBlobs,
      close: () => store.close(),
    };
    return assemble({ ...options, secrets }, dataDir, backend);
  } catch (e) {
    store.close();
    throw e;
  }
}

/**
 * Opens a team server's core (issue #16): the same services on a PostgreSQL database shared
 * with the other servers (migrated under the migration lock at open), the data dir for this
 * server's own files (key files, SSH control sockets, blobs).
 */
export async function openTeamCore(options: CoreOptions & { databaseUrl: string; poolSize?: number }): Promise<Core> {
  const dataDir = ensureDataDir(options.dataDir);
  // Loaded here only: the desktop and the CLI never load the PostgreSQL driver.
  const [{ openPgStore, pgSession }, { PgJobQueue }] = await Promise.all([import('./db/pg-store'), import('./queue/pg-job-queue')]);
  const pg = await openPgStore(options.databaseUrl, options.poolSize ?? 10);
  try {
    const secrets = options.secrets ?? new KeyFileSecretBox(dataDir);
    const backend: Backend = {
      data: pg,
      store: teamStoreHandle(pg, options.databaseUrl),
      queue: new PgJobQueue(pg.pool, pg),
      logs: new LogService(pg),
      settings: await SettingsService.read(pg),
      // Another server may hold references this one cannot see in its own blob dir: nothing is pruned.
      referencedBlobs: undefined,
      database: { url: redactUrl(options.databaseUrl), session: (name?: string) => pgSession(options.databaseUrl, name) },
      close: () => void pg.close(),
    };
    return assemble({ ...options, secrets }, dataDir, backend);
  } catch (e) {
    await pg.close();
    throw e;
  }
}

/** A team server's `store`: the port, and a clear refusal where SQLite-only code asks for the file. */
/** A database URL as it may be shown: without its user and password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

function teamStoreHandle(pg: PgStore, url: string): Store {
  const redacted = redactUrl(url);
  const refuse = (): never => {
    throw new Error(`this core runs on PostgreSQL (${redacted}): the SQLite handle is not available here`);
  };
  return {
    data: pg,
    get db(): never {
      return refuse();
    },
    get sqlite(): never {
      return refuse();
    },
    path: redacted,
    schemaVersion: 0,
    close: () => void pg.close(),
  };
}

/** Builds the services over a backend. */
function assemble(options: CoreOptions & { secrets: SecretBox }, dataDir: string, backend: Backend): Core {
  const { data, store, queue, logs } = backend;
  const events = new EventBus();
  const secrets = options.secrets;
  const audit = new AuditLog(data, options.door === 'headless' ? 'headless' : options.door);
  const { knownHostsFiles, ...poolOptions } = options.ssh ?? {};
  const hostKeys = new DbHostKeyStore(data, knownHostsFiles ? { knownHostsFiles } : {});
  const builtin = new Ssh2Pool(hostKeys, poolOptions);
  // Hosts set (or found by import) to need it go through your own ssh, one ControlMaster each.
  const hostCas = new HostCaStore(data, audit);
  const openssh = new OpenSshPool({ dir: join(dataDir, 'ssh'), pinned: async (name) => (await hostKeys.pinned(name)).map((k) => k.publicKey), cas: () => hostCas.lines() });
  const ssh = new TransportRouter(builtin, openssh);
  // The app's clients answer hosts' questions (a dialog); the CLI sets a terminal prompt of its own.
  const prompts = new PromptBroker(events);
  if (options.door !== 'cli' && !poolOptions.prompter) ssh.setPrompter(prompts.ask);
  const hosts = new HostService(data, secrets, events, audit);
  hosts.caCovers = (address, port) => hostCas.covers(address, port);
  // A team server's blobs are in the team's database too (any server's worker sends them).
  const blobs = new BlobStore(join(dataDir, 'blobs'), backend.database ? data : undefined);
  const health = new ScheduleHealth(data, events);
  if (backend.referencedBlobs) blobs.prune(backend.referencedBlobs);
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
    store: data,
    pool: ssh,
    resolve: (name) => hosts.sshTarget(name),
    keys,
    artifacts: localArtifacts,
    ...(builder ? { builder } : {}),
    audit,
  });
  const vars = new VariableService(data, secrets, audit);
  const followups = new FollowupService({ store: data, queue, audit });
  const helperApi = new HelperApi({ store: data, tokens: new HelperTokens(dataDir), vars, audit: new AuditLog(data, 'helper') });
  const helperDoor = new HelperHttpDoor(helperApi);
  const helpers = new HelperRuntime({ api: helperApi, door: helperDoor, tokens: helperApi.tokens });
  const settings = new SettingsService(data, audit, events, backend.settings);
  settings.startRefresh();
  // A team server's events reach the clients of the other servers, and theirs its own.
  const relay = backend.database
    ? new PgEventRelay({ bus: events, serverId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`, session: backend.database.session, flushLogs: () => logs.flush(), readLog: (runId, from, limit) => logs.read(runId, from, limit) })
    : undefined;
  relay?.start();
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
    executor: new Executor({ pool: ssh, resolve: (name) => hosts.sshTarget(name), runner: new RunnerExecutor({ deployer, keys, helpers, check: () => settings.execution().runnerCheck, resident: () => process.env.CRONIUM_RUNNER_RESIDENT !== '0' }) }),
    jobs: new ExecService({ store: data, queue, logs, hosts, audit, blobs, compare: new OutputCompare({ store: data, logs }) }),
    schedules: new ScheduleService(data, audit),
    health,
    blobs,
    scheduleHealth: new HealthService(data, secrets, health, audit),
    settings,
    diagnostics: new DiagnosticsService({ store: data, pool: ssh, resolve: (name) => hosts.sshTarget(name), local: { dataDir, artifacts: localArtifacts, buildsOnDemand: builder !== undefined }, elevation: (name) => hosts.elevationCheckFor(name) }),
    runner: deployer,
    stats: new StatsService(data),
    vars,
    helperApi,
    scripts: new ScriptService(data, audit),
    followups,
    ...(backend.database ? { database: backend.database } : {}),
    ...(backend.database || options.accounts ? { accounts: new AccountService(data, secrets, audit, options.now) } : {}),
    runHooks: {
      secrets: (_job, run) => vars.secretValuesFor(run.hostId),
      blobPath: (sha) => blobs.path(sha),
      elevation: async (host) => {
        try {
          return await hosts.elevationFor(host);
        } catch (e) {
          return { error: `the elevation password of ${host} cannot be opened: ${(e as Error).message}`, hint: 'store it again: cronium hosts set NAME --elevation sudo-password --elevation-password-stdin' };
        }
      },
      finalized: async (runIds) => {
        await followups.fire(runIds);
      },
      recovered: async () => {
        try {
          await followups.sweep();
        } catch (e) {
          process.stderr.write(`cronium: follow-up recovery failed: ${(e as Error).message}\n`);
        }
      },
    },
  };
  const close = () => {
    // Ends every SSH connection now (the sockets finish closing in the background).
    services.executor.closeIdle();
    void ssh.close();
    helperDoor.close();
    settings.stopRefresh();
    void relay?.stop();
    // The last buffered log output is stored before the database goes: on SQLite at once, inside
    // close() (the file is closed when this returns); on PostgreSQL by the insert in flight.
    if (data.dialect === 'sqlite') {
      void logs.close();
      backend.close();
    } else void logs.close().finally(() => backend.close());
  };
  return { ...services, dispatch: createDispatcher(createHandlers(services), undefined, (method, args, who) => authorize(method, args as never, who, services)), close };
}
