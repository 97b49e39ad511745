/**
 * The Scripts view: the saved scripts, an editor (CodeMirror, highlighting for bash, sh,
 * python3 and node) with the script's follow-ups (on success, failure, always or a
 * condition: another saved script, on the same host, chosen hosts or a tag), Save,
 * Delete, and "Run now" on chosen hosts or a tag (jobs.run with scriptName, so the
 * follow-ups fire). The route `#scripts/NAME` opens a script; `#scripts` the first one.
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { fieldErrors, toErrorInfo, type ErrorInfo } from '../../api';
import { useApi } from '../../api/context';
import { navigate, routeHref, useRoute } from '../../app/route';
import { ErrorNotice } from '../../components/ErrorNotice';
import { TextField } from '../../components/Field';
import { Modal } from '../../components/Modal';
import { useAppStore } from '../../store';
import { formatTime } from '../jobs/job-format';
import { SAMPLES } from '../jobs/run-form';
import { InterpreterField, ScriptEditor, type Interpreter } from '../jobs/ScriptEditor';
import { emptyDraft, followupText, isDirty, isValid, newFollowup, toDraft, toSaveArgs, validateScript, type FollowupRow, type SavedScript, type ScriptDraft, type ScriptErrors } from './script-form';
import './scripts.css';

const ON_LABELS: Record<FollowupRow['on'], string> = { success: 'On success', failure: 'On failure', always: 'Always', condition: 'On condition' };

/** Props of ScriptsView (the route gives the name when the app shell does not). */
export interface ScriptsViewProps {
  name?: string | undefined;
}

