/** How the CLI talks: data on stdout (JSON with --json), messages and errors on stderr. */
import type { ApiErrorBody } from '../shared/errors';

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

/** Writes an error: `error[CODE]: message` and its hint on stderr, and as JSON on stdout with --json. */
export function printError(error: ApiErrorBody, json: boolean): void {
  process.stderr.write(`error[${error.code}]: ${error.message}\n${error.hint ? `  hint: ${error.hint}\n` : ''}`);
  if (json) printJson({ ok: false, error });
}
