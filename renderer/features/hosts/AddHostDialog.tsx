/** The Add host form, in a modal: client-side checks first, then the app's verdict per field. */
import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import type { Host } from '../../../electron/shared/api';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { SelectField, TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { useAppStore, useShallow } from '../../store';
import { EMPTY_FORM, FIELDS, LABELS, serverErrors, toInput, validate, type FieldName, type FormErrors, type HostFormValues } from './host-form';

const fieldId = (f: FieldName) => `add-host-${f}`;

/** Props of AddHostDialog. */
export interface AddHostDialogProps {
  onClose: () => void;
  onAdded: (host: Host) => void;
}

/** A modal form that adds a host. */
export function AddHostDialog({ onClose, onAdded }: AddHostDialogProps) {
  const add = useAppStore((s) => s.hosts.add);
  const hostNames = useAppStore(useShallow((s) => s.hosts.list.map((h) => h.name)));
  const [values, setValues] = useState<HostFormValues>(EMPTY_FORM);
  const [errors, setErrors] = useState<FormErrors>({});
  const [formError, setFormError] = useState<ErrorInfo | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const focusFirstError = useRef(false);

  // Once new errors are on screen (and described), take the user to the first one.
  useEffect(() => {
    if (!focusFirstError.current) return;
    focusFirstError.current = false;
    const first = FIELDS.find((f) => errors[f]);
    if (first) document.getElementById(fieldId(first))?.focus();
  }, [errors]);

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
      onAdded(await add(toInput(values)));
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

  return (
    <Modal title="Add host" onClose={onClose} className="modal-form">
      <form className="form" noValidate onSubmit={(e) => void submit(e)} aria-busy={submitting}>
        <div className="form-grid">
          <TextField {...bind('name')} data-autofocus="" autoComplete="off" spellCheck={false} placeholder="web1" />
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
          <TextField {...bind('password')} optional type="password" autoComplete="new-password" hint="Stored encrypted. Leave empty to use a key or the SSH agent." />
        </div>
        {formError && <ErrorNotice error={formError} />}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={submitting}>
            {submitting ? 'Adding…' : 'Add host'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