/** The follow-ups editor: one row per follow-up. */
function FollowupsEditor({
  rows,
  errors,
  scripts,
  self,
  hosts,
  tags,
  onChange,
}: {
  rows: FollowupRow[];
  errors: Record<number, string> | undefined;
  scripts: string[];
  self: string;
  hosts: string[];
  tags: string[];
  onChange: (rows: FollowupRow[]) => void;
}) {
  const set = (i: number, patch: Partial<FollowupRow>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const others = scripts.filter((s) => s !== self);
  return (
    <fieldset className="field followups">
      <legend>Follow-ups</legend>
      <p className="field-hint">Another saved script to run when this one ends: on the same host, on chosen hosts, or on every host with a tag.</p>
      {rows.length === 0 && <p className="muted small">None.</p>}
      <ol className="followup-rows">
        {rows.map((r, i) => {
          const id = `followup-${i}`;
          const err = errors?.[i];
          return (
            <li key={i} className={`followup-row${err ? ' field-invalid' : ''}`} aria-label={`Follow-up ${i + 1}`}>
              <label htmlFor={`${id}-on`} className="visually-hidden">
                When follow-up {i + 1} runs
              </label>
              <select id={`${id}-on`} value={r.on} onChange={(e) => set(i, { on: e.target.value as FollowupRow['on'] })}>
                {Object.entries(ON_LABELS).map(([v, l]) => (
                  <option key={v} value={v}>
                    {l}
                  </option>
                ))}
              </select>
              <label htmlFor={`${id}-script`} className="visually-hidden">
                Script of follow-up {i + 1}
              </label>
              <select id={`${id}-script`} value={r.script} onChange={(e) => set(i, { script: e.target.value })} aria-invalid={err ? true : undefined} aria-describedby={err ? `${id}-error` : undefined}>
                <option value="">Choose a script…</option>
                {others.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
                {r.script && !others.includes(r.script) && <option value={r.script}>{r.script}</option>}
              </select>
              <label htmlFor={`${id}-target`} className="visually-hidden">
                Where follow-up {i + 1} runs
              </label>
              <select id={`${id}-target`} value={r.target} onChange={(e) => set(i, { target: e.target.value as FollowupRow['target'] })}>
                <option value="same">on the same host</option>
                <option value="hosts">on chosen hosts</option>
                <option value="tag">on a tag</option>
              </select>
              {r.target === 'hosts' && (
                <>
                  <label htmlFor={`${id}-hosts`} className="visually-hidden">
                    Hosts of follow-up {i + 1}
                  </label>
                  <select id={`${id}-hosts`} multiple size={Math.min(4, Math.max(2, hosts.length))} value={r.hosts} onChange={(e) => set(i, { hosts: [...e.target.selectedOptions].map((o) => o.value) })}>
                    {hosts.map((h) => (
                      <option key={h} value={h}>
                        {h}
                      </option>
                    ))}
                  </select>
                </>
              )}
              {r.target === 'tag' && (
                <>
                  <label htmlFor={`${id}-tag`} className="visually-hidden">
                    Tag of follow-up {i + 1}
                  </label>
                  <input id={`${id}-tag`} value={r.tag} list="scripts-tags" placeholder="tag" autoComplete="off" spellCheck={false} onChange={(e) => set(i, { tag: e.target.value })} />
                </>
              )}
              <button type="button" className="btn btn-small btn-ghost" onClick={() => onChange(rows.filter((_, j) => j !== i))} aria-label={`Remove follow-up ${i + 1}`}>
                Remove
              </button>
              {err && (
                <p id={`${id}-error`} className="field-error followup-error">
                  {err}
                </p>
              )}
            </li>
          );
        })}
      </ol>
      <datalist id="scripts-tags">
        {tags.map((t) => (
          <option key={t} value={t} />
        ))}
      </datalist>
      <button type="button" className="btn btn-small" onClick={() => onChange([...rows, newFollowup(others[0] ?? '')])} disabled={others.length === 0} title={others.length === 0 ? 'Save another script first' : undefined}>
        Add follow-up
      </button>
      {others.length === 0 && <p className="field-hint">Follow-ups run other saved scripts: save one more script to add one.</p>}
    </fieldset>
  );
}

/** "Run now": chosen hosts or a tag, then jobs.run with the saved script. */
function RunNow({ name, dirty, renamed, onBeforeRun, hosts }: { name: string; dirty: boolean; renamed: boolean; onBeforeRun: () => Promise<boolean>; hosts: string[] }) {
  const api = useApi();
  const loadJobs = useAppStore((s) => s.jobs.load);
  const [target, setTarget] = useState<'hosts' | 'tag'>('hosts');
  const [chosen, setChosen] = useState<string[]>([]);
  const [tag, setTag] = useState('');
  const [error, setError] = useState<ErrorInfo | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function run() {
    setError(null);
    setFieldError(null);
    if (target === 'hosts' && chosen.length === 0) return setFieldError('Choose at least one host');
    if (target === 'tag' && !tag.trim()) return setFieldError('Enter a tag');
    setBusy(true);
    try {
      if (!(await onBeforeRun())) return;
      const { jobId } = await api.jobs.run({ scriptName: name, ...(target === 'hosts' ? { hosts: chosen } : { tag: tag.trim() }) });
      void loadJobs();
      navigate({ view: 'job', id: jobId });
    } catch (e) {
      const f = fieldErrors(e).find((x) => x.field === 'hosts' || x.field === 'tag');
      if (f) setFieldError(f.message);
      else setError(toErrorInfo(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="run-now" aria-labelledby="run-now-title">
      <h2 id="run-now-title" className="section-title">
        Run now
      </h2>
      <div className="segmented" role="radiogroup" aria-label="Run on">
        <label>
          <input type="radio" name="run-now-target" checked={target === 'hosts'} onChange={() => setTarget('hosts')} /> Chosen hosts
        </label>
        <label>
          <input type="radio" name="run-now-target" checked={target === 'tag'} onChange={() => setTarget('tag')} /> A tag
        </label>
      </div>
      {target === 'hosts' ? (
        <div className={`field${fieldError ? ' field-invalid' : ''}`}>
          <label htmlFor="run-now-hosts">Hosts</label>
          <select id="run-now-hosts" multiple size={Math.min(6, Math.max(3, hosts.length))} value={chosen} onChange={(e) => setChosen([...e.target.selectedOptions].map((o) => o.value))} aria-invalid={fieldError ? true : undefined} aria-describedby={fieldError ? 'run-now-error' : 'run-now-hint'}>
            {hosts.map((h) => (
              <option key={h} value={h}>
                {h}
              </option>
            ))}
          </select>
          {!fieldError && (
            <p id="run-now-hint" className="field-hint">
              Ctrl or Shift to choose several.
            </p>
          )}
        </div>
      ) : (
        <TextField id="run-now-tag" label="Tag" value={tag} list="scripts-tags" autoComplete="off" spellCheck={false} onChange={(e) => setTag(e.target.value)} error={fieldError ?? undefined} />
      )}
      {fieldError && target === 'hosts' && (
        <p id="run-now-error" className="field-error">
          {fieldError}
        </p>
      )}
      {error && <ErrorNotice error={error} />}
      <button type="button" className="btn btn-primary" onClick={() => void run()} disabled={busy || renamed} aria-describedby={renamed ? 'run-now-renamed' : undefined}>
        {busy ? 'Starting…' : dirty ? 'Save and run' : 'Run now'}
      </button>
      {renamed && (
        <p id="run-now-renamed" className="field-hint">
          The name was changed: saving makes a new script. Save it first, then run it from its own page.
        </p>
      )}
    </section>
  );
}

/** The Scripts view. */
export default function ScriptsView({ name: nameProp }: ScriptsViewProps = {}) {
  const api = useApi();
  const route = useRoute();
  const routeName = nameProp ?? (route.view === 'scripts' ? route.name : undefined);
  const hostList = useAppStore((s) => s.hosts.list);
  const hosts = useMemo(() => hostList.map((h) => h.name), [hostList]);
  const tags = useMemo(() => [...new Set(hostList.flatMap((h) => h.tags))].sort(), [hostList]);

  const [scripts, setScripts] = useState<SavedScript[] | null>(null);
  const [loadError, setLoadError] = useState<ErrorInfo | null>(null);
  const [creating, setCreating] = useState(false);
  const [draft, setDraft] = useState<ScriptDraft>(() => emptyDraft('bash', SAMPLES.bash));
  const [errors, setErrors] = useState<ScriptErrors>({});
  const [saveError, setSaveError] = useState<ErrorInfo | null>(null);
  const [saving, setSaving] = useState(false);
  const [removing, setRemoving] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const [filter, setFilter] = useState('');

  const load = useCallback(
    () =>
      api.scripts.list({}).then(
        (list) => {
          setScripts(list);
          setLoadError(null);
          return list;
        },
        (e: unknown) => {
          setLoadError(toErrorInfo(e));
          return null;
        },
      ),
    [api],
  );

  useEffect(() => {
    void load();
  }, [load]);

  const saved = useMemo(() => (creating ? null : (scripts?.find((s) => s.name === routeName) ?? (routeName === undefined ? scripts?.[0] : undefined) ?? null)), [scripts, routeName, creating]);
  const missing = !creating && routeName !== undefined && scripts !== null && !scripts.some((s) => s.name === routeName);

  // Opening another script (or a saved version of this one) resets the editor to it, during
  // render (React's way of adjusting state to a changed input), not on every list reload.
  const openKey = creating ? 'new' : saved ? `${saved.name}@${saved.updatedAt}` : scripts ? 'none' : 'loading';
  const [shownKey, setShownKey] = useState<string>('loading');
  if (openKey !== shownKey) {
    setShownKey(openKey);
    if (saved && !creating) setDraft(toDraft(saved));
    setErrors({});
    setSaveError(null);
  }

  const dirty = isDirty(draft, saved);
  const names = useMemo(() => (scripts ?? []).map((s) => s.name), [scripts]);
  const shown = useMemo(() => (scripts ?? []).filter((s) => !filter || s.name.toLowerCase().includes(filter.toLowerCase())), [scripts, filter]);

  const set = <K extends keyof ScriptDraft>(k: K, v: ScriptDraft[K]) => {
    setDraft((d) => ({ ...d, [k]: v }));
    if (k === 'name' && errors.name) setErrors((e) => ({ ...e, name: undefined }));
    if (k === 'body' && errors.body) setErrors((e) => ({ ...e, body: undefined }));
    if (k === 'followups' && errors.followups) setErrors((e) => ({ ...e, followups: undefined }));
  };

  /** Saves the draft; true when saved. */
  async function save(): Promise<boolean> {
    setSaveError(null);
    const local = validateScript(draft);
    setErrors(local);
    if (!isValid(local)) return false;
    setSaving(true);
    try {
      const s = await api.scripts.save(toSaveArgs(draft));
      await load();
      setCreating(false);
      setAnnouncement(`Saved script ${s.name}.`);
      if (s.name !== routeName) navigate({ view: 'scripts', name: s.name });
      return true;
    } catch (e) {
      const fields: ScriptErrors = {};
      const rows: Record<number, string> = {};
      const other: string[] = [];
      for (const f of fieldErrors(e)) {
        const m = /^followups\.(\d+)/.exec(f.field);
        if (f.field === 'name') fields.name = f.message;
        else if (f.field === 'body') fields.body = `The script ${f.message}`;
        else if (m) rows[Number(m[1])] = f.message;
        else other.push(`${f.field}: ${f.message}`);
      }
      if (Object.keys(rows).length) fields.followups = rows;
      setErrors(fields);
      if (isValid(fields) || other.length) setSaveError(toErrorInfo(e));
      return false;
    } finally {
      setSaving(false);
    }
  }

  async function remove() {
    if (!saved) return;
    const name = saved.name;
    setRemoving(false);
    try {
      await api.scripts.remove({ name });
      const list = await load();
      setAnnouncement(`Deleted script ${name}.`);
      navigate(list?.[0] ? { view: 'scripts', name: list[0].name } : { view: 'scripts' });
    } catch (e) {
      setSaveError(toErrorInfo(e));
    }
  }

  function startNew() {
    setCreating(true);
    setDraft(emptyDraft('bash', SAMPLES.bash));
    setErrors({});
    setSaveError(null);
    setTimeout(() => document.getElementById('script-name')?.focus(), 0);
  }

  const onInterpreter = (i: Interpreter) => setDraft((d) => ({ ...d, interpreter: i, body: d.body === SAMPLES[d.interpreter] ? SAMPLES[i] : d.body }));

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void save();
  };

  const editing = creating || saved !== null || (scripts !== null && scripts.length === 0);
  const title = creating || !saved ? 'New script' : saved.name;

  return (
    <section className="view" aria-labelledby="scripts-title">
      <header className="view-header">
        <h1 id="scripts-title">Scripts</h1>
        {scripts && <span className="view-count">{scripts.length === 1 ? '1 script' : `${scripts.length} scripts`}</span>}
        <div className="toolbar">
          <button type="button" className="btn btn-primary" onClick={startNew}>
            New script
          </button>
        </div>
      </header>
      <p className="visually-hidden" role="status">
        {announcement}
      </p>
      {loadError && (
        <ErrorNotice error={loadError}>
          <button type="button" className="btn btn-small" onClick={() => void load()}>
            Retry
          </button>
        </ErrorNotice>
      )}
      {!scripts && !loadError && (
        <p className="placeholder" role="status">
          Loading scripts…
        </p>
      )}
      {scripts && (
        <div className="scripts-layout">
          <nav className="scripts-list" aria-label="Saved scripts">
            <label htmlFor="scripts-filter" className="visually-hidden">
              Find a script
            </label>
            <input id="scripts-filter" type="search" placeholder="Find a script" value={filter} onChange={(e) => setFilter(e.target.value)} autoComplete="off" spellCheck={false} />
            {scripts.length === 0 ? (
              <p className="muted small">No saved scripts yet. Write one on the right and save it.</p>
            ) : (
              <ul>
                {shown.map((s) => (
                  <li key={s.name}>
                    <a href={routeHref({ view: 'scripts', name: s.name })} aria-current={!creating && saved?.name === s.name ? 'page' : undefined} onClick={() => setCreating(false)}>
                      <span className="script-name">{s.name}</span>
                      <span className="script-meta">
                        {s.interpreter}
                        {s.followups.length ? ` · ${s.followups.length} follow-up${s.followups.length > 1 ? 's' : ''}` : ''}
                      </span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
          </nav>
          <div className="scripts-editor">
            {missing && <ErrorNotice error={{ code: 'NOT_FOUND', message: `No script named "${routeName}".`, hint: 'Choose one from the list, or make a new one.' }} />}
            {editing && (
              <form className="form script-form" noValidate onSubmit={submit} aria-labelledby="script-form-title" aria-busy={saving}>
                <div className="script-form-head">
                  <h2 id="script-form-title">{title}</h2>
                  {saved && !creating && <span className="muted small">saved {formatTime(saved.updatedAt)}</span>}
                  {dirty && <span className="status status-warn">unsaved changes</span>}
                </div>
                <div className="form-row">
                  <TextField
                    id="script-name"
                    label="Name"
                    value={draft.name}
                    error={errors.name}
                    autoComplete="off"
                    spellCheck={false}
                    hint={saved && !creating ? 'Saving under another name makes a new script.' : 'Letters, digits, ".", "_" or "-".'}
                    onChange={(e) => set('name', e.target.value)}
                  />
                  <InterpreterField id="script-interpreter" value={draft.interpreter} onChange={onInterpreter} />
                  <div className="field field-check">
                    <label title="sudo or doas, as each host's elevation setting says">
                      <input id="script-elevated" type="checkbox" checked={draft.elevated === true} onChange={(e) => set('elevated', e.target.checked)} /> Runs as root
                    </label>
                  </div>
                </div>
                <div className={`field${errors.body ? ' field-invalid' : ''}`}>
                  <label htmlFor="script-body">Script</label>
                  <ScriptEditor id="script-body" value={draft.body} interpreter={draft.interpreter} onChange={(b) => set('body', b)} describedBy={errors.body ? 'script-body-error' : undefined} invalid={!!errors.body} />
                  {errors.body && (
                    <p id="script-body-error" className="field-error">
                      {errors.body}
                    </p>
                  )}
                </div>
                <FollowupsEditor rows={draft.followups} errors={errors.followups} scripts={names} self={draft.name.trim()} hosts={hosts} tags={tags} onChange={(rows) => set('followups', rows)} />
                {saveError && <ErrorNotice error={saveError} />}
                <div className="form-actions form-actions-start">
                  <button type="submit" className="btn btn-primary" disabled={saving}>
                    {saving ? 'Saving…' : 'Save'}
                  </button>
                  {saved && !creating && (
                    <button type="button" className="btn btn-danger-outline" onClick={() => setRemoving(true)}>
                      Delete
                    </button>
                  )}
                  {creating && scripts.length > 0 && (
                    <button type="button" className="btn btn-ghost" onClick={() => setCreating(false)}>
                      Cancel
                    </button>
                  )}
                </div>
                {saved && !creating && saved.followups.length > 0 && (
                  <p className="muted small">Saved follow-ups: {saved.followups.map((f) => followupText(f)).join('; ')}.</p>
                )}
              </form>
            )}
            {saved && !creating && <RunNow key={saved.name} name={saved.name} dirty={dirty} renamed={draft.name.trim() !== saved.name} onBeforeRun={() => (dirty ? save() : Promise.resolve(true))} hosts={hosts} />}
          </div>
        </div>
      )}
      {removing && saved && (
        <Modal title={`Delete ${saved.name}?`} onClose={() => setRemoving(false)} role="alertdialog" className="modal-confirm">
          <p className="modal-body">The script is removed. Jobs that ran it keep their copy of it; a schedule or another script’s follow-up that uses it must drop it first.</p>
          <div className="form-actions">
            <button type="button" className="btn" data-autofocus="" onClick={() => setRemoving(false)}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={() => void remove()}>
              Delete script
            </button>
          </div>
        </Modal>
      )}
    </section>
  );
}

export { ScriptsView };
