/** The schedules slice: every schedule with its next runs, and the actions on them. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { ScheduleView, SchedulesSlice, SchedulesState, SliceCreator } from './types';

/** Replaces (or appends) a schedule by name, keeping the server's order otherwise. */
function upsert(list: ScheduleView[], s: ScheduleView): ScheduleView[] {
  const i = list.findIndex((x) => x.name === s.name);
  return i < 0 ? [...list, s] : list.map((x, j) => (j === i ? s : x));
}

/** Creates the schedules slice over the API. */
export function createSchedulesSlice(api: CroniumApi): SliceCreator<SchedulesSlice> {
  return (set, get) => {
    let latest = 0;
    const patch = (p: Partial<SchedulesState>) => set((s) => ({ schedules: { ...s.schedules, ...p } }));
    const list = () => get().schedules.list;
    return {
      schedules: {
        list: [],
        loading: false,
        loaded: false,
        error: null,
        async load() {
          const ticket = ++latest;
          patch({ loading: true });
          try {
            const l = await api.schedules.list({});
            if (ticket === latest) patch({ list: l, loading: false, loaded: true, error: null });
          } catch (e) {
            if (ticket === latest) patch({ loading: false, error: toErrorInfo(e) });
          }
        },
        async add(input) {
          const s = await api.schedules.add(input);
          patch({ list: upsert(list(), s) });
          return s;
        },
        async pause(name) {
          patch({ list: upsert(list(), await api.schedules.pause({ name })) });
        },
        async resume(name) {
          patch({ list: upsert(list(), await api.schedules.resume({ name })) });
        },
        async remove(name) {
          await api.schedules.remove({ name });
          patch({ list: list().filter((s) => s.name !== name) });
        },
      },
    };
  };
}
