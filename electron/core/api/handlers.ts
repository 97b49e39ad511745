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
    'runner.artifacts': () => core.runner.artifacts(),
    'runner.deployments': ({ name, limit }) => core.runner.deployments({ ...(name !== undefined ? { name } : {}), limit }),
    'runner.deploy': ({ name }) => core.runner.deploy(name),
    'runner.clean': ({ name }) => core.runner.clean(name),
    'jobs.run': (args, ctx) => core.jobs.run(args, ctx.door),
    'jobs.list': (args) => core.jobs.list(args),
    'jobs.get': ({ id }) => core.jobs.get(id),
    'jobs.cancel': ({ id }) => core.jobs.cancel(id),
    'runs.logs': (args) => core.jobs.logs(args),
    'schedules.add': (a) =>
      core.schedules.add({
        name: a.name,
        cron: a.cron,
        tz: a.tz,
        script: { interpreter: a.interpreter, body: a.script },
        target: { ...(a.hosts?.length ? { hosts: a.hosts } : {}), ...(a.tag ? { tags: [a.tag] } : {}) },
        mode: a.mode,
        ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}),
        ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
        overlapPolicy: a.overlap,
        catchupPolicy: a.catchup,
      }),
    'schedules.list': () => core.schedules.list(),
    'schedules.get': ({ name }) => core.schedules.get(name),
    'schedules.remove': ({ name }) => {
      core.schedules.remove(name);
      return { removed: true as const };
    },
    'schedules.pause': ({ name }) => core.schedules.pause(name),
    'schedules.resume': ({ name }) => core.schedules.resume(name),
    'settings.get': () => core.settings.get(),
    'settings.set': (patch) => core.settings.set(patch),
  };
}
