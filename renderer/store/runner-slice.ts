/** The runner slice: the installation's artifacts, the deployments to hosts and the runner's health. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { RunnerSlice, RunnerState, SliceCreator } from './types';

/** Creates the runner slice over the API. */
export function createRunnerSlice(api: CroniumApi): SliceCreator<RunnerSlice> {
  return (set, get) => {
    const patch = (p: Partial<RunnerState>) => set((s) => ({ runner: { ...s.runner, ...p } }));
    let healthTicket = 0;
    const loadHealth = async () => {
      const ticket = ++healthTicket;
      try {
        const health = await api.runner.health({ days: get().runner.healthDays });
        if (ticket === healthTicket) patch({ health, healthError: null });
      } catch (e) {
        if (ticket === healthTicket) patch({ healthError: toErrorInfo(e) });
      }
    };
    return {
      runner: {
        artifacts: null,
        artifactsError: null,
        deployments: [],
        deploymentsError: null,
        health: null,
        healthError: null,
        healthDays: 14,
        loading: false,
        loaded: false,
        async load() {
          patch({ loading: true });
          // Each part is useful alone: missing artifacts must not hide the deployments or the health.
          const [a, d] = await Promise.allSettled([api.runner.artifacts({}), api.runner.deployments({ limit: 500 }), loadHealth()]);
          patch({
            loading: false,
            loaded: true,
            ...(a.status === 'fulfilled' ? { artifacts: a.value, artifactsError: null } : { artifactsError: toErrorInfo(a.reason) }),
            ...(d.status === 'fulfilled' ? { deployments: d.value, deploymentsError: null } : { deploymentsError: toErrorInfo(d.reason) }),
          });
        },
        setHealthDays(days) {
          patch({ healthDays: days });
          void loadHealth();
        },
        async clean(name) {
          const result = await api.runner.clean({ name });
          try {
            patch({ deployments: await api.runner.deployments({ limit: 500 }), deploymentsError: null });
          } catch (e) {
            patch({ deploymentsError: toErrorInfo(e) });
          }
          void loadHealth();
          return result;
        },
      },
    };
  };
}
