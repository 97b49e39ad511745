/**
 * createApi: the renderer's view of either door. It turns a CroniumBridge, whose
 * functions resolve to envelopes, into a CroniumApi whose functions resolve to the
 * result or reject with ApiError.
 */
import type { CroniumApi, CroniumBridge, Envelope } from '../../electron/shared/api';
import { ApiError } from './api-error';
import { methodProxy } from './method-proxy';

type BridgeFn = (args?: unknown) => Promise<Envelope<unknown>>;

/** Wraps a bridge so that calls resolve to their result or reject with ApiError. */
export function createApi(bridge: CroniumBridge): CroniumApi {
  const loose = bridge as unknown as Record<string, Record<string, unknown> | undefined>;

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

  return methodProxy((method, args) => {
    const dot = method.indexOf('.');
    return call(method.slice(0, dot), method.slice(dot + 1), args);
  }, bridge.on.bind(bridge)) as CroniumApi;
}
