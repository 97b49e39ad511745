/** A typed, in-process event bus for the contract's events; doors forward it to clients. */
import { EventEmitter } from 'node:events';
import type { EventName, EventPayload } from '../../shared/api';

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
