/**
 * The Settings view: execution defaults and limits (applied to the next claim of every
 * worker), notifications, appearance, log retention, and, in the desktop app only, start
 * at login and updates.
 * The theme applies as soon as it is chosen; the rest on Save.
 */
import { TeamServersSettings } from '../team/Workspaces';
import { isTeamPage } from '../team/team-session';
import { useEffect, useRef, useState, type FormEvent } from 'react';
import { toErrorInfo, type ErrorInfo } from '../../api';
import { ErrorNotice } from '../../components/ErrorNotice';
import { SelectField, TextField } from '../../components/Field';
import { LoadStatus } from '../../components/LoadStatus';
import { useAppStore, type Settings } from '../../store';
import { fromSettings, toSettingsChange, validateSettings, type SettingsErrors, type SettingsValues } from './settings-form';

const FIELD_ORDER: (keyof SettingsValues)[] = ['defaultTimeout', 'globalConcurrency', 'perHostConcurrency', 'maxOutputMiB', 'maxAgeDays', 'maxRuns', 'maxTotalMiB', 'updateQuietHours'];

/** The form, once the settings are there. */
function SettingsForm({ settings, desktop, platform }: { settings: Settings; desktop: boolean; platform: string | undefined }) {
  const save = useAppStore((s) => s.settings.save);
  const [v, setV] = useState<SettingsValues>(() => fromSettings(settings));
  // Settings changed elsewhere (another tab, the CLI, this form's own save): take them,
  // unless the user has unsaved edits here, which win until they save.
  const [base, setBase] = useState(settings);
  if (settings !== base) {
    const dirty = JSON.stringify(v) !== JSON.stringify(fromSettings(base));
    setBase(settings);
    if (!dirty) setV(fromSettings(settings));
  }
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [formError, setFormError] = useState<ErrorInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState('');
  const focusFirstError = useRef(false);

  useEffect(() => {
    if (!focusFirstError.current) return;
    focusFirstError.current = false;
    const first = FIELD_ORDER.find((f) => errors[f]);
    if (first) document.getElementById(`settings-${first}`)?.focus();
  }, [errors]);

  const set = <K extends keyof SettingsValues>(k: K, value: SettingsValues[K]) => {
    setV((old) => ({ ...old, [k]: value }));
    setStatus('');
    if (errors[k]) setErrors((e) => ({ ...e, [k]: undefined }));
  };
  const text = (k: keyof SettingsValues & ('defaultTimeout' | 'globalConcurrency' | 'perHostConcurrency' | 'maxOutputMiB' | 'maxAgeDays' | 'maxRuns' | 'maxTotalMiB')) => ({
    id: `settings-${k}`,
    value: v[k],
    error: errors[k],
    inputMode: 'numeric' as const,
    autoComplete: 'off',
    onChange: (e: { target: { value: string } }) => set(k, e.target.value),
  });

  async function chooseTheme(theme: SettingsValues['theme']) {
    set('theme', theme);
    try {
      await save({ appearance: { theme } });
    } catch (e) {
      setFormError(toErrorInfo(e));
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    setFormError(null);
    const local = validateSettings(v);
    setErrors(local);
    if (Object.keys(local).length) {
      focusFirstError.current = true;
      return;
    }
    setBusy(true);
    try {
      await save(toSettingsChange(v, desktop));
      setStatus('Settings saved.');
    } catch (err) {
      setFormError(toErrorInfo(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form settings-form" noValidate onSubmit={(e) => void submit(e)} aria-busy={busy}>
      <fieldset className="settings-group">
        <legend>Running scripts</legend>
        <div className="form-grid">
          <SelectField id="settings-defaultMode" label="Default mode" value={v.defaultMode} onChange={(e) => set('defaultMode', e.target.value as SettingsValues['defaultMode'])} hint="For runs that name no mode: the Run form and cronium run without --mode.">
            <option value="auto">auto (the runner where it works, else direct SSH)</option>
            <option value="runner">runner</option>
            <option value="direct">direct SSH</option>
          </SelectField>
          <TextField {...text('defaultTimeout')} label="Default timeout (seconds)" optional placeholder="none" hint="For runs that set none. Empty: no timeout." />
          <TextField {...text('globalConcurrency')} label="Runs at once" hint="Across all hosts, 1-1024. Applies to the next runs, without a restart." />
          <TextField {...text('perHostConcurrency')} label="Runs at once per host" hint="1-64." />
          <TextField {...text('maxOutputMiB')} label="Output limit per run (MiB)" hint="1-4096. Output beyond it is cut and the run stops (OUTPUT_LIMIT), in both modes." />
          <SelectField id="settings-runnerCheck" label="Runner check before each run" value={v.runnerCheck} onChange={(e) => set('runnerCheck', e.target.value as SettingsValues['runnerCheck'])} hint="stat: re-hash the cached runner only when its file or directories changed since it last hashed right. hash: re-hash it every run (slower).">
            <option value="stat">stat (re-hash on any change)</option>
            <option value="hash">hash every run (strict)</option>
          </SelectField>
        </div>
      </fieldset>

      <fieldset className="settings-group">
        <legend>Notifications</legend>
        <p className="field-hint">Shown by the desktop app when a run ends.</p>
        <div className="field field-check">
          <label>
            <input type="checkbox" checked={v.onFailure} onChange={(e) => set('onFailure', e.target.checked)} /> When a run fails
          </label>
        </div>
        <div className="field field-check">
          <label>
            <input type="checkbox" checked={v.onSuccess} onChange={(e) => set('onSuccess', e.target.checked)} /> When a run succeeds
          </label>
        </div>
      </fieldset>

      <fieldset className="settings-group">
        <legend>Appearance</legend>
        <div className="segmented" role="radiogroup" aria-label="Theme">
          {(['system', 'light', 'dark'] as const).map((t) => (
            <label key={t}>
              <input type="radio" name="settings-theme" value={t} checked={v.theme === t} onChange={() => void chooseTheme(t)} /> {t === 'system' ? 'Follow the system' : t === 'light' ? 'Light' : 'Dark'}
            </label>
          ))}
        </div>
      </fieldset>

      <fieldset className="settings-group">
        <legend>Log retention</legend>
        <p className="field-hint">Logs of finished runs are deleted past any of these limits, checked hourly. Empty: no limit.</p>
        <div className="form-grid">
          <TextField {...text('maxAgeDays')} label="Keep logs for (days)" optional placeholder="no limit" />
          <TextField {...text('maxRuns')} label="Keep logs of (runs)" optional placeholder="no limit" />
          <TextField {...text('maxTotalMiB')} label="Log storage (MiB)" optional placeholder="no limit" />
        </div>
      </fieldset>

      {desktop && (
        <fieldset className="settings-group">
          <legend>Desktop</legend>
          <div className="field field-check">
            <label>
              <input type="checkbox" checked={v.startAtLogin} onChange={(e) => set('startAtLogin', e.target.checked)} /> Start Cronium at login
            </label>
            <p className="field-hint">
              Schedules fire only while Cronium runs; closing the window keeps it running in the tray.
              {platform === 'linux' ? ' On Linux this writes an autostart entry in ~/.config/autostart.' : ''}
            </p>
          </div>
          <div className="field field-check">
            <label>
              <input type="checkbox" checked={v.autoUpdate} onChange={(e) => set('autoUpdate', e.target.checked)} /> Check for updates automatically
            </label>
            <p className="field-hint">At start and once a day; an update downloads in the background and installs when you quit. Check for Updates… in the menu works either way.</p>
          </div>
          <div className="form-grid">
            <SelectField id="settings-updateChannel" label="Update channel" value={v.updateChannel} onChange={(e) => set('updateChannel', e.target.value as SettingsValues['updateChannel'])}>
              <option value="latest">Stable releases</option>
              <option value="beta">Beta (prereleases too)</option>
            </SelectField>
            <TextField
              id="settings-updateQuietHours"
              label="Update quiet hours"
              optional
              placeholder="none"
              autoComplete="off"
              value={v.updateQuietHours}
              error={errors.updateQuietHours}
              onChange={(e) => set('updateQuietHours', e.target.value)}
              hint="Local time, e.g. 22:00-07:00: no automatic checks, downloads or update notices then."
            />
          </div>
        </fieldset>
      )}

      {formError && <ErrorNotice error={formError} />}
      <div className="form-actions form-actions-start">
        <button type="submit" className="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : 'Save settings'}
        </button>
        <span className="muted" role="status">
          {status}
        </span>
      </div>
    </form>
  );
}

/** The Settings view. */
export function SettingsView() {
  const value = useAppStore((s) => s.settings.value);
  const loaded = useAppStore((s) => s.settings.loaded);
  const error = useAppStore((s) => s.settings.error);
  const load = useAppStore((s) => s.settings.load);
  const door = useAppStore((s) => s.session.info?.door);
  const platform = useAppStore((s) => s.session.info?.platform);
  // A team server's own page has no switcher of its own (its people open it from theirs).
  const teamPage = isTeamPage();

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <section className="view" aria-labelledby="settings-title">
      <header className="view-header">
        <h1 id="settings-title">Settings</h1>
      </header>
      <LoadStatus loaded={loaded} error={error} onRetry={() => void load()} what="settings" />
      {value && <SettingsForm settings={value} desktop={door === 'desktop'} platform={platform} />}
      {value && !teamPage && <TeamServersSettings />}
    </section>
  );
}
