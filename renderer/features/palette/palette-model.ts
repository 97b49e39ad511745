/**
 * What the command palette offers: views to jump to, actions, hosts and recent jobs,
 * each with the words it is found by. Pure, so it is tested without a browser; the
 * palette maps each entry's `action` to what it does.
 */
import type { Route } from '../../app/route';

/** What choosing an entry does. */
export type PaletteAction =
  | { kind: 'go'; route: Route }
  | { kind: 'add-host' }
  | { kind: 'import-hosts' }
  | { kind: 'new-schedule' }
  | { kind: 'toggle-theme' };

/** One entry of the palette. */
export interface PaletteEntry {
  /** Unique within the palette (cmdk's value). */
  id: string;
  label: string;
  /** Extra words it is found by (address, tags, status …). */
  keywords: string[];
  /** Shown muted on the right, e.g. an address or a status. */
  detail?: string;
  /** A keyboard shortcut to show. */
  shortcut?: string;
  action: PaletteAction;
}

/** A titled group of entries. */
export interface PaletteGroup {
  heading: string;
  entries: PaletteEntry[];
}

/** A host, as far as the palette needs it. */
export interface PaletteHost {
  name: string;
  address: string;
  tags: string[];
}

/** A recent job, as far as the palette needs it. */
export interface PaletteJob {
  id: number;
  status: string;
  schedule: string | null;
  hosts: string[];
}

const VIEWS: { label: string; route: Route; keywords: string[] }[] = [
  { label: 'Hosts', route: { view: 'hosts' }, keywords: ['inventory', 'servers', 'machines'] },
  { label: 'Scripts', route: { view: 'scripts' }, keywords: ['editor', 'code'] },
  { label: 'Jobs', route: { view: 'jobs' }, keywords: ['runs', 'history', 'logs'] },
  { label: 'Schedules', route: { view: 'schedules' }, keywords: ['cron', 'timer'] },
  { label: 'Runner', route: { view: 'runner' }, keywords: ['artifacts', 'deployments', 'versions'] },
  { label: 'Settings', route: { view: 'settings' }, keywords: ['preferences', 'options', 'concurrency', 'theme', 'retention'] },
];

/** Hosts listed in the palette at most (search narrows them; the Hosts view has the rest). */
export const MAX_PALETTE_HOSTS = 200;

/** The palette's groups for the hosts and recent jobs at hand; `hasScripts`: the Scripts view exists. */
export function paletteGroups(hosts: readonly PaletteHost[], jobs: readonly PaletteJob[], opts: { hasScripts: boolean }): PaletteGroup[] {
  const views = VIEWS.filter((v) => opts.hasScripts || v.route.view !== 'scripts');
  const groups: PaletteGroup[] = [
    {
      heading: 'Go to',
      entries: views.map((v) => ({ id: `go:${v.route.view}`, label: v.label, keywords: v.keywords, action: { kind: 'go', route: v.route } })),
    },
    {
      heading: 'Actions',
      entries: [
        { id: 'action:run', label: 'Run a script…', keywords: ['execute', 'command', 'fan-out'], action: { kind: 'go', route: { view: 'run' } } },
        { id: 'action:add-host', label: 'Add host…', keywords: ['new host', 'create'], action: { kind: 'add-host' } },
        { id: 'action:import-hosts', label: 'Import hosts from SSH config…', keywords: ['ssh_config', '~/.ssh/config'], action: { kind: 'import-hosts' } },
        { id: 'action:new-schedule', label: 'New schedule…', keywords: ['cron', 'add schedule'], action: { kind: 'new-schedule' } },
        { id: 'action:toggle-theme', label: 'Toggle light / dark theme', keywords: ['dark mode', 'light mode', 'appearance'], action: { kind: 'toggle-theme' } },
      ],
    },
  ];
  if (hosts.length) {
    groups.push({
      heading: 'Hosts',
      entries: hosts.slice(0, MAX_PALETTE_HOSTS).map((h) => ({
        id: `host:${h.name}`,
        label: h.name,
        keywords: [h.address, ...h.tags],
        detail: h.address,
        action: { kind: 'go', route: { view: 'host', name: h.name } },
      })),
    });
  }
  if (jobs.length) {
    groups.push({
      heading: 'Recent jobs',
      entries: jobs.map((j) => ({
        id: `job:${j.id}`,
        label: `Job #${j.id}${j.schedule ? ` · ${j.schedule}` : ''}`,
        keywords: [j.status, ...j.hosts],
        detail: `${j.status.replace(/_/g, ' ')} · ${j.hosts.slice(0, 3).join(', ')}${j.hosts.length > 3 ? ` +${j.hosts.length - 3}` : ''}`,
        action: { kind: 'go', route: { view: 'job', id: j.id } },
      })),
    });
  }
  return groups;
}

/** Whether a key event is the palette's shortcut: Ctrl+K, or Cmd+K on macOS. */
export function isPaletteShortcut(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; shiftKey: boolean }): boolean {
  return e.key.toLowerCase() === 'k' && (e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey;
}

/**
 * How well an entry matches what was typed, for cmdk's `filter` (0 hides it): every word
 * typed must match one of the entry's words, as the whole word (1), its start (0.9) or
 * inside it (0.6); failing that, the letters in order within the label alone (0.2).
 * Stricter than cmdk's default fuzzy match, so "edge" finds the host tagged edge and
 * not "Toggle light / dark theme".
 */
export function paletteScore(search: string, keywords: readonly string[]): number {
  const terms = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (terms.length === 0) return 1;
  const words = keywords.flatMap((k) => k.toLowerCase().split(/[^a-z0-9.:_~/-]+/).filter(Boolean));
  let score = 1;
  for (const term of terms) {
    let best = 0;
    for (const w of words) {
      if (w === term) best = 1;
      else if (w.startsWith(term)) best = Math.max(best, 0.9);
      else if (w.includes(term)) best = Math.max(best, 0.6);
      if (best === 1) break;
    }
    score = Math.min(score, best);
    if (score === 0) break;
  }
  if (score > 0) return score;
  const label = (keywords[0] ?? '').toLowerCase();
  const letters = search.toLowerCase().replace(/\s+/g, '');
  let i = 0;
  for (const ch of label) if (ch === letters[i]) i++;
  return i === letters.length ? 0.2 : 0;
}
