/** The Settings form's model, the theme's rules and the command palette's entries: pure logic, no browser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPaletteShortcut, MAX_PALETTE_HOSTS, paletteGroups, paletteScore } from '../../../renderer/features/palette/palette-model';
import { fromSettings, toSettingsChange, validateSettings } from '../../../renderer/features/settings/settings-form';
import { effectiveTheme, toggledTheme } from '../../../renderer/features/settings/theme';
import type { Settings } from '../../../renderer/store';

const SETTINGS: Settings = {
  logsRetention: { maxAgeDays: 90, maxTotalBytes: 2 * 1024 ** 3 },
  execution: { defaultMode: 'auto', defaultTimeoutMs: null, globalConcurrency: 32, perHostConcurrency: 4, runnerCheck: 'stat', maxOutputBytes: 256 * 2 ** 20 },
  notifications: { onFailure: true, onSuccess: false },
  appearance: { theme: 'system' },
  desktop: { startAtLogin: false, teamServers: [], autoUpdate: true, updateChannel: 'latest', updateQuietHours: null },
};

test('settings round-trip through the form; empty means none', () => {
  const v = fromSettings(SETTINGS);
  assert.equal(v.maxTotalMiB, '2048');
  assert.equal(v.maxRuns, '');
  assert.equal(v.defaultTimeout, '');
  assert.deepEqual(validateSettings(v), {});
  const change = toSettingsChange({ ...v, defaultMode: 'direct', defaultTimeout: '90', perHostConcurrency: '2', runnerCheck: 'hash', maxAgeDays: '' }, false);
  assert.deepEqual(change.execution, { defaultMode: 'direct', defaultTimeoutMs: 90_000, globalConcurrency: 32, perHostConcurrency: 2, runnerCheck: 'hash', maxOutputBytes: 256 * 2 ** 20 });
  assert.deepEqual(change.logsRetention, { maxTotalBytes: 2 * 1024 ** 3 });
  assert.equal('desktop' in change, false, 'start at login is sent only by the desktop');
  assert.deepEqual(toSettingsChange(v, true).desktop, { startAtLogin: false, autoUpdate: true, updateChannel: 'latest', updateQuietHours: null });
  const updates = toSettingsChange({ ...v, autoUpdate: false, updateChannel: 'beta', updateQuietHours: ' 22:00-07:00 ' }, true).desktop;
  assert.deepEqual(updates, { startAtLogin: false, autoUpdate: false, updateChannel: 'beta', updateQuietHours: '22:00-07:00' });
  assert.deepEqual(validateSettings({ ...v, updateQuietHours: '22:00-07:00' }), {});
  assert.match(validateSettings({ ...v, updateQuietHours: '10pm-7am' }).updateQuietHours ?? '', /HH:MM-HH:MM/);
  assert.match(validateSettings({ ...v, updateQuietHours: '07:00-07:00' }).updateQuietHours ?? '', /different times/);
});

test('the form checks the contract ranges', () => {
  const v = fromSettings(SETTINGS);
  const e = validateSettings({ ...v, globalConcurrency: '0', perHostConcurrency: '65', defaultTimeout: '0.5', maxRuns: 'lots' });
  assert.match(e.globalConcurrency ?? '', /from 1 to 1024/);
  assert.match(e.perHostConcurrency ?? '', /from 1 to 64/);
  assert.match(e.defaultTimeout ?? '', /1 second/);
  assert.match(e.maxRuns ?? '', /whole number/);
  assert.match(validateSettings({ ...v, globalConcurrency: ' ' }).globalConcurrency ?? '', /required/);
});

test('themes: system follows the OS, a fixed one wins, toggle flips what shows', () => {
  assert.equal(effectiveTheme('system', true), 'dark');
  assert.equal(effectiveTheme('system', false), 'light');
  assert.equal(effectiveTheme('light', true), 'light');
  assert.equal(toggledTheme('system', true), 'light');
  assert.equal(toggledTheme('dark', false), 'light');
  assert.equal(toggledTheme('light', true), 'dark');
});

test('the palette offers views, actions, hosts and recent jobs, found by their words', () => {
  const groups = paletteGroups([{ name: 'web1', address: '10.0.0.1', tags: ['prod'] }], [{ id: 7, status: 'failed', schedule: 'nightly', hosts: ['web1'] }], { hasScripts: true });
  assert.deepEqual(groups.map((g) => g.heading), ['Go to', 'Actions', 'Hosts', 'Recent jobs']);
  const all = groups.flatMap((g) => g.entries);
  assert.equal(new Set(all.map((e) => e.id)).size, all.length, 'ids are unique');
  assert.deepEqual(all.find((e) => e.id === 'go:settings')?.action, { kind: 'go', route: { view: 'settings' } });
  assert.deepEqual(all.find((e) => e.id === 'host:web1')?.keywords, ['10.0.0.1', 'prod']);
  assert.deepEqual(all.find((e) => e.id === 'job:7')?.action, { kind: 'go', route: { view: 'job', id: 7 } });
  for (const kind of ['add-host', 'import-hosts', 'new-schedule', 'toggle-theme']) assert.ok(all.some((e) => e.action.kind === kind), kind);
  assert.ok(!paletteGroups([], [], { hasScripts: false }).flatMap((g) => g.entries).some((e) => e.id === 'go:scripts'));
  const many = Array.from({ length: MAX_PALETTE_HOSTS + 5 }, (_, i) => ({ name: `h${i}`, address: 'a', tags: [] }));
  assert.equal(paletteGroups(many, [], { hasScripts: true }).find((g) => g.heading === 'Hosts')?.entries.length, MAX_PALETTE_HOSTS);
});

test('Ctrl+K and Cmd+K open the palette; K alone or with Shift does not', () => {
  const k = { key: 'k', ctrlKey: false, metaKey: false, altKey: false, shiftKey: false };
  assert.equal(isPaletteShortcut({ ...k, ctrlKey: true }), true);
  assert.equal(isPaletteShortcut({ ...k, metaKey: true }), true);
  assert.equal(isPaletteShortcut({ ...k, key: 'K', ctrlKey: true }), true);
  assert.equal(isPaletteShortcut(k), false);
  assert.equal(isPaletteShortcut({ ...k, ctrlKey: true, shiftKey: true }), false);
});

test('palette matching: whole words and prefixes first, letters in order only within the label', () => {
  const toggle = ['Toggle light / dark theme', 'dark mode', 'light mode', 'appearance'];
  const host = ['alpha', '127.221.1.1', 'edge'];
  assert.equal(paletteScore('edge', host), 1);
  assert.equal(paletteScore('edge', toggle), 0, 'no stray fuzzy match across words');
  assert.equal(paletteScore('', toggle), 1);
  assert.equal(paletteScore('toggle theme', toggle), 1);
  assert.equal(paletteScore('sched', ['Schedules', 'cron']), 0.9);
  assert.equal(paletteScore('221.1', host), 0.6);
  assert.equal(paletteScore('tgl', toggle), 0.2, 'letters in order within the label');
  assert.equal(paletteScore('add zzz', ['Add host…']), 0, 'every word must match');
});
