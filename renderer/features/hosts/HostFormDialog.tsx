/**
 * The Add host and Edit host form, in a modal: client-side checks first, then the app's
 * verdict per field. Editing sends only what changed (hosts.update); stored secrets are
 * never shown: a typed one replaces it, "Remove the stored …" clears it, empty keeps it.
 */
import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import type { Host } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { SelectField, TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { useAppStore, useShallow } from '../../store';
import {
  EMPTY_FORM,
  FIELDS,
  fromHost,
  isEmptyChange,
  LABELS,
  serverErrors,
  toChange,
  toInput,
  validate,
  type FieldName,
  type FormErrors,
  type HostFormValues,
} from './host-form';

/** Props of HostFormDialog: without `host` it adds one, with it it edits that host. */
export interface HostFormDialogProps {
  host?: Host;
  onClose: () => void;
  /** The host as saved (after a rename, under its new name). */
  onSaved: (host: Host) => void;
}

/** A modal form that adds or edits a host. */
export function HostFormDialog({ host, onClose, onSaved }: HostFormDialogProps) {
  const editing = host !== undefined;
  const prefix = editing ? 'edit-host' : 'add-host';
  const fieldId = (f: FieldName) => `${prefix}-${f}`;
  const add = useAppStore((s) => s.hosts.add);
  const update = useAppStore((s) => s.hosts.update);
  const hostNames = useAppStore(useShallow((s) => s.hosts.list.map((h) => h.name).filter((n) => n !== host?.name)));
  const [values, setValues] = useState<HostFormValues>(() => (host ? fromHost(host) : EMPTY_FORM));
  const [useAgent, setUseAgent] = useState(host?.useAgent ?? true);
  const [clearPassword, setClearPassword] = useState(false);
  const [clearPassphrase, setClearPassphrase] = useState(false);
  const [errors, setErrors] = useState<FormErrors>({});
  const [formError, setFormError] = useState<ErrorInfo | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const focusFirstError = useRef(false);

  // Once new errors are on screen (and described), take the user to the first one.
  useEffect(() => {
    if (!focusFirstError.current) return;
    focusFirstError.current = false;
    const first = FIELDS.find((f) => errors[f]);
    if (first) document.getElementById(`${prefix}-${first}`)?.focus();
  }, [errors, prefix]);

  const bind = (field: FieldName) => ({
    id: fieldId(field),
    label: LABELS[field],
    value: values[field],
    error: errors[field],
    onChange: (e: ChangeEvent<HTMLInputElement | HTMLSelectElement>) => {
      const value = e.target.value;
      setValues((v) => ({ ...v, [field]: value }));
      if (errors[field]) setErrors((errs) => ({ ...errs, [field]: undefined }));
    },
  });

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (submitting) return;
    setFormError(null);
    const local = validate(values);
    if (Object.keys(local).length > 0) {
      focusFirstError.current = true;
      setErrors(local);
      return;
    }
    setSubmitting(true);
    try {
      if (host) {
        const change = toChange(host, values, useAgent, { clearPassword, clearPassphrase });
        onSaved(isEmptyChange(change) ? host : await update(change));
      } else {
        const input = toInput(values);
        if (!useAgent) input.useAgent = false;
        onSaved(await add(input));
      }
    } catch (err) {
      const { fields, unmatched } = serverErrors(err);
      const info = toErrorInfo(err);
      if (Object.keys(fields).length === 0) setFormError(info);
      else if (unmatched.length > 0) setFormError({ ...info, message: unmatched.join('; ') });
      focusFirstError.current = true;
      setErrors(fields);
      setSubmitting(false);
    }
  }

  const passwordHint = host?.hasPassword ? 'A password is stored. Type a new one to replace it; leave empty to keep it.' : 'Stored encrypted. Leave empty to use a key or the SSH agent.';
  const passphraseHint = host?.hasPassphrase ? 'A passphrase is stored. Type a new one to replace it.' : 'Only for an encrypted identity file. Stored encrypted.';

  return (
    <Modal title={host ? `Edit ${host.name}` : 'Add host'} onClose={onClose} className="modal-form">
      <form className="form" noValidate onSubmit={(e) => void submit(e)} aria-busy={submitting}>
        <div className="form-grid">
          <TextField {...bind('name')} data-autofocus="" autoComplete="off" spellCheck={false} placeholder="web1" {...(editing ? { hint: 'Renaming keeps the host\u2019s history; schedules follow.' } : {})} />
          <TextField {...bind('address')} autoComplete="off" spellCheck={false} placeholder="10.0.0.5 or web1.example.com" />
          <TextField {...bind('port')} optional inputMode="numeric" autoComplete="off" placeholder="22" />
          <TextField {...bind('user')} optional autoComplete="off" spellCheck={false} placeholder="deploy" />
          <TextField
            {...bind('identityFile')}
            optional
            fieldClassName="span-2"
            autoComplete="off"
            spellCheck={false}
            placeholder="~/.ssh/id_ed25519"
            hint="A private key on the machine that runs Cronium."
          />
          <TextField {...bind('tags')} optional autoComplete="off" spellCheck={false} placeholder="prod, web" hint="Comma-separated." />
          <TextField {...bind('group')} optional autoComplete="off" spellCheck={false} placeholder="eu-west/db" />
          <SelectField {...bind('jump')} optional>
            <option value="">None</option>
            {hostNames.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </SelectField>
          <TextField
            {...bind('proxyCommand')}
            optional
            fieldClassName="span-2"
            autoComplete="off"
            spellCheck={false}
            className="mono"
            placeholder="nc -X 5 -x proxy:1080 %h %p"
            hint="A local command whose stdin and stdout carry the connection (%h %p %r %n %%), as OpenSSH’s ProxyCommand. Not with a jump host."
          />
          <SelectField
            {...bind('transport')}
            hint={host?.opensshReason ? `Auto uses your own ssh for this host: ${host.opensshReason}.` : 'Auto: the built-in client, unless the host’s ssh_config needs your own ssh (certificates, smart cards, Match exec).'}
          >
            <option value="auto">Auto</option>
            <option value="builtin">Built-in</option>
            <option value="openssh">Your own ssh (OpenSSH)</option>
          </SelectField>
          <div className="field field-check">
            <label>
              <input type="checkbox" checked={useAgent} onChange={(e) => setUseAgent(e.target.checked)} /> Offer my SSH agent&rsquo;s keys
            </label>
          </div>
          <TextField {...bind('password')} optional type="password" autoComplete="new-password" hint={passwordHint} disabled={clearPassword} />
          <TextField {...bind('passphrase')} optional type="password" autoComplete="new-password" hint={passphraseHint} disabled={clearPassphrase} />
          <SelectField {...bind('elevation')} optional hint="How runs marked “as root” become root on this host.">
            <option value="">Not set (runs as root are refused)</option>
            <option value="sudo">sudo, no password (NOPASSWD)</option>
            <option value="sudo-password">sudo with the user&rsquo;s password</option>
            <option value="doas">doas, no password</option>
            <option value="su">su with root&rsquo;s password</option>
            <option value="none">None (refuse runs as root)</option>
          </SelectField>
          {(values.elevation === 'sudo-password' || values.elevation === 'su') && (
            <TextField
              {...bind('elevationPassword')}
              type="password"
              autoComplete="new-password"
              hint={host?.hasElevationPassword ? 'An elevation password is stored. Type a new one to replace it.' : values.elevation === 'su' ? 'Root’s password on the host, which su asks for. Stored encrypted; never shown again.' : 'The SSH user’s own password, which sudo asks for. Stored encrypted; never shown again.'}
            />
          )}
          {host?.hasPassword && (
            <div className="field field-check">
              <label>
                <input type="checkbox" checked={clearPassword} onChange={(e) => setClearPassword(e.target.checked)} /> Remove the stored password
              </label>
            </div>
          )}
          {host?.hasPassphrase && (
            <div className="field field-check">
              <label>
                <input type="checkbox" checked={clearPassphrase} onChange={(e) => setClearPassphrase(e.target.checked)} /> Remove the stored passphrase
              </label>
            </div>
          )}
        </div>
        {formError && <ErrorNotice error={formError} />}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={submitting}>
            {editing ? (submitting ? 'Saving…' : 'Save changes') : submitting ? 'Adding…' : 'Add host'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
