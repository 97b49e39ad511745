/**
 * Import from an OpenSSH client config: a dry run lists what would be added (and what is
 * skipped or not understood), then Import adds exactly that. Nothing in the config is
 * executed; existing names are never overwritten. The path is on the machine that runs
 * Cronium (the server, in headless mode).
 */
import { useState, type FormEvent } from 'react';
import type { MethodResult } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { ErrorNotice } from '../../components/ErrorNotice';
import { TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { parseTags } from './host-form';

type ImportResult = MethodResult<'hosts.import'>;

/** Props of ImportHostsDialog. */
export interface ImportHostsDialogProps {
  onClose: () => void;
  onImported: (result: ImportResult) => void;
}

/** The import dialog: path and tags, Preview (dry run), then Import. */
export function ImportHostsDialog({ onClose, onImported }: ImportHostsDialogProps) {
  const api = useApi();
  const [path, setPath] = useState('');
  const [tags, setTags] = useState('');
  const [preview, setPreview] = useState<ImportResult | null>(null);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);

  const args = (dryRun: boolean) => ({ dryRun, tag: parseTags(tags), ...(path.trim() ? { path: path.trim() } : {}) });

  async function run(dryRun: boolean) {
    setBusy(true);
    setError(null);
    try {
      const result = await api.hosts.import(args(dryRun));
      if (dryRun) setPreview(result);
      else onImported(result);
    } catch (e) {
      setError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  }

  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (!busy) void run(!preview || preview.plan.length === 0);
  };
  // Changing the inputs invalidates the preview.
  const edit = (setter: (v: string) => void) => (v: string) => {
    setter(v);
    setPreview(null);
  };

  return (
    <Modal title="Import from SSH config" onClose={onClose} className="modal-form modal-wide">
      <form className="form" noValidate onSubmit={onSubmit} aria-busy={busy}>
        <div className="form-grid">
          <TextField
            id="import-path"
            label="Config file"
            optional
            fieldClassName="span-2"
            value={path}
            onChange={(e) => edit(setPath)(e.target.value)}
            placeholder="~/.ssh/config"
            autoComplete="off"
            spellCheck={false}
            data-autofocus=""
            hint="On the machine that runs Cronium. Include files are followed; nothing is executed."
          />
          <TextField id="import-tags" label="Tag the imported hosts" optional value={tags} onChange={(e) => edit(setTags)(e.target.value)} placeholder="imported" autoComplete="off" spellCheck={false} hint="Comma-separated." />
        </div>
        {error && <ErrorNotice error={error} />}
        {preview && (
          <section className="import-preview" aria-labelledby="import-preview-title">
            <h3 id="import-preview-title">
              {preview.plan.length === 0 ? 'Nothing new to import' : `${preview.plan.length} ${preview.plan.length === 1 ? 'host' : 'hosts'} to import`}
              <span className="muted"> from {preview.path}</span>
            </h3>
            {preview.plan.length > 0 && (
              <div className="table-wrap">
                <table className="table">
                  <caption className="visually-hidden">Hosts to import</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Address</th>
                      <th scope="col">User</th>
                      <th scope="col">Jump</th>
                      <th scope="col">Line</th>
                    </tr>
                  </thead>
                  <tbody>
                    {preview.plan.map((p) => (
                      <tr key={p.name}>
                        <th scope="row">{p.name}</th>
                        <td className="mono">
                          {p.address}
                          {p.port !== 22 ? `:${p.port}` : ''}
                        </td>
                        <td>{p.user ?? '—'}</td>
                        <td>{p.jump ?? '—'}</td>
                        <td className="muted">{p.source.line}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {preview.skipped.length > 0 && (
              <>
                <h4>Skipped</h4>
                <ul className="plain-list" aria-label="Skipped hosts">
                  {preview.skipped.map((s) => (
                    <li key={s.name}>
                      <strong>{s.name}</strong>: {s.reason}
                    </li>
                  ))}
                </ul>
              </>
            )}
            {preview.problems.length > 0 && (
              <>
                <h4>Lines not understood</h4>
                <ul className="plain-list" aria-label="Problems">
                  {preview.problems.map((p) => (
                    <li key={`${p.file}:${p.line}`}>
                      <span className="mono">
                        {p.file}:{p.line}
                      </span>{' '}
                      {p.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </section>
        )}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className={preview && preview.plan.length > 0 ? 'btn' : 'btn btn-primary'} disabled={busy} onClick={() => void run(true)}>
            {busy && !preview ? 'Reading…' : preview ? 'Preview again' : 'Preview'}
          </button>
          {preview && preview.plan.length > 0 && (
            <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void run(false)}>
              {busy ? 'Importing…' : `Import ${preview.plan.length} ${preview.plan.length === 1 ? 'host' : 'hosts'}`}
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}
