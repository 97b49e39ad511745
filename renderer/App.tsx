/** The app shell: a sidebar with the app's name, the views and facts about the app; the view of the hash route. */
import { useEffect, useRef } from 'react';
import { routeHref, sectionOf, useRoute, type Route, type Section } from './app/route';
import { ConnectionBanner } from './components/ConnectionBanner';
import { HostDetail } from './features/hosts/HostDetail';
import { HostsView } from './features/hosts/HostsView';
import { JobsView } from './features/jobs/JobsView';
import { JobView } from './features/jobs/JobView';
import { RunForm } from './features/jobs/RunForm';
import { RunnerView } from './features/runner/RunnerView';
import { SchedulesView } from './features/schedules/SchedulesView';
import { useAppStore } from './store';

const SECTIONS: { id: Section; label: string }[] = [
  { id: 'hosts', label: 'Hosts' },
  { id: 'jobs', label: 'Jobs' },
  { id: 'schedules', label: 'Schedules' },
  { id: 'runner', label: 'Runner' },
];

/** Version and data directory, from app.info. */
function AppFooter() {
  const info = useAppStore((s) => s.session.info);
  const infoError = useAppStore((s) => s.session.infoError);
  return (
    <footer className="sidebar-footer">
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
      return <RunForm initialHosts={route.host ? [route.host] : []} />;
    case 'schedules':
      return <SchedulesView />;
    case 'runner':
      return <RunnerView />;
  }
}

const TITLES: Record<Section, string> = { hosts: 'Hosts', jobs: 'Jobs', schedules: 'Schedules', runner: 'Runner' };

/** The whole UI. */
export function App() {
  const route = useRoute();
  const section = sectionOf(route);
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  const href = routeHref(route);

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

  return (
    <div className="app">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Cronium
        </div>
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
        <AppFooter />
      </aside>
      <main className="main" ref={mainRef}>
        <ConnectionBanner />
        <RouteView route={route} />
      </main>
    </div>
  );
}
