// The broker of hosts' keyboard-interactive questions: a question goes out as an event, the first
// answer or refusal settles it (and tells every client), a wrong number of answers is refused,
// an unanswered question expires, a withdrawn one (the handshake ended) closes, and answers
// never appear in any event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventPayload } from '../../../../electron/shared/api';
import { EventBus } from '../../../../electron/core/events/event-bus';
import { PromptBroker } from '../../../../electron/core/ssh/prompt-broker';
import { CroniumError } from '../../../../electron/shared/errors';

const challenge = { host: 'db1', name: 'PAM', instructions: 'Second factor', prompts: [{ prompt: 'Verification code: ', echo: false }] };

function setup(waitMs?: number) {
  const events = new EventBus();
  const asked: EventPayload<'auth.prompt'>[] = [];
  const done: EventPayload<'auth.promptDone'>[] = [];
  const seen: string[] = [];
  events.on('auth.prompt', (p) => {
    asked.push(p);
    seen.push(JSON.stringify(p));
  });
  events.on('auth.promptDone', (p) => {
    done.push(p);
    seen.push(JSON.stringify(p));
  });
  return { broker: new PromptBroker(events, waitMs), asked, done, seen };
}

test('an answer settles the question, tells the clients, and appears in no event', async () => {
  const { broker, asked, done, seen } = setup();
  const answer = broker.ask(challenge, new AbortController().signal);
  assert.equal(asked.length, 1);
  assert.deepEqual(broker.pending().map((p) => p.host), ['db1']);
  const id = asked[0]!.id;
  assert.throws(() => broker.answer(id, []), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT');
  assert.deepEqual(broker.answer(id, ['123456']), { answered: true });
  const got = await answer;
  assert.deepEqual([...got], ['123456']);
  assert.equal(got.remember, false, 'nothing is remembered unless the question offers it and the person asks');
  assert.deepEqual(done, [{ id, outcome: 'answered' }]);
  assert.deepEqual(broker.pending(), []);
  assert.ok(!seen.join('\n').includes('123456'));
  assert.throws(() => broker.answer(id, ['1']), (e: unknown) => e instanceof CroniumError && e.code === 'NOT_FOUND');
});

test('declining fails the question AUTH_INTERACTIVE_REQUIRED', async () => {
  const { broker, asked, done } = setup();
  const answer = broker.ask(challenge, new AbortController().signal);
  broker.cancel(asked[0]!.id);
  await assert.rejects(answer, (e: unknown) => e instanceof CroniumError && e.code === 'AUTH_INTERACTIVE_REQUIRED' && /declined/.test(e.message));
  assert.equal(done[0]?.outcome, 'cancelled');
});

test('an unanswered question expires, and a withdrawn one closes', async () => {
  const { broker, done } = setup(50);
  await assert.rejects(broker.ask(challenge, new AbortController().signal), (e: unknown) => e instanceof CroniumError && e.code === 'AUTH_INTERACTIVE_REQUIRED' && /nobody answered/.test(e.message));
  assert.equal(done[0]?.outcome, 'expired');
  const ac = new AbortController();
  const withdrawn = broker.ask(challenge, ac.signal);
  ac.abort(new Error('the connection attempt ended'));
  await assert.rejects(withdrawn, /the connection attempt ended/);
  assert.equal(done[1]?.outcome, 'withdrawn');
  assert.deepEqual(broker.pending(), []);
});

test("a key passphrase may be remembered when the person asks; other questions never", async () => {
  const { broker, asked } = setup();
  const pass = broker.ask({ ...challenge, remember: true }, new AbortController().signal);
  broker.answer(asked[0]!.id, ['secret'], true);
  assert.equal((await pass).remember, true);
  const code = broker.ask(challenge, new AbortController().signal);
  broker.answer(asked[1]!.id, ['123456'], true);
  assert.equal((await code).remember, false);
});
