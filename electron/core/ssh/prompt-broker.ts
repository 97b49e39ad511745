/**
 * Keyboard-interactive questions (a one-time code after the key) asked of whoever uses the app:
 * each question goes out as an `auth.prompt` event, and the first client to answer
 * (`auth.answer`) or decline (`auth.cancel`) settles it; unanswered, it expires. Answers are
 * handed to the SSH handshake and nowhere else: never stored, logged or sent to other clients.
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AuthPrompt } from '../../shared/api';
import { CroniumError } from '../../shared/errors';
import type { EventBus } from '../events/event-bus';
import type { KbdAnswers, KbdChallenge, KbdPrompter } from './types';

/** How long a question waits for a person. */
export const PROMPT_WAIT_MS = 120_000;

interface Pending {
  prompt: z.output<typeof AuthPrompt>;
  resolve: (answers: KbdAnswers) => void;
  reject: (e: unknown) => void;
  settle: (outcome: 'answered' | 'cancelled' | 'withdrawn' | 'expired') => void;
}

/** Routes hosts' keyboard-interactive questions to the app's clients. */
export class PromptBroker {
  readonly #pending = new Map<string, Pending>();

  constructor(
    private readonly events: EventBus,
    private readonly waitMs = PROMPT_WAIT_MS,
  ) {}

  /** The prompter the SSH pool is given. */
  readonly ask: KbdPrompter = (challenge: KbdChallenge, signal: AbortSignal) =>
    new Promise<KbdAnswers>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const id = randomUUID();
      const prompt = { id, host: challenge.host, name: challenge.name, instructions: challenge.instructions, prompts: challenge.prompts, expiresAt: Date.now() + this.waitMs, ...(challenge.remember ? { remember: true } : {}) };
      const timer = setTimeout(() => {
        entry.settle('expired');
        reject(new CroniumError('AUTH_INTERACTIVE_REQUIRED', `nobody answered ${challenge.host}'s question within ${Math.round(this.waitMs / 1000)} s`));
      }, this.waitMs);
      const onAbort = () => {
        entry.settle('withdrawn');
        reject(signal.reason);
      };
      const entry: Pending = {
        prompt,
        resolve,
        reject,
        settle: (outcome) => {
          if (!this.#pending.delete(id)) return;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.events.emit('auth.promptDone', { id, outcome });
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, entry);
      this.events.emit('auth.prompt', prompt);
    });

  /** Questions waiting now, oldest first. */
  pending(): z.output<typeof AuthPrompt>[] {
    return [...this.#pending.values()].map((p) => p.prompt);
  }

  /** Answers a question: one answer per prompt. */
  answer(id: string, answers: string[], remember = false): { answered: true } {
    const p = this.#get(id);
    if (answers.length !== p.prompt.prompts.length) {
      throw new CroniumError('INVALID_INPUT', `the question has ${p.prompt.prompts.length} prompt(s), got ${answers.length} answer(s)`, 'give one answer per prompt, in order', { field: 'answers' });
    }
    p.settle('answered');
    p.resolve(Object.assign([...answers], { remember: remember && p.prompt.remember === true }));
    return { answered: true };
  }

  /** Declines a question: the connection fails AUTH_INTERACTIVE_REQUIRED. */
  cancel(id: string): { cancelled: true } {
    const p = this.#get(id);
    p.settle('cancelled');
    p.reject(new CroniumError('AUTH_INTERACTIVE_REQUIRED', `the question of ${p.prompt.host} was declined`));
    return { cancelled: true };
  }

  #get(id: string): Pending {
    const p = this.#pending.get(id);
    if (!p) throw new CroniumError('NOT_FOUND', 'no such question: it was answered, declined, withdrawn or has expired', 'questions wait 2 minutes; run again to be asked again');
    return p;
  }
}
