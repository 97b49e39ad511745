/**
 * Backpressure for one client's live logs (a WebSocket of the headless door, the desktop
 * window over IPC): while the client has more than CLIENT_LOG_HIGH_WATER bytes not yet taken,
 * run.log batches are not queued behind them (that memory would grow with the output); the
 * first batch sent after it drains carries `gapFrom`, the first sequence number it missed,
 * and the client reads that range from the store (runs.logs). Nothing is lost, and memory
 * stays bounded.
 */
import type { EventPayload } from '../../shared/api';

/** Above this many bytes not yet taken by a client, its live logs are held back. */
export const CLIENT_LOG_HIGH_WATER = 1024 * 1024;

/** Holds back a client's run.log batches while it is behind (see the file's comment). */
export class LogBackpressure {
  private readonly missedFrom = new Map<number, number>();

  constructor(private readonly queued: () => number) {}

  /** The batch to send now (possibly with gapFrom), or undefined to hold it back. */
  admit(batch: EventPayload<'run.log'>): EventPayload<'run.log'> | undefined {
    const first = batch.gapFrom ?? batch.chunks[0]?.seq;
    if (this.queued() > CLIENT_LOG_HIGH_WATER) {
      if (first !== undefined && !this.missedFrom.has(batch.runId)) this.missedFrom.set(batch.runId, first);
      return undefined;
    }
    const missed = this.missedFrom.get(batch.runId);
    if (missed === undefined) return batch;
    this.missedFrom.delete(batch.runId);
    return { ...batch, chunks: [], gapFrom: Math.min(missed, first ?? missed) };
  }
}
