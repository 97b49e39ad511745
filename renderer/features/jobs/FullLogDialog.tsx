/**
 * The whole log of a run as plain text, a click away from its terminal (whose scrollback
 * is bounded): read from the store a page at a time (runs.logs), with "Load more" and a
 * download of the whole log as a .log file.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CroniumApi } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Modal } from '../../components/Modal';
import { formatBytes } from '../runner/format';
import { readLogPage, readWholeLog, type ReadPage } from './full-log';

/** Text shown at most before "Load more" stops appending (the download has everything). */
const MAX_SHOWN_CHARS = 8 * 1024 * 1024;

/** Props of FullLogDialog. */
export interface FullLogDialogProps {
  api: CroniumApi;
  runId: number;
  host: string;
  jobId: number;
  onClose: () => void;
}

/** The full-log dialog. */
export function FullLogDialog({ api, runId, host, jobId, onClose }: FullLogDialogProps) {
  const [text, setText] = useState('');
  const [bytes, setBytes] = useState(0);
  const [nextSeq, setNextSeq] = useState<number | null>(1);
  const [busy, setBusy] = useState(true);
  const [downloading, setDownloading] = useState<number | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const decoder = useRef(new TextDecoder());
  const abort = useRef<AbortController | null>(null);

  const read: ReadPage = useCallback(async (fromSeq, limit) => (await api.runs.logs({ runId, fromSeq, limit })).chunks, [api, runId]);

  const append = useCallback(
    (from: number) =>
      readLogPage(read, from, decoder.current).then(
        (page) => {
          setText((t) => t + page.text);
          setBytes((b) => b + page.bytes);
          setNextSeq(page.nextSeq);
          setError(null);
          setBusy(false);
        },
        (e: unknown) => {
          setError(toErrorInfo(e));
          setBusy(false);
        },
      ),
    [read],
  );
  const more = (from: number) => {
    setBusy(true);
    void append(from);
  };

  useEffect(() => {
    void append(1);
    return () => abort.current?.abort();
  }, [append]);

  async function download() {
    const ac = new AbortController();
    abort.current = ac;
    setDownloading(0);
    try {
      const whole = await readWholeLog(read, (b) => setDownloading(b), ac.signal);
      const url = URL.createObjectURL(new Blob([whole], { type: 'text/plain;charset=utf-8' }));
      const a = document.createElement('a');
      a.href = url;
      a.download = `cronium-job-${jobId}-${host}.log`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      if (!ac.signal.aborted) setError(toErrorInfo(e));
    } finally {
      setDownloading(null);
    }
  }

  const full = text.length >= MAX_SHOWN_CHARS;
  return (
    <Modal title={`Full log of ${host} (job ${jobId})`} onClose={onClose} className="modal-full-log">
      <p className="muted small" role="status">
        {formatBytes(bytes)} shown{nextSeq === null ? ', the whole log' : busy ? ', loading…' : ', more in the store'}.
      </p>
      {error && <ErrorNotice error={error} />}
      <pre className="full-log mono" tabIndex={0} aria-label={`Full log of ${host}`} data-run-id={runId}>
        {text}
      </pre>
      <div className="form-actions">
        {nextSeq !== null && !full && (
          <button type="button" className="btn" disabled={busy} onClick={() => more(nextSeq)}>
            Load more
          </button>
        )}
        {full && nextSeq !== null && <span className="muted small">Showing the first {formatBytes(MAX_SHOWN_CHARS)}; download for the rest.</span>}
        <button type="button" className="btn" disabled={downloading !== null} onClick={() => void download()}>
          {downloading !== null ? `Downloading… ${formatBytes(downloading)}` : 'Download .log'}
        </button>
        <button type="button" className="btn btn-primary" data-autofocus="" onClick={onClose}>
          Close
        </button>
      </div>
    </Modal>
  );
}
