/** The runner slice: the installation's artifacts and the deployments to hosts. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { RunnerSlice, RunnerState, SliceCreator } from './types';

/** Creates the runner slice over the API. */
export function createRunnerSlice(api: CroniumApi): SliceCreator<RunnerSlice> {
  return (set) => {
    const patch = (p: Partial<RunnerState>) => set((s) => ({ runner: { ...s.runner, ...p } }));
    return {
      runner: {
        artifacts: null,
        artifactsError: null,
        deployments: [],
        deploymentsError: null,
        loading: false,
        loaded: false,
        async load() {
          patch({ loading: true });
          // Each half is useful alone: missing artifacts must not hide the deployments.
          const [a, d] = await Promise.allSettled([api.runner.artifacts({}), api.runner.deployments({ limit: 500 })]);
          patch({
            loading: false,
            loaded: true,
            ...(a.status === 'fulfilled' ? { artifacts: a.value, artifactsError: null } : { artifactsError: toErrorInfo(a.reason) }),
            ...(d.status === 'fulfilled' ? { deployments: d.value, deploymentsError: null } : { deploymentsError: toErrorInfo(d.reason) }),
          });
        },
      },
    };
  };
}
