/**
 * The whole data model (DESIGN.md "Data"), as drizzle tables. Migrations under
 * ./migrations are generated from this file by `npm run db:generate`; never edit an
 * applied migration, add a new one. Times are milliseconds since the epoch.
 */
import { sql } from 'drizzle-orm';
import { type AnySQLiteColumn, blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

const createdAt = () => integer('created_at').notNull();
const updatedAt = () => integer('updated_at').notNull();

/** SSH hosts of the inventory. */
export const hosts = sqliteTable(
  'hosts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    address: text('address').notNull(),
    port: integer('port').notNull().default(22),
    user: text('user'),
    identityFile: text('identity_file'),
    // Whether to offer the user's ssh-agent keys (SSH_AUTH_SOCK, Pageant on Windows).
    useAgent: integer('use_agent', { mode: 'boolean' }).notNull().default(true),
    // A bastion in use cannot be removed: silently routing around it would be worse.
    jumpHostId: integer('jump_host_id').references((): AnySQLiteColumn => hosts.id, { onDelete: 'restrict' }),
    // OpenSSH's ProxyCommand: a local command that carries the connection (exclusive with the jump host).
    proxyCommand: text('proxy_command'),
    groupName: text('group_name'),
    notes: text('notes'),
    os: text('os'),
    arch: text('arch'),
    runnerTarget: text('runner_target'),
    // How a run asked to be elevated becomes root here (null: not set, such runs fail ELEVATION_FAILED).
    elevation: text('elevation', { enum: ['none', 'sudo', 'sudo-password', 'doas', 'su'] }),
    // Why the host has no SFTP, as last found (a deploy or diagnose); null: it has, or not yet tried.
    // Runner deploys then upload over the exec stream without asking again; diagnose re-checks it.
    sftpUnavailable: text('sftp_unavailable'),
    // Which SSH client reaches the host: auto (the built-in one, unless opensshReason says the host
    // needs OpenSSH), builtin, or openssh (your own ssh with a ControlMaster).
    transport: text('transport', { enum: ['auto', 'builtin', 'openssh'] }).notNull().default('auto'),
    // Why the host needs OpenSSH (CertificateFile, PKCS11Provider, …), found by hosts import; null: it does not.
    opensshReason: text('openssh_reason'),
    // The ssh_config alias it was imported from, and that config file when it is not ~/.ssh/config:
    // the OpenSSH transport runs `ssh [-F FILE] ALIAS`, so ssh applies everything the config says.
    sshAlias: text('ssh_alias'),
    sshConfigFile: text('ssh_config_file'),
    // Connection settings carried from ssh_config for the built-in transport (HostSshOptions, JSON):
    // known_hosts files, host key alias, agent socket, connect timeout, keepalive interval.
    sshOptions: text('ssh_options', { mode: 'json' }).$type<{ knownHostsFiles?: string[]; hostKeyAlias?: string; identityAgent?: string; connectTimeoutMs?: number; serverAliveIntervalMs?: number }>(),
    lastSeenAt: integer('last_seen_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('hosts_name_unique').on(t.name)],
);

/** Tags on hosts. */
export const hostTags = sqliteTable(
  'host_tags',
  {
    hostId: integer('host_id').notNull().references(() => hosts.id, { onDelete: 'cascade' }),
    tag: text('tag').notNull(),
  },
  (t) => [primaryKey({ columns: [t.hostId, t.tag] }), index('host_tags_tag_idx').on(t.tag)],
);

/** Credentials, sealed by a SecretBox (the first byte names which one). */
export const credentials = sqliteTable(
  'credentials',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hostId: integer('host_id').notNull().references(() => hosts.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['password', 'key_passphrase', 'private_key', 'elevation_password'] }).notNull(),
    sealed: blob('sealed', { mode: 'buffer' }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('credentials_host_kind_unique').on(t.hostId, t.kind)],
);

/** Pinned host keys. */
export const hostKeys = sqliteTable(
  'host_keys',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hostId: integer('host_id').notNull().references(() => hosts.id, { onDelete: 'cascade' }),
    algorithm: text('algorithm').notNull(),
    fingerprint: text('fingerprint').notNull(),
    publicKey: text('public_key').notNull(),
    source: text('source', { enum: ['user', 'accept-new', 'known_hosts'] }).notNull(),
    trustedAt: integer('trusted_at').notNull(),
  },
  (t) => [uniqueIndex('host_keys_host_alg_unique').on(t.hostId, t.algorithm)],
);

