/**
 * One run's log in an xterm: the tail first from runs.logs, then live run.log events,
 * through a LogPump (ordered, de-duplicated, batched, with the write callback as
 * backpressure). The scrollback is bounded (SCROLLBACK lines), so a run printing without
 * end keeps memory flat; the whole log is a click away ("Open full log": plain text read
 * from the store in pages, or a download). The terminal, its addons and the pump are live
 * handles: they live in refs of this component, never in the store.
 */
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { WebLinksAddon } from '@xterm/addon-web-links';
import { Terminal, type ITheme } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import type { CroniumApi } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { FullLogDialog } from './FullLogDialog';
import { LogPump, type LogChunk, type LogSkip } from './log-pump';
import './jobs.css';

/** Bytes read first for a run's log; the rest is a click away. */
export const TAIL_BYTES = 256 * 1024;
/** Lines the terminal keeps; older ones are in "Open full log". */
export const SCROLLBACK = 10_000;

/** The terminal's colours, from the page's CSS variables (so it follows the theme). */
function themeFromCss(el: HTMLElement): ITheme {
  const css = getComputedStyle(el);
  const v = (name: string) => css.getPropertyValue(name).trim();
  return {
    background: v('--term-bg'),
    foreground: v('--term-fg'),
    cursor: v('--term-bg'),
    cursorAccent: v('--term-bg'),
    selectionBackground: v('--term-selection'),
  };
}

/** Props of RunTerminal. */
export interface RunTerminalProps {
  api: CroniumApi;
  runId: number;
  host: string;
  /** The job, for the download's file name. */
  jobId?: number;
}

/** A read-only terminal showing one run's log, live. */
export function RunTerminal({ api, runId, host, jobId }: RunTerminalProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const searchRef = useRef<SearchAddon | null>(null);
  const [truncatedFrom, setTruncatedFrom] = useState<number | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [query, setQuery] = useState('');
  const [fullOpen, setFullOpen] = useState(false);

  useEffect(() => {
    const box = boxRef.current;
    if (!box) return;
    const term = new Terminal({
      convertEol: true,
      disableStdin: true,
      cursorBlink: false,
      cursorStyle: 'underline',
      cursorInactiveStyle: 'none',
      scrollback: SCROLLBACK,
      fontFamily: getComputedStyle(box).getPropertyValue('--mono').trim() || 'monospace',
      fontSize: 12,
      theme: themeFromCss(box),
    });
    const fit = new FitAddon();
    const search = new SearchAddon();
    term.loadAddon(fit);
    term.loadAddon(search);
    term.loadAddon(new WebLinksAddon((_e, uri) => window.open(uri, '_blank', 'noopener,noreferrer')));
    term.open(box);
    term.textarea?.setAttribute('aria-label', `Log of ${host}`);
    termRef.current = term;
    searchRef.current = search;
    const refit = () => {
      try {
        fit.fit();
      } catch {
        // Not laid out yet (hidden tab): the next resize fits it.
      }
    };
    refit();
    const ro = new ResizeObserver(refit);
    ro.observe(box);
    const scheme = window.matchMedia('(prefers-color-scheme: dark)');
    const onScheme = () => (term.options.theme = themeFromCss(box));
    scheme.addEventListener('change', onScheme);

    let live = false;
    let early: { chunks: LogChunk[]; gapFrom?: number; skipped?: LogSkip[] }[] = [];
    const pump = new LogPump(
      { write: (data, cb) => term.write(data, cb) },
      { fill: async (from) => (await api.runs.logs({ runId, fromSeq: from, limit: 1000 })).chunks },
    );
    const off = api.on('run.log', (e) => {
      if (e.runId !== runId) return;
      if (live) pump.push(e.chunks, e.gapFrom, e.skipped);
      else early.push({ chunks: e.chunks, ...(e.gapFrom !== undefined ? { gapFrom: e.gapFrom } : {}), ...(e.skipped ? { skipped: e.skipped } : {}) });
    });
    let cancelled = false;
    void (async () => {
      try {
        const first = await api.runs.logs({ runId, tail: TAIL_BYTES, limit: 10_000 });
        if (cancelled) return;
        const firstSeq = first.chunks[0]?.seq ?? 1;
        if (firstSeq > 1) {
          pump.startAfter(firstSeq - 1);
          setTruncatedFrom(firstSeq);
        }
        pump.push(first.chunks);
        if (cancelled) return;
        live = true;
        for (const e of early) pump.push(e.chunks, e.gapFrom, e.skipped);
        early = [];
      } catch (e) {
        if (!cancelled) setError(toErrorInfo(e));
      }
    })();

    return () => {
      cancelled = true;
      off();
      pump.dispose();
      ro.disconnect();
      scheme.removeEventListener('change', onScheme);
      termRef.current = null;
      searchRef.current = null;
      term.dispose();
    };
  }, [api, runId, host]);

  const find = (backwards: boolean) => {
    const s = searchRef.current;
    if (!s || !query) return;
    if (backwards) s.findPrevious(query);
    else s.findNext(query);
  };

  return (
    <div className="run-log">
      <div className="run-log-toolbar">
        <div role="search" className="log-search">
          <label htmlFor={`log-search-${runId}`} className="visually-hidden">
            Search the log of {host}
          </label>
          <input
            id={`log-search-${runId}`}
            type="search"
            value={query}
            placeholder="Find in log"
            autoComplete="off"
            spellCheck={false}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter') {
                e.preventDefault();
                find(e.shiftKey);
              }
            }}
          />
          <button type="button" className="btn btn-small" onClick={() => find(true)} aria-label="Previous match">
            ↑
          </button>
          <button type="button" className="btn btn-small" onClick={() => find(false)} aria-label="Next match">
            ↓
          </button>
        </div>
        {truncatedFrom !== null && <span className="log-truncated">Showing the last {Math.round(TAIL_BYTES / 1024)} KB.</span>}
        <button type="button" className="btn btn-small" onClick={() => setFullOpen(true)}>
          Open full log
        </button>
      </div>
      {error && <ErrorNotice error={error} />}
      <div ref={boxRef} className="terminal-box" data-run-id={runId} />
      {fullOpen && <FullLogDialog api={api} runId={runId} host={host} jobId={jobId ?? 0} onClose={() => setFullOpen(false)} />}
    </div>
  );
}
