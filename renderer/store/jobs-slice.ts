/** The jobs slice: the jobs list and its status filter; live job views keep their own state. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { JobsSlice, JobsState, SliceCreator } from './types';

/** Creates the jobs slice over the API. */
export function createJobsSlice(api: CroniumApi): SliceCreator<JobsSlice> {
  return (set, get) => {
    let latest = 0;
    const patch = (p: Partial<JobsState>) => set((s) => ({ jobs: { ...s.jobs, ...p } }));
    return {
      jobs: {
        list: [],
        status: null,
        loading: false,
        loaded: false,
        error: null,
        async load() {
          const ticket = ++latest;
          const status = get().jobs.status;
          patch({ loading: true });
          try {
            const list = await api.jobs.list(status ? { status, limit: 200 } : { limit: 200 });
            if (ticket === latest) patch({ list, loading: false, loaded: true, error: null });
          } catch (e) {
            if (ticket === latest) patch({ loading: false, error: toErrorInfo(e) });
          }
        },
        setStatus(status) {
          patch({ status });
          void get().jobs.load();
        },
      },
    };
  };
}
