/**
 * What a running script reports about itself, stored on its run: its output value and
 * its condition. Direct mode sets the output from the marked stdout line (at the run's
 * end); the helper API sets both while the script runs, through these functions. A
 * value set while the run was live is kept when the run ends (the worker only
 * overwrites it with an output of its own).
 */
import { eq } from 'drizzle-orm';
import type { DataStore } from '../db/store';
import { CroniumError } from '../../shared/errors';

/** Largest output value, as JSON (the same bound as a job's input). */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

/** Stores a run's output value (any JSON value); NOT_FOUND for an unknown run. */
export async function setRunOutput(store: DataStore, runId: number, value: unknown): Promise<void> {
  const v = value === undefined ? null : value;
  if (Buffer.byteLength(JSON.stringify(v)) > MAX_OUTPUT_BYTES) throw new CroniumError('INVALID_INPUT', `invalid output: larger than ${MAX_OUTPUT_BYTES} bytes as JSON`);
  const { runs } = store.schema;
  if ((await store.db.update(runs).set({ output: v }).where(eq(runs.id, runId)).returning({ id: runs.id })).length !== 1) throw new CroniumError('NOT_FOUND', `no run ${runId}`);
}

/** Stores a run's condition (true fires its script's `condition` follow-ups); NOT_FOUND for an unknown run. */
export async function setRunCondition(store: DataStore, runId: number, condition: boolean): Promise<void> {
  const { runs } = store.schema;
  if ((await store.db.update(runs).set({ condition }).where(eq(runs.id, runId)).returning({ id: runs.id })).length !== 1) throw new CroniumError('NOT_FOUND', `no run ${runId}`);
}
