/**
 * The app store: one zustand store assembled from typed slices. Live handles (the
 * API, the socket's connection monitor, event subscriptions) stay outside it; the
 * store holds plain data and the actions over it.
 */
import { createContext, createElement, useContext, type ReactNode } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { CroniumApi } from '../../electron/shared/api';
import type { Connection } from '../api';
import { createHostsSlice } from './hosts-slice';
import { createJobsSlice } from './jobs-slice';
import { createRunnerSlice } from './runner-slice';
import { createSchedulesSlice } from './schedules-slice';
import { createSessionSlice } from './session-slice';
import { createSettingsSlice } from './settings-slice';
import type { AppState } from './types';

export { useShallow } from 'zustand/react/shallow';
export type {
  AppInfo,
  AppState,
  ConnectionStatus,
  HostChange,
  HostsState,
  JobStatus,
  JobSummary,
  NewHostInput,
  NewScheduleInput,
  RunnerArtifacts,
  RunnerDeployment,
  ScheduleView,
  SessionState,
  Settings,
  SettingsChange,
  SettingsState,
} from './types';

/** The store and a way to stop feeding it. */
export interface AppStore {
  store: StoreApi<AppState>;
  /** Unsubscribes from events and the connection. */
  dispose(): void;
}

/**
 * Builds the store, subscribes it to the app's events and the connection, and starts
 * the first loads. After a reconnect everything is reloaded, since events may have
 * been missed while the socket was down.
 */
export function createAppStore(api: CroniumApi, connection: Connection | null): AppStore {
  const store = createStore<AppState>()((...a) => ({
    ...createHostsSlice(api)(...a),
    ...createSessionSlice(api, connection ? 'connecting' : 'local')(...a),
    ...createJobsSlice(api)(...a),
    ...createSchedulesSlice(api)(...a),
    ...createRunnerSlice(api)(...a),
    ...createSettingsSlice(api)(...a),
  }));
  const state = () => store.getState();

  // Job list refreshes on status changes are coalesced: a fan-out to many hosts sends many.
  let jobsTimer: ReturnType<typeof setTimeout> | null = null;
  const reloadJobs = () => {
    if (jobsTimer || !state().jobs.loaded) return;
    jobsTimer = setTimeout(() => {
      jobsTimer = null;
      void state().jobs.load();
    }, 250);
  };
  const unsubscribers = [
    api.on('hosts.changed', () => void state().hosts.load()),
    api.on('settings.changed', (value) => state().settings.receive(value)),
    api.on('run.status', reloadJobs),
    () => {
      if (jobsTimer) clearTimeout(jobsTimer);
    },
  ];
  if (connection) {
    let opened = connection.get().opened;
    unsubscribers.push(
      connection.subscribe((c) => {
        state().session.setConnection(c.status, c.failures);
        if (c.opened !== opened) {
          // Reopened: anything may have changed unseen. First open: retry what gave up waiting.
          const { hosts, session } = state();
          if (c.opened > 1 || (!hosts.loaded && !hosts.loading)) void hosts.load();
          if (c.opened > 1 || (!session.info && session.infoError)) void session.loadInfo();
          if (c.opened > 1 || (!state().settings.loaded && state().settings.error)) void state().settings.load();
          const { jobs, schedules, runner } = state();
          if (c.opened > 1 && jobs.loaded) void jobs.load();
          if (c.opened > 1 && schedules.loaded) void schedules.load();
          if (c.opened > 1 && runner.loaded) void runner.load();
        }
        opened = c.opened;
      }),
    );
  }
  void state().hosts.load();
  void state().session.loadInfo();
  void state().settings.load();

  return {
    store,
    dispose() {
      for (const u of unsubscribers) u();
    },
  };
}

const StoreContext = createContext<StoreApi<AppState> | null>(null);

/** Makes a store available to the components below. */
export function StoreProvider({ store, children }: { store: StoreApi<AppState>; children: ReactNode }) {
  return createElement(StoreContext.Provider, { value: store }, children);
}

/** Selects from the app store; select narrowly, and wrap object results in useShallow. */
export function useAppStore<T>(selector: (state: AppState) => T): T {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useAppStore must be used inside <StoreProvider>');
  return useStore(store, selector);
}
