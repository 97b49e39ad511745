/**
 * createApi: the renderer's view of either door. It turns a CroniumBridge, whose
 * functions resolve to envelopes, into a CroniumApi whose functions resolve to the
 * result or reject with ApiError. Built as a Proxy because the renderer may import
 * only types from the contract, so it cannot enumerate the methods itself.
 */
import type { CroniumApi, CroniumBridge, Envelope } from '../../electron/shared/api';
import { ApiError } from './api-error';

type BridgeFn = (args?: unknown) => Promise<Envelope<unknown>>;

/** Wraps a bridge so that calls resolve to their result or reject with ApiError. */
export function createApi(bridge: CroniumBridge): CroniumApi {
  const loose = bridge as unknown as Record<string, Record<string, unknown> | undefined>;
  const groups = new Map<string, object>();

  async function call(group: string, leaf: string, args: unknown): Promise<unknown> {
    const fn = loose[group]?.[leaf];
    if (typeof fn !== 'function') {
      throw new ApiError({ code: 'NOT_IMPLEMENTED', message: `${group}.${leaf} is not available in this version of Cronium` });
    }
    const envelope: unknown = await (fn as BridgeFn)(args);
    if (typeof envelope !== 'object' || envelope === null || !('ok' in envelope)) {
      throw new ApiError({ code: 'INTERNAL', message: `${group}.${leaf} returned a malformed reply` });
    }
    const env = envelope as Envelope<unknown>;
    if (env.ok) return env.result;
    throw new ApiError(env.error);
  }

  return new Proxy(
    {},
    {
      get(_target, group) {
        if (group === 'on') return bridge.on.bind(bridge);
        if (typeof group !== 'string' || group === 'then') return undefined;
        let g = groups.get(group);
        if (!g) {
          g = new Proxy(
            {},
            {
              get(_t, leaf) {
                if (typeof leaf !== 'string' || leaf === 'then') return undefined;
                return (args?: unknown) => call(group, leaf, args);
              },
            },
          );
          groups.set(group, g);
        }
        return g;
      },
    },
  ) as unknown as CroniumApi;
}
