/** Reads a secret from standard input without echoing it, so it never lands on a command line. */

/** Reads a secret: the whole of a piped stdin (one trailing newline dropped), or a hidden prompt on a terminal. */
export async function readSecret(prompt: string, input: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (!input.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  return readTtyLine(prompt, { echo: false, input });
}

/**
 * Reads one line typed on the terminal in raw mode: shown as typed (`echo`) or hidden; Backspace
 * edits, Enter ends, Ctrl-C rejects with `onCancel()` (default: "cancelled"), and so does `signal`.
 */
export function readTtyLine(
  prompt: string,
  opts: { echo: boolean; input?: NodeJS.ReadStream; output?: NodeJS.WriteStream; signal?: AbortSignal; onCancel?: () => Error },
): Promise<string> {
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  output.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(opts.onCancel?.() ?? new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') {
          if (value && opts.echo) output.write('\b \b');
          value = value.slice(0, -1);
        } else if (ch >= ' ') {
          value += ch;
          if (opts.echo) output.write(ch);
        }
      }
    };
    const onAbort = () => finish(opts.signal!.reason as Error);
    const finish = (error?: Error) => {
      input.off('data', onData);
      opts.signal?.removeEventListener('abort', onAbort);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    input.on('data', onData);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
