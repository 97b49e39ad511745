/**
 * The workspace switcher (issue #16): "This computer" and each team server added in Settings.
 * Choosing a team server opens it in a window of its own: the desktop app opens a locked-down
 * window with a separate session (electron/main/team-windows.ts), a browser a new tab; there the
 * team server's own page asks its people to sign in. This window stays this computer's.
 */
import { useState, type FormEvent } from 'react';
import type { TeamServerRef } from '../../../electron/shared/api';
import { toErrorInfo } from '../../api';
import { useAppStore } from '../../store';
import { isTeamPage } from './team-session';

const NONE: TeamServerRef[] = [];

/** Opens a team server's page in its own window (the desktop decides which window). */
export function openTeamServer(url: string): void {
  window.open(url, '_blank', 'noopener,noreferrer');
}

/** The sidebar's switcher; nothing when no team server was added. */
export function WorkspaceSwitcher() {
  const servers = useAppStore((s) => s.settings.value?.desktop.teamServers ?? NONE);
  if (servers.length === 0 || isTeamPage()) return null;
  return (
    <label className="field workspace-switcher">
      <span>Workspace</span>
      <select
        aria-label="Workspace"
        value=""
        onChange={(e) => {
          const chosen = servers.find((s) => s.url === e.target.value);
          if (chosen) openTeamServer(chosen.url);
        }}
      >
        <option value="">This computer</option>
        {servers.map((s) => (
          <option key={s.url} value={s.url}>
            {s.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Settings → Team servers: the switcher's list, added by name and address, removed one by one. */
export function TeamServersSettings() {
  const servers = useAppStore((s) => s.settings.value?.desktop.teamServers ?? NONE);
  const save = useAppStore((s) => s.settings.save);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const store = async (next: TeamServerRef[]) => {
    setError(null);
    try {
      await save({ desktop: { teamServers: next } });
      return true;
    } catch (e) {
      const info = toErrorInfo(e);
      setError(`${info.message}${info.hint ? ` — ${info.hint}` : ''}`);
      return false;
    }
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (await store([...servers.filter((s) => s.name !== name.trim()), { name: name.trim(), url: url.trim() }])) {
      setName('');
      setUrl('');
    }
  };
  return (
    <fieldset className="card form" aria-labelledby="team-servers-title">
      <h2 id="team-servers-title">Team servers</h2>
      <p className="field-hint">Shared Cronium servers your team signs in to. Each opens in a window of its own, from the workspace switcher.</p>
      {servers.length > 0 && (
        <ul className="team-servers">
          {servers.map((s) => (
            <li key={s.url}>
              <strong>{s.name}</strong> <span className="muted">{s.url}</span>{' '}
              <button type="button" className="btn btn-small btn-quiet" onClick={() => void store(servers.filter((x) => x !== s))} aria-label={`Remove ${s.name}`}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form className="form-row" onSubmit={(e) => void add(e)} aria-label="Add a team server">
        <input aria-label="Team server name" placeholder="Name, e.g. ops" value={name} onChange={(e) => setName(e.target.value)} required />
        <input aria-label="Team server address" placeholder="https://cronium.example.com" value={url} onChange={(e) => setUrl(e.target.value)} required />
        <button className="btn" type="submit">
          Add
        </button>
      </form>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
    </fieldset>
  );
}
