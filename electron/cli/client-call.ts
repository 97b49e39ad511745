/**
 * One call from a client of a door that speaks the WebSocket protocol's messages (the headless
 * door, and the local door the `cronium` command uses): `{id, method, args}` in, a reply with
 * that id out. Shared so that both doors parse and answer alike; it never throws.
 */
import type { CallContext } from '../core/api/dispatcher';
import type { Core, Door } from '../core/core';
import { WsClientMessage, type WsServerMessage } from '../shared/api';
import { CroniumError, invalidInput } from '../shared/errors';

/** Answers a parsed JSON message as a call (as the door, or with a team server's signed-in caller); a malformed one gets INVALID_INPUT (with `hint`) under its id when it has one. */
export function answerCall(core: Core, raw: unknown, door: Door | CallContext, send: (msg: WsServerMessage) => void, hint?: string): void {
  const maybeId = (raw as { id?: unknown } | null)?.id;
  const id = Number.isSafeInteger(maybeId) && (maybeId as number) >= 0 ? (maybeId as number) : 0;
  const parsed = WsClientMessage.safeParse(raw);
  if (!parsed.success) {
    send({ type: 'reply', id, ok: false, error: invalidInput(parsed.error, 'message', hint).toJSON() });
    return;
  }
  const { method, args } = parsed.data;
  core.dispatch(method, args, typeof door === 'string' ? { door } : door).then(
    (envelope) => send({ type: 'reply', id, ...envelope }),
    () => send({ type: 'reply', id, ok: false, error: new CroniumError('INTERNAL', `${method} failed`).toJSON() }),
  );
}
