/** The jobs slice: the jobs list and its filters (status, host, schedule, time range); live job views keep their own state. */
import type { CroniumApi, MethodArgs } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { JobsFilter, JobsRange, JobsSlice, JobsState, SliceCreator } from './types';

const RANGE_MS: Record<Exclude<JobsRange, 'all'>, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

/** The jobs.list arguments of a filter, at a time `now`. */
export function jobsListArgs(f: JobsFilter, now: number, limit = 200): MethodArgs<'jobs.list'> {
  return {
    limit,
    ...(f.status ? { status: f.status } : {}),
    ...(f.host ? { host: f.host } : {}),
    ...(f.schedule ? { schedule: f.schedule } : {}),
    ...(f.range !== 'all' ? { since: now - RANGE_MS[f.range] } : {}),
  };
}

/** Creates the jobs slice over the API. */
export function createJobsSlice(api: CroniumApi): SliceCreator<JobsSlice> {
  return (set, get) => {
    let latest = 0;
    const patch = (p: Partial<JobsState>) => set((s) => ({ jobs: { ...s.jobs, ...p } }));
    return {
      jobs: {
        list: [],
        status: null,
        filter: { status: null, host: null, schedule: null, range: 'all' },
        loading: false,
        loaded: false,
        error: null,
        async load() {
          const ticket = ++latest;
          patch({ loading: true });
          try {
            const list = await api.jobs.list(jobsListArgs(get().jobs.filter, Date.now()));
            if (ticket === latest) patch({ list, loading: false, loaded: true, error: null });
          } catch (e) {
            if (ticket === latest) patch({ loading: false, error: toErrorInfo(e) });
          }
        },
        setStatus(status) {
          get().jobs.setFilter({ status });
        },
        setFilter(p) {
          const filter = { ...get().jobs.filter, ...p };
          patch({ filter, status: filter.status });
          void get().jobs.load();
        },
      },
    };
  };
}
