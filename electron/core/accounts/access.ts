/**
 * What each role may call on a team server (issue #16), one rule per method of the contract (a
 * method without a rule does not compile), checked by the dispatcher before the handler runs:
 *
 * - viewer: reads (jobs, logs, schedules, hosts, scripts, stats); no change, no run.
 * - operator: reads, and runs and schedules on the hosts granted (by name, or by a tag the host
 *   carries; a schedule on a tag needs the tag itself granted, since the tag's hosts change).
 *   Never: secrets in a run (getVariable of a secret), elevated runs, anything that reads this
 *   server's own files (push, script files, ssh_config import), inventory, variables, settings,
 *   trust decisions, accounts.
 * - admin: everything.
 *
 * Variables' secret values are readable by no one through the API (vars.get shows "(secret)");
 * runs an admin set up use them. A refusal is FORBIDDEN, naming what was refused and why.
 */
import { CroniumError } from '../../shared/errors';
import type { MethodName, ParsedArgs } from '../../shared/api';
import type { Services } from '../core';
import type { Principal } from './caller';

/** read: every role; admin: admins only; a function: admins, and operators it lets through. */
type Rule<A = never> = 'read' | 'admin' | ((args: A, who: Principal, core: Services) => Promise<void> | void);

const forbidden = (who: Principal, what: string, hint?: string) =>
  new CroniumError('FORBIDDEN', `${who.name} (${who.role}) may not ${what}`, hint, { role: who.role });

function operatorOnly(who: Principal, what: string): void {
  if (who.role !== 'operator') throw forbidden(who, what);
}

/** Every named host must be granted to the operator, by name or by one of its tags. */
async function hostsGranted(who: Principal, core: Services, names: string[], what: string): Promise<void> {
  const refused: string[] = [];
  for (const name of new Set(names)) {
    if (who.grants.hosts.includes(name)) continue;
    let tags: string[] = [];
    try {
      tags = (await core.hosts.get(name)).tags;
    } catch {
      // An unknown host: the handler says NOT_FOUND only to those who may use it.
    }
    if (!tags.some((t) => who.grants.tags.includes(t))) refused.push(name);
  }
  if (refused.length > 0) {
    throw forbidden(who, `${what} on ${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ` and ${refused.length - 5} more` : ''}`, 'an admin grants hosts or tags: cronium users grant NAME --host HOST --tag TAG');
  }
}

async function targetGranted(who: Principal, core: Services, target: { hosts?: string[] | undefined; tag?: string | undefined }, what: string, tagMustBeGranted: boolean): Promise<void> {
  if (target.tag !== undefined) {
    if (who.grants.tags.includes(target.tag)) return;
    if (tagMustBeGranted) throw forbidden(who, `${what} on the tag ${target.tag}`, 'an admin grants the tag itself: cronium users grant NAME --tag TAG');
    await hostsGranted(who, core, (await core.hosts.list({ tag: target.tag })).map((h) => h.name), what);
    return;
  }
  await hostsGranted(who, core, target.hosts ?? [], what);
}

function noSecretsNorElevation(who: Principal, a: { secrets?: string[]; elevated?: boolean }, what: string): void {
  if ((a.secrets?.length ?? 0) > 0) throw forbidden(who, `${what} with secret variables`, 'a run that uses secrets is set up by an admin (a schedule, or a saved script)');
  if (a.elevated === true) throw forbidden(who, `${what} elevated (as root)`, 'an elevated run is set up by an admin');
}

async function scheduleGranted(who: Principal, core: Services, name: string, what: string): Promise<void> {
  operatorOnly(who, what);
  const s = await core.schedules.get(name);
  for (const tag of s.target.tags ?? []) if (!who.grants.tags.includes(tag)) throw forbidden(who, `${what} (it runs on the tag ${tag})`);
  await hostsGranted(who, core, s.target.hosts ?? [], what);
}

async function jobGranted(who: Principal, core: Services, id: number, what: string, hosts?: string[]): Promise<void> {
  operatorOnly(who, what);
  const job = await core.jobs.get(id);
  await hostsGranted(who, core, hosts ?? job.runs.map((r) => r.host), what);
}

