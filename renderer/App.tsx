/** The app shell: a sidebar with the app's name, its one view and facts about the app. */
import { ConnectionBanner } from './components/ConnectionBanner';
import { HostsView } from './features/hosts/HostsView';
import { useAppStore } from './store';

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

/** The whole UI. */
export function App() {
  return (
    <div className="app">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Cronium
        </div>
        <nav aria-label="Main">
          <ul className="nav">
            <li>
              <a className="nav-item" href="#hosts" aria-current="page">
                Hosts
              </a>
            </li>
          </ul>
        </nav>
        <AppFooter />
      </aside>
      <main className="main" id="hosts">
        <ConnectionBanner />
        <HostsView />
      </main>
    </div>
  );
}
