/**
 * What a running script reports about itself, stored on its run: its output value and
 * its condition. Direct mode sets the output from the marked stdout line (at the run's
 * end); the helper API sets both while the script runs, through these functions. A
 * value set while the run was live is kept when the run ends (the worker only
 * overwrites it with an output of its own).
 */
import type Database from 'better-sqlite3';
import { CroniumError } from '../../shared/errors';

/** Largest output value, as JSON (the same bound as a job's input). */
export const MAX_OUTPUT_BYTES = 1024 * 1024;

/** Stores a run's output value (any JSON value); NOT_FOUND for an unknown run. */
export function setRunOutput(db: Database.Database, runId: number, value: unknown): void {
  const json = JSON.stringify(value === undefined ? null : value);
  if (Buffer.byteLength(json) > MAX_OUTPUT_BYTES) throw new CroniumError('INVALID_INPUT', `invalid output: larger than ${MAX_OUTPUT_BYTES} bytes as JSON`);
  if (db.prepare('update runs set output = ? where id = ?').run(json, runId).changes !== 1) throw new CroniumError('NOT_FOUND', `no run ${runId}`);
}

/** Stores a run's condition (true fires its script's `condition` follow-ups); NOT_FOUND for an unknown run. */
export function setRunCondition(db: Database.Database, runId: number, condition: boolean): void {
  if (db.prepare('update runs set condition = ? where id = ?').run(condition ? 1 : 0, runId).changes !== 1) throw new CroniumError('NOT_FOUND', `no run ${runId}`);
}
