/**
 * Reading a run's whole log from the store in pages (runs.logs), for the plain "full log"
 * view and its download: pure helpers over a `read` function, tested in test/unit/renderer.
 * Control sequences other than newlines and tabs are dropped from the plain text, so a
 * log written for a terminal reads cleanly as text.
 */
import { decodeBase64, type LogChunk } from './log-pump';

/** Chunks per page read from the store: a chunk holds up to one SSH read (tens of KB), so a page stays a few MB. */
export const PAGE_CHUNKS = 200;

/** Reads chunks from a sequence number on. */
export type ReadPage = (fromSeq: number, limit: number) => Promise<LogChunk[]>;

/** One page of a log as text, and where the next page starts (null: that was the last). */
export interface LogPage {
  text: string;
  bytes: number;
  nextSeq: number | null;
}

// CSI and OSC sequences, and other C0 controls but \t and \n (\r is dropped: it only ever rewrote a line).
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Terminal bytes as plain text. */
export function plainText(bytes: Uint8Array, decoder = new TextDecoder()): string {
  return decoder.decode(bytes, { stream: true }).replace(CONTROL, '');
}

/** Reads one page from `fromSeq`; system lines are marked with "# ". */
export async function readLogPage(read: ReadPage, fromSeq: number, decoder = new TextDecoder(), limit = PAGE_CHUNKS): Promise<LogPage> {
  const chunks = await read(fromSeq, limit);
  let text = '';
  let bytes = 0;
  for (const c of chunks) {
    const data = decodeBase64(c.data);
    bytes += data.length;
    const t = plainText(data, decoder);
    text += c.stream === 'system' ? t.replace(/^(?=.)/gm, '# ') : t;
  }
  const last = chunks[chunks.length - 1];
  return { text, bytes, nextSeq: chunks.length < limit || !last ? null : last.seq + 1 };
}

/** Reads the whole log, page after page, as one text (for a download). */
export async function readWholeLog(read: ReadPage, onProgress?: (bytes: number) => void, signal?: AbortSignal): Promise<string> {
  const decoder = new TextDecoder();
  const parts: string[] = [];
  let bytes = 0;
  let from: number | null = 1;
  while (from !== null) {
    if (signal?.aborted) throw new DOMException('aborted', 'AbortError');
    const page = await readLogPage(read, from, decoder);
    parts.push(page.text);
    bytes += page.bytes;
    onProgress?.(bytes);
    from = page.nextSeq;
  }
  return parts.join('');
}
