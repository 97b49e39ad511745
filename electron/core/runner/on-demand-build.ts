/**
 * Builds a runner target the first time a host needs one that is not built, where that can be
 * done: a source checkout (the runner's Go sources next to the artifacts dir it writes) with Go
 * on PATH. `npm install` builds only this machine's own target; the others come from here, with
 * a progress line (the `runner.build` event) while Go works.
 *
 * Invariants: one build per target at a time in this process (callers share it); what is in the
 * manifest already stays (buildRunnerArtifacts' ifStale: rebuilt along only when another key
 * signed it, so the manifest never mixes keys); a machine without Go is probed once per process
 * and then answered at once.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { isCroniumError } from '../../shared/errors';
import type { EventBus } from '../events/event-bus';
import { buildRunnerArtifacts } from './artifacts';

/** What the builder needs. */
export interface OnDemandBuildOptions {
  /** The artifacts dir it builds into (the checkout's resources/runner). */
  outDir: string;
  /** The runner's Go module (the checkout's runner/). */
  runnerSrcDir: string;
  version: string;
  /** The data dir whose development key signs, as for `cronium runner build`. */
  dataDir: string;
  events?: EventBus;
  goBin?: string;
  env?: NodeJS.ProcessEnv;
}

/** Builds missing runner targets on demand; see the file comment. */
export class OnDemandBuilder {
  readonly #inflight = new Map<string, Promise<void>>();
  /** Why this process cannot build (no Go), once known. */
  #cannot: Error | undefined;

  constructor(private readonly opts: OnDemandBuildOptions) {}

  /** Whether this is a checkout this builder can build into (Go itself is probed on the first build). */
  static available(runnerSrcDir: string): boolean {
    return existsSync(path.join(runnerSrcDir, 'go.mod'));
  }

  /** The artifacts dir it builds into. */
  get outDir(): string {
    return this.opts.outDir;
  }

  /** Builds `target` (and refreshes what the manifest lists already); rejects with RUNNER_BUILD_FAILED when it cannot. */
  build(target: string, signal?: AbortSignal): Promise<void> {
    if (this.#cannot) return Promise.reject(this.#cannot);
    const running = this.#inflight.get(target);
    if (running) return running;
    const p = this.#build(target, signal).finally(() => this.#inflight.delete(target));
    this.#inflight.set(target, p);
    return p;
  }

  async #build(target: string, signal: AbortSignal | undefined): Promise<void> {
    const events = this.opts.events;
    const t0 = performance.now();
    events?.emit('runner.build', { target, phase: 'started', message: `building the runner for ${target} (the first host of this target; Go takes a few seconds)…` });
    try {
      // ifStale keeps the other targets (rebuilding them along when another key signed them).
      await buildRunnerArtifacts({
        outDir: this.opts.outDir,
        version: this.opts.version,
        dataDir: this.opts.dataDir,
        runnerSrcDir: this.opts.runnerSrcDir,
        targets: [target],
        ifStale: true,
        ...(this.opts.goBin ? { goBin: this.opts.goBin } : {}),
        ...(this.opts.env ? { env: this.opts.env } : {}),
        ...(signal ? { signal } : {}),
      });
      events?.emit('runner.build', { target, phase: 'built', message: `built the runner for ${target} in ${((performance.now() - t0) / 1000).toFixed(1)} s` });
    } catch (e) {
      // No Go here: remembered, so that the next hosts fall back at once.
      if (isCroniumError(e) && e.code === 'RUNNER_BUILD_FAILED' && /cannot run the Go toolchain/.test(e.message)) this.#cannot = e;
      events?.emit('runner.build', { target, phase: 'failed', message: `could not build the runner for ${target}: ${(e as Error).message}` });
      throw e;
    }
  }
}
