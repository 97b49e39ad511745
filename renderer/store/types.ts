/** The shape of the app store: one interface per slice, assembled into AppState. */
import type { StateCreator } from 'zustand/vanilla';
import type { Host, MethodArgs, MethodResult } from '../../electron/shared/api';
import type { ErrorInfo } from '../api';

/** What the Add host form sends. */
export type NewHostInput = MethodArgs<'hosts.add'>;
/** Facts about the running app, from app.info. */
export type AppInfo = MethodResult<'app.info'>;

/** The host inventory as the UI shows it. */
export interface HostsState {
  list: Host[];
  /** A request is in flight. */
  loading: boolean;
  /** The list has been fetched at least once (so an empty list means "no hosts"). */
  loaded: boolean;
  /** Why the last load failed; cleared by the next successful one. */
  error: ErrorInfo | null;
  /** Fetches the list; a later call wins over an earlier one still in flight. */
  load(): Promise<void>;
  /** Adds a host; rejects with ApiError (with field details) so the form can show it. */
  add(input: NewHostInput): Promise<Host>;
  /** Removes a host by name; rejects with ApiError. */
  remove(name: string): Promise<void>;
}

/** How the UI reaches the app: headless sessions can drop, the desktop cannot. */
export type ConnectionStatus = 'local' | 'connecting' | 'open' | 'reconnecting';

/** The session: what the app is and whether we can reach it. */
export interface SessionState {
  info: AppInfo | null;
  infoError: ErrorInfo | null;
  connection: ConnectionStatus;
  /** Failed reconnect attempts in a row, to escalate the banner's advice. */
  failures: number;
  loadInfo(): Promise<void>;
  setConnection(status: ConnectionStatus, failures: number): void;
}

/** The hosts slice. */
export interface HostsSlice {
  hosts: HostsState;
}
/** The session slice. */
export interface SessionSlice {
  session: SessionState;
}

/** The whole store. */
export type AppState = HostsSlice & SessionSlice;

/** A typed slice creator over the whole store. */
export type SliceCreator<S> = StateCreator<AppState, [], [], S>;
