/**
 * The command palette (Ctrl/Cmd+K): jump to a view, a host or a recent job, or run an
 * action, by typing a few letters. Built on cmdk inside the app's own Modal (a native
 * <dialog>: focus trapped, Escape closes, focus returns where it was). Arrow keys move,
 * Enter chooses.
 */
import { Command } from 'cmdk';
import { useEffect, useMemo, useState } from 'react';
import { useApi } from '../../api/context';
import { navigate } from '../../app/route';
import { Modal } from '../../components/Modal';
import { useAppStore, type JobSummary } from '../../store';
import { requestHostsAction } from '../hosts/hosts-actions';
import { toggledTheme, useOsDark } from '../settings/theme';
import { paletteGroups, paletteScore, type PaletteAction } from './palette-model';

/** Props of CommandPalette. */
export interface CommandPaletteProps {
  onClose: () => void;
  /** Asks the app to open the Add schedule dialog. */
  onNewSchedule: () => void;
  /** Whether the Scripts view exists in this build. */
  hasScripts: boolean;
}

/** The palette, mounted while open. */
export default function CommandPalette({ onClose, onNewSchedule, hasScripts }: CommandPaletteProps) {
  const api = useApi();
  const hosts = useAppStore((s) => s.hosts.list);
  const theme = useAppStore((s) => s.settings.value?.appearance.theme ?? 'system');
  const saveSettings = useAppStore((s) => s.settings.save);
  const osDark = useOsDark();
  const [jobs, setJobs] = useState<JobSummary[]>([]);
  const [query, setQuery] = useState('');

  useEffect(() => {
    let live = true;
    api.jobs
      .list({ limit: 8 })
      .then((list) => live && setJobs(list))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [api]);

  const groups = useMemo(() => paletteGroups(hosts, jobs, { hasScripts }), [hosts, jobs, hasScripts]);

  const run = (action: PaletteAction) => {
    onClose();
    switch (action.kind) {
      case 'go':
        navigate(action.route);
        return;
      case 'add-host':
      case 'import-hosts':
        requestHostsAction(action.kind);
        return;
      case 'new-schedule':
        onNewSchedule();
        return;
      case 'toggle-theme':
        void saveSettings({ appearance: { theme: toggledTheme(theme, osDark) } });
        return;
    }
  };

  return (
    <Modal title="Command palette" onClose={onClose} className="modal-palette">
      <Command label="Command palette" loop filter={(_value, search, keywords) => paletteScore(search, keywords ?? [])}>
        <Command.Input value={query} onValueChange={setQuery} placeholder="Type a view, a host, a job or an action…" data-autofocus="" className="palette-input" />
        <Command.List className="palette-list" label="Commands">
          <Command.Empty className="palette-empty">Nothing matches “{query}”.</Command.Empty>
          {groups.map((g) => (
            <Command.Group key={g.heading} heading={g.heading} className="palette-group">
              {g.entries.map((e) => (
                <Command.Item key={e.id} value={e.id} keywords={[e.label, ...e.keywords]} onSelect={() => run(e.action)} className="palette-item">
                  <span className="palette-label">{e.label}</span>
                  {e.detail && <span className="palette-detail muted">{e.detail}</span>}
                </Command.Item>
              ))}
            </Command.Group>
          ))}
        </Command.List>
      </Command>
      <p className="palette-help muted" aria-hidden="true">
        <kbd>↑</kbd> <kbd>↓</kbd> to move · <kbd>Enter</kbd> to choose · <kbd>Esc</kbd> to close
      </p>
    </Modal>
  );
}
