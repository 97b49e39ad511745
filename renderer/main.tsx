/**
 * Entry point: opens the door (desktop IPC or headless WebSocket), builds the store, renders.
 * On a team server (issue #16) the page signs in first (features/team).
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { hasSessionToken, openDoor } from './api';
import { ApiProvider } from './api/context';
import { App } from './App';
import { applyTheme } from './features/settings/theme';
import { SignIn, TeamBar } from './features/team/SignIn';
import { markTeamPage, signOut, teamSession, type TeamSession } from './features/team/team-session';
import { createAppStore, StoreProvider } from './store';
import './styles.css';

// The OS's theme from the first paint; the saved setting applies once it has loaded.
applyTheme('system');

const rootElement = document.getElementById('root');
if (!rootElement) throw new Error('index.html has no #root element');
const root = createRoot(rootElement);

function renderApp(team: TeamSession | null): void {
  if (team?.user) markTeamPage();
  const { api, connection } = openDoor(window, team?.csrf ? { csrf: team.csrf } : undefined);
  const { store } = createAppStore(api, connection);
  root.render(
    <StrictMode>
      {team?.user && team.csrf && <TeamBar name={team.user.name} role={team.user.role} onSignOut={() => void signOut(team.csrf!).then(() => window.location.reload())} />}
      <ApiProvider api={api}>
        <StoreProvider store={store}>
          <App />
        </StoreProvider>
      </ApiProvider>
    </StrictMode>,
  );
}

async function boot(): Promise<void> {
  // The desktop and a one-person server's page (its token) need no sign-in.
  const team = window.cronium || hasSessionToken() ? null : await teamSession();
  if (team && !team.user) {
    root.render(
      <StrictMode>
        <SignIn oidc={team.oidc === true} onSignedIn={() => window.location.replace('/')} />
      </StrictMode>,
    );
    return;
  }
  renderApp(team);
}

void boot();
