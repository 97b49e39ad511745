/**
 * The typed API contract: every method and event that the renderer (or any other
 * client) can use, with zod schemas for arguments, results and payloads. This one list
 * is the source of the preload bridge, the main-process handler table, the headless
 * WebSocket bridge and the renderer's client; adding a method touches this file and
 * its handler, nothing else. Results are parsed on the way out too, so a field that is
 * not in a schema (a secret, say) can never reach a client.
 */
import { z } from 'zod';
import type { ApiErrorBody } from './errors';

/** A host's name: what the user types in `cronium run --host NAME`. */
export const HostName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'must be 1-63 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
  });

/** A tag on a host, used to select hosts for runs. */
export const Tag = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/, {
    error: 'must be 1-32 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
  });

/** A host group, e.g. "eu-west/databases": hosts belong to at most one. */
export const HostGroup = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/, {
    error: 'must be 1-64 characters of letters, digits, spaces, ".", "_", ":", "/" or "-", starting with a letter or digit',
  });

const hostnameLabel = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
/** A DNS name, an IPv4 address or an IPv6 address (without brackets). */
export const Address = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(253, { error: 'must be at most 253 characters' })
  .refine(
    (a) =>
      z.ipv4().safeParse(a).success ||
      z.ipv6().safeParse(a).success ||
      a.split('.').every((label) => hostnameLabel.test(label)),
    { error: 'must be a host name, an IPv4 address or an IPv6 address' },
  );

/** A TCP port. */
export const Port = z.int({ error: 'must be a whole number' }).min(1, { error: 'must be 1-65535' }).max(65535, { error: 'must be 1-65535' });

/** A remote login name. */
export const UserName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/, { error: 'must be a valid login name (letters, digits, "_", ".", "-")' });

/** A ProxyCommand: one line, run by the local shell with %h %p %r %n %% expanded. */
export const ProxyCommand = z.string().min(1).max(4096).refine((s) => !/[\0\n\r]/.test(s), { error: 'must be one line' });

/** A host's elevation setting. */
export const Elevation = z.enum(['none', 'sudo', 'sudo-password', 'doas', 'su']);
/** A sudo password: one line, at most 1024 bytes. */
export const ElevationPassword = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((s) => utf8Bytes(s) <= 1024 && !/[\0\n\r]/.test(s), { error: 'must be one line of at most 1024 bytes' });

/** Connection settings a host carries from its ssh_config (UserKnownHostsFile, HostKeyAlias, IdentityAgent, ConnectTimeout, ServerAliveInterval). */
export const HostSshOptions = z.strictObject({
  knownHostsFiles: z.array(z.string().min(1).max(4096)).max(16).optional(),
  hostKeyAlias: z.string().min(1).max(255).optional(),
  identityAgent: z.string().min(1).max(4096).optional(),
  connectTimeoutMs: z.int().min(0).max(3_600_000).optional(),
  serverAliveIntervalMs: z.int().min(0).max(86_400_000).optional(),
});

/** A host as every client sees it: never any secret, only whether one is stored. */
export const Host = z.object({
  id: z.int(),
  name: z.string(),
  address: z.string(),
  port: z.int(),
  user: z.string().nullable(),
  identityFile: z.string().nullable(),
  jump: z.string().nullable(),
  /** OpenSSH's ProxyCommand (a local command carrying the connection), or null. */
  proxyCommand: z.string().nullable(),
  tags: z.array(z.string()),
  /** The group the host belongs to (one per host), or null. */
  group: z.string().nullable(),
  hasPassword: z.boolean(),
  /** A passphrase for the identity file is stored (encrypted). */
  hasPassphrase: z.boolean(),
  /** Whether the user's ssh-agent keys are offered. */
  useAgent: z.boolean(),
  /** How elevated runs become root here (null: not set; such runs fail ELEVATION_FAILED). */
  elevation: z.enum(['none', 'sudo', 'sudo-password', 'doas', 'su']).nullable(),
  /** A password for elevation (sudo-password: the user's; su: root's) is stored (encrypted). */
  hasElevationPassword: z.boolean(),
  createdAt: z.int(),
  updatedAt: z.int(),
  /** ok / failing by the newer of the last diagnostics report and the last finished run; unknown before either. */
  reachability: z.enum(['ok', 'failing', 'unknown']),
  /** When reachability was last established (ms), or null. */
  reachabilityAt: z.int().nullable(),
  /** The host's OS (distribution, else kernel name) from the last diagnostics report that saw it, or null. */
  os: z.string().nullable(),
  /** The host's machine architecture (uname -m), or null. */
  arch: z.string().nullable(),
  /** The runner version of the host's last ready deployment, or null. */
  runnerVersion: z.string().nullable(),
  /** Why the host has no SFTP, as a deploy or diagnose last found (runner uploads then stream over exec), or null. */
  sftpUnavailable: z.string().nullable(),
  /** The SSH client that reaches it: auto (built-in unless opensshReason), builtin, or openssh (your own ssh). */
  transport: z.enum(['auto', 'builtin', 'openssh']),
  /** Why auto picks OpenSSH for it (hosts import found CertificateFile, PKCS11Provider, …), or null. */
  opensshReason: z.string().nullable(),
  /** The ssh_config alias it was imported from (the OpenSSH transport connects as `ssh ALIAS`), or null. */
  sshAlias: z.string().nullable(),
  /** Connection settings carried from its ssh_config, or null. */
  sshOptions: HostSshOptions.nullable(),
  /** The host's last finished run: when, its status and job, or null. */
  lastRunAt: z.int().nullable(),
  lastRunStatus: z.string().nullable(),
  lastRunJobId: z.int().nullable(),
});
/** A host as every client sees it. */
export type Host = z.infer<typeof Host>;

/** What a user gives to add a host. */
export const HostInput = z.strictObject({
  name: HostName,
  address: Address,
  port: Port.default(22),
  user: UserName.optional(),
  identityFile: z.string().min(1, { error: 'must not be empty' }).max(4096).optional(),
  password: z.string().min(1, { error: 'must not be empty' }).max(4096).optional(),
  /** The passphrase of an encrypted identity file (stored encrypted). */
  passphrase: z.string().min(1, { error: 'must not be empty' }).max(4096).optional(),
  /** Offer the user's ssh-agent keys (SSH_AUTH_SOCK; Pageant on Windows). */
  useAgent: z.boolean().default(true),
  jump: HostName.optional(),
  /** A local command that carries the connection (OpenSSH's ProxyCommand); not with jump. */
  proxyCommand: ProxyCommand.optional(),
  /** The SSH client: auto (default), builtin, or openssh (your own ssh with a ControlMaster). */
  transport: z.enum(['auto', 'builtin', 'openssh']).optional(),
  /** The ssh_config alias (and file, when not ~/.ssh/config) the OpenSSH transport connects as; with the reason auto picks it. */
  sshAlias: HostName.optional(),
  sshConfigFile: z.string().min(1).max(4096).optional(),
  opensshReason: z.string().min(1).max(500).optional(),
  /** Connection settings carried from ssh_config for the built-in transport. */
  sshOptions: z.lazy(() => HostSshOptions).optional(),
  tags: z.array(Tag).max(64).default([]),
  group: HostGroup.optional(),
  /** How elevated runs become root: sudo without a password, sudo with the stored elevationPassword, doas, or none. */
  elevation: Elevation.optional(),
  /** The password elevation needs: the SSH user's own for sudo-password, root's for su (stored encrypted). */
  elevationPassword: ElevationPassword.optional(),
});

/**
 * What `hosts.update` takes: the host's name and the fields to change. null clears an
 * optional field (a stored password or passphrase too); `tags` replaces the tags,
 * `addTags` / `removeTags` change them (bulk tagging); `newName` renames the host.
 */
