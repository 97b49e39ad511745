/**
 * Where the updater keeps what it remembers between starts (update-policy.ts's UpdateState):
 * `updates.json` in the data dir, parsed on the way in; a missing or damaged file starts
 * afresh (the worst case is one extra check or one repeated notice), and writes are atomic.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EMPTY_STATE, type UpdateState } from './update-policy';

const StateSchema = z.object({
  lastCheckAt: z.number().nullable(),
  failures: z.int().min(0),
  lastFailureAt: z.number().nullable(),
  notifiedVersion: z.string().nullable(),
});

/** The updater's memory in one file. */
export class UpdateStateFile {
  private readonly file: string;

  constructor(dataDir: string) {
    this.file = join(dataDir, 'updates.json');
  }

  /** The stored state, or an empty one. */
  read(): UpdateState {
    try {
      const parsed = StateSchema.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      return parsed.success ? parsed.data : { ...EMPTY_STATE };
    } catch {
      return { ...EMPTY_STATE };
    }
  }

  /** Replaces the stored state. */
  write(state: UpdateState): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
