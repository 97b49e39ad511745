/**
 * What a door that keeps running (the desktop, `cronium serve`) starts: a Worker that
 * executes every queued run and a Scheduler that fires schedules into the queue (only while
 * it holds the data dir's scheduler lease, so two doors never both fire), and log retention.
 */
import { hintFor } from '../../shared/errors';
import type { Core } from '../core';
import type { RetentionPolicy } from '../logs/log-service';
import { AlertDispatcher } from '../scheduler/alerts';
import { Scheduler } from '../scheduler/scheduler';
import { Worker } from './worker';
import { PgQueueWaker } from '../queue/pg-queue-waker';
import { PgLeadership } from '../scheduler/pg-leadership';

/** The retention policy of a data dir: its `logs.retention` setting, else the default. */
export function retentionPolicy(core: Core): RetentionPolicy {
  return core.settings.retention();
}

/** The running pair, and how to stop it. */
export interface ExecutionRuntime {
  worker: Worker;
  scheduler: Scheduler;
  /** Stops firing, cancels what runs (killing the scripts on their hosts) and waits for it. */
  stop(): Promise<void>;
}

/** Starts a worker and the scheduler for a door; `owner` names the process, e.g. `serve:<pid>`. */
export function startExecution(core: Core, owner: string): ExecutionRuntime {
  const worker = new Worker({
    store: core.store.data,
    queue: core.queue,
    logs: core.logs,
    events: core.events,
    executor: core.executor,
    owner,
    // Secret masking per host, follow-ups (scripts, variables, follow-ups).
    ...core.runHooks,
    // The execution settings, read at every claim: a change (from any door) applies to the next claim.
    maxOutputBytes: () => core.settings.execution().maxOutputBytes,
    limits: () => {
      const e = core.settings.execution();
      return { globalLimit: e.globalConcurrency, perHostLimit: e.perHostConcurrency };
    },
  });
  const detach = core.jobs.attach(worker);
  // A team server: one scheduler among all servers, by an advisory lock held on a session of its
  // own (taken over within about a second of the leader's session ending: a crash, a SIGKILL).
  const leadership = core.database ? new PgLeadership({ connect: () => core.database!.session(`cronium scheduler ${owner}`) }) : undefined;
  const scheduler = new Scheduler({
    ...(leadership ? { leadership } : {}),
    store: core.store.data,
    queue: core.queue,
    owner,
    resolveTargets: (t) => core.jobs.resolveTargets(t),
    health: core.health,
    onFire: (r) => {
      if (r.jobId !== undefined) worker.poke();
    },
  });
  // Webhook alerts of schedules (the outbox health.ts fills), retried with backoff.
  const alerts = new AlertDispatcher(core.store.data, core.secrets);
  alerts.start();
  // The data dir's disk filled up: say so once per episode; runs in flight fail (their log
  // writes are refused), and what waits in memory is stored when space returns.
  const offFull = core.logs.onFull((e) => process.stderr.write(`cronium: error[${e.code}]: ${e.message}\n  hint: ${hintFor(e.code) ?? ''}\n`));
  // A team server: another server's job, or a slot it freed, wakes this worker at once (NOTIFY).
  const waker = core.database ? new PgQueueWaker({ connect: () => core.database!.session(), onWake: () => worker.poke() }) : undefined;
  waker?.start();
  worker.start();
  leadership?.start();
  scheduler.start();
  // Hourly; the timer stops with core.close().
  core.logs.startRetention(() => retentionPolicy(core), undefined, () => core.audit.prune());
  return {
    worker,
    scheduler,
    stop: async () => {
      await scheduler.stop();
      await leadership?.stop();
      await waker?.stop();
      alerts.stop();
      await worker.stop();
      detach();
      offFull();
    },
  };
}