export const HostUpdate = z.strictObject({
  name: HostName,
  newName: HostName.optional(),
  address: Address.optional(),
  port: Port.optional(),
  user: UserName.nullable().optional(),
  identityFile: z.string().min(1, { error: 'must not be empty' }).max(4096).nullable().optional(),
  password: z.string().min(1, { error: 'must not be empty' }).max(4096).nullable().optional(),
  passphrase: z.string().min(1, { error: 'must not be empty' }).max(4096).nullable().optional(),
  useAgent: z.boolean().optional(),
  jump: HostName.nullable().optional(),
  proxyCommand: ProxyCommand.nullable().optional(),
  transport: z.enum(['auto', 'builtin', 'openssh']).optional(),
  tags: z.array(Tag).max(64).optional(),
  addTags: z.array(Tag).max(64).optional(),
  removeTags: z.array(Tag).max(64).optional(),
  group: HostGroup.nullable().optional(),
  elevation: Elevation.nullable().optional(),
  elevationPassword: ElevationPassword.nullable().optional(),
});
/** What `hosts.update` takes. */
export type HostUpdate = z.output<typeof HostUpdate>;

/** A host-key fingerprint as OpenSSH prints it (`ssh-keygen -l`). */
export const HostKeyFingerprint = z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}$/, { error: 'must be a SHA256 fingerprint as ssh-keygen -l prints it: SHA256: and 43 base64 characters' });

/** The serialised form of an error, inside results that report per host. */
const ErrorBody = z.object({ code: z.string(), message: z.string(), hint: z.string().optional(), details: z.record(z.string(), z.unknown()).optional() });

/** What one host presents as its key, and whether it is trusted. */
export const HostKeyScanResult = z.object({
  name: z.string(),
  /** trusted: pinned or in known_hosts; unknown: never seen; mismatch: differs from the trusted key; error: could not be scanned. */
  state: z.enum(['trusted', 'unknown', 'mismatch', 'error']),
  algorithm: z.string().optional(),
  fingerprint: z.string().optional(),
  /** The trusted key it differs from (mismatch). */
  previousFingerprint: z.string().optional(),
  /** Where the trusted (or previous) key comes from. */
  source: z.enum(['pinned', 'known_hosts']).optional(),
  error: ErrorBody.optional(),
});

/** What `hosts.trust` pinned. */
export const HostTrustResult = z.object({
  name: z.string(),
  algorithm: z.string(),
  fingerprint: z.string(),
  /** The key pinned before, if it was another one. */
  previousFingerprint: z.string().nullable(),
  /** False when nothing had to change (acceptNew on a host whose key is already trusted). */
  pinned: z.boolean(),
  source: z.enum(['user', 'accept-new', 'known_hosts']),
});

/** A bad or unsupported line of an ssh_config, reported by `hosts.import`. */
export const ConfigProblem = z.object({ file: z.string(), line: z.int(), message: z.string() });

/** What `hosts.import` did (or, with dryRun, would do). */
export const HostImportResult = z.object({
  /** Names added, in the order they were added (jump hosts first). */
  added: z.array(z.string()),
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
  problems: z.array(ConfigProblem),
  /** The added hosts as imported, with the line that declared each. */
  plan: z.array(
    z.object({
      name: z.string(),
      address: z.string(),
      port: z.int(),
      user: z.string().nullable(),
      identityFile: z.string().nullable(),
      jump: z.string().nullable(),
      /** A ProxyCommand carried over (run locally at connect time), or null. */
      proxyCommand: z.string().nullable().optional(),
      /** Set when auto picks the OpenSSH transport for it: `openssh: WHY`. */
      transport: z.string().optional(),
      source: z.object({ file: z.string(), line: z.int() }),
    }),
  ),
  dryRun: z.boolean(),
  /** The config file that was read. */
  path: z.string(),
});

/** The outcome of one diagnostic check, and of a whole report (the worst of its checks). */
export const DiagnosticStatus = z.enum(['pass', 'warn', 'fail']);

/** One check of a diagnostics report. */
export const DiagnosticCheck = z.object({
  /** Stable: dns, tcp, ssh, auth, shell-noise, platform, interpreters, cache, sftp, forwarding, clock, then this machine's data-dir, key-files, artifacts, then runner. */
  id: z.string(),
  title: z.string(),
  status: DiagnosticStatus,
  /** A measured fact. */
  detail: z.string(),
  /** What to do about it; null when there is nothing to do. */
  hint: z.string().nullable(),
  /** The measurements behind the detail, for machines (never a secret). */
  data: z.record(z.string(), z.unknown()).optional(),
});

/** A diagnostics report of one host. */
export const DiagnosticReport = z.object({
  /** Stored report id; absent only if the report could not be stored. */
  id: z.int().optional(),
  host: z.string(),
  startedAt: z.int(),
  durationMs: z.int(),
  status: DiagnosticStatus,
  checks: z.array(DiagnosticCheck),
});
/** A diagnostics report of one host. */
export type DiagnosticReport = z.infer<typeof DiagnosticReport>;

/** Facts about the running app. */
export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  door: z.enum(['desktop', 'headless', 'cli']),
  dataDir: z.string(),
  platform: z.string(),
});

/** One runner artifact of the manifest, with the verdict on its hash and signature. */
export const RunnerArtifact = z.object({
  target: z.string(),
  path: z.string(),
  sha256: z.string(),
  size: z.int(),
  signature: z.string(),
  status: z.enum(['verified', 'invalid']),
  error: z.string().nullable(),
});

/** The runner artifacts of this installation. */
export const RunnerArtifacts = z.object({
  dir: z.string(),
  version: z.string(),
  protocol: z.int(),
  builtAt: z.string(),
  signer: z.object({ kind: z.enum(['release', 'development']), fingerprint: z.string() }),
  /** pinned: checked against a configured key; artifact-dir: against the directory's own cosign.pub (development builds). */
  trust: z.enum(['pinned', 'artifact-dir']),
  /** True when every artifact verifies. */
  ok: z.boolean(),
  artifacts: z.array(RunnerArtifact),
});

/** One deployment of the runner to a host (a row of runner_deployments). */
export const RunnerDeployment = z.object({
  id: z.int(),
  host: z.string(),
  version: z.string(),
  target: z.string(),
  /** The binary on the host. */
  path: z.string().nullable(),
  sha256: z.string(),
  status: z.enum(['deploying', 'ready', 'failed', 'removed']),
  /** Why it failed, code first (RUNNER_DEPLOY_FAILED: …, RUNNER_INTEGRITY_FAILED: …). */
  error: z.string().nullable(),
  createdAt: z.int(),
  updatedAt: z.int(),
  /** When the host last confirmed the binary's SHA-256. */
  verifiedAt: z.int().nullable(),
});
/** One deployment of the runner to a host. */
export type RunnerDeployment = z.infer<typeof RunnerDeployment>;

/** What a deploy did: the deployment, and whether it was a cache hit, a replacement or an upload. */
export const RunnerDeployResult = z.object({
  deployment: RunnerDeployment,
  host: z.string(),
  version: z.string(),
  protocol: z.int(),
  target: z.string(),
  path: z.string(),
  cacheDir: z.string(),
  stateDir: z.string(),
  hostId: z.string(),
  sha256: z.string(),
  /** The verified binary was already there; nothing was uploaded. */
  cached: z.boolean(),
  /** A cached binary failed its check (RUNNER_INTEGRITY_FAILED, recorded) and was replaced. */
  integrityFailure: z.string().nullable(),
  transport: z.enum(['sftp', 'exec-gzip', 'exec']).nullable(),
  uploadedBytes: z.int(),
  /** Older version dirs removed (two versions are kept). */
  pruned: z.array(z.string()),
  timings: z.object({ connectMs: z.number(), prepareMs: z.number(), uploadMs: z.number(), totalMs: z.number() }),
});

/** What `runner.clean` removed. */
export const RunnerCleanResult = z.object({
  host: z.string(),
  removed: z.array(z.object({ location: z.string(), path: z.string() })),
  /** Deployments marked removed. */
  deployments: z.int(),
});

/* ---- Execution: jobs, runs, logs, schedules (issue 5) ---- */

