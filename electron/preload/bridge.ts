/** Builds the renderer's bridge object from the contract's method list (used by the preload). */
import { EVENT_NAMES, METHOD_NAMES, splitMethod, type CroniumBridge, type Envelope, type EventName } from '../shared/api';

/** Builds `window.cronium`: one function per contract method, grouped by prefix, plus `on`. */
export function buildBridge(
  invoke: (method: string, args: unknown) => Promise<Envelope<unknown>>,
  subscribe: (event: EventName, listener: (payload: unknown) => void) => () => void,
): CroniumBridge {
  const bridge: Record<string, Record<string, (args?: unknown) => Promise<Envelope<unknown>>>> = {};
  for (const name of METHOD_NAMES) {
    const [group, leaf] = splitMethod(name);
    (bridge[group] ??= {})[leaf] = (args?: unknown) => invoke(name, args);
  }
  const on = (event: EventName, listener: (payload: unknown) => void) => {
    if (!EVENT_NAMES.includes(event)) throw new Error(`unknown event ${String(event)}`);
    return subscribe(event, listener);
  };
  return Object.freeze({ ...bridge, on }) as unknown as CroniumBridge;
}
