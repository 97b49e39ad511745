/** Bulk actions on selected hosts that need a word first: add or remove a tag, remove the hosts. */
import { useState, type FormEvent } from 'react';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { useAppStore } from '../../store';
import { eachLimited } from './host-table-model';

/** The outcome of a bulk action: hosts it failed on, with why. */
export interface BulkOutcome {
  done: string[];
  failed: { name: string; error: ErrorInfo }[];
}

async function forEachHost(names: readonly string[], act: (name: string) => Promise<unknown>): Promise<BulkOutcome> {
  const outcome: BulkOutcome = { done: [], failed: [] };
  await eachLimited(names, 8, async (name) => {
    try {
      await act(name);
      outcome.done.push(name);
    } catch (e) {
      outcome.failed.push({ name, error: toErrorInfo(e) });
    }
  });
  return outcome;
}

function failureText(o: BulkOutcome): ErrorInfo | null {
  if (!o.failed.length) return null;
  const first = o.failed[0]!.error;
  return { code: first.code, message: o.failed.map((f) => `${f.name}: ${f.error.message}`).join('; '), ...(first.hint ? { hint: first.hint } : {}) };
}

/** Props of the bulk dialogs. */
export interface BulkDialogProps {
  names: readonly string[];
  onClose: () => void;
  onDone: (message: string) => void;
}

/** Adds a tag to, or removes it from, every selected host. */
export function BulkTagDialog({ names, onClose, onDone }: BulkDialogProps) {
  const update = useAppStore((s) => s.hosts.update);
  const [tag, setTag] = useState('');
  const [op, setOp] = useState<'add' | 'remove'>('add');
  const [error, setError] = useState<string | undefined>();
  const [failure, setFailure] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const t = tag.trim();
    // The contract's Tag rule, checked here to save a round trip per host.
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/.test(t)) {
      setError(t ? 'Tag must be 1-32 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit' : 'Enter a tag');
      document.getElementById('bulk-tag')?.focus();
      return;
    }
    setBusy(true);
    setFailure(null);
    const outcome = await forEachHost(names, (name) => update(op === 'add' ? { name, addTags: [t] } : { name, removeTags: [t] }));
    const f = failureText(outcome);
    if (f) {
      setFailure(f);
      setBusy(false);
      return;
    }
    onDone(`${op === 'add' ? 'Tagged' : 'Untagged'} ${outcome.done.length} ${outcome.done.length === 1 ? 'host' : 'hosts'} ${op === 'add' ? 'with' : 'from'} ${t}.`);
  }

  return (
    <Modal title={`Tag ${names.length} ${names.length === 1 ? 'host' : 'hosts'}`} onClose={onClose} className="modal-confirm">
      <form className="form" noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <fieldset className="field">
          <legend>Action</legend>
          <div className="segmented">
            <label>
              <input type="radio" name="bulk-tag-op" checked={op === 'add'} onChange={() => setOp('add')} /> Add tag
            </label>
            <label>
              <input type="radio" name="bulk-tag-op" checked={op === 'remove'} onChange={() => setOp('remove')} /> Remove tag
            </label>
          </div>
        </fieldset>
        <TextField
          id="bulk-tag"
          label="Tag"
          value={tag}
          error={error}
          data-autofocus=""
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => {
            setTag(e.target.value);
            setError(undefined);
          }}
          hint={names.join(', ')}
        />
        {failure && <ErrorNotice error={failure} />}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Saving…' : op === 'add' ? 'Add tag' : 'Remove tag'}
          </button>
        </div>
      </form>
    </Modal>
  );
}

/** Removes every selected host, after asking; Cancel has the focus. */
export function BulkRemoveDialog({ names, onClose, onDone }: BulkDialogProps) {
  const remove = useAppStore((s) => s.hosts.remove);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<ErrorInfo | null>(null);

  async function confirm() {
    setBusy(true);
    setFailure(null);
    // One at a time, jump hosts last: a bastion cannot go while hosts behind it stay.
    const outcome: BulkOutcome = { done: [], failed: [] };
    for (let pass = 0; pass < 2; pass++) {
      const todo = pass === 0 ? names : outcome.failed.splice(0).map((f) => f.name);
      for (const name of todo) {
        try {
          await remove(name);
          outcome.done.push(name);
        } catch (e) {
          outcome.failed.push({ name, error: toErrorInfo(e) });
        }
      }
    }
    const f = failureText(outcome);
    if (f) {
      setFailure(f);
      setBusy(false);
      return;
    }
    onDone(`Removed ${outcome.done.length} ${outcome.done.length === 1 ? 'host' : 'hosts'}.`);
  }

  return (
    <Modal title={`Remove ${names.length} ${names.length === 1 ? 'host' : 'hosts'}?`} onClose={onClose} role="alertdialog" className="modal-confirm">
      <p className="modal-body">
        {names.join(', ')} will be removed from the inventory, with their stored credentials. Their run history stays. This cannot be undone.
      </p>
      {failure && <ErrorNotice error={failure} />}
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} data-autofocus="">
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={() => void confirm()} disabled={busy}>
          {busy ? 'Removing…' : 'Remove hosts'}
        </button>
      </div>
    </Modal>
  );
}
