/** Makes the API reachable from components that call it directly (live views such as a job's logs). */
import { createContext, createElement, useContext, type ReactNode } from 'react';
import type { CroniumApi } from '../../electron/shared/api';

const ApiContext = createContext<CroniumApi | null>(null);

/** Provides the API to the components below. */
export function ApiProvider({ api, children }: { api: CroniumApi; children: ReactNode }) {
  return createElement(ApiContext.Provider, { value: api }, children);
}

/** The API; only inside <ApiProvider>. */
export function useApi(): CroniumApi {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi must be used inside <ApiProvider>');
  return api;
}
