/** How the CLI talks: data on stdout (JSON with --json), messages and errors on stderr. */
import { CroniumError, ERROR_HINTS, hintFor, isCroniumError, type ApiErrorBody } from '../shared/errors';

/** Writes a human message to stderr. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Writes a value as one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Formats rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/**
 * The human form of an error: `error[CODE]: message` and, on the next line, `  hint: …`
 * (the error's own hint, else its code's default). `where` prefixes the message (a host name).
 */
export function formatError(error: { code: string; message: string; hint?: string | null }, where?: string): string {
  const hint = error.hint || hintFor(error.code, where ? { host: where } : {});
  return `error[${error.code}]: ${where ? `${where}: ` : ''}${error.message}\n${hint ? `  hint: ${hint}\n` : ''}`;
}

/**
 * Writes an error, once: `error[CODE]: message` and its hint on stderr, and with --json also
 * `{ ok: false, error }` (hint included) as the one JSON document on stdout.
 */
export function printError(error: ApiErrorBody, json: boolean): void {
  const body = { ...error, hint: error.hint || ERROR_HINTS[error.code] };
  process.stderr.write(formatError(body));
  if (json) printJson({ ok: false, error: body });
}

/**
 * The CLI's one writer of a command's failure: whatever was thrown becomes a coded error
 * (a bug becomes INTERNAL, its stack only with CRONIUM_DEBUG), printed once; returns it.
 */
export function reportError(e: unknown, json: boolean): ApiErrorBody {
  const error = isCroniumError(e)
    ? e.toJSON()
    : new CroniumError('INTERNAL', `internal error: ${(e as Error)?.message ?? String(e)}`, 'this is a bug in Cronium; please report it with the command you ran').toJSON();
  if (!isCroniumError(e) && process.env.CRONIUM_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
  printError(error, json);
  return error;
}
