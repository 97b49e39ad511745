/**
 * The Electron-free core: everything the three doors (desktop, CLI, headless) share.
 * Doors open it with their own SecretBox and door name, then bind `dispatch` to their
 * transport and forward `events` to their clients.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDispatcher, type Dispatch } from './api/dispatcher';
import { createHandlers } from './api/handlers';
import { AuditLog } from './audit/audit-log';
import { openStore, type Store } from './db/database';
import { EventBus } from './events/event-bus';
import { HostService } from './hosts/host-service';
import { ensureDataDir, packageRoot, PRODUCT_NAME } from './paths';
import { KeyFileSecretBox, type SecretBox } from './secrets/secret-box';

/** Which door opened the core. */
export type Door = 'desktop' | 'headless' | 'cli';

/** Options for opening the core. */
export interface CoreOptions {
  dataDir: string;
  door: Door;
  /** The desktop passes its safeStorage box; the CLI and headless doors use the key file. */
  secrets?: SecretBox;
}

/** The core's services, as the handlers see them. */
export interface Services {
  info: { name: string; version: string; dataDir: string; platform: string };
  store: Store;
  events: EventBus;
  secrets: SecretBox;
  audit: AuditLog;
  hosts: HostService;
}

/** The opened core: its services, the dispatcher over them, and close. */
export interface Core extends Services {
  dispatch: Dispatch;
  close(): void;
}

let cachedVersion: string | undefined;
/** This build's version, from package.json. */
export function appVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return cachedVersion;
}

/** Opens the data dir, the store (migrating it) and the services. */
export function openCore(options: CoreOptions): Core {
  const dataDir = ensureDataDir(options.dataDir);
  const store = openStore(dataDir);
  try {
    const events = new EventBus();
    const secrets = options.secrets ?? new KeyFileSecretBox(dataDir);
    const audit = new AuditLog(store.db, options.door === 'headless' ? 'headless' : options.door);
    const services: Services = {
      info: { name: PRODUCT_NAME, version: appVersion(), dataDir, platform: process.platform },
      store,
      events,
      secrets,
      audit,
      hosts: new HostService(store.db, secrets, events, audit),
    };
    return { ...services, dispatch: createDispatcher(createHandlers(services)), close: () => store.close() };
  } catch (e) {
    store.close();
    throw e;
  }
}