/** A run or a schedule: an operator's, on granted hosts, without secrets or elevation. */
const runsOn =
  (what: string, tagMustBeGranted: boolean) =>
  async (a: { hosts?: string[] | undefined; tag?: string | undefined; secrets?: string[]; elevated?: boolean }, who: Principal, core: Services): Promise<void> => {
    operatorOnly(who, what);
    noSecretsNorElevation(who, a, what);
    await targetGranted(who, core, a, what, tagMustBeGranted);
  };

const onHost = (what: string) => async (a: { name: string }, who: Principal, core: Services) => {
  operatorOnly(who, what);
  await hostsGranted(who, core, [a.name], what);
};

/** The rule of every method; see the file's comment. */
export const ACCESS: { [M in MethodName]: Rule<ParsedArgs<M>> } = {
  'app.info': 'read',
  'hosts.list': 'read',
  'hosts.get': 'read',
  'hosts.add': 'admin',
  'hosts.update': 'admin',
  'hosts.remove': 'admin',
  'hosts.scanKeys': 'admin',
  'hosts.trust': 'admin',
  'hosts.import': 'admin',
  'hosts.diagnose': onHost('diagnose hosts'),
  'diagnostics.list': 'read',
  'runner.artifacts': 'read',
  'runner.deployments': 'read',
  'runner.deploy': onHost('deploy the runner'),
  'runner.clean': onHost('clean the runner'),
  'runner.health': 'read',
  'stats.scheduleDurations': 'read',
  'stats.hostSuccess': 'read',
  'jobs.run': runsOn('run scripts', false),
  'jobs.push': 'admin',
  'jobs.list': 'read',
  'jobs.get': 'read',
  'jobs.cancel': (a, who, core) => jobGranted(who, core, a.id, 'cancel jobs'),
  'jobs.compare': 'read',
  'jobs.diff': 'read',
  'jobs.rerun': (a, who, core) => jobGranted(who, core, a.id, 'run scripts', a.hosts),
  'runs.logs': 'read',
  'schedules.add': runsOn('schedule scripts', true),
  'schedules.list': 'read',
  'schedules.set': (a, who, core) => scheduleGranted(who, core, a.name, 'change schedules'),
  'schedules.health': 'read',
  'schedules.events': 'read',
  'schedules.testAlert': (a, who, core) => scheduleGranted(who, core, a.name, 'test alerts'),
  'schedules.get': 'read',
  'schedules.remove': (a, who, core) => scheduleGranted(who, core, a.name, 'remove schedules'),
  'schedules.pause': (a, who, core) => scheduleGranted(who, core, a.name, 'pause schedules'),
  'schedules.resume': (a, who, core) => scheduleGranted(who, core, a.name, 'resume schedules'),
  'scripts.list': 'read',
  'scripts.get': 'read',
  'scripts.save': 'admin',
  'scripts.remove': 'admin',
  'vars.list': 'read',
  'vars.get': 'read',
  'vars.set': 'admin',
  'vars.remove': 'admin',
  'jobs.tree': 'read',
  'hostCas.list': 'read',
  'hostCas.add': 'admin',
  'hostCas.remove': 'admin',
  // A host's keyboard-interactive question comes up while someone's run connects.
  'auth.pending': (_a, who) => operatorOnly(who, 'answer hosts’ questions'),
  'auth.answer': (_a, who) => operatorOnly(who, 'answer hosts’ questions'),
  'auth.cancel': (_a, who) => operatorOnly(who, 'answer hosts’ questions'),
  'settings.get': 'read',
  'settings.set': 'admin',
  'account.me': 'read',
  'account.totpBegin': 'read',
  'account.totpConfirm': 'read',
  'account.password': 'read',
  'users.list': 'admin',
  'users.add': 'admin',
  'users.update': 'admin',
  'users.remove': 'admin',
  'users.grant': 'admin',
  'users.revoke': 'admin',
  'audit.list': 'admin',
};

/** Checks that `who` may call `method` with `args`; throws FORBIDDEN if not. */
export async function authorize<M extends MethodName>(method: M, args: ParsedArgs<M>, who: Principal, core: Services): Promise<void> {
  if (who.role === 'admin') return;
  const rule = ACCESS[method] as Rule<unknown>;
  if (rule === 'read') return;
  if (rule === 'admin') throw forbidden(who, `call ${method}`, 'only an admin may; ask one of the team server');
  if (who.role === 'viewer') throw forbidden(who, `call ${method}`, 'viewers read jobs, logs and schedules; ask an admin for the operator role');
  await rule(args, who, core);
}
