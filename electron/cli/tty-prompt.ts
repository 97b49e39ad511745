/**
 * Hosts' keyboard-interactive questions (a one-time code) asked on the terminal the CLI runs
 * in, one at a time, each under the host's name; hidden input where the server says so. Without
 * a terminal there is nobody to ask: the connection fails AUTH_INTERACTIVE_REQUIRED.
 */
import { CroniumError } from '../shared/errors';
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
  for (const p of challenge.prompts) answers.push(await readLine(`${text(p.prompt)}`, p.echo, signal, input, output));
  // A passphrase typed here serves the rest of this command (one process), never longer.
  return Object.assign(answers, { remember: challenge.remember === true });
}

function readLine(prompt: string, echo: boolean, signal: AbortSignal, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string> {
  output.write(prompt.endsWith(' ') ? prompt : `${prompt} `);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new CroniumError('AUTH_INTERACTIVE_REQUIRED', 'the question was declined (Ctrl-C)'));
        if (ch === '\u007f' || ch === '\b') {
          if (value && echo) output.write('\b \b');
          value = value.slice(0, -1);
        } else if (ch >= ' ') {
          value += ch;
          if (echo) output.write(ch);
        }
      }
    };
    const onAbort = () => finish(signal.reason as Error);
    const finish = (error?: Error) => {
      input.off('data', onData);
      signal.removeEventListener('abort', onAbort);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    input.on('data', onData);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