/** Interpreters a script may name. */
export const Interpreter = z.enum(['bash', 'sh', 'python3', 'node']);
/** Execution modes. */
export const ExecMode = z.enum(['auto', 'runner', 'direct']);
/** Statuses of a run. */
export const RunStatus = z.enum(['queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost']);
/** Statuses of a job. */
export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'partial', 'cancelled']);
/** An environment variable name for scripts. */
export const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'must be letters, digits and "_", not starting with a digit' });
/**
 * A script's environment. `__proto__` is refused by name: a JavaScript object cannot carry it as
 * a plain key (it would be dropped on the way, silently), and no real program needs it.
 */
const EnvRecord = z.preprocess((value, ctx) => {
  if (typeof value === 'object' && value !== null && Object.prototype.hasOwnProperty.call(value, '__proto__')) {
    ctx.issues.push({ code: 'custom', message: 'the name __proto__ is not accepted', input: value, path: ['__proto__'] });
  }
  return value;
}, z.record(EnvName, z.string().max(128 * 1024)));
const JsonValue: z.ZodType<unknown> = z.json();

/* ---- Scripts, variables, follow-ups (issue 6) ---- */

/** UTF-8 length of a string, in the web side too (no Buffer there). */
const utf8Bytes = (s: string) => new TextEncoder().encode(s).length;
/** A NUL byte cannot reach a remote shell or interpreter intact: refused where it comes in, not lost on the host. */
const noNul = { error: 'must not contain NUL bytes (\\0)' } as const;
const hasNoNul = (s: string) => !s.includes('\0');
/** A saved script's name. */
export const ScriptName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
  error: 'must be 1-63 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
});
/** When a follow-up starts: its script's run succeeded, failed (or timed out, or was lost), ended in any way but cancelled, or set its condition true. */
export const FollowupOn = z.enum(['success', 'failure', 'always', 'condition']);
/** A follow-up of a saved script; neither hosts nor tag: the same host as the run that fired it. */
export const Followup = z.strictObject({
  on: FollowupOn,
  script: ScriptName,
  hosts: z.array(HostName).min(1).max(1000).optional(),
  tag: Tag.optional(),
});
/** A follow-up of a saved script. */
export type Followup = z.infer<typeof Followup>;
/** A saved script with its follow-ups. */
export const ScriptView = z.object({
  id: z.int(),
  name: z.string(),
  interpreter: Interpreter,
  body: z.string(),
  followups: z.array(Followup),
  /** Its runs start as root through each host's elevation setting. */
  elevated: z.boolean(),
  /** Files it needs on the host, pushed (verified, skipped where already there) before it runs. */
  files: z.array(z.object({ name: z.string(), sha256: z.string(), size: z.int(), to: z.string(), mode: z.int(), owner: z.string().optional() })),
  createdAt: z.int(),
  updatedAt: z.int(),
});
/** A saved script with its follow-ups. */
export type ScriptView = z.infer<typeof ScriptView>;
/** A variable's key, as scripts name it. */
export const VarKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, {
  error: 'must be 1-128 characters of letters, digits, "_", "." or "-", starting with a letter or "_"',
});
/** A variable as clients see it: a secret's value never leaves the core (null). */
export const VariableView = z.object({
  key: z.string(),
  scope: z.enum(['global', 'host']),
  /** The host of a per-host variable; null for a global one. */
  host: z.string().nullable(),
  secret: z.boolean(),
  /** Null when secret: secrets never leave the core through the API. */
  value: z.string().nullable(),
  updatedAt: z.int(),
});
/** A variable as clients see it. */
export type VariableView = z.infer<typeof VariableView>;

/** Where a pushed file goes on the hosts. */
const PushTo = z
  .string()
  .min(2)
  .max(4096)
  .regex(/^\/[^\0\n]*$/, { error: 'must be an absolute path (starting with /), one line' })
  .refine((p) => !p.split('/').includes('..'), { error: 'must not contain ".."' });
const PushMode = z.int().min(0).max(0o7777);
const PushOwner = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/, { error: 'must be user or user:group' });

/** What `jobs.push` takes: a file on the app's machine, where it goes, and on which hosts. */
export const JobPushArgs = z
  .strictObject({
    /** An absolute path on the machine that runs Cronium. */
    path: z.string().min(1).max(4096),
    hosts: z.array(HostName).min(1, { error: 'name at least one host' }).max(10_000).optional(),
    tag: Tag.optional(),
    /** Absolute path on the hosts; ending in "/": into that directory under the file's name; "{host}" becomes each host's name. */
    to: PushTo,
    /** Permission bits (default 0644). */
    mode: PushMode.optional(),
    /** user or user:group on the hosts (needs root: with elevated, or the SSH user itself). */
    owner: PushOwner.optional(),
    /** Write it as root (each host's elevation setting). */
    elevated: z.boolean().default(false),
    concurrency: z.int().min(1).max(10_000).optional(),
    retries: z.int().min(0).max(10).default(0),
  })
  .refine((a) => (a.hosts !== undefined) !== (a.tag !== undefined), { error: 'give hosts or a tag', path: ['hosts'] });

/** What `jobs.run` takes: hosts (by names or a tag) and a script body or a command. */
export const JobRunArgs = z
  .strictObject({
    hosts: z.array(HostName).min(1, { error: 'name at least one host' }).max(10_000).optional(),
    tag: Tag.optional(),
    script: z.string().min(1, { error: 'is empty' }).max(1024 * 1024, { error: 'is larger than 1 MiB' }).refine(hasNoNul, noNul).optional(),
    command: z.string().min(1, { error: 'is empty' }).max(64 * 1024, { error: 'is longer than 64 KiB' }).refine(hasNoNul, noNul).optional(),
    interpreter: Interpreter.default('bash'),
    /** Default: the execution.defaultMode setting. */
    mode: ExecMode.optional(),
    /** The script's own timeout, from its start (default: the execution.defaultTimeoutMs setting). */
    timeoutMs: z.int().min(1).max(7 * 86_400_000).optional(),
    /** Hosts at once (default: the worker's limits). */
    concurrency: z.int().min(1).max(10_000).optional(),
    env: EnvRecord.default({}),
    /** JSON value the script reads on stdin. */
    input: JsonValue.optional(),
    /** Retries of connection failures (0: none). */
    retries: z.int().min(0).max(10).default(0),
    /** setVariable writes global variables (shared by every host) instead of the run's host's own. */
    globalVars: z.boolean().default(false),
    /** The secret variables the script may read with getVariable; any other secret is refused to it. */
    secrets: z.array(VarKey).max(100).default([]),
    /** Runner mode: the runs survive the app's connection (reattached after a restart). */
    detach: z.boolean().default(false),
    /** Start the script as root through each host's elevation setting (sudo, sudo with its stored password, doas). */
    elevated: z.boolean().default(false),
    /** A saved script (its body and interpreter; its follow-ups fire): the third alternative to script and command. */
    scriptName: ScriptName.optional(),
  })
  .superRefine((a, ctx) => {
    if ((a.hosts ? 1 : 0) + (a.tag ? 1 : 0) !== 1) ctx.addIssue({ code: 'custom', path: ['hosts'], message: 'give either hosts or a tag' });
    if ((a.script !== undefined ? 1 : 0) + (a.command !== undefined ? 1 : 0) + (a.scriptName !== undefined ? 1 : 0) !== 1) {
      ctx.addIssue({ code: 'custom', path: ['script'], message: 'give exactly one of a script, a command or a saved script name' });
    }
  });

/** Phase timings of a run in ms (null: not reached, or not in this mode). */
export const RunTimings = z.object({
  connect: z.number().nullable(),
  deploy: z.number().nullable(),
  start: z.number().nullable(),
  exec: z.number().nullable(),
  total: z.number().nullable(),
});

