/** The handler of every contract method, over the core's services. */
import { homedir } from 'node:os';
import type { Services } from '../core';
import { importHostsFromSshConfig } from '../ssh/ssh-config-import';
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
    'hosts.scanKeys': (args) => core.hostTrust.scanKeys(args),
    'hosts.trust': (args) => core.hostTrust.trust(args),
    'hosts.import': (args) => importHostsFromSshConfig(core.hosts, args, { home: homedir(), env: process.env }),
    'hosts.diagnose': ({ name }) => core.diagnostics.diagnose(name),
    'diagnostics.list': ({ name, limit }) => core.diagnostics.list(name, limit),
  };
}
