/** The settings slice: the app's settings, kept current by the settings.changed event. */
import type { CroniumApi } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { SettingsSlice, SettingsState, SliceCreator } from './types';

/** Creates the settings slice over the API. */
export function createSettingsSlice(api: CroniumApi): SliceCreator<SettingsSlice> {
  return (set) => {
    let latest = 0;
    const patch = (p: Partial<SettingsState>) => set((s) => ({ settings: { ...s.settings, ...p } }));
    return {
      settings: {
        value: null,
        loaded: false,
        error: null,
        async load() {
          const ticket = ++latest;
          try {
            const value = await api.settings.get({});
            if (ticket === latest) patch({ value, loaded: true, error: null });
          } catch (e) {
            if (ticket === latest) patch({ error: toErrorInfo(e) });
          }
        },
        async save(change) {
          const value = await api.settings.set(change);
          ++latest;
          patch({ value, loaded: true, error: null });
          return value;
        },
        receive(value) {
          ++latest;
          patch({ value, loaded: true, error: null });
        },
      },
    };
  };
}
