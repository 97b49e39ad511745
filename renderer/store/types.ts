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
  /** Changes a host (hosts.update); rejects with ApiError (with field details) so the form can show it. */
  update(change: HostChange): Promise<Host>;
}

/** What the Edit host form and bulk actions send. */
export type HostChange = MethodArgs<'hosts.update'>;
/** The app settings. */
export type Settings = MethodResult<'settings.get'>;
/** A change to the settings. */
export type SettingsChange = MethodArgs<'settings.set'>;

/** The settings as the UI shows them. */
export interface SettingsState {
  value: Settings | null;
  loaded: boolean;
  error: ErrorInfo | null;
  load(): Promise<void>;
  /** Saves a change; resolves to the settings in force, rejects with ApiError. */
  save(change: SettingsChange): Promise<Settings>;
  /** Takes the settings from a settings.changed event. */
  receive(value: Settings): void;
}
/** The settings slice. */
export interface SettingsSlice {
  settings: SettingsState;
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

/** A job as listed, from jobs.list. */
export type JobSummary = MethodResult<'jobs.list'>[number];
/** A job's status. */
export type JobStatus = JobSummary['status'];

/** How far back the jobs list looks. */
export type JobsRange = '1h' | '24h' | '7d' | '30d' | 'all';

/** The jobs list's filters (null: any). */
export interface JobsFilter {
  status: JobStatus | null;
  host: string | null;
  schedule: string | null;
  range: JobsRange;
}

/** The jobs list as the UI shows it. */
export interface JobsState {
  list: JobSummary[];
  /** Only jobs of this status, or all (the same as filter.status). */
  status: JobStatus | null;
  filter: JobsFilter;
  loading: boolean;
  loaded: boolean;
  error: ErrorInfo | null;
  /** Fetches the list with the current filter; a later call wins. */
  load(): Promise<void>;
  /** Changes the status filter and reloads. */
  setStatus(status: JobStatus | null): void;
  /** Changes some filters and reloads. */
  setFilter(patch: Partial<JobsFilter>): void;
}

/** A schedule, from schedules.list. */
export type ScheduleView = MethodResult<'schedules.list'>[number];
/** What the Add schedule form sends. */
export type NewScheduleInput = MethodArgs<'schedules.add'>;

/** The schedules as the UI shows them. */
export interface SchedulesState {
  list: ScheduleView[];
  loading: boolean;
  loaded: boolean;
  error: ErrorInfo | null;
  load(): Promise<void>;
  /** Adds a schedule; rejects with ApiError so the form can show it. */
  add(input: NewScheduleInput): Promise<ScheduleView>;
  pause(name: string): Promise<void>;
  resume(name: string): Promise<void>;
  remove(name: string): Promise<void>;
}

/** The runner's artifacts, from runner.artifacts. */
export type RunnerArtifacts = MethodResult<'runner.artifacts'>;
/** One runner deployment. */
export type RunnerDeployment = MethodResult<'runner.deployments'>[number];

/** The runner's health per day, from runner.health. */
export type RunnerHealth = MethodResult<'runner.health'>;
/** What runner.clean removed. */
export type RunnerCleanResult = MethodResult<'runner.clean'>;

/** The Runner view's data. */
export interface RunnerState {
  artifacts: RunnerArtifacts | null;
  artifactsError: ErrorInfo | null;
  deployments: RunnerDeployment[];
  deploymentsError: ErrorInfo | null;
  health: RunnerHealth | null;
  healthError: ErrorInfo | null;
  /** Days the health covers. */
  healthDays: number;
  loading: boolean;
  loaded: boolean;
  load(): Promise<void>;
  /** Changes the health window and reloads it. */
  setHealthDays(days: number): void;
  /** Removes the cached runners from a host (runner.clean), then reloads the deployments; rejects with ApiError. */
  clean(name: string): Promise<RunnerCleanResult>;
}

/** The jobs slice. */
export interface JobsSlice {
  jobs: JobsState;
}
/** The schedules slice. */
export interface SchedulesSlice {
  schedules: SchedulesState;
}
/** The runner slice. */
export interface RunnerSlice {
  runner: RunnerState;
}

/** The whole store. */
export type AppState = HostsSlice & SessionSlice & JobsSlice & SchedulesSlice & RunnerSlice & SettingsSlice;

/** A typed slice creator over the whole store. */
export type SliceCreator<S> = StateCreator<AppState, [], [], S>;
