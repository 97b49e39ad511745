/** Asks before removing a host, since its stored credentials go with it. */
import { useState } from 'react';
import type { Host } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Modal } from '../../components/Modal';
import { useAppStore } from '../../store';

/** Props of RemoveHostDialog. */
export interface RemoveHostDialogProps {
  host: Host;
  onClose: () => void;
  onRemoved: (name: string) => void;
}

/** A confirmation dialog; Cancel has the focus, so Enter does no harm. */
export function RemoveHostDialog({ host, onClose, onRemoved }: RemoveHostDialogProps) {
  const remove = useAppStore((s) => s.hosts.remove);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorInfo | null>(null);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await remove(host.name);
      onRemoved(host.name);
    } catch (e) {
      setError(toErrorInfo(e));
      setBusy(false);
    }
  }

  const target = `${host.user ? `${host.user}@` : ''}${host.address}:${host.port}`;
  return (
    <Modal title={`Remove ${host.name}?`} onClose={onClose} role="alertdialog" className="modal-confirm">
      <p className="modal-body">
        <strong>{host.name}</strong> (<span className="mono">{target}</span>) will be removed from the inventory
        {host.hasPassword ? ', together with its stored password' : ''}. This cannot be undone.
      </p>
      {error && <ErrorNotice error={error} />}
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} data-autofocus="">
          Cancel
        </button>
        <button type="button" className="btn btn-danger" onClick={() => void confirm()} disabled={busy}>
          {busy ? 'Removing…' : 'Remove host'}
        </button>
      </div>
    </Modal>
  );
}
