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
  hasPassword: z.boolean(),
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
  jump: HostName.optional(),
  tags: z.array(Tag).max(64).default([]),
});

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
        search: z.string().max(200).optional(),
      })
      .default({}),
    z.array(Host),
    'Hosts of the inventory, sorted by name; optionally only those with a tag or matching a search.',
  ),
  'hosts.get': method(z.strictObject({ name: HostName }), Host, 'One host by name.'),
  'hosts.add': method(HostInput, Host, 'Adds a host to the inventory (no connection is made).'),
  'hosts.remove': method(z.strictObject({ name: HostName }), z.object({ removed: z.literal(true) }), 'Removes a host and its credentials.'),
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
