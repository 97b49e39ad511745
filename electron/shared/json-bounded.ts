/**
 * JSON from outside (a WebSocket frame, a helper call, a runner frame, a script's output) is
 * parsed with a bound on its nesting: V8's JSON.parse copes with deep input, but everything
 * after it that recurses (schema validation, JSON.stringify, structured clone) throws a
 * RangeError on a few thousand levels, far from where the input came in. The depth is
 * measured first, in one pass and without recursion.
 */
import { CroniumError } from './errors';

/** Deepest nesting of arrays and objects accepted from outside. */
export const MAX_JSON_DEPTH = 64;

/** Whether JSON text nests arrays/objects deeper than `max` (strings are skipped; the text need not be valid). */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** JSON.parse with the nesting bound: INVALID_INPUT naming `what` when the text is not JSON or nests too deep. */
export function parseJsonBounded(text: string, what: string, hint = 'send plain JSON'): unknown {
  if (jsonTooDeep(text)) throw new CroniumError('INVALID_INPUT', `${what} nests deeper than ${MAX_JSON_DEPTH} levels`, `keep JSON values at most ${MAX_JSON_DEPTH} levels deep`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CroniumError('INVALID_INPUT', `${what} is not valid JSON`, hint);
  }
}
