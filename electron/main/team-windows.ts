/**
 * Team servers in the desktop app (issue #16): the workspace switcher's window.open of a team
 * server's address opens a window of its own, never the app's: no preload (so no `window.cronium`,
 * nothing of this computer's core), the sandbox and context isolation on, and a session partition
 * per server (its cookies apart from every other server's and from the app's). Inside it, the
 * team server's page may navigate (to its identity provider for single sign-on and back); any
 * window it opens goes to the user's browser. The decisions are plain functions, tested without
 * Electron (test/unit/main/team-windows.test.ts); window.ts applies them.
 */
import { createHash } from 'node:crypto';
import type { TeamServerRef } from '../shared/api';

/** What to do with a window.open from the app's own window. */
export type OpenDecision = { action: 'team'; origin: string; name: string } | { action: 'external'; url: string } | { action: 'deny' };

/** Decides a window.open of the app's window: a configured team server's address opens its window; other web links the browser. */
export function openDecision(url: string, teamServers: readonly TeamServerRef[]): OpenDecision {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { action: 'deny' };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { action: 'deny' };
  const server = teamServers.find((s) => new URL(s.url).origin === u.origin);
  // Only an address the user added in Settings (and only its origin: the team server's page).
  if (server) return { action: 'team', origin: u.origin, name: server.name };
  return { action: 'external', url: u.href };
}

/** The session partition of a team server's window: persistent, one per origin. */
export function teamPartition(origin: string): string {
  return `persist:team-${createHash('sha256').update(origin).digest('hex').slice(0, 16)}`;
}

/** The web preferences every window of the app shares: context isolation, the sandbox, no Node, no webviews. */
export const LOCKED_DOWN = {
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
} as const;

/** The web preferences of a team server's window: locked down, and nothing of the app's (no preload). */
export function teamWebPreferences(origin: string) {
  return { ...LOCKED_DOWN, partition: teamPartition(origin) } as const;
}

/** Whether a team server's window may navigate to `url`: http(s) only (its page, its identity provider). */
export function teamNavigationAllowed(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}
