/** Asks the user to confirm a host key by its fingerprint, then pins exactly that fingerprint. */
import { useState } from 'react';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { ErrorNotice } from '../../components/ErrorNotice';
import { Modal } from '../../components/Modal';
import type { HostKeyProblem } from './host-key';

/** Props of TrustHostKeyDialog. */
export interface TrustHostKeyDialogProps {
  problem: HostKeyProblem;
  onClose: () => void;
  onTrusted: () => void;
}

/** The host-key confirmation dialog; Cancel has the focus. */
export function TrustHostKeyDialog({ problem, onClose, onTrusted }: TrustHostKeyDialogProps) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorInfo | null>(null);
  const changed = problem.code === 'HOST_KEY_MISMATCH';

  async function trust() {
    setBusy(true);
    setError(null);
    try {
      await api.hosts.trust({ name: problem.host, fingerprint: problem.fingerprint });
      onTrusted();
    } catch (e) {
      setError(toErrorInfo(e));
      setBusy(false);
    }
  }

  return (
    <Modal title={changed ? `The host key of ${problem.host} has changed` : `Trust the host key of ${problem.host}?`} onClose={onClose} role="alertdialog" className="modal-confirm modal-trust">
      <div className="modal-body">
        {changed ? (
          <p className="trust-warning">
            Someone may be intercepting the connection, or the host was reinstalled. Trust the new key only if you have checked it out of band.
          </p>
        ) : (
          <p>Cronium has not seen this host before. Compare the fingerprint with the host’s own (<code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code> on it).</p>
        )}
        <dl className="fingerprints">
          {changed && problem.previousFingerprint && (
            <div>
              <dt>Trusted before</dt>
              <dd className="mono">{problem.previousFingerprint}</dd>
            </div>
          )}
          <div>
            <dt>{changed ? 'Presented now' : 'Fingerprint'}</dt>
            <dd className="mono fingerprint">
              {problem.algorithm ? `${problem.algorithm} ` : ''}
              {problem.fingerprint}
            </dd>
          </div>
        </dl>
      </div>
      {problem.revoked && <ErrorNotice error={{ code: 'HOST_KEY_MISMATCH', message: 'This key is revoked and can never be trusted.' }} />}
      {error && <ErrorNotice error={error} />}
      <div className="form-actions">
        <button type="button" className="btn" onClick={onClose} data-autofocus="">
          Cancel
        </button>
        <button type="button" className={changed ? 'btn btn-danger' : 'btn btn-primary'} onClick={() => void trust()} disabled={busy || problem.revoked}>
          {busy ? 'Trusting…' : changed ? 'Trust the new key' : 'Trust this key'}
        </button>
      </div>
    </Modal>
  );
}
