/**
 * What an integration suite on the real fleet starts with: a fleet of sshd hosts on its own
 * subnet, a private scratch dir with a HOME whose known_hosts lists the fleet's keys, a data
 * dir, and a core opened on them (for in-process tests) or an environment for the real CLI.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../../electron/core/api/dispatcher';
import { openCore, type Core } from '../../electron/core/core';
import { startFleet, type Fleet, type StartFleetOptions } from '../fleet/fleet';
import { ROOT } from './cli';

/** A started fleet with its scratch dir, HOME and data dir. */
export interface Workspace {
  fleet: Fleet;
  scratch: string;
  home: string;
  dataDir: string;
  /** The environment for the real CLI: this HOME, no agent, no CRONIUM_HOME. */
  env: NodeJS.ProcessEnv;
  /** Opens a core on the data dir, trusting the fleet's host keys through known_hosts. */
  open(): Core;
  /** Adds every fleet host to the inventory under its fleet name (with its key, password and jump host). */
  addFleetHosts(core: Core, extra?: { tags?: string[] }): Promise<void>;
  /** Stops the fleet and removes the scratch dir. */
  stop(): Promise<void>;
}

/** Starts a workspace; `prefix` names its scratch dir. Needs a built dist/ (the CLI runs from it). */
export async function startWorkspace(prefix: string, options: StartFleetOptions): Promise<Workspace> {
  assert.ok(existsSync(join(ROOT, 'dist/cli/cronium.cjs')), 'dist/ is not built: run `node scripts/build.mjs --no-renderer`');
  const scratch = mkdtempSync(join(tmpdir(), `cronium-${prefix}-`));
  const home = join(scratch, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  const dataDir = join(scratch, 'data');
  let fleet: Fleet;
  try {
    fleet = await startFleet(options);
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    throw e;
  }
  const knownHosts = join(home, '.ssh', 'known_hosts');
  writeFileSync(knownHosts, fleet.knownHosts(), { mode: 0o600 });
  const ctx = { door: 'cli' as const };
  return {
    fleet,
    scratch,
    home,
    dataDir,
    env: { ...process.env, HOME: home, SSH_AUTH_SOCK: '', CRONIUM_HOME: '' },
    open: () => openCore({ dataDir, door: 'cli', ssh: { knownHostsFiles: [knownHosts], agentSocket: null } }),
    async addFleetHosts(core, extra = {}) {
      for (const h of fleet.hosts) {
        await call(core.dispatch, 'hosts.add', { name: h.name, address: h.address, port: h.port, user: h.user, identityFile: h.identityFile, password: h.password, jump: h.jump, useAgent: false, tags: extra.tags ?? [] }, ctx);
      }
    },
    async stop() {
      await fleet.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Starts a workspace and adds every fleet host to its inventory (the usual start of a suite that runs the CLI). */
export async function startWorkspaceWithHosts(prefix: string, options: StartFleetOptions): Promise<Workspace> {
  const ws = await startWorkspace(prefix, options);
  const core = ws.open();
  try {
    await ws.addFleetHosts(core);
  } finally {
    core.close();
  }
  return ws;
}

/** Polls `fn` (sync or async) every 25 ms until it returns something truthy; fails after `timeoutMs`. */
export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