/** One run: a job on one host. */
export const RunView = z.object({
  id: z.int(),
  jobId: z.int(),
  host: z.string(),
  status: RunStatus,
  attempt: z.int(),
  exitCode: z.int().nullable(),
  signal: z.string().nullable(),
  mode: z.enum(['runner', 'direct']).nullable(),
  modeReason: z.string().nullable(),
  runnerVersion: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  /** What to do about the error (its own hint, else its code's default); null when there is no error. */
  errorHint: z.string().nullable(),
  /** The script's output value, or null. */
  output: JsonValue.nullable(),
  /** The condition the script set (runtime helper), or null when it set none. */
  condition: z.boolean().nullable(),
  /** How the script reached the helper API: reverse tunnel, in-band, none (direct mode); null before it started. */
  helperTransport: z.enum(['tunnel', 'in-band', 'none']).nullable(),
  /** The SSH client the run went through: builtin or openssh (null: it never connected). */
  transport: z.enum(['builtin', 'openssh']).nullable(),
  timings: RunTimings,
  queuedAt: z.int(),
  startedAt: z.int().nullable(),
  finishedAt: z.int().nullable(),
});

/** A job as listed. */
export const JobSummary = z.object({
  id: z.int(),
  kind: z.enum(['adhoc', 'schedule', 'followup', 'push']),
  status: JobStatus,
  interpreter: Interpreter,
  mode: ExecMode,
  schedule: z.string().nullable(),
  requestedBy: z.string(),
  /** On a team server: the person who asked for it (null for the scheduler, follow-ups and one-person apps). */
  requestedByPerson: z.string().nullable().default(null),
  /** A schedule's job: the due time it fired for (ms). */
  fireAt: z.int().nullable().default(null),
  timeoutMs: z.int().nullable(),
  concurrency: z.int().nullable(),
  createdAt: z.int(),
  startedAt: z.int().nullable(),
  finishedAt: z.int().nullable(),
  /** Runs by status. */
  counts: z.record(z.string(), z.int()),
  hosts: z.array(z.string()),
  /** The job whose run fired this follow-up job, or null. */
  parentJobId: z.int().nullable(),
  /** The saved script it ran, or null (an inline script, a command, or a schedule's own script). */
  scriptName: z.string().nullable(),
});

/** A job with its runs. */
export const JobView = JobSummary.extend({ script: z.string(), runs: z.array(RunView) });
/** A job with its runs. */
export type JobView = z.infer<typeof JobView>;

/** Which run fired a follow-up job, and on which outcome. */
export const JobTrigger = z.object({ on: FollowupOn, runId: z.int(), host: z.string() });
/** A job and the follow-up jobs its runs fired (scripts, variables, follow-ups). */
export interface JobTreeNode {
  job: z.output<typeof JobSummary>;
  trigger: z.output<typeof JobTrigger> | null;
  children: JobTreeNode[];
}
/** A job and the follow-up jobs its runs fired, recursively. */
export const JobTreeNode: z.ZodType<JobTreeNode> = z.lazy(() => z.object({ job: JobSummary, trigger: JobTrigger.nullable(), children: z.array(JobTreeNode) }));

/** A piece of a run's log; data is base64. */
/** How outputs are normalised before jobs are compared (jobs.compare, jobs.diff, jobs.rerun). */
const CompareArgs = {
  /** JavaScript regular expressions whose matches are removed from each line (times, ids). */
  ignore: z.array(z.string().min(1).max(200)).max(20).default([]),
  /** Replace each run's own host name in its output with `{host}`. */
  ignoreHost: z.boolean().default(false),
  stream: z.enum(['stdout', 'all']).default('stdout'),
};
export const CompareGroup = z.object({
  exitCode: z.int().nullable(),
  status: RunStatus,
  outputHash: z.string(),
  bytes: z.int(),
  lines: z.int(),
  runs: z.array(z.object({ runId: z.int(), host: z.string() })),
  sample: z.string(),
  sampleTruncated: z.boolean(),
});
export const JobComparison = z.object({
  jobId: z.int(),
  stream: z.enum(['stdout', 'all']),
  ignore: z.array(z.string()),
  ignoreHost: z.boolean(),
  pending: z.int(),
  groups: z.array(CompareGroup),
});
export type JobComparison = z.infer<typeof JobComparison>;
export const RunDiff = z.object({ runId: z.int(), host: z.string(), against: z.int(), againstHost: z.string(), identical: z.boolean(), diff: z.string(), truncated: z.boolean() });
export type RunDiff = z.infer<typeof RunDiff>;

export const LogChunkView = z.object({ seq: z.int(), stream: z.enum(['stdout', 'stderr', 'system']), ts: z.int(), data: z.string() });

/** A schedule as listed. */
export const ScheduleView = z.object({
  id: z.int(),
  name: z.string(),
  cron: z.string(),
  tz: z.string(),
  description: z.string(),
  target: z.object({ hosts: z.array(z.string()).optional(), tags: z.array(z.string()).optional() }),
  mode: z.string(),
  overlapPolicy: z.string(),
  catchupPolicy: z.string(),
  paused: z.boolean(),
  lastFireAt: z.int().nullable(),
  nextRuns: z.array(z.int()),
  /** The saved script it runs (its follow-ups fire), or null for its own script. */
  scriptName: z.string().nullable(),
  /** Its jobs run elevated (so do those of an elevated saved script). */
  elevated: z.boolean(),
});

/** A schedule's health for clients (scheduler/health-service.ts). */
export const ScheduleHealthView = z.object({
  name: z.string(),
  health: z.enum(['ok', 'missed', 'late', 'failing']),
  /** Since when (ms), or null before its first transition. */
  since: z.int().nullable(),
  reason: z.string().nullable(),
  paused: z.boolean(),
  lastFireAt: z.int().nullable(),
  nextFireAt: z.int().nullable(),
  graceMs: z.int(),
  /** The expected duration of a job: set, or the median of its recent successes; null: not known yet. */
  expectedMs: z.int().nullable(),
  expectedSource: z.enum(['set', 'median']).nullable(),
  failingAfter: z.int(),
  notify: z.boolean(),
  /** The newest finished jobs with the same outcome. */
  streak: z.object({ status: z.enum(['succeeded', 'failed']), count: z.int() }).nullable(),
  lastJob: z.object({ id: z.int(), status: z.string(), finishedAt: z.int().nullable() }).nullable(),
  /** Webhooks, their URL masked, with their last delivery. */
  webhooks: z.array(
    z.object({
      id: z.int(),
      url: z.string(),
      format: z.enum(['generic', 'slack']),
      lastDelivery: z.object({ status: z.enum(['pending', 'delivered', 'failed']), attempts: z.int(), error: z.string().nullable() }).nullable(),
    }),
  ),
});
export type ScheduleHealthView = z.infer<typeof ScheduleHealthView>;
/** One health event of a schedule. */
export const ScheduleEventView = z.object({
  id: z.int(),
  kind: z.enum(['missed', 'late', 'failing', 'recovered', 'test']),
  at: z.int(),
  fireAt: z.int().nullable(),
  jobId: z.int().nullable(),
  reason: z.string(),
});
export type ScheduleEventView = z.infer<typeof ScheduleEventView>;
/** An outgoing webhook URL: http or https, at most 2 KiB. */
const WebhookUrl = z
  .string()
  .max(2048)
  .refine((u) => {
    try {
      const x = new URL(u);
      return (x.protocol === 'https:' || x.protocol === 'http:') && x.hostname !== '';
    } catch {
      return false;
    }
  }, { error: 'must be an http:// or https:// URL' });

/* ---- Charts and runner health (issue 7): aggregations computed in SQL by core/stats ---- */

/** One job fired by a schedule, for its durations chart. */
export const SchedulePoint = z.object({
  jobId: z.int(),
  /** When the job started (created, if it never started). */
  at: z.int(),
  /** finished − started, or null while it runs or when it never started. */
  durationMs: z.int().nullable(),
  status: JobStatus,
  runs: z.int(),
  succeeded: z.int(),
});

/** Finished runs of one host in a window, and its success rate. */
export const HostSuccess = z.object({
  host: z.string(),
  total: z.int(),
  succeeded: z.int(),
  failed: z.int(),
  timedOut: z.int(),
  cancelled: z.int(),
  lost: z.int(),
  /** succeeded / (total − cancelled); null when nothing counted. */
  rate: z.number().nullable(),
  /** Mean total time of the successful runs, ms. */
  avgMs: z.int().nullable(),
  lastAt: z.int().nullable(),
});