/**
 * Host certificate authorities trusted in Cronium's own store, as `@cert-authority PATTERNS KEY`
 * lines of a known_hosts file: hosts whose names match are trusted by a certificate that CA
 * signed (the OpenSSH transport, which auto picks for them).
 */
export const hostCas = sqliteTable('host_cas', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  /** known_hosts host patterns, comma-separated (`*.prod.example,10.1.*`, `!` negates). */
  patterns: text('patterns').notNull(),
  /** 'ssh-ed25519 AAAA…' */
  publicKey: text('public_key').notNull(),
  fingerprint: text('fingerprint').notNull(),
  comment: text('comment'),
  createdAt: integer('created_at').notNull(),
});

/** Saved scripts. */
export const scripts = sqliteTable(
  'scripts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    interpreter: text('interpreter', { enum: ['bash', 'sh', 'python3', 'node'] }).notNull(),
    body: text('body').notNull(),
    // Runs of it are elevated (sudo/doas, by each host's elevation setting).
    elevated: integer('elevated', { mode: 'boolean' }).notNull().default(false),
    // Files it needs on the host, pushed before it runs: JSON [{ name, sha256, size, to, mode, owner? }] (blobs/<sha256>).
    files: text('files', { mode: 'json' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('scripts_name_unique').on(t.name)],
);

/**
 * Follow-ups of a saved script: what to start, on which outcome of one of its runs, where
 * (hosts or a tag; neither: the host of the run that fired it). A script in use as a
 * follow-up cannot be removed (restrict); the follow-up graph is kept acyclic on save.
 */
export const scriptFollowups = sqliteTable(
  'script_followups',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    scriptId: integer('script_id').notNull().references(() => scripts.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    on: text('on', { enum: ['success', 'failure', 'always', 'condition'] }).notNull(),
    followupScriptId: integer('followup_script_id').notNull().references(() => scripts.id, { onDelete: 'restrict' }),
    // JSON: string[] of host names, or null.
    hosts: text('hosts', { mode: 'json' }),
    tag: text('tag'),
  },
  (t) => [uniqueIndex('script_followups_position_unique').on(t.scriptId, t.position), index('script_followups_target_idx').on(t.followupScriptId)],
);

/** Cron schedules. */
export const schedules = sqliteTable(
  'schedules',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    cron: text('cron').notNull(),
    tz: text('tz').notNull().default('UTC'),
    scriptId: integer('script_id').notNull().references(() => scripts.id, { onDelete: 'restrict' }),
    // JSON: { hosts: string[], tags: string[] }
    target: text('target', { mode: 'json' }).notNull(),
    mode: text('mode', { enum: ['auto', 'runner', 'direct'] }).notNull().default('auto'),
    timeoutMs: integer('timeout_ms'),
    concurrency: integer('concurrency'),
    overlapPolicy: text('overlap_policy', { enum: ['skip', 'queue', 'parallel'] }).notNull().default('skip'),
    catchupPolicy: text('catchup_policy', { enum: ['skip', 'run-once'] }).notNull().default('skip'),
    // Passed to each job it fires (see jobs.var_scope and jobs.secret_names).
    varScope: text('var_scope', { enum: ['host', 'global'] }).notNull().default('host'),
    secretNames: text('secret_names', { mode: 'json' }),
    paused: integer('paused', { mode: 'boolean' }).notNull().default(false),
    // Its jobs run elevated (so do those of an elevated script).
    elevated: integer('elevated', { mode: 'boolean' }).notNull().default(false),
    // Health (scheduler/health.ts): a fire later than grace is missed; a job running past its
    // expected duration (null: the median of its recent successes) plus grace is late; the last
    // failingAfter jobs failed: failing. Transitions are schedule_events and alerts.
    graceMs: integer('grace_ms').notNull().default(60_000),
    expectedMs: integer('expected_ms'),
    failingAfter: integer('failing_after').notNull().default(3),
    // Desktop notifications of its health transitions (webhooks are in `webhooks`).
    notify: integer('notify', { mode: 'boolean' }).notNull().default(true),
    health: text('health', { enum: ['ok', 'missed', 'late', 'failing'] }).notNull().default('ok'),
    healthSince: integer('health_since'),
    healthReason: text('health_reason'),
    // The newest of its finished jobs the health has seen.
    healthJobId: integer('health_job_id').notNull().default(0),
    lastFireAt: integer('last_fire_at'),
    nextFireAt: integer('next_fire_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('schedules_name_unique').on(t.name), index('schedules_next_idx').on(t.paused, t.nextFireAt)],
);

/** One job per trigger (a CLI run, a schedule firing, a follow-up). */
export const jobs = sqliteTable(
  'jobs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    kind: text('kind', { enum: ['adhoc', 'schedule', 'followup', 'push'] }).notNull(),
    scheduleId: integer('schedule_id').references(() => schedules.id, { onDelete: 'set null' }),
    parentJobId: integer('parent_job_id').references((): AnySQLiteColumn => jobs.id, { onDelete: 'set null' }),
    scriptId: integer('script_id').references(() => scripts.id, { onDelete: 'set null' }),
    interpreter: text('interpreter', { enum: ['bash', 'sh', 'python3', 'node'] }).notNull(),
    // A snapshot: editing a script never changes what an earlier job ran.
    scriptBody: text('script_body').notNull(),
    target: text('target', { mode: 'json' }).notNull(),
    mode: text('mode', { enum: ['auto', 'runner', 'direct'] }).notNull(),
    timeoutMs: integer('timeout_ms'),
    concurrency: integer('concurrency'),
    env: text('env', { mode: 'json' }),
    input: text('input', { mode: 'json' }),
    priority: integer('priority').notNull().default(0),
    // Attempts per run, the first included; connection failures are retried, script failures only with retryScriptFailures.
    maxAttempts: integer('max_attempts').notNull().default(3),
    retryScriptFailures: integer('retry_script_failures', { mode: 'boolean' }).notNull().default(false),
    // What its runs' helpers may touch: setVariable writes the host's own variable unless
    // 'global'; getVariable opens only the secret variables named here (JSON array).
    varScope: text('var_scope', { enum: ['host', 'global'] }).notNull().default('host'),
    secretNames: text('secret_names', { mode: 'json' }),
    // Its runs start the script as root through each host's elevation setting.
    elevated: integer('elevated', { mode: 'boolean' }).notNull().default(false),
    // A push job (kind 'push'): the file sent to every host, JSON { name, sha256, size, to, mode, owner? }; its bytes are blobs/<sha256> in the data dir.
    push: text('push', { mode: 'json' }),
    // A script job's files (its saved script's, as they were when it was queued), pushed before the script on each host.
    files: text('files', { mode: 'json' }),
    status: text('status', { enum: ['queued', 'running', 'succeeded', 'failed', 'partial', 'cancelled'] }).notNull(),
    requestedBy: text('requested_by', { enum: ['cli', 'desktop', 'headless', 'scheduler', 'followup'] }).notNull(),
    // On a team server: who asked for it (users.name at the time).
    requestedByPerson: text('requested_by_person'),
    // A schedule's job: the due time it fired for (one job per schedule and due time, unique).
    fireAt: integer('fire_at'),
    // A follow-up job: the run that fired it, on which outcome, and which follow-up (script_followups.id at firing time).
    triggerRunId: integer('trigger_run_id').references((): AnySQLiteColumn => runs.id, { onDelete: 'set null' }),
    triggerOn: text('trigger_on', { enum: ['success', 'failure', 'always', 'condition'] }),
    triggerFollowupId: integer('trigger_followup_id'),
    createdAt: createdAt(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('jobs_status_idx').on(t.status),
    index('jobs_created_idx').on(t.createdAt),
    index('jobs_schedule_idx').on(t.scheduleId),
    index('jobs_parent_idx').on(t.parentJobId),
    // Exactly once per (run, follow-up), whichever process fires it.
    uniqueIndex('jobs_trigger_unique').on(t.triggerRunId, t.triggerFollowupId),
    // Exactly once per (schedule, due time), whichever server fires it.
    uniqueIndex('jobs_schedule_fire_unique').on(t.scheduleId, t.fireAt),
  ],
);

/** One run per host per job. */
export const runs = sqliteTable(
  'runs',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    jobId: integer('job_id').notNull().references(() => jobs.id, { onDelete: 'cascade' }),
    // History outlives a removed host: the name is kept, the link cleared.
    hostId: integer('host_id').references(() => hosts.id, { onDelete: 'set null' }),
    hostName: text('host_name').notNull(),
    status: text('status', {
      enum: ['queued', 'claimed', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'],
    }).notNull(),
    attempt: integer('attempt').notNull().default(1),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    mode: text('mode', { enum: ['runner', 'direct'] }),
    modeReason: text('mode_reason'),
    // The SSH client the run went through: builtin or openssh (null: it never connected).
    transport: text('transport', { enum: ['builtin', 'openssh'] }),
    runnerVersion: text('runner_version'),
    helperTransport: text('helper_transport', { enum: ['tunnel', 'in-band', 'none'] }),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    // What to do about the error, when the failure said more than its code's default hint.
    errorHint: text('error_hint'),
    leaseOwner: text('lease_owner'),
    leaseExpiresAt: integer('lease_expires_at'),
    heartbeatAt: integer('heartbeat_at'),
    detached: integer('detached', { mode: 'boolean' }).notNull().default(false),
    lastSeq: integer('last_seq').notNull().default(0),
    output: text('output', { mode: 'json' }),
    condition: integer('condition', { mode: 'boolean' }),
    tConnectMs: integer('t_connect_ms'),
    tDeployMs: integer('t_deploy_ms'),
    tStartMs: integer('t_start_ms'),
    tExecMs: integer('t_exec_ms'),
    tTotalMs: integer('t_total_ms'),
    queuedAt: integer('queued_at').notNull(),
    // Not claimable before this time: the backoff of a retry.
    notBefore: integer('not_before').notNull().default(0),
    // Minus its job's priority, copied at enqueue: claims take runs in the order of runs_claim_idx
    // (most urgent job first, then oldest) from the index instead of sorting every queued run.
    priorityRank: integer('priority_rank').notNull().default(0),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    // When the follow-ups of this final run were fired (or found to be none); null: not yet.
    followupsAt: integer('followups_at'),
  },
  (t) => [
    index('runs_job_idx').on(t.jobId, t.status),
    index('runs_followups_pending_idx')
      .on(t.finishedAt)
      .where(sql`${t.followupsAt} is null and ${t.status} in ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost')`),
    index('runs_status_lease_idx').on(t.status, t.leaseExpiresAt),
    index('runs_status_not_before_idx').on(t.status, t.notBefore),
    index('runs_claim_idx').on(t.status, t.priorityRank, t.notBefore, t.id),
    index('runs_host_finished_idx').on(t.hostId, t.finishedAt),
  ],
);

/** Log output of runs, in sequence order. */
export const logChunks = sqliteTable(
  'log_chunks',
  {
    runId: integer('run_id').notNull().references(() => runs.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    stream: text('stream', { enum: ['stdout', 'stderr', 'system'] }).notNull(),
    ts: integer('ts').notNull(),
    /** The chunk; empty when it is in the run's output file (file_len set; SQLite only: log-files.ts). */
    bytes: blob('bytes', { mode: 'buffer' }).notNull(),
    /** Where the chunk is in the run's output file, when it is there. */
    fileOff: integer('file_off'),
    fileLen: integer('file_len'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

/** Variables for scripts: global, or per host (per host wins). */
export const variables = sqliteTable(
  'variables',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hostId: integer('host_id').references(() => hosts.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: text('value'),
    secret: integer('secret', { mode: 'boolean' }).notNull().default(false),
    sealed: blob('sealed', { mode: 'buffer' }),
    updatedAt: updatedAt(),
  },
  // SQLite treats NULLs as distinct in a unique index, so global and per-host keys get one each.
  (t) => [
    uniqueIndex('variables_global_key_unique').on(t.key).where(sql`${t.hostId} is null`),
    uniqueIndex('variables_host_key_unique').on(t.hostId, t.key).where(sql`${t.hostId} is not null`),
  ],
);

/** Runner artifacts known to this installation, per version and target. */
export const runnerArtifacts = sqliteTable(
  'runner_artifacts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    version: text('version').notNull(),
    target: text('target').notNull(),
    sha256: text('sha256').notNull(),
    size: integer('size').notNull(),
    signerKind: text('signer_kind', { enum: ['release', 'development'] }).notNull(),
    signerFingerprint: text('signer_fingerprint').notNull(),
    status: text('status', { enum: ['verified', 'invalid'] }).notNull(),
    error: text('error'),
    verifiedAt: integer('verified_at').notNull(),
  },
  (t) => [uniqueIndex('runner_artifacts_version_target_unique').on(t.version, t.target)],
);

/** Where the runner was deployed, per host and version. */
export const runnerDeployments = sqliteTable(
  'runner_deployments',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hostId: integer('host_id').notNull().references(() => hosts.id, { onDelete: 'cascade' }),
    version: text('version').notNull(),
    target: text('target').notNull(),
    path: text('path'),
    sha256: text('sha256').notNull(),
    status: text('status', { enum: ['deploying', 'ready', 'failed', 'removed'] }).notNull(),
    error: text('error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    verifiedAt: integer('verified_at'),
    /** The binary's stat record once it hashed right before a run (runner-mode.ts checkedCommand); null until then. */
    statRecord: text('stat_record'),
  },
  (t) => [index('runner_deployments_host_idx').on(t.hostId, t.version)],
);

/** Stored diagnostics reports. */
export const diagnostics = sqliteTable(
  'diagnostics',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hostId: integer('host_id').notNull().references(() => hosts.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['pass', 'warn', 'fail'] }).notNull(),
    report: text('report', { mode: 'json' }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('diagnostics_host_idx').on(t.hostId, t.createdAt)],
);

/** Who did what, when. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    ts: integer('ts').notNull(),
    actor: text('actor', { enum: ['cli', 'desktop', 'headless', 'scheduler', 'runner', 'helper'] }).notNull(),
    action: text('action').notNull(),
    target: text('target'),
    detail: text('detail', { mode: 'json' }),
    // On a team server: the person (users.name at the time) and where the request came from.
    person: text('person'),
    source: text('source'),
  },
  (t) => [index('audit_log_ts_idx').on(t.ts)],
);

/** Settings, one JSON value per key. */
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value', { mode: 'json' }).notNull(),
  updatedAt: updatedAt(),
});

/** Health transitions of schedules (scheduler/health.ts): what happened, when, why. */
export const scheduleEvents = sqliteTable(
  'schedule_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    scheduleId: integer('schedule_id').notNull().references(() => schedules.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['missed', 'late', 'failing', 'recovered', 'test'] }).notNull(),
    at: integer('at').notNull(),
    // The fire it is about (missed), or null.
    fireAt: integer('fire_at'),
    jobId: integer('job_id').references(() => jobs.id, { onDelete: 'set null' }),
    reason: text('reason').notNull(),
  },
  (t) => [index('schedule_events_schedule_idx').on(t.scheduleId, t.at), uniqueIndex('schedule_events_late_unique').on(t.kind, t.jobId)],
);

/** Outgoing webhooks of a schedule's alerts; the URL is sealed (it is a secret: Slack's are). */
export const webhooks = sqliteTable(
  'webhooks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    scheduleId: integer('schedule_id').notNull().references(() => schedules.id, { onDelete: 'cascade' }),
    urlSealed: blob('url_sealed', { mode: 'buffer' }).notNull(),
    // For display: scheme, host and a masked path.
    urlMasked: text('url_masked').notNull(),
    format: text('format', { enum: ['generic', 'slack'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('webhooks_schedule_idx').on(t.scheduleId)],
);

/** The alert outbox: one row per event and webhook, retried with backoff until delivered or given up. */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    webhookId: integer('webhook_id').notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: integer('event_id').notNull().references(() => scheduleEvents.id, { onDelete: 'cascade' }),
    status: text('status', { enum: ['pending', 'delivered', 'failed'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    lastError: text('last_error'),
    deliveredAt: integer('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_deliveries_pending_idx').on(t.status, t.nextAttemptAt)],
);

/**
 * People of a team server (issue #16; a one-person app has none). A password is stored as its
 * argon2id hash (PHC string); the TOTP secret sealed like credentials. Failed sign-ins count up
 * to a lock that holds until `lockedUntil`.
 */
export const users = sqliteTable(
  'users',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    // Lower case; the name a person signs in with.
    name: text('name').notNull(),
    role: text('role', { enum: ['admin', 'operator', 'viewer'] }).notNull(),
    passwordHash: text('password_hash'),
    totpSealed: blob('totp_sealed', { mode: 'buffer' }),
    // A TOTP secret waiting for its first code (enrolment not finished).
    totpPendingSealed: blob('totp_pending_sealed', { mode: 'buffer' }),
    // The last TOTP time step accepted: a code is never accepted twice.
    totpLastStep: integer('totp_last_step'),
    // OpenID Connect: "issuer subject" of the identity that signs in as this person.
    oidcSubject: text('oidc_subject'),
    disabled: integer('disabled', { mode: 'boolean' }).notNull().default(false),
    failedSignIns: integer('failed_sign_ins').notNull().default(0),
    lockedUntil: integer('locked_until'),
    lastSignInAt: integer('last_sign_in_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('users_name_unique').on(t.name), uniqueIndex('users_oidc_unique').on(t.oidcSubject)],
);

/** What an operator may run and schedule on: hosts by name, or every host with a tag. */
export const userGrants = sqliteTable(
  'user_grants',
  {
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['host', 'tag'] }).notNull(),
    value: text('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.kind, t.value] })],
);

/** Signed-in sessions: the SHA-256 of the cookie's token (the token itself is never stored). */
export const userSessions = sqliteTable(
  'user_sessions',
  {
    id: text('id').primaryKey(),
    userId: integer('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
    // The CSRF token of this session (not a secret at rest: useless without the cookie).
    csrf: text('csrf').notNull(),
    // Where it was signed in from, and with what.
    source: text('source'),
    client: text('client'),
    createdAt: createdAt(),
    lastSeenAt: integer('last_seen_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('user_sessions_user_idx').on(t.userId), index('user_sessions_expires_idx').on(t.expiresAt)],
);

/**
 * A team server's blobs (files of push jobs and saved scripts), in the team's database so that
 * any server's worker can send them (issue #16): one row per file, its bytes in 1 MiB chunks.
 * A server keeps a copy in its data dir (blobs/<sha256>) and fetches the chunks once when it has
 * none. A one-person app keeps only the data dir's copy (these tables stay empty).
 */
export const blobs = sqliteTable('blobs', {
  sha256: text('sha256').primaryKey(),
  size: integer('size').notNull(),
  chunks: integer('chunks').notNull(),
  createdAt: createdAt(),
});

export const blobChunks = sqliteTable(
  'blob_chunks',
  {
    sha256: text('sha256').notNull().references(() => blobs.sha256, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    bytes: blob('bytes', { mode: 'buffer' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.sha256, t.seq] })],
);
