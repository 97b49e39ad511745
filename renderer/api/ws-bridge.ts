/**
 * The headless door's CroniumBridge: the same method set as the desktop preload, over
 * one WebSocket to `/api` on the page's own origin (the auth cookie rides along; the
 * page never sees the token). The renderer may import only types from the contract,
 * so calls are built by a Proxy: any `bridge.group.leaf(args)` becomes `group.leaf`.
 *
 * Invariants: every call settles. A call made while the socket is not open waits in a
 * queue (up to queueTimeoutMs); a call already sent when the socket drops rejects with
 * ConnectionLostError, because it may or may not have been applied. The socket is
 * reopened with capped, jittered exponential backoff until close() is called.
 */
import type { CroniumBridge, Envelope, EventName, EventPayload, WsServerMessage } from '../../electron/shared/api';
import { ConnectionLostError } from './api-error';
import { methodProxy } from './method-proxy';

/** Where the session stands: first connect, open, or retrying after a failure. */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting';

/** The connection as the UI shows it. */
export interface ConnectionState {
  status: ConnectionStatus;
  /** Failed attempts since the socket was last open. */
  failures: number;
  /** How many times the socket has opened; a change after the first means "resync". */
  opened: number;
  /** The server's version, from its hello message. */
  serverVersion: string | null;
}

/** An observable connection state (a live handle: keep it out of the store). */
export interface Connection {
  get(): ConnectionState;
  subscribe(listener: (state: ConnectionState) => void): () => void;
}

/** Knobs for tests and special hosts. */
export interface WsBridgeOptions {
  /** Opens the socket; the browser's WebSocket by default. */
  createSocket?: (url: string) => WebSocket;
  /** Delay before retry number `failures` (1-based), in ms. */
  backoff?: (failures: number) => number;
  /** How long a call may wait for the socket to open before it rejects. */
  queueTimeoutMs?: number;
}

/** The bridge, its connection state and a way to shut it down. */
export interface WsBridge {
  bridge: CroniumBridge;
  connection: Connection;
  close(): void;
}

/** 250 ms doubling to 10 s, with ±20% jitter so many tabs do not retry in step. */
export function defaultBackoff(failures: number): number {
  const base = Math.min(10_000, 250 * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** The WebSocket URL of the API on the page's own origin. */
export function headlessApiUrl(loc: Pick<Location, 'protocol' | 'host'>): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api`;
}

/** WebSocket.OPEN, spelled out so the bridge also runs where there is no global WebSocket. */
const OPEN = 1;

interface Call {
  id: number;
  method: string;
  args: unknown;
  resolve: (envelope: Envelope<unknown>) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/** Opens the socket and returns a bridge whose calls go over it. */
export function createWsBridge(url: string, options: WsBridgeOptions = {}): WsBridge {
  const createSocket = options.createSocket ?? ((u: string) => new WebSocket(u));
  const backoff = options.backoff ?? defaultBackoff;
  const queueTimeoutMs = options.queueTimeoutMs ?? 15_000;

  let nextId = 1;
  const queued: Call[] = [];
  const inFlight = new Map<number, Call>();
  const eventListeners = new Map<string, Set<(payload: unknown) => void>>();
  const stateListeners = new Set<(state: ConnectionState) => void>();
  let state: ConnectionState = { status: 'connecting', failures: 0, opened: 0, serverVersion: null };
  let socket: WebSocket | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  function setState(patch: Partial<ConnectionState>): void {
    state = { ...state, ...patch };
    for (const listener of stateListeners) listener(state);
  }

  function send(call: Call): void {
    if (call.timer) clearTimeout(call.timer);
    call.timer = null;
    inFlight.set(call.id, call);
    socket?.send(JSON.stringify({ id: call.id, method: call.method, args: call.args }));
  }

  function connect(): void {
    const ws = createSocket(url);
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      setState({ status: 'open', failures: 0, opened: state.opened + 1 });
      for (const call of queued.splice(0)) send(call);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (socket === ws && typeof ev.data === 'string') receive(ev.data);
    };
    // A close event always follows an error; that is where the failure is handled.
    ws.onerror = () => {};
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      const wasOpen = state.status === 'open';
      for (const call of inFlight.values()) {
        call.reject(new ConnectionLostError(`the connection to Cronium was lost before ${call.method} finished; it may or may not have been applied`));
      }
      inFlight.clear();
      if (closed) return;
      const failures = wasOpen ? 1 : state.failures + 1;
      setState({ status: 'reconnecting', failures });
      retryTimer = setTimeout(() => {
        retryTimer = null;
        if (!closed) connect();
      }, backoff(failures));
    };
  }

  function receive(text: string): void {
    let msg: WsServerMessage;
    try {
      msg = JSON.parse(text) as WsServerMessage;
    } catch {
      console.warn('cronium: ignoring a message that is not JSON');
      return;
    }
    if (typeof msg !== 'object' || msg === null) return;
    if (msg.type === 'reply') {
      const call = inFlight.get(msg.id);
      if (!call) return;
      inFlight.delete(msg.id);
      call.resolve(toEnvelope(msg));
    } else if (msg.type === 'event') {
      for (const listener of eventListeners.get(msg.event) ?? []) {
        try {
          listener(msg.payload);
        } catch (e) {
          console.error(`cronium: a listener of ${msg.event} failed`, e);
        }
      }
    } else if (msg.type === 'hello') {
      setState({ serverVersion: typeof msg.version === 'string' ? msg.version : null });
    }
  }

  function call(method: string, args: unknown): Promise<Envelope<unknown>> {
    if (closed) return Promise.reject(new ConnectionLostError('the connection to Cronium is closed'));
    return new Promise((resolve, reject) => {
      const c: Call = { id: nextId++, method, args, resolve, reject, timer: null };
      if (socket && socket.readyState === OPEN) {
        send(c);
        return;
      }
      c.timer = setTimeout(() => {
        const i = queued.indexOf(c);
        if (i >= 0) queued.splice(i, 1);
        reject(new ConnectionLostError(`not connected to Cronium; ${method} was not sent`));
      }, queueTimeoutMs);
      queued.push(c);
    });
  }

  function on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = eventListeners.get(event);
    if (!set) eventListeners.set(event, (set = new Set()));
    const l = listener as (payload: unknown) => void;
    set.add(l);
    return () => {
      set.delete(l);
    };
  }

  const bridge = methodProxy(call, on) as CroniumBridge;

  const connection: Connection = {
    get: () => state,
    subscribe(listener) {
      stateListeners.add(listener);
      return () => {
        stateListeners.delete(listener);
      };
    },
  };

  connect();

  return {
    bridge,
    connection,
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      for (const c of queued.splice(0)) {
        if (c.timer) clearTimeout(c.timer);
        c.reject(new ConnectionLostError('the connection to Cronium is closed'));
      }
      socket?.close();
    },
  };
}

/** Narrows a reply to an envelope; a malformed one becomes an INTERNAL error. */
function toEnvelope(msg: Extract<WsServerMessage, { type: 'reply' }>): Envelope<unknown> {
  if (msg.ok === true) return { ok: true, result: msg.result };
  const error: unknown = (msg as { error?: unknown }).error;
  if (msg.ok === false && typeof error === 'object' && error !== null) {
    const e = error as Record<string, unknown>;
    if (typeof e.code === 'string' && typeof e.message === 'string') return { ok: false, error: msg.error };
  }
  return { ok: false, error: { code: 'INTERNAL', message: 'the server sent a malformed reply' } };
}
