/**
 * The app shell: a sidebar with the app's name, the views and facts about the app; the
 * view of the hash route; the command palette (Ctrl/Cmd+K) and the theme. Views that
 * carry heavy editors (xterm in a job, CodeMirror in the Run form and Scripts) and the
 * palette are loaded on first use, so the first screen stays small.
 */
import { WorkspaceSwitcher } from './features/team/Workspaces';
import { lazy, Suspense, useEffect, useRef, useState } from 'react';
import { useApi } from './api/context';
import { navigate, routeHref, sectionOf, useRoute, type Route, type Section } from './app/route';
import { ConnectionBanner } from './components/ConnectionBanner';
import { AuthPromptDialog } from './features/auth/AuthPromptDialog';
import { ViewBoundary } from './components/ViewBoundary';
import { HostDetail } from './features/hosts/HostDetail';
import { HostsView } from './features/hosts/HostsView';
import { isPaletteShortcut } from './features/palette/palette-model';
import { RunnerView } from './features/runner/RunnerView';
import { useThemeSetting } from './features/settings/theme';
import { useAppStore } from './store';

// Hosts (with its detail, which shows runner deployments) is the first screen and stays in the
// main chunk with the Runner view; every other view is its own.
const JobsView = lazy(() => import('./features/jobs/JobsView').then((m) => ({ default: m.JobsView })));
const SchedulesView = lazy(() => import('./features/schedules/SchedulesView').then((m) => ({ default: m.SchedulesView })));
const AddScheduleDialog = lazy(() => import('./features/schedules/AddScheduleDialog').then((m) => ({ default: m.AddScheduleDialog })));
const JobView = lazy(() => import('./features/jobs/JobView').then((m) => ({ default: m.JobView })));
const RunForm = lazy(() => import('./features/jobs/RunForm').then((m) => ({ default: m.RunForm })));
const ScriptsView = lazy(() => import('./features/scripts/ScriptsView'));
const SettingsView = lazy(() => import('./features/settings/SettingsView').then((m) => ({ default: m.SettingsView })));
const CommandPalette = lazy(() => import('./features/palette/CommandPalette'));

const SECTIONS: { id: Section; label: string }[] = [
  { id: 'hosts', label: 'Hosts' },
  { id: 'scripts', label: 'Scripts' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'schedules', label: 'Schedules' },
  { id: 'runner', label: 'Runner' },
  { id: 'settings', label: 'Settings' },
];

/** Version and data directory, from app.info. */
function AppFooter({ onPalette }: { onPalette: () => void }) {
  const info = useAppStore((s) => s.session.info);
  const infoError = useAppStore((s) => s.session.infoError);
  const mac = typeof navigator !== 'undefined' && /Mac/.test(navigator.platform);
  return (
    <footer className="sidebar-footer">
      <button type="button" className="palette-hint" onClick={onPalette} aria-keyshortcuts={mac ? 'Meta+K' : 'Control+K'}>
        Command palette <kbd>{mac ? '⌘K' : 'Ctrl K'}</kbd>
      </button>
      {info ? (
        <dl>
          <div>
            <dt>Version</dt>
            <dd>
              {info.version}
              {info.door === 'headless' ? ' · headless' : ''}
            </dd>
          </div>
          <div>
            <dt>Data</dt>
            <dd className="data-dir" title={info.dataDir}>
              {info.dataDir}
            </dd>
          </div>
        </dl>
      ) : (
        infoError && <p>App info unavailable: {infoError.message}</p>
      )}
    </footer>
  );
}

/** The view a route shows. */
function RouteView({ route }: { route: Route }) {
  switch (route.view) {
    case 'hosts':
      return <HostsView />;
    case 'host':
      return <HostDetail key={route.name} name={route.name} />;
    case 'jobs':
      return <JobsView />;
    case 'job':
      return <JobView key={route.id} id={route.id} host={route.host} />;
    case 'run':
      return <RunForm initialHosts={route.hosts ?? (route.host ? [route.host] : [])} />;
    case 'scripts':
      return <ScriptsView key={route.name ?? ''} name={route.name} />;
    case 'schedules':
      return <SchedulesView />;
    case 'runner':
      return <RunnerView />;
    case 'settings':
      return <SettingsView />;
  }
}

const TITLES: Record<Section, string> = { hosts: 'Hosts', scripts: 'Scripts', jobs: 'Jobs', schedules: 'Schedules', runner: 'Runner', settings: 'Settings' };

/** The whole UI. */
export function App() {
  const api = useApi();
  const route = useRoute();
  const section = sectionOf(route);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  const href = routeHref(route);
  // The error boundary starts afresh per view, not per hash: a job's host tabs and the selected
  // script live in the hash too, and remounting on them would throw away focus and state.
  const viewKey = route.view === 'job' ? `job/${route.id}` : route.view === 'scripts' ? 'scripts' : href;
  const [palette, setPalette] = useState(false);
  const [addingSchedule, setAddingSchedule] = useState(false);
  useThemeSetting();

  // On navigation, move focus to the new view's heading so keyboard and screen-reader users land there.
  useEffect(() => {
    document.title = `${TITLES[section]} · Cronium`;
    if (first.current) {
      first.current = false;
      return;
    }
    const h1 = mainRef.current?.querySelector<HTMLElement>('h1');
    if (h1 && !mainRef.current?.contains(document.activeElement)) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
  }, [href, section]);

  // Ctrl/Cmd+K opens (and closes) the palette from anywhere, editors included.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!isPaletteShortcut(e)) return;
      e.preventDefault();
      setPalette((open) => !open);
    };
    document.addEventListener('keydown', onKey, { capture: true });
    return () => document.removeEventListener('keydown', onKey, { capture: true });
  }, []);

  // The desktop's menu and tray ask through ui.command (its accelerators never reach the page).
  useEffect(
    () =>
      api.on('ui.command', ({ command }) => {
        if (command === 'palette') setPalette(true);
        else navigate({ view: command });
      }),
    [api],
  );

  return (
    <div className="app">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Cronium
        </div>
        <WorkspaceSwitcher />
        <nav aria-label="Main">
          <ul className="nav">
            {SECTIONS.map((s) => (
              <li key={s.id}>
                <a className="nav-item" href={`#${s.id}`} aria-current={section === s.id ? 'page' : undefined}>
                  {s.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <AppFooter onPalette={() => setPalette(true)} />
      </aside>
      <main className="main" ref={mainRef}>
        <ConnectionBanner />
        <ViewBoundary key={viewKey}>
          <Suspense
            fallback={
              <p className="placeholder" role="status">
                Loading…
              </p>
            }
          >
            <RouteView route={route} />
          </Suspense>
        </ViewBoundary>
      </main>
      {palette && (
        <Suspense fallback={null}>
          <CommandPalette
            hasScripts
            onClose={() => setPalette(false)}
            onNewSchedule={() => {
              navigate({ view: 'schedules' });
              setAddingSchedule(true);
            }}
          />
        </Suspense>
      )}
      <AuthPromptDialog />
      {addingSchedule && (
        <Suspense fallback={null}>
          <AddScheduleDialog onClose={() => setAddingSchedule(false)} onAdded={() => setAddingSchedule(false)} />
        </Suspense>
      )}
    </div>
  );
}
