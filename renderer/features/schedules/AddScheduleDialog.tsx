/** The Add schedule form: name, cron, time zone, target, interpreter and script. */
import { useMemo, useState, type FormEvent } from 'react';
import { fieldErrors, toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { SelectField, TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { useAppStore, type NewScheduleInput, type ScheduleView } from '../../store';
import { SAMPLES } from '../jobs/run-form';
import { ScriptEditor, type Interpreter } from '../jobs/ScriptEditor';

type Field = 'name' | 'cron' | 'tz' | 'target' | 'script' | 'overlap' | 'catchup';

/** The local time zone, for the default. */
function localZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Props of AddScheduleDialog. */
export interface AddScheduleDialogProps {
  onClose: () => void;
  onAdded: (s: ScheduleView) => void;
}

/** A modal form that adds a schedule. */
export function AddScheduleDialog({ onClose, onAdded }: AddScheduleDialogProps) {
  const add = useAppStore((s) => s.schedules.add);
  const hosts = useAppStore((s) => s.hosts.list);
  const tags = useMemo(() => [...new Set(hosts.flatMap((h) => h.tags))].sort(), [hosts]);
  const [name, setName] = useState('');
  const [cron, setCron] = useState('*/15 * * * *');
  const [tz, setTz] = useState(localZone);
  const [target, setTarget] = useState('');
  const [interpreter, setInterpreter] = useState<Interpreter>('bash');
  const [script, setScript] = useState(SAMPLES.bash);
  const [overlap, setOverlap] = useState<'skip' | 'queue' | 'parallel'>('skip');
  const [elevated, setElevated] = useState(false);
  const [catchup, setCatchup] = useState<'skip' | 'run-once'>('skip');
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);
  /** Wraps a setter so that editing a field clears its error. */
  const edit =
    <T,>(field: Field, setter: (v: T) => void) =>
    (v: T) => {
      setter(v);
      if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
    };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const local: Partial<Record<Field, string>> = {};
    if (!name.trim()) local.name = 'Name is required';
    if (!cron.trim()) local.cron = 'Cron is required';
    if (!target) local.target = 'Choose a host or a tag';
    if (!script.trim()) local.script = 'The script is empty';
    setErrors(local);
    setFormError(null);
    if (Object.keys(local).length) {
      document.getElementById(`schedule-${Object.keys(local)[0]}`)?.focus();
      return;
    }
    const input: NewScheduleInput = { name: name.trim(), cron: cron.trim(), tz: tz.trim() || 'UTC', script, interpreter, overlap, catchup, ...(elevated ? { elevated: true } : {}) };
    if (target.startsWith('tag:')) input.tag = target.slice(4);
    else input.hosts = [target.slice(5)];
    setBusy(true);
    try {
      onAdded(await add(input));
    } catch (err) {
      const fields: Partial<Record<Field, string>> = {};
      for (const f of fieldErrors(err)) {
        const k = f.field === 'hosts' || f.field === 'tag' ? 'target' : f.field;
        if (['name', 'cron', 'tz', 'target', 'script'].includes(k)) fields[k as Field] = f.message;
      }
      setErrors(fields);
      if (!Object.keys(fields).length) {
        const info = toErrorInfo(err);
        // A bad cron or zone comes back as INVALID_INPUT without a field; its message names it.
        if (/cron/i.test(info.message)) fields.cron = info.message;
        else if (/zone|tz/i.test(info.message)) fields.tz = info.message;
        if (Object.keys(fields).length) setErrors(fields);
        else setFormError(info);
      }
      setBusy(false);
    }
  }

  return (
    <Modal title="Add schedule" onClose={onClose} className="modal-form modal-wide">
      <form className="form" noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <div className="form-grid">
          <TextField id="schedule-name" label="Name" value={name} error={errors.name} data-autofocus="" autoComplete="off" spellCheck={false} placeholder="nightly-backup" onChange={(e) => edit('name', setName)(e.target.value)} />
          <SelectField id="schedule-target" label="Target" value={target} error={errors.target} onChange={(e) => edit('target', setTarget)(e.target.value)}>
            <option value="">Choose…</option>
            <optgroup label="Hosts">
              {hosts.map((h) => (
                <option key={h.name} value={`host:${h.name}`}>
                  {h.name}
                </option>
              ))}
            </optgroup>
            {tags.length > 0 && (
              <optgroup label="Tags">
                {tags.map((t) => (
                  <option key={t} value={`tag:${t}`}>
                    tag {t}
                  </option>
                ))}
              </optgroup>
            )}
          </SelectField>
          <TextField
            id="schedule-cron"
            label="Cron"
            value={cron}
            error={errors.cron}
            className="mono"
            autoComplete="off"
            spellCheck={false}
            hint="minute hour day month weekday, e.g. 0 3 * * * (seconds optional in front)"
            onChange={(e) => edit('cron', setCron)(e.target.value)}
          />
          <TextField id="schedule-tz" label="Time zone" value={tz} error={errors.tz} autoComplete="off" spellCheck={false} hint="IANA name, e.g. Europe/Berlin" onChange={(e) => edit('tz', setTz)(e.target.value)} />
          <SelectField id="schedule-overlap" label="If still running" value={overlap} onChange={(e) => setOverlap(e.target.value as typeof overlap)}>
            <option value="skip">skip the new run</option>
            <option value="queue">queue it</option>
            <option value="parallel">run in parallel</option>
          </SelectField>
          <div className="field field-check">
            <label title="sudo or doas, as each host's elevation setting says">
              <input id="schedule-elevated" type="checkbox" checked={elevated} onChange={(e) => setElevated(e.target.checked)} /> Run as root
            </label>
          </div>
          <SelectField id="schedule-catchup" label="Missed while stopped" value={catchup} onChange={(e) => setCatchup(e.target.value as typeof catchup)}>
            <option value="skip">skip</option>
            <option value="run-once">run once</option>
          </SelectField>
          <SelectField
            id="schedule-interpreter"
            label="Interpreter"
            value={interpreter}
            onChange={(e) => {
              const i = e.target.value as Interpreter;
              if (script === SAMPLES[interpreter]) setScript(SAMPLES[i]);
              setInterpreter(i);
            }}
          >
            {(['bash', 'sh', 'python3', 'node'] as const).map((i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </SelectField>
          <div className={`field span-2${errors.script ? ' field-invalid' : ''}`}>
            <label htmlFor="schedule-script">Script</label>
            <ScriptEditor id="schedule-script" value={script} interpreter={interpreter} onChange={edit('script', setScript)} describedBy={errors.script ? 'schedule-script-error' : undefined} invalid={!!errors.script} />
            {errors.script && (
              <p id="schedule-script-error" className="field-error">
                {errors.script}
              </p>
            )}
          </div>
        </div>
        {formError && <ErrorNotice error={formError} />}
        <div className="form-actions">
          <button type="button" className="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Adding…' : 'Add schedule'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
