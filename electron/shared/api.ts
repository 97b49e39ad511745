/**
 * The typed API contract: every method and event that the renderer (or any other
 * client) can use, with zod schemas for arguments, results and payloads. This one list
 * is the source of the preload bridge, the main-process handler table, the headless
 * WebSocket bridge and the renderer's client; adding a method touches this file and
 * its handler, nothing else. Results are parsed on the way out too, so a field that is
 * not in a schema (a secret, say) can never reach a client.
 */
import { z } from 'zod';
import { type ApiErrorSchema } from './errors';

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

/** A host as every client sees it: never any secret, only whether one is stored. */
export const Host = z.object({
  id: z.int(),
  name: z.string(),
  address: z.string(),
  port: z.int(),
  user: z.string().nullable(),
  identityFile: z.string().nullable(),
  jump: z.string().nullable(),
  tags: z.array(z.string()),
  /** The group the host belongs to (one per host), or null. */
  group: z.string().nullable(),
  hasPassword: z.boolean(),
  /** A passphrase for the identity file is stored (encrypted). */
  hasPassphrase: z.boolean(),
  /** Whether the user's ssh-agent keys are offered. */
  useAgent: z.boolean(),
  createdAt: z.int(),
  updatedAt: z.int(),
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
  tags: z.array(Tag).max(64).default([]),
  group: HostGroup.optional(),
});

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
  /** Stable: dns, tcp, ssh, auth, shell-noise, platform, interpreters, cache, sftp, forwarding, clock, runner. */
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

/** Declares one method: its argument and result schemas. */
function method<A extends z.ZodType, R extends z.ZodType>(args: A, result: R, doc: string) {
  return { args, result, doc };
}

const NoArgs = z.strictObject({}).default({});

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
      })
      .default({ dryRun: false, tag: [] }),
    HostImportResult,
    'Adds the hosts of an OpenSSH client config (default ~/.ssh/config); existing names are skipped, bad lines reported.',
  ),
  'hosts.diagnose': method(z.strictObject({ name: HostName }), DiagnosticReport, 'Checks a host end to end and stores the report; an unreachable host yields a report, not an error.'),
  'diagnostics.list': method(
    z.strictObject({ name: HostName, limit: z.int().min(1).max(500).default(20) }),
    z.array(DiagnosticReport),
    'Stored diagnostics reports of a host, newest first.',
  ),
} as const;

/** Every event the app pushes to clients, by name. */
export const events = {
  'hosts.changed': z.object({ change: z.enum(['added', 'updated', 'removed']), name: z.string() }),
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
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: z.infer<typeof ApiErrorSchema> };

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
