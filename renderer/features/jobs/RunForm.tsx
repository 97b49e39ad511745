/** The Run form: hosts or a tag, an interpreter, a script and a timeout; jobs.run, then the job. */
import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { fieldErrors, toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { TextField } from '../../components/Field';
import { useAppStore } from '../../store';
import { SAMPLES, toPushArgs, toRunArgs, validateRun, type RunFormErrors, type RunFormValues } from './run-form';
import { InterpreterField, ScriptEditor, type Interpreter } from './ScriptEditor';


/** Reads `?host=a&host=b` preselection from the hash route's query (none supported yet): hosts come from props. */
export interface RunFormProps {
  initialHosts?: string[];
}

/** The Run view. */
export function RunForm({ initialHosts = [] }: RunFormProps) {
  const api = useApi();
  const hosts = useAppStore((s) => s.hosts.list);
  const loadJobs = useAppStore((s) => s.jobs.load);
  // Mode and timeout start from the execution settings (Settings view); until they load, auto and none.
  const defaults = useAppStore((s) => s.settings.value?.execution);
  const prefill = (d: typeof defaults) => ({ mode: d?.defaultMode ?? 'auto', timeout: d?.defaultTimeoutMs ? String(d.defaultTimeoutMs / 1000) : '' });
  const [v, setV] = useState<RunFormValues>(() => ({ target: 'hosts', hosts: initialHosts, tag: '', interpreter: 'bash', script: SAMPLES.bash, ...prefill(defaults) }));
  const [prefilled, setPrefilled] = useState(defaults !== undefined);
  if (!prefilled && defaults) {
    setPrefilled(true);
    setV((old) => ({ ...old, ...prefill(defaults) }));
  }
  const [errors, setErrors] = useState<RunFormErrors>({});
  const [formError, setFormError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const tags = useMemo(() => [...new Set(hosts.flatMap((h) => h.tags))].sort(), [hosts]);

  useEffect(() => {
    document.getElementById('run-hosts')?.focus();
  }, []);

  const set = <K extends keyof RunFormValues>(k: K, value: RunFormValues[K]) => {
    setV((old) => ({ ...old, [k]: value }));
    if (k in errors) setErrors((e) => ({ ...e, [k]: undefined }));
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const local = validateRun(v);
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const { jobId } = v.what === 'file' ? await api.jobs.push(toPushArgs(v)) : await api.jobs.run(toRunArgs(v));
      void loadJobs();
      navigate({ view: 'job', id: jobId });
    } catch (err) {
      const fields: RunFormErrors = {};
      const other: string[] = [];
      for (const f of fieldErrors(err)) {
        if (f.field === 'hosts' || f.field === 'tag' || f.field === 'script' || f.field === 'to' || f.field === 'owner') fields[f.field] = f.message;
        else if (f.field === 'path') fields.file = `File: ${f.message}`;
        else if (f.field === 'mode' && v.what === 'file') fields.fileMode = `Mode: ${f.message}`;
        else if (f.field === 'timeoutMs') fields.timeout = `Timeout: ${f.message}`;
        else other.push(`${f.field}: ${f.message}`);
      }
      setErrors(fields);
      if (!Object.keys(fields).length || other.length) setFormError(other.length ? { ...toErrorInfo(err), message: other.join('; ') } : toErrorInfo(err));
      setBusy(false);
    }
  }

  const onInterpreter = (i: Interpreter) => {
    // Swap the sample only while the user has not written their own script.
    setV((old) => ({ ...old, interpreter: i, script: old.script === SAMPLES[old.interpreter] ? SAMPLES[i] : old.script }));
  };

  return (
    <section className="view" aria-labelledby="run-title">
      <header className="view-header">
        <a className="back-link" href="#jobs">
          <span aria-hidden="true">←</span> Jobs
        </a>
        <h1 id="run-title">Run a script</h1>
      </header>
      <form className="form run-form" noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <div className="segmented" role="radiogroup" aria-label="What to do">
          <label>
            <input type="radio" name="run-what" checked={v.what !== 'file'} onChange={() => set('what', 'script')} /> Run a script
          </label>
          <label>
            <input type="radio" name="run-what" checked={v.what === 'file'} onChange={() => set('what', 'file')} /> Send a file
          </label>
        </div>
        <fieldset className="field target-field">
          <legend>Run on</legend>
          <div className="segmented">
            <label>
              <input type="radio" name="run-target" checked={v.target === 'hosts'} onChange={() => set('target', 'hosts')} /> Chosen hosts
            </label>
            <label>
              <input type="radio" name="run-target" checked={v.target === 'tag'} onChange={() => set('target', 'tag')} /> A tag
            </label>
          </div>
          {v.target === 'hosts' ? (
            <div className={`field${errors.hosts ? ' field-invalid' : ''}`}>
              <label htmlFor="run-hosts">Hosts</label>
              <select
                id="run-hosts"
                multiple
                size={Math.min(6, Math.max(3, hosts.length))}
                value={v.hosts}
                onChange={(e) => set('hosts', [...e.target.selectedOptions].map((o) => o.value))}
                aria-invalid={errors.hosts ? true : undefined}
                aria-describedby={errors.hosts ? 'run-hosts-error' : 'run-hosts-hint'}
              >
                {hosts.map((h) => (
                  <option key={h.name} value={h.name}>
                    {h.name} ({h.address})
                  </option>
                ))}
              </select>
              {errors.hosts ? (
                <p id="run-hosts-error" className="field-error">
                  {errors.hosts}
                </p>
              ) : (
                <p id="run-hosts-hint" className="field-hint">
                  Ctrl or Shift to choose several.
                </p>
              )}
            </div>
          ) : (
            <TextField id="run-tag" label="Tag" value={v.tag} error={errors.tag} list="run-tags" autoComplete="off" spellCheck={false} onChange={(e) => set('tag', e.target.value)} />
          )}
          <datalist id="run-tags">
            {tags.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </fieldset>
        {v.what === 'file' && (
          <div className="form-row">
            <TextField id="push-file" label="File on this computer" value={v.file ?? ''} error={errors.file} autoComplete="off" spellCheck={false} placeholder="/home/me/app.conf" onChange={(e) => set('file', e.target.value)} />
            <TextField id="push-to" label="Destination on the hosts" value={v.to ?? ''} error={errors.to} autoComplete="off" spellCheck={false} placeholder="/etc/app/app.conf" hint="{host} becomes each host&rsquo;s name; a path ending in / keeps the file&rsquo;s name." onChange={(e) => set('to', e.target.value)} />
            <TextField id="push-mode" label="Mode" optional value={v.fileMode ?? ''} error={errors.fileMode} autoComplete="off" placeholder="0644" onChange={(e) => set('fileMode', e.target.value)} />
            <TextField id="push-owner" label="Owner" optional value={v.owner ?? ''} error={errors.owner} autoComplete="off" spellCheck={false} placeholder="root:root" onChange={(e) => set('owner', e.target.value)} />
          </div>
        )}
        {v.what !== 'file' && (
          <>
        <div className="form-row">
          <InterpreterField id="run-interpreter" value={v.interpreter} onChange={onInterpreter} />
          <div className="field">
            <label htmlFor="run-mode">Mode</label>
            <select id="run-mode" value={v.mode} onChange={(e) => set('mode', e.target.value as RunFormValues['mode'])} aria-describedby="run-mode-hint">
              <option value="auto">auto</option>
              <option value="runner">runner</option>
              <option value="direct">direct SSH</option>
            </select>
            <p id="run-mode-hint" className="field-hint">
              auto: the runner where it works, else plain SSH.
            </p>
          </div>
          <TextField id="run-timeout" label="Timeout (seconds)" optional inputMode="decimal" value={v.timeout} error={errors.timeout} placeholder="none" onChange={(e) => set('timeout', e.target.value)} />
        </div>
        <div className={`field${errors.script ? ' field-invalid' : ''}`}>
          <label htmlFor="run-script" id="run-script-label">
            Script
          </label>
          <ScriptEditor id="run-script" value={v.script} interpreter={v.interpreter} onChange={(s) => set('script', s)} describedBy={errors.script ? 'run-script-error' : undefined} invalid={!!errors.script} />
          {errors.script && (
            <p id="run-script-error" className="field-error">
              {errors.script}
            </p>
          )}
        </div>
          </>
        )}
        <div className="form-row">
          <div className="field field-check">
            <label title="sudo or doas, as each host's elevation setting says; hosts without one refuse the run">
              <input id="run-elevated" type="checkbox" checked={v.elevated === true} onChange={(e) => set('elevated', e.target.checked)} /> Run as root
            </label>
          </div>
        </div>
        {formError && <ErrorNotice error={formError} />}
        <div className="form-actions form-actions-start">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Starting…' : v.what === 'file' ? 'Send' : 'Run'}
          </button>
        </div>
      </form>
    </section>
  );
}