const HealthCounts = {
  /** Deployments started that day that ended ready, and that failed. */
  deploys: z.int(),
  deployFailures: z.int(),
  /** Checks of a cached runner that needed no upload, and uploads. */
  cacheHits: z.int(),
  uploads: z.int(),
  /** Cached binaries changed on the host, and runs refused for integrity. */
  integrityFailures: z.int(),
  /** Runs whose signed payload the runner refused (PAYLOAD_REJECTED). */
  signatureFailures: z.int(),
  /** Helper calls that could not use the SSH tunnel (in-band instead, or failed). */
  tunnelFailures: z.int(),
  /** Runs of auto mode that fell back to direct mode. */
  directFallbacks: z.int(),
  /** Runs in runner mode. */
  runnerRuns: z.int(),
};

/** The runner's health per UTC day (day: the start of the day, ms), with totals and rates. */
export const RunnerHealth = z.object({
  since: z.int(),
  days: z.array(z.object({ day: z.int(), ...HealthCounts })),
  totals: z.object({ ...HealthCounts, deploySuccessRate: z.number().nullable(), cacheHitRate: z.number().nullable() }),
});

const ScheduleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { error: 'must be 1-63 characters of letters, digits, ".", "_" or "-"' });

/** Declares one method: its argument and result schemas. */
/** A team server's roles (issue #16). */
export const Role = z.enum(['admin', 'operator', 'viewer']);
/** An account's name: lower case, as it signs in. */
export const AccountName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'use 1-64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' });
export const Password = z.string().min(1).max(1024);
export const TotpCode = z.string().trim().regex(/^\d{6}$/, { error: 'is the 6-digit code of the authenticator app' });
/** An account as shown (never its password hash or TOTP secret). */
export const UserInfo = z.object({
  name: z.string(),
  role: Role,
  password: z.boolean(),
  totp: z.boolean(),
  oidc: z.boolean(),
  disabled: z.boolean(),
  lockedUntil: z.int().nullable(),
  grants: z.object({ hosts: z.array(z.string()), tags: z.array(z.string()) }),
  lastSignInAt: z.int().nullable(),
  createdAt: z.int(),
});
export type UserInfo = z.infer<typeof UserInfo>;
/** One entry of the audit trail. */
export const AuditEntry = z.object({
  id: z.int(),
  ts: z.int(),
  actor: z.string(),
  person: z.string().nullable(),
  source: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

function method<A extends z.ZodType, R extends z.ZodType>(args: A, result: R, doc: string) {
  return { args, result, doc };
}

const NoArgs = z.strictObject({}).default({});

/** Log retention: logs of finished runs are deleted past any of these limits (each optional). */
export const LogRetention = z.strictObject({
  maxAgeDays: z.int().min(1).max(36_500).optional(),
  maxRuns: z.int().min(1).max(100_000_000).optional(),
  maxTotalBytes: z.int().min(1024 * 1024).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** How jobs run when they do not say: mode, timeout, and the worker's concurrency limits (applied live). */
export const ExecutionSettings = z.strictObject({
  /** The mode of a run that names none (`cronium run` without --mode, the Run form's default). */
  defaultMode: z.enum(['auto', 'runner', 'direct']),
  /** The timeout of a run that names none; null: none. */
  defaultTimeoutMs: z.int().min(1000, { error: 'must be at least 1000 (1 s)' }).max(7 * 86_400_000, { error: 'must be at most 7 days' }).nullable(),
  /** Runs at once across all hosts, per process that runs jobs. */
  globalConcurrency: z.int().min(1, { error: 'must be 1-1024' }).max(1024, { error: 'must be 1-1024' }),
  /** Runs at once on one host. */
  perHostConcurrency: z.int().min(1, { error: 'must be 1-64' }).max(64, { error: 'must be 1-64' }),
  /**
   * The check of the cached runner before each run: `stat` re-hashes it only when its file, version
   * dir or cache root changed since it last hashed right (docs/runner.md); `hash` re-hashes every run.
   */
  runnerCheck: z.enum(['stat', 'hash']),
  /** Output of one run (stdout and stderr together, both modes) beyond which it is cut and stopped (OUTPUT_LIMIT). */
  maxOutputBytes: z
    .int()
    .min(1 << 20, { error: 'must be 1 MiB to 4 GiB (1048576-4294967296)' })
    .max(4 * 2 ** 30, { error: 'must be 1 MiB to 4 GiB (1048576-4294967296)' }),
});
/** When the desktop app notifies about finished runs. */
export const NotificationSettings = z.strictObject({ onFailure: z.boolean(), onSuccess: z.boolean() });
/** The UI's look: follow the OS, or a fixed theme. */
export const AppearanceSettings = z.strictObject({ theme: z.enum(['system', 'light', 'dark']) });
/** Settings only the desktop app uses: start at login, and updates (docs/desktop.md). */
/**
 * A team server this app switches to (issue #16): its name in the workspace switcher and its
 * address: https, or http on a loopback address only (a password never crosses a network in clear).
 */
export const TeamServerRef = z.strictObject({
  name: z.string().trim().min(1).max(64),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((u) => {
      const { protocol, hostname } = new URL(u);
      return protocol === 'https:' || /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(hostname);
    }, { error: 'must be https:// (plain http only on a loopback address)' })
    .transform((u) => new URL(u).origin),
});
export type TeamServerRef = z.infer<typeof TeamServerRef>;

export const DesktopSettings = z.strictObject({
  startAtLogin: z.boolean(),
  /** Team servers of the workspace switcher ("This computer" is always there). */
  teamServers: z.array(TeamServerRef).max(20).default([]),
  /** Check for updates at start and daily, download in the background, install on quit. */
  autoUpdate: z.boolean(),
  /** latest: stable releases; beta: prereleases too. */
  updateChannel: z.enum(['latest', 'beta']),
  /** Local hours without automatic update checks or update notices, "HH:MM-HH:MM" (may wrap midnight); null: none. */
  updateQuietHours: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be HH:MM-HH:MM, e.g. 22:00-07:00' })
    .refine((v) => v.slice(0, 5) !== v.slice(6), { error: 'start and end must differ' })
    .nullable(),
});

/** App settings. */
export const Settings = z.object({
  logsRetention: LogRetention,
  execution: ExecutionSettings,
  notifications: NotificationSettings,
  appearance: AppearanceSettings,
  desktop: DesktopSettings,
});
/** App settings. */
export type Settings = z.infer<typeof Settings>;

/** Every method of the API, by name. */
export const methods = {
  'app.info': method(NoArgs, AppInfo, 'Version, door and data directory of the running app.'),
  'hosts.list': method(
    z
      .strictObject({
        tag: Tag.optional(),
        group: HostGroup.optional(),
        search: z.string().max(200).optional(),
      })
      .default({}),
    z.array(Host),
    'Hosts of the inventory, sorted by name; optionally only those with a tag, in a group, or matching a search.',
  ),
  'hosts.get': method(z.strictObject({ name: HostName }), Host, 'One host by name.'),
  'hosts.add': method(HostInput, Host, 'Adds a host to the inventory (no connection is made).'),
  'hosts.update': method(HostUpdate, Host, 'Changes fields of a host (null clears one; newName renames it, schedules that name it follow).'),
  'hosts.remove': method(z.strictObject({ name: HostName }), z.object({ removed: z.literal(true) }), 'Removes a host and its credentials.'),
  'hosts.scanKeys': method(
    z.strictObject({ names: z.array(HostName).max(10_000).optional(), tag: Tag.optional() }).default({}),
    z.array(HostKeyScanResult),
    'Connects to hosts (in parallel, bounded) only as far as the key exchange and reports each host key and whether it is trusted, so that many new keys can be reviewed at once.',
  ),
  'hosts.trust': method(
    z.strictObject({
      name: HostName,
      fingerprint: HostKeyFingerprint,
      /** Pin only if the host has no trusted key yet (OpenSSH's accept-new); a changed key is refused. */
      acceptNew: z.boolean().default(false),
    }),
    HostTrustResult,
    'Pins the host key the host presents now, only if it has exactly that fingerprint (else HOST_KEY_MISMATCH); replaces any key pinned before.',
  ),
  'hosts.import': method(
    z
      .strictObject({
        path: z.string().min(1).max(4096).optional(),
        dryRun: z.boolean().default(false),
        tag: z.array(Tag).max(64).default([]),
        /** Run the config's `Match exec` commands (each with a 5 s limit), as ssh would; default: not run. */
        matchExec: z.boolean().default(false),
      })
      .default({ dryRun: false, tag: [], matchExec: false }),
    HostImportResult,
    'Adds the hosts of an OpenSSH client config (default ~/.ssh/config); existing names are skipped, bad lines reported.',
  ),
  'hosts.diagnose': method(z.strictObject({ name: HostName }), DiagnosticReport, 'Checks a host end to end and stores the report; an unreachable host yields a report, not an error.'),
  'diagnostics.list': method(
    z.strictObject({ name: HostName, limit: z.int().min(1).max(500).default(20) }),
    z.array(DiagnosticReport),
    'Stored diagnostics reports of a host, newest first.',
  ),
  'runner.artifacts': method(NoArgs, RunnerArtifacts, 'The runner artifacts of this installation, each with its hash and signature verdict.'),
  'runner.deployments': method(
    z.strictObject({ name: HostName.optional(), limit: z.int().min(1).max(10_000).default(100) }).default({ limit: 100 }),
    z.array(RunnerDeployment),
    'Runner deployments, newest first; of one host when named.',
  ),
  'runner.deploy': method(
    z.strictObject({ name: HostName }),
    RunnerDeployResult,
    'Makes sure the host has the verified runner: re-checks a cached one (replacing it if it was changed), else uploads it. RUNNER_DEPLOY_FAILED says why it cannot (details.reason, details.locations).',
  ),
  'runner.clean': method(z.strictObject({ name: HostName }), RunnerCleanResult, 'Removes every cached runner version from the host and marks its deployments removed.'),
  'runner.health': method(
    z.strictObject({ days: z.int().min(1).max(366).default(14) }).default({ days: 14 }),
    RunnerHealth,
    "The runner's health per day: deployments and their failures, cache hits, integrity and signature failures, tunnel failures, fallbacks to direct mode.",
  ),
  'stats.scheduleDurations': method(
    z.strictObject({ name: ScheduleName, since: z.int().min(0).optional(), limit: z.int().min(1).max(5000).default(500) }),
    z.object({ schedule: z.string(), since: z.int(), points: z.array(SchedulePoint) }),
    'Jobs a schedule fired since a time (default 30 days), oldest first: when, how long, status; for its durations chart.',
  ),
  'stats.hostSuccess': method(
    z.strictObject({ since: z.int().min(0).optional(), host: HostName.optional() }).default({}),
    z.object({ since: z.int(), hosts: z.array(HostSuccess) }),
    'Runs per host that finished since a time (default 30 days): counts by status, success rate, mean duration.',
  ),
  'jobs.run': method(JobRunArgs, z.object({ jobId: z.int(), runIds: z.array(z.int()) }), 'Queues a job: one run per host (by names or a tag) of a script body or a command; the worker of the app runs it.'),
  'jobs.push': method(JobPushArgs, z.object({ jobId: z.int(), runIds: z.array(z.int()) }), 'Queues a push job: one file from this machine to a path on each host (hosts or a tag), verified by SHA-256, written atomically, skipped where the host already has it.'),
  'jobs.list': method(
    z
      .strictObject({
        status: JobStatus.optional(),
        host: HostName.optional(),
        schedule: ScheduleName.optional(),
        /** Only jobs created at or after this time (ms). */
        since: z.int().min(0).optional(),
        /** Only jobs created before this time (ms). */
        until: z.int().min(0).optional(),
        limit: z.int().min(1).max(10_000).default(50),
      })
      .default({ limit: 50 }),
    z.array(JobSummary),
    'Jobs, newest first; optionally by status, host, schedule or creation time (since ≤ createdAt < until).',
  ),
  'jobs.get': method(z.strictObject({ id: z.int().min(1) }), JobView, 'One job with its runs (status, exit code, signal, mode and why, timings, output, error).'),
  'jobs.cancel': method(
    z.strictObject({ id: z.int().min(1) }),
    z.object({ id: z.int(), status: JobStatus, stopping: z.array(z.int()) }),
    'Cancels a job: queued runs end now, running ones are stopped (their process groups killed on the hosts); the follow-up jobs it fired that have not ended are cancelled too.',
  ),
  'jobs.compare': method(
    z.strictObject({ id: z.int().min(1), ...CompareArgs }),
    JobComparison,
    "A finished fan-out's runs grouped by exit code and output (normalised: patterns removed, host names replaced), largest group first; runs still going are counted as pending.",
  ),
  'jobs.diff': method(
    z.strictObject({ runId: z.int().min(1), against: z.int().min(1).optional(), ...CompareArgs }),
    RunDiff,
    "A unified diff of a run's output against another run's, by default the first run of the largest group it is not in; each side read up to 1 MiB.",
  ),
  'jobs.rerun': method(
    z.strictObject({ id: z.int().min(1), hosts: z.array(HostName).min(1).max(10_000).optional(), differing: z.boolean().default(false), ...CompareArgs }),
    z.object({ jobId: z.int(), runIds: z.array(z.int()) }),
    "Runs a job's script again as it ran, on hosts of that job: those named, those outside its largest output group (differing), or all.",
  ),
  'runs.logs': method(
    z.strictObject({ runId: z.int().min(1), fromSeq: z.int().min(1).optional(), tail: z.int().min(1).max(64 * 1024 * 1024).optional(), limit: z.int().min(1).max(10_000).default(1000) }),
    z.object({ runId: z.int(), status: RunStatus, chunks: z.array(LogChunkView), lastSeq: z.int() }),
    'Chunks of a run log from a sequence number (or the last `tail` bytes); data is base64.',
  ),
  'schedules.add': method(
    z.strictObject({
      name: ScheduleName,
      cron: z.string().min(1).max(200),
      tz: z.string().min(1).max(64).default('UTC'),
      hosts: z.array(HostName).max(10_000).optional(),
      tag: Tag.optional(),
      script: z.string().min(1, { error: 'is empty' }).max(1024 * 1024).refine(hasNoNul, noNul).optional(),
      /** A saved script instead of a body of its own: exactly one of script and scriptName. */
      scriptName: ScriptName.optional(),
      interpreter: Interpreter.default('bash'),
      mode: ExecMode.default('auto'),
      timeoutMs: z.int().min(1).max(7 * 86_400_000).optional(),
      concurrency: z.int().min(1).max(10_000).optional(),
      overlap: z.enum(['skip', 'queue', 'parallel']).default('skip'),
      catchup: z.enum(['skip', 'run-once']).default('skip'),
      /** Passed to every job it fires, as jobs.run's. */
      globalVars: z.boolean().default(false),
      secrets: z.array(VarKey).max(100).default([]),
      /** Its jobs start the script as root (sudo/doas, by each host's elevation setting). */
      elevated: z.boolean().default(false),
    }).refine((a) => (a.script !== undefined ? 1 : 0) + (a.scriptName !== undefined ? 1 : 0) === 1, { path: ['script'], error: 'give either a script or a saved script name' }),
    ScheduleView,
    'Adds a cron schedule (seconds optional, IANA time zone) of a script over hosts or a tag.',
  ),
  'schedules.list': method(NoArgs, z.array(ScheduleView), 'Every schedule with its next runs.'),
  'schedules.set': method(
    z.strictObject({
      name: ScheduleName,
      /** A fire later than this is missed; a job running past its expected duration plus this is late. */
      graceMs: z.int().min(1000).max(7 * 86_400_000).optional(),
      /** The expected duration of a job (null: the median of its recent successes). */
      expectedMs: z.int().min(1).max(7 * 86_400_000).nullable().optional(),
      /** This many failed jobs in a row make it failing. */
      failingAfter: z.int().min(1).max(100).optional(),
      /** Desktop notifications of its health transitions. */
      notify: z.boolean().optional(),
      addWebhook: z.strictObject({ url: WebhookUrl, format: z.enum(['generic', 'slack']).default('generic') }).optional(),
      removeWebhook: z.int().min(1).optional(),
    }),
    ScheduleHealthView,
    "Changes a schedule's alerts: grace, expected duration, failing threshold, desktop notifications, webhooks (URLs are stored sealed and shown masked).",
  ),
  'schedules.health': method(NoArgs, z.array(ScheduleHealthView), 'Every schedule with its health: ok, missed, late or failing, since when and why; last and next fire; streak; webhooks.'),
  'schedules.events': method(z.strictObject({ name: ScheduleName, limit: z.int().min(1).max(1000).default(50) }), z.array(ScheduleEventView), "A schedule's health events, newest first."),
  'schedules.testAlert': method(
    z.strictObject({ name: ScheduleName }),
    z.object({ results: z.array(z.object({ id: z.int(), url: z.string(), ok: z.boolean(), status: z.int().optional(), error: z.string().optional() })) }),
    "Sends a test alert to the schedule's webhooks (once each, the result per webhook) and to the desktop.",
  ),
  'schedules.get': method(z.strictObject({ name: ScheduleName }), ScheduleView, 'One schedule by name.'),
  'schedules.remove': method(z.strictObject({ name: ScheduleName }), z.object({ removed: z.literal(true) }), 'Removes a schedule; its past jobs stay.'),
  'schedules.pause': method(z.strictObject({ name: ScheduleName }), ScheduleView, 'Pauses a schedule.'),
  'schedules.resume': method(z.strictObject({ name: ScheduleName }), ScheduleView, 'Resumes a schedule from now on (missed fires are not made up).'),
  // ---- Scripts, variables, follow-ups (issue 6) ----
  'scripts.list': method(NoArgs, z.array(ScriptView), 'Saved scripts with their follow-ups, sorted by name.'),
  'scripts.get': method(z.strictObject({ name: ScriptName }), ScriptView, 'One saved script by name.'),
  'scripts.save': method(
    z.strictObject({
      name: ScriptName,
      interpreter: Interpreter.default('bash'),
      body: z.string().min(1, { error: 'is empty' }).refine((b) => utf8Bytes(b) <= 1024 * 1024, { error: 'is larger than 1 MiB' }).refine(hasNoNul, noNul),
      followups: z.array(Followup).max(100).default([]),
      /** Runs of it start as root (sudo/doas, by each host's elevation setting). */
      elevated: z.boolean().default(false),
      /** Files it needs: each pushed to the host before the script runs (as jobs.push; {host} in `to` is the host's name); absent: keep the ones it has, [] removes them. */
      files: z.array(z.strictObject({ path: JobPushArgs.shape.path, to: PushTo, mode: PushMode.optional(), owner: PushOwner.optional() })).max(20).optional(),
    }),
    ScriptView,
    'Creates or replaces a saved script and its follow-ups; a follow-up naming an unknown script is NOT_FOUND, a loop in the follow-up graph FOLLOWUP_LOOP.',
  ),
  'scripts.remove': method(z.strictObject({ name: ScriptName }), z.object({ removed: z.literal(true) }), "Removes a saved script; CONFLICT while a schedule or another script's follow-up uses it."),
  'vars.list': method(
    z.strictObject({ host: HostName.optional() }).default({}),
    z.array(VariableView),
    'Variables: without host, every global and per-host one; with host, the set that host sees (per-host wins over global).',
  ),
  'vars.get': method(z.strictObject({ key: VarKey, host: HostName.optional() }), VariableView, 'A variable: with host, the value that host sees (per-host wins over global).'),
  'vars.set': method(
    z.strictObject({
      key: VarKey,
      value: z.string().refine((v) => utf8Bytes(v) <= 64 * 1024, { error: 'is larger than 64 KiB' }),
      host: HostName.optional(),
      secret: z.boolean().default(false),
    }),
    VariableView,
    'Sets a global variable, or a per-host one; a secret is stored sealed and masked in run logs.',
  ),
  'vars.remove': method(z.strictObject({ key: VarKey, host: HostName.optional() }), z.object({ removed: z.literal(true) }), 'Removes a global variable, or a per-host one.'),
  'jobs.tree': method(z.strictObject({ id: z.int().min(1) }), JobTreeNode, 'The chain a job belongs to, from its root: each job with the follow-up jobs its runs fired.'),
  'hostCas.list': method(NoArgs, z.array(z.lazy(() => HostCaView)), 'Host certificate authorities trusted in Cronium (for hosts reached through your own ssh).'),
  'hostCas.add': method(
    z.strictObject({ patterns: z.string().min(1).max(1000), publicKey: z.string().min(1).max(16_384) }),
    z.lazy(() => HostCaView),
    'Trusts a host CA for hosts matching known_hosts patterns: their host certificates signed by it are accepted (through your own ssh).',
  ),
  'hostCas.remove': method(z.strictObject({ id: z.int().min(1) }), z.object({ removed: z.literal(true) }), 'Stops trusting a host CA.'),
  'auth.pending': method(NoArgs, z.array(z.lazy(() => AuthPrompt)), 'Keyboard-interactive questions hosts are asking now (a one-time code), for a client that opened after they were asked.'),
  'auth.answer': method(
    z.strictObject({
      id: z.string().min(1).max(64),
      /** One answer per prompt, in order; each one line of at most 1024 bytes. */
      answers: z.array(z.string().refine((a) => utf8Bytes(a) <= 1024 && !/[\0\n\r]/.test(a), { error: 'must be one line of at most 1024 bytes' })).max(16),
      remember: z.boolean().optional(),
    }),
    z.object({ answered: z.literal(true) }),
    'Answers a keyboard-interactive question of a host (never stored or logged); remember: keep a key passphrase in memory until the app quits.',
  ),
  'auth.cancel': method(z.strictObject({ id: z.string().min(1).max(64) }), z.object({ cancelled: z.literal(true) }), 'Declines to answer: the connection fails AUTH_INTERACTIVE_REQUIRED.'),
  'settings.get': method(NoArgs, Settings, 'The app settings in force.'),
  'settings.set': method(
    z.strictObject({
      logsRetention: LogRetention.optional(),
      execution: ExecutionSettings.partial().optional(),
      notifications: NotificationSettings.partial().optional(),
      appearance: AppearanceSettings.partial().optional(),
      desktop: DesktopSettings.partial().optional(),
    }),
    Settings,
    'Changes the given settings (logsRetention is replaced, the other groups merged field by field); returns them all.',
  ),
  // ---- A team server's people and audit trail (issue #16); a one-person app answers NOT_IMPLEMENTED to account and users ----
  'account.me': method(NoArgs, UserInfo, 'The signed-in person: name, role, grants, second factor.'),
  'account.totpBegin': method(NoArgs, z.object({ secret: z.string(), uri: z.string() }), 'Starts TOTP enrolment for the signed-in person: a new secret (shown once, as an otpauth:// URI for an authenticator app); account.totpConfirm finishes it.'),
  'account.totpConfirm': method(z.strictObject({ code: TotpCode }), UserInfo, "Finishes TOTP enrolment with the new secret's current code; sign-in asks for a code from then on."),
  'account.password': method(z.strictObject({ current: Password, password: Password }), UserInfo, "Changes the signed-in person's password (the current one required); every session of the account ends, this one too."),
  'users.list': method(NoArgs, z.array(UserInfo), 'The accounts of the team server.'),
  'users.add': method(z.strictObject({ name: AccountName, role: Role, password: Password.optional(), oidcSubject: z.string().min(1).max(600).optional() }), UserInfo, 'Adds an account (a password, or an OpenID Connect identity "issuer subject").'),
  'users.update': method(
    z.strictObject({ name: AccountName, role: Role.optional(), password: Password.optional(), disabled: z.boolean().optional(), unlock: z.boolean().optional(), totpOff: z.boolean().optional() }),
    UserInfo,
    "Changes an account: role, password, disabled, unlock after failed sign-ins, TOTP off (a lost device). A new role, password or disabled ends the account's sessions.",
  ),
  'users.remove': method(z.strictObject({ name: AccountName }), z.object({ removed: z.literal(true) }), 'Removes an account (never the last admin).'),
  'users.grant': method(z.strictObject({ name: AccountName, hosts: z.array(HostName).max(1000).default([]), tags: z.array(Tag).max(1000).default([]) }), UserInfo, 'Grants an operator hosts and tags to run and schedule on.'),
  'users.revoke': method(z.strictObject({ name: AccountName, hosts: z.array(HostName).max(1000).default([]), tags: z.array(Tag).max(1000).default([]) }), UserInfo, "Takes back an operator's hosts and tags."),
  'audit.list': method(
    z.strictObject({ afterId: z.int().min(0).default(0), since: z.int().min(0).optional(), person: AccountName.optional(), limit: z.int().min(1).max(10_000).default(1000) }).default({ afterId: 0, limit: 1000 }),
    z.array(AuditEntry),
    'Audit entries oldest first, after an id (page with the last id seen): who (door, person), what, on what, when, from where.',
  ),
} as const;

/** A host certificate authority trusted in Cronium. */
export const HostCaView = z.object({ id: z.int(), patterns: z.string(), algorithm: z.string(), fingerprint: z.string(), comment: z.string().nullable(), createdAt: z.int() });

/** A host's keyboard-interactive question (a second factor) waiting for a person's answer. */
export const AuthPrompt = z.object({
  id: z.string(),
  host: z.string(),
  name: z.string(),
  /** The server's instruction text, shown as it is (plain text). */
  instructions: z.string(),
  /** Each prompt; echo false: the answer is hidden as it is typed. */
  prompts: z.array(z.object({ prompt: z.string(), echo: z.boolean() })),
  /** When the question is withdrawn unanswered (ms). */
  expiresAt: z.int(),
  /** A key's passphrase: the answer may be remembered until the app quits (auth.answer remember). */
  remember: z.boolean().optional(),
});

/** Every event the app pushes to clients, by name. */
export const events = {
  /** A host asks a person a keyboard-interactive question: clients show it and answer with auth.answer. */
  'auth.prompt': AuthPrompt,
  /** A question was answered, declined, withdrawn or expired: clients close it. */
  'auth.promptDone': z.object({ id: z.string(), outcome: z.enum(['answered', 'cancelled', 'withdrawn', 'expired']) }),
  'hosts.changed': z.object({ change: z.enum(['added', 'updated', 'removed']), name: z.string(), previousName: z.string().optional() }),
  /** The settings changed (any door); the full settings in force. */
  'settings.changed': Settings,
  /** A desktop menu or tray item asks the UI to do something (open the palette, a view). */
  'ui.command': z.object({ command: z.enum(['palette', 'settings', 'hosts', 'jobs']) }),
  'run.status': z.object({
    runId: z.int(),
    jobId: z.int(),
    host: z.string(),
    status: RunStatus,
    exitCode: z.int().nullable().optional(),
    signal: z.string().nullable().optional(),
    errorCode: z.string().nullable().optional(),
    /** Set when this run was the job's last: the job's final status. */
    jobStatus: JobStatus.optional(),
  }),
  /** A runner target is being built on demand (the first host of a target not built yet, in a checkout with Go). */
  'runner.build': z.object({ target: z.string(), phase: z.enum(['started', 'built', 'failed']), message: z.string() }),
  /** A schedule's health changed (missed, late, failing, recovered) or a test alert: desktop notifications show it. */
  'schedule.health': z.object({ schedule: z.string(), kind: z.enum(['missed', 'late', 'failing', 'recovered', 'test']), reason: z.string(), at: z.int(), jobId: z.int().optional() }),
  /**
   * Live log of a run, batched (~16 ms) and paced per client (up to about 2 MB/s of output per
   * run; the newest kept). `skipped`: output left out of this feed before these chunks, by
   * sequence range and size (it is in the store). `gapFrom`: chunks from there on were not sent;
   * read them with runs.logs to have every byte.
   */
  'run.log': z.object({
    runId: z.int(),
    jobId: z.int(),
    host: z.string(),
    chunks: z.array(LogChunkView),
    gapFrom: z.int().optional(),
    skipped: z.array(z.object({ from: z.int(), to: z.int(), bytes: z.int() })).optional(),
  }),
} as const;

/** The contract's method table. */
export type Methods = typeof methods;
/** A method name, such as `hosts.list`. */
export type MethodName = keyof Methods;
/** The arguments a caller passes to a method (defaults may be left out). */
export type MethodArgs<M extends MethodName> = z.input<Methods[M]['args']>;
/** The arguments a handler receives, parsed and with defaults filled in. */
export type ParsedArgs<M extends MethodName> = z.output<Methods[M]['args']>;
/** What a method returns. */
export type MethodResult<M extends MethodName> = z.output<Methods[M]['result']>;
/** An event name, such as `hosts.changed`. */
export type EventName = keyof typeof events;
/** The payload of an event. */
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

/** Every method name, in contract order. */
export const METHOD_NAMES = Object.keys(methods) as MethodName[];
/** Every event name. */
export const EVENT_NAMES = Object.keys(events) as EventName[];

/** The result envelope every door uses: a value, or an error with a stable code. */
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: ApiErrorBody };

type Group<M> = M extends `${infer G}.${string}` ? G : never;
type Leaf<M, G extends string> = M extends `${G}.${infer L}` ? L : never;

/**
 * What a door exposes to the renderer (window.cronium in the desktop, the WebSocket
 * client in headless mode): one function per method, grouped by prefix, resolving to
 * an envelope (errors cannot cross Electron's contextBridge with their code intact),
 * plus `on` for events.
 */
export type CroniumBridge = {
  [G in Group<MethodName>]: {
    [L in Leaf<MethodName, G>]: (args?: MethodArgs<`${G}.${L}` & MethodName>) => Promise<Envelope<MethodResult<`${G}.${L}` & MethodName>>>;
  };
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
};

/** The API as the renderer uses it: the same shape, resolving to values and rejecting with ApiError. */
export type CroniumApi = {
  [G in Group<MethodName>]: {
    [L in Leaf<MethodName, G>]: (args?: MethodArgs<`${G}.${L}` & MethodName>) => Promise<MethodResult<`${G}.${L}` & MethodName>>;
  };
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
};

/** Splits `hosts.list` into its group and leaf. */
export function splitMethod(name: string): [string, string] {
  const dot = name.indexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}

/** The IPC channel names of the desktop door. */
export const IPC_INVOKE_CHANNEL = 'cronium:invoke';
/** The IPC channel on which main pushes events. */
export const IPC_EVENT_CHANNEL = 'cronium:event';
/** The channel on which the window acknowledges the log bytes of an event it has taken (`credit`). */
export const IPC_ACK_CHANNEL = 'cronium:ack';
/** An event as main pushes it to the window; `credit` (run.log only): acknowledge it on IPC_ACK_CHANNEL once handled. */
export interface IpcEventMessage {
  event: EventName;
  payload: unknown;
  credit?: number;
}

/** Messages a headless client sends over the WebSocket. */
export const WsClientMessage = z.strictObject({
  id: z.int().min(0).max(Number.MAX_SAFE_INTEGER),
  method: z.string().max(100),
  args: z.unknown().optional(),
});
/** Messages the headless server sends over the WebSocket. */
export type WsServerMessage =
  | ({ type: 'reply'; id: number } & Envelope<unknown>)
  | { type: 'event'; event: EventName; payload: unknown }
  | { type: 'hello'; version: string; methods: string[]; events: string[] };
