/**
 * The hash route: which view is open, kept in location.hash so a reload (or a link)
 * lands on the same view. Parsing is pure so it can be tested without a browser.
 */
import { useSyncExternalStore } from 'react';

/** A view and its parameters. */
export type Route =
  | { view: 'hosts' }
  | { view: 'host'; name: string }
  | { view: 'jobs' }
  | { view: 'job'; id: number; host?: string }
  | { view: 'run'; host?: string; hosts?: string[] }
  | { view: 'scripts'; name?: string }
  | { view: 'schedules' }
  | { view: 'runner' }
  | { view: 'settings' };

/** The top-level sections of the sidebar. */
export type Section = 'hosts' | 'scripts' | 'jobs' | 'schedules' | 'runner' | 'settings';

/** Reads a hash such as `#jobs/12` (with or without the `#`); unknown hashes are the Hosts view. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  const [head = '', a, b] = parts;
  switch (head) {
    case 'hosts':
      return a ? { view: 'host', name: a } : { view: 'hosts' };
    case 'jobs':
      if (a === 'new') {
        // Several hosts (a bulk run) are comma-separated: host names cannot contain commas.
        const names = (b ?? '').split(',').filter(Boolean);
        if (names.length > 1) return { view: 'run', hosts: names };
        return names.length ? { view: 'run', host: names[0]! } : { view: 'run' };
      }
      if (a && /^[1-9]\d{0,15}$/.test(a)) return b ? { view: 'job', id: Number(a), host: b } : { view: 'job', id: Number(a) };
      return { view: 'jobs' };
    case 'scripts':
      return a ? { view: 'scripts', name: a } : { view: 'scripts' };
    case 'schedules':
      return { view: 'schedules' };
    case 'runner':
      return { view: 'runner' };
    case 'settings':
      return { view: 'settings' };
    default:
      return { view: 'hosts' };
  }
}

/** The hash of a route, the inverse of parseRoute. */
export function routeHref(route: Route): string {
  switch (route.view) {
    case 'host':
      return `#hosts/${encodeURIComponent(route.name)}`;
    case 'job':
      return `#jobs/${route.id}${route.host ? `/${encodeURIComponent(route.host)}` : ''}`;
    case 'run': {
      const names = route.hosts?.length ? route.hosts : route.host ? [route.host] : [];
      return `#jobs/new${names.length ? `/${names.map(encodeURIComponent).join(',')}` : ''}`;
    }
    case 'scripts':
      return `#scripts${route.name ? `/${encodeURIComponent(route.name)}` : ''}`;
    default:
      return `#${route.view}`;
  }
}

/** The sidebar section a route belongs to. */
export function sectionOf(route: Route): Section {
  switch (route.view) {
    case 'host':
      return 'hosts';
    case 'job':
    case 'run':
      return 'jobs';
    default:
      return route.view;
  }
}

/** Opens a route (adds a history entry, so Back works). */
export function navigate(route: Route): void {
  const href = routeHref(route);
  if (window.location.hash !== href) window.location.hash = href;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  return () => window.removeEventListener('hashchange', onChange);
}

/** The current route, re-rendering on hash changes. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash);
  return parseRoute(hash);
}
