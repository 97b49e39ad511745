/** The handler of every contract method, over the core's services. */
import type { Services } from '../core';
import { importHostsFromSshConfig } from '../ssh/ssh-config-import';
import { sshHome } from '../ssh/ssh-paths';
import type { CallContext, Handlers } from './dispatcher';
import type { AccountService } from '../accounts/accounts';
import { CroniumError } from '../../shared/errors';

/** The accounts of a team server; a one-person app has none. */
function accounts(core: Services): AccountService {
  if (!core.accounts) throw new CroniumError('NOT_IMPLEMENTED', 'this Cronium has no accounts: it is one person’s app', 'accounts belong to a team server: cronium serve --database postgres://… (docs/team-server.md)');
  return core.accounts;
}

/** The signed-in person's name. */
function me(ctx: CallContext): string {
  if (!ctx.principal) throw new CroniumError('NOT_IMPLEMENTED', 'no one is signed in: this door has no accounts', 'sign in to a team server (docs/team-server.md)');
  return ctx.principal.name;
}

/** Builds the handler table; typed against the contract, so a missing handler fails to compile. */
export function createHandlers(core: Services): Handlers {
  return {
    'app.info': (_args, ctx) => ({ ...core.info, door: ctx.door }),
    'hostCas.list': () => core.hostCas.list(),
    'hostCas.add': ({ patterns, publicKey }) => core.hostCas.add(patterns, publicKey),
    'hostCas.remove': ({ id }) => core.hostCas.remove(id),
    'auth.pending': () => core.prompts.pending(),
    'auth.answer': ({ id, answers, remember }) => core.prompts.answer(id, answers, remember),
    'auth.cancel': ({ id }) => core.prompts.cancel(id),
    'hosts.list': (args) => core.hosts.list(args),
    'hosts.get': ({ name }) => core.hosts.get(name),
    'hosts.add': (args) => core.hosts.add(args),
    'hosts.update': (args) => core.hosts.update(args),
    'hosts.remove': async ({ name }) => {
      await core.hosts.remove(name);
      return { removed: true as const };
    },
    'hosts.scanKeys': (args) => core.hostTrust.scanKeys(args),
    'hosts.trust': (args) => core.hostTrust.trust(args),
    // OpenSSH's home: %USERPROFILE% on Windows (its .ssh\config), $HOME elsewhere.
    'hosts.import': (args) => importHostsFromSshConfig(core.hosts, args, { home: sshHome(), env: process.env }),
    'hosts.diagnose': async ({ name }) => {
      const report = await core.diagnostics.diagnose(name);
      // The host's row keeps what the report learnt (OS, architecture, last reached) for hosts.list.
      await core.hosts.noteDiagnosis(report);
      return report;
    },
    'diagnostics.list': ({ name, limit }) => core.diagnostics.list(name, limit),
    'runner.artifacts': () => core.runner.artifacts(),
    'runner.deployments': ({ name, limit }) => core.runner.deployments({ ...(name !== undefined ? { name } : {}), limit }),
    'runner.deploy': ({ name }) => core.runner.deploy(name),
    'runner.clean': ({ name }) => core.runner.clean(name),
    'runner.health': ({ days }) => core.stats.runnerHealth({ days }),
    'stats.scheduleDurations': (args) => core.stats.scheduleDurations(args),
    'stats.hostSuccess': (args) => core.stats.hostSuccess(args),
    'jobs.run': (args, ctx) => {
      // A run that names no mode or timeout takes the execution settings.
      const defaults = core.settings.execution();
      const timeoutMs = args.timeoutMs ?? defaults.defaultTimeoutMs ?? undefined;
      return core.jobs.run({ ...args, mode: args.mode ?? defaults.defaultMode, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }, ctx.door);
    },
    'jobs.list': (args) => core.jobs.list(args),
    'jobs.get': ({ id }) => core.jobs.get(id),
    'jobs.cancel': ({ id }) => core.jobs.cancel(id),
    'runs.logs': (args) => core.jobs.logs(args),
    'jobs.compare': ({ id, ...opts }) => core.jobs.compare(id, opts),
    'jobs.diff': ({ runId, against, ...opts }) => core.jobs.diff(runId, against, opts),
    'jobs.rerun': (args, ctx) => core.jobs.rerunJob(args, ctx.door),
    'jobs.push': (args, ctx) => core.jobs.push(args, ctx.door),
    'schedules.add': (a) =>
      core.schedules.add({
        name: a.name,
        cron: a.cron,
        tz: a.tz,
        ...(a.script !== undefined ? { script: { interpreter: a.interpreter, body: a.script } } : {}),
        ...(a.scriptName !== undefined ? { scriptName: a.scriptName } : {}),
        target: { ...(a.hosts?.length ? { hosts: a.hosts } : {}), ...(a.tag ? { tags: [a.tag] } : {}) },
        mode: a.mode,
        ...(a.timeoutMs !== undefined ? { timeoutMs: a.timeoutMs } : {}),
        ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
        overlapPolicy: a.overlap,
        catchupPolicy: a.catchup,
        varScope: a.globalVars ? 'global' : 'host',
        secretNames: a.secrets,
        elevated: a.elevated,
      }),
    'schedules.list': () => core.schedules.list(),
    'schedules.set': (a) => core.scheduleHealth.set(a),
    'schedules.health': () => core.scheduleHealth.list(),
    'schedules.events': ({ name, limit }) => core.scheduleHealth.events(name, limit),
    'schedules.testAlert': ({ name }) => core.scheduleHealth.test(name),
    'schedules.get': ({ name }) => core.schedules.get(name),
    'schedules.remove': async ({ name }) => {
      await core.schedules.remove(name);
      return { removed: true as const };
    },
    'schedules.pause': ({ name }) => core.schedules.pause(name),
    'schedules.resume': ({ name }) => core.schedules.resume(name),
    'settings.get': () => core.settings.get(),
    'settings.set': (patch) => core.settings.set(patch),
    // ---- Scripts, variables, follow-ups (issue 6) ----
    'scripts.list': () => core.scripts.list(),
    'scripts.get': ({ name }) => core.scripts.get(name),
    'scripts.save': async ({ files, ...args }) => {
      // Each file's bytes go to the blob store first (hashed); the script keeps where it goes.
      if (files === undefined) return core.scripts.save(args);
      const resolved = [];
      for (const [i, f] of files.entries()) {
        const b = await core.blobs.add(f.path, `files.${i}.path`);
        resolved.push({ name: b.name, sha256: b.sha256, size: b.size, to: f.to.endsWith('/') ? `${f.to}${b.name}` : f.to, mode: f.mode ?? 0o644, ...(f.owner ? { owner: f.owner } : {}) });
      }
      return core.scripts.save({ ...args, files: resolved });
    },
    'scripts.remove': async ({ name }) => {
      await core.scripts.remove(name);
      return { removed: true as const };
    },
    'vars.list': (args) => core.vars.list(args.host !== undefined ? { host: args.host } : {}),
    'vars.get': ({ key, host }) => core.vars.get(key, host),
    'vars.set': (args) => core.vars.set({ key: args.key, value: args.value, secret: args.secret, ...(args.host !== undefined ? { host: args.host } : {}) }),
    'vars.remove': async ({ key, host }) => {
      await core.vars.remove(key, host);
      return { removed: true as const };
    },
    'jobs.tree': ({ id }) => core.jobs.tree(id),
    'account.me': async (_a, ctx) => accounts(core).get(me(ctx)),
    'account.totpBegin': async (_a, ctx) => accounts(core).totpBegin(me(ctx)),
    'account.totpConfirm': async ({ code }, ctx) => accounts(core).totpConfirm(me(ctx), code),
    'account.password': async ({ current, password }, ctx) => accounts(core).changePassword(me(ctx), current, password),
    'users.list': () => accounts(core).list(),
    'users.add': (a) => accounts(core).add(a),
    'users.update': async ({ name, totpOff, ...patch }) => {
      if (totpOff) await accounts(core).totpDisable(name);
      return accounts(core).update(name, patch);
    },
    'users.remove': async ({ name }) => {
      await accounts(core).remove(name);
      return { removed: true as const };
    },
    'users.grant': ({ name, hosts, tags }) => accounts(core).grant(name, { hosts, tags }),
    'users.revoke': ({ name, hosts, tags }) => accounts(core).grant(name, { hosts, tags }, true),
    'audit.list': (args) => core.audit.list(args),
  };
}
