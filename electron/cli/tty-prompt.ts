/**
 * Hosts' keyboard-interactive questions (a one-time code) asked on the terminal the CLI runs
 * in, one at a time, each under the host's name; hidden input where the server says so. Without
 * a terminal there is nobody to ask: the connection fails AUTH_INTERACTIVE_REQUIRED.
 */
import { CroniumError } from '../shared/errors';
import { readTtyLine } from './stdin';
import type { KbdAnswers, KbdChallenge, KbdPrompter } from '../core/ssh/types';

/** The terminal prompter, or undefined when stdin or stderr is not a terminal. */
export function ttyPrompter(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): KbdPrompter | undefined {
  if (!input.isTTY || !output.isTTY) return undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return (challenge, signal) => {
    const turn = queue.then(() => askAll(challenge, signal, input, output));
    queue = turn.catch(() => undefined);
    return turn;
  };
}

async function askAll(challenge: KbdChallenge, signal: AbortSignal, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<KbdAnswers> {
  signal.throwIfAborted();
  // The server's words are shown as text: control characters could move the cursor or retitle the terminal.
  const text = (s: string) => [...s].filter((c) => c === '\n' || c === '\t' || (c >= ' ' && (c < '\u007f' || c > '\u009f'))).join('');
  output.write(`${challenge.host} asks${challenge.name ? ` (${text(challenge.name)})` : ''}:\n`);
  if (challenge.instructions.trim()) output.write(`${text(challenge.instructions).trimEnd()}\n`);
  const answers: string[] = [];
  for (const p of challenge.prompts) {
    const prompt = text(p.prompt);
    answers.push(await readTtyLine(prompt.endsWith(' ') ? prompt : `${prompt} `, { echo: p.echo, input, output, signal, onCancel: () => new CroniumError('AUTH_INTERACTIVE_REQUIRED', 'the question was declined (Ctrl-C)') }));
  }
  // A passphrase typed here serves the rest of this command (one process), never longer.
  return Object.assign(answers, { remember: challenge.remember === true });
}

