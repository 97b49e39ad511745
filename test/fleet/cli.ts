// Command line for the test fleet (as root):
//   node --import tsx test/fleet/cli.ts up [--defaults N [--packed]] [--subnet N] [--profiles a,b]   start, print ssh_config, leave running
//   node --import tsx test/fleet/cli.ts status                          hosts and whether each sshd runs
//   node --import tsx test/fleet/cli.ts down                            stop what `up` started, by PID
// State lives in <os.tmpdir()>/cronium-fleet/state.json.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFleet, stopFleetState, type FleetState, type Profile } from './fleet';
import { isRunning } from './proc';

const stateDir = join(tmpdir(), 'cronium-fleet');
const statePath = join(stateDir, 'state.json');

/** Reads the state file, or undefined when no fleet was brought up. */
async function readState(): Promise<FleetState | undefined> {
  if (!existsSync(statePath)) return undefined;
  const state = JSON.parse(await readFile(statePath, 'utf8')) as FleetState;
  if (state.version !== 1) throw new Error(`unsupported state file version in ${statePath}`);
  return state;
}

/** True when any process recorded in the state still runs. */
function anyRunning(state: FleetState): boolean {
  return state.processes.some(isRunning);
}

/** Parses a non-negative integer flag value. */
function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${name} expects a number, got "${value}"`);
  return Number(value);
}

/** `up`: starts a detached fleet and records it. */
async function up(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { defaults: { type: 'string' }, subnet: { type: 'string' }, profiles: { type: 'string' }, packed: { type: 'boolean' } } });
  // --profiles a,b: one host of each, named after it (default: every default profile).
  const hosts = values.profiles?.split(',').map((p) => ({ name: p, profile: p as Profile }));
  const previous = await readState();
  if (previous && anyRunning(previous)) throw new Error(`a fleet is already up (${previous.dir}); run \`down\` first`);
  // A state whose processes are all gone (e.g. after a reboot) only leaves files and a netns behind.
  if (previous) await stopFleetState(previous);
  const started = Date.now();
  const fleet = await startFleet({ ...(hosts ? { hosts } : {}), defaults: intFlag(values.defaults, 'defaults'), subnet: intFlag(values.subnet, 'subnet'), persistent: true, packed: values.packed === true });
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(statePath, `${JSON.stringify(fleet.state(), null, 2)}\n`, { mode: 0o600 });
  process.stdout.write(fleet.sshConfig());
  const config = join(fleet.dir, 'ssh_config');
  const password = fleet.hosts.find((h) => h.password !== undefined);
  const hints = [
    `Fleet of ${fleet.hosts.length} hosts up in ${Date.now() - started} ms (state: ${statePath}).`,
    `  ssh -F ${config} default`,
    `  sftp -F ${config} default`,
    ...(password ? [`  sshpass -p '${password.password ?? ''}' ssh -F ${config} ${password.name}`] : []),
    '  stop with: npm run fleet -- down',
  ];
  process.stderr.write(`${hints.join('\n')}\n`);
}

/** `down`: stops the recorded fleet by PID and removes its files. */
async function down(): Promise<void> {
  const state = await readState();
  if (!state) {
    process.stderr.write('No fleet is up.\n');
    return;
  }
  await stopFleetState(state);
  await rm(statePath, { force: true });
  process.stderr.write(`Stopped fleet ${state.dir} (${state.processes.length} processes).\n`);
}

/** `status`: one line per host with its PID and whether it still runs. */
async function status(): Promise<void> {
  const state = await readState();
  if (!state) {
    process.stdout.write('No fleet is up.\n');
    return;
  }
  process.stdout.write(`Fleet ${state.dir}${state.netns ? ` (netns ${state.netns})` : ''}\n`);
  const byPid = new Map(state.processes.map((p) => [p.pid, p]));
  for (const h of state.hosts) {
    const rec = byPid.get(h.pid);
    const alive = rec !== undefined && isRunning(rec);
    const where = h.jump ? `${h.address}:${h.port} via ${h.jump}` : `${h.address}:${h.port}`;
    process.stdout.write(`${h.name.padEnd(14)} ${h.profile.padEnd(13)} ${where.padEnd(28)} ${h.user.padEnd(17)} pid ${String(h.pid).padEnd(8)} ${alive ? 'running' : 'DEAD'}\n`);
  }
  for (const p of state.processes.filter((p) => !state.hosts.some((h) => h.pid === p.pid))) {
    process.stdout.write(`${p.label.padEnd(56)} pid ${String(p.pid).padEnd(8)} ${isRunning(p) ? 'running' : 'DEAD'}\n`);
  }
}

/** Dispatches the sub-command. */
async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'up') await up(rest);
  else if (command === 'down') await down();
  else if (command === 'status') await status();
  else throw new Error('usage: fleet up [--defaults N [--packed]] [--subnet N] | status | down');
}

main(process.argv.slice(2)).then(
  // Exit explicitly: `up` leaves detached sshds behind on purpose.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
