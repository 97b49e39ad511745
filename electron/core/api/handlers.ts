/** The handler of every contract method, over the core's services. */
import type { Services } from '../core';
import type { Handlers } from './dispatcher';

/** Builds the handler table; typed against the contract, so a missing handler fails to compile. */
export function createHandlers(core: Services): Handlers {
  return {
    'app.info': (_args, ctx) => ({ ...core.info, door: ctx.door }),
    'hosts.list': (args) => core.hosts.list(args),
    'hosts.get': ({ name }) => core.hosts.get(name),
    'hosts.add': (args) => core.hosts.add(args),
    'hosts.remove': ({ name }) => {
      core.hosts.remove(name);
      return { removed: true as const };
    },
  };
}
