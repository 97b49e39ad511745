/** A typed, in-process event bus for the contract's events; doors forward it to clients. */
import { EventEmitter } from 'node:events';
import type { EventName, EventPayload } from '../../shared/api';

type RunLog = EventPayload<'run.log'>;
/** A run.log batch inside the process: its output as bytes (the contract's event carries base64). */
export type RawRunLog = Omit<RunLog, 'chunks' | 'skipped'> & { chunks: (Omit<RunLog['chunks'][number], 'data'> & { data: Buffer })[] };

/** The contract's run.log payload of a raw batch (its output in base64). */
export function encodeRunLog(b: RawRunLog): RunLog {
  return { ...b, chunks: b.chunks.map((c) => ({ seq: c.seq, stream: c.stream, ts: c.ts, data: c.data.toString('base64') })) };
}

const RAW_LOG = Symbol('run.log raw');

/** Publishes and subscribes to the contract's events. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every connected client subscribes; a listener cap would only produce false alarms.
    this.emitter.setMaxListeners(0);
  }

  /** Publishes an event to every subscriber. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    this.emitter.emit(event, payload);
  }

  /**
   * Publishes a run's live output: as bytes to onRunLog's listeners (the doors' live feeds, which
   * send a client only part of a fast run's output and encode only that), and as the contract's
   * run.log event (base64) only when something listens to that.
   */
  emitRunLog(batch: RawRunLog, encoded?: RunLog): void {
    this.emitter.emit(RAW_LOG, batch);
    // `encoded`: the same batch as it arrived in base64 (the team relay), not encoded again.
    if (this.emitter.listenerCount('run.log') > 0) this.emitter.emit('run.log', encoded ?? encodeRunLog(batch));
  }

  /** Subscribes to runs' live output as bytes (emitRunLog); returns the unsubscribe function. */
  onRunLog(listener: (batch: RawRunLog) => void): () => void {
    this.emitter.on(RAW_LOG, listener);
    return () => this.emitter.off(RAW_LOG, listener);
  }

  /** Subscribes to one event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  /** Subscribes to every event; returns the unsubscribe function. */
  onAny(events: readonly EventName[], listener: (event: EventName, payload: unknown) => void): () => void {
    const offs = events.map((e) => this.on(e, (p) => listener(e, p)));
    return () => offs.forEach((off) => off());
  }
}
