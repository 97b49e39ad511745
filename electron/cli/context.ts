/** What every CLI command shares: the global flags and a lazily opened core. */
import type { Command } from 'commander';
import type * as CoreModule from '../core/core';
import type * as DispatcherModule from '../core/api/dispatcher';
import type { Core } from '../core/core';
import { resolveDataDir } from '../core/paths';
import type { MethodName, MethodResult } from '../shared/api';
import type { AppClient } from './app-client';
import { say } from './output';
import { ttyPrompter } from './tty-prompt';
import { runnerSource } from '../core/runner/release-key';

/**
 * Opens a core for a CLI command (`serve` opens its own, as the headless door). CRONIUM_RUNNER_DIR:
 * another runner artifacts dir, under this build's key rule (release-key.ts). A runner
 * target built on demand takes seconds: its progress goes to stderr, whatever the command.
 */
let modules: { core: typeof CoreModule; dispatcher: typeof DispatcherModule } | undefined;

/** Loads the core's modules (commander's preAction hook does, so --help and --version never do). */
export async function loadCore(): Promise<void> {
  if (modules) return;
  const [core, dispatcher] = await Promise.all([import('../core/core'), import('../core/api/dispatcher')]);
  modules = { core, dispatcher };
}

function loaded(): NonNullable<typeof modules> {
  if (!modules) throw new Error('the core is not loaded: call loadCore() first');
  return modules;
}

/** The runner artifacts a CLI core deploys (CRONIUM_RUNNER_DIR, see above); says so when they are not the installed ones. */
function runnerOptions(): NonNullable<CoreModule.CoreOptions['runner']> {
  const source = runnerSource();
  if (source.notice) say(source.notice);
  return { ...(source.custom ? { artifactsDir: source.dir } : {}), ...(source.trustedPublicKeyPem ? { trustedPublicKeyPem: source.trustedPublicKeyPem } : {}) };
}

/** A runner build's progress goes to stderr. */
function sayBuilds(core: Core): Core {
  core.events.on('runner.build', (e) => say(`cronium: ${e.message}`));
  return core;
}

export function openCliCore(dataDir: string, door: 'cli' | 'headless'): Core {
  const core = sayBuilds(loaded().core.openCore({ dataDir, door, runner: runnerOptions() }));
  // A host that asks for a one-time code is answered on this terminal (none: AUTH_INTERACTIVE_REQUIRED).
  if (door === 'cli') core.ssh.setPrompter?.(ttyPrompter());
  return core;
}

/** Calls a contract method on a core a command opened itself, with the given caller. */
export function callOn<M extends MethodName>(core: Core, method: M, args: unknown, ctx: DispatcherModule.CallContext): Promise<MethodResult<M>> {
  return loaded().dispatcher.call(core.dispatch, method, args, ctx);
}

/** Opens a team server's core (`serve --database`): the services on a shared PostgreSQL database. */
export async function openTeamCliCore(dataDir: string, databaseUrl: string): Promise<Core> {
  return sayBuilds(await loaded().core.openTeamCore({ dataDir, door: 'headless', databaseUrl, runner: runnerOptions() }));
}

/** Global flags and the core, opened on first use (so --help never touches the data dir). */
export class CliContext {
  private program?: Command;
  private core?: Core;
  /** The exit code of a command that succeeded in running but reports a failed outcome (e.g. diagnose). */
  exitCode = 0;

  /** Binds the root command, whose options are the global flags. */
  bind(program: Command): void {
    this.program = program;
  }

  private get globals(): { dataDir?: string; json?: boolean; server?: string } {
    return this.program?.opts() ?? {};
  }

  /** The team server the command talks to (--server, else CRONIUM_SERVER), if any. */
  get server(): string | undefined {
    const s = this.globals.server ?? process.env.CRONIUM_SERVER;
    return s === '' ? undefined : s;
  }

  private remoteClient?: Promise<AppClient>;

  /** The connection to the --server, opened on first use as the profile's person. */
  remote(): Promise<AppClient> {
    const name = this.server;
    if (name === undefined) throw new Error('remote() without --server');
    this.remoteClient ??= (async () => {
      const { findProfile, connectServer } = await import('./server-client');
      const found = findProfile(this.dataDir, name);
      return connectServer(found.profile, found.name);
    })();
    return this.remoteClient;
  }

  /** Whether --json was given. */
  get json(): boolean {
    return this.globals.json === true;
  }

  /** The data dir by the CLI contract's precedence. */
  get dataDir(): string {
    return resolveDataDir(this.globals.dataDir);
  }

  /** The core, opened on first use (see openCliCore). */
  open(): Core {
    this.core ??= openCliCore(this.dataDir, 'cli');
    return this.core;
  }

  /** Calls a contract method through the same dispatcher as the other doors. */
  async call<M extends MethodName>(method: M, args: unknown): Promise<MethodResult<M>> {
    // A team server's person calls there (their role applies); otherwise this data dir's core.
    if (this.server !== undefined) return (await this.remote()).call(method, args);
    return loaded().dispatcher.call(this.open().dispatch, method, args, { door: 'cli' });
  }

  /** Closes the core if it was opened. */
  close(): void {
    this.core?.close();
    this.core = undefined;
    void this.remoteClient?.then((c) => c.close(), () => undefined);
    this.remoteClient = undefined;
  }
}
