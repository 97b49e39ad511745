/** Entry point: opens the door (desktop IPC or headless WebSocket), builds the store, renders. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { openDoor } from './api';
import { ApiProvider } from './api/context';
import { App } from './App';
import { applyTheme } from './features/settings/theme';
import { createAppStore, StoreProvider } from './store';
import './styles.css';

// The OS's theme from the first paint; the saved setting applies once it has loaded.
applyTheme('system');

const { api, connection } = openDoor();
const { store } = createAppStore(api, connection);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <ApiProvider api={api}>
      <StoreProvider store={store}>
        <App />
      </StoreProvider>
    </ApiProvider>
  </StrictMode>,
);
