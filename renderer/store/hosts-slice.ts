/** The hosts slice: the inventory list and the actions that change it. */
import type { CroniumApi, Host } from '../../electron/shared/api';
import { toErrorInfo } from '../api';
import type { HostsSlice, HostsState, SliceCreator } from './types';

/** Inserts or replaces a host, keeping the list sorted by name as the server does. */
function upsert(list: Host[], host: Host): Host[] {
  const rest = list.filter((h) => h.name !== host.name);
  const i = rest.findIndex((h) => h.name > host.name);
  return i < 0 ? [...rest, host] : [...rest.slice(0, i), host, ...rest.slice(i)];
}

/** Creates the hosts slice over the API (the API is a dependency, never state). */
export function createHostsSlice(api: CroniumApi): SliceCreator<HostsSlice> {
  return (set, get) => {
    let latest = 0;
    const patch = (p: Partial<HostsState>) => set((s) => ({ hosts: { ...s.hosts, ...p } }));
    return {
      hosts: {
        list: [],
        loading: false,
        loaded: false,
        error: null,
        async load() {
          const ticket = ++latest;
          patch({ loading: true });
          try {
            const list = await api.hosts.list({});
            if (ticket === latest) patch({ list, loading: false, loaded: true, error: null });
          } catch (e) {
            if (ticket === latest) patch({ loading: false, error: toErrorInfo(e) });
          }
        },
        async add(input) {
          const host = await api.hosts.add(input);
          patch({ list: upsert(get().hosts.list, host) });
          return host;
        },
        async update(change) {
          const host = await api.hosts.update(change);
          const list = change.newName && change.newName !== change.name ? get().hosts.list.filter((h) => h.name !== change.name) : get().hosts.list;
          patch({ list: upsert(list, host) });
          return host;
        },
        async remove(name) {
          await api.hosts.remove({ name });
          patch({ list: get().hosts.list.filter((h) => h.name !== name) });
        },
      },
    };
  };
}
