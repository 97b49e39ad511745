/**
 * Start at login on Linux (autostart.ts): the XDG autostart entry's place, content and
 * life cycle, checked against two independent references: desktop-file-utils'
 * `desktop-file-validate` (the spec's validator) and GLib's `gio launch`, which starts an
 * entry the way GNOME and most desktops start autostart entries. Seeded generated program
 * paths with the characters the spec makes awkward (spaces, quotes, $, `, \, ;, &, non-ASCII)
 * are written, validated and launched; the launched program records what it was started as.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyAutostart, autostartAction, autostartEntry, autostartPath, execArg } from '../../../electron/main/autostart';
import { isCroniumError } from '../../../electron/shared/errors';
import { tempDir } from '../../helpers/temp';

function need(tool: string, pkg: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
  assert.equal(r.status, 0, `${tool} is missing: install Debian's ${pkg} package (.ci/run does)`);
}

/** A small seeded generator (mulberry32), so that a failure names a case that can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// No '%': GLib checks that the program exists before it undoes the spec's %% escape, so a
// path with a literal % is reported missing by GLib although the entry is valid (a GLib
// quirk; the %% rule is checked below on its own and by desktop-file-validate).
const ALPHABET = ['a', 'b', 'Z', '0', '-', '_', '.', ' ', ' ', '"', "'", '\\', '$', '`', ';', '&', '(', ')', '#', '~', '*', '?', '=', '<', '>', '|', 'é', '中', '😀'];

function name(next: () => number): string {
  const n = 1 + Math.floor(next() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  // A file name, not a path step.
  return s === '.' || s === '..' ? `${s}x` : s;
}

test("the entry's place follows XDG_CONFIG_HOME, and ~/.config when it is unset or relative", () => {
  assert.equal(autostartPath({}, '/home/ada'), '/home/ada/.config/autostart/cronium-desktop.desktop');
  assert.equal(autostartPath({ XDG_CONFIG_HOME: '/cfg' }, '/home/ada'), '/cfg/autostart/cronium-desktop.desktop');
  assert.equal(autostartPath({ XDG_CONFIG_HOME: 'rel/cfg' }, '/home/ada'), '/home/ada/.config/autostart/cronium-desktop.desktop');
});

test('Exec quoting follows the spec, with the string escape on top', () => {
  assert.equal(execArg('/opt/Cronium Desktop/cronium-desktop'), '"/opt/Cronium Desktop/cronium-desktop"');
  assert.equal(execArg('/usr/bin/plain'), '/usr/bin/plain');
  assert.equal(execArg('/a$b'), '"/a\\\\$b"', 'a literal $ is \\\\$ in the file');
  assert.equal(execArg('/a\\b'), '"/a\\\\\\\\b"', 'a literal \\ is four backslashes in the file');
  assert.equal(execArg('/a%b'), '/a%%b');
  assert.equal(execArg('--hidden'), '--hidden');
  assert.throws(() => execArg('/a\nb'), (e: unknown) => isCroniumError(e) && e.code === 'INVALID_INPUT' && Boolean(e.hint));
  const entry = autostartEntry('/opt/Cronium Desktop/cronium-desktop');
  assert.match(entry, /^Exec="\/opt\/Cronium Desktop\/cronium-desktop" --hidden$/m);
  assert.match(entry, /^X-GNOME-Autostart-enabled=true$/m);
  assert.match(entry, /^Type=Application$/m);
});

test('generated program paths: desktop-file-validate accepts every entry and GLib starts exactly that program with --hidden', (t) => {
  need('desktop-file-validate', 'desktop-file-utils');
  need('gio', 'libglib2.0-bin');
  const root = tempDir(t, 'cronium-autostart-');
  const cases = 40;
  let agreed = 0;
  for (let seed = 1; seed <= cases; seed++) {
    const next = rng(seed * 7919);
    const dir = join(root, String(seed), name(next));
    mkdirSync(dir, { recursive: true });
    const program = join(dir, name(next));
    const out = join(root, `${seed}.out`);
    // The program records how it was started: its own path and its arguments, one per line.
    writeFileSync(program, `#!/bin/sh\n{ printf '%s\\n' "$0"; for a in "$@"; do printf '%s\\n' "$a"; done; } > '${out}'\n`, { mode: 0o755 });
    const file = autostartPath({ XDG_CONFIG_HOME: join(root, String(seed), 'config') }, '/nowhere');
    assert.equal(applyAutostart(true, program, file, true).action, 'write');
    const valid = spawnSync('desktop-file-validate', [file], { encoding: 'utf8' });
    assert.equal(valid.status, 0, `seed ${seed}: desktop-file-validate: ${valid.stdout}${valid.stderr}\n${readFileSync(file, 'utf8')}`);
    const launched = spawnSync('gio', ['launch', file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(launched.status, 0, `seed ${seed} (${JSON.stringify(program)}): gio launch: ${launched.stderr}\n${readFileSync(file, 'utf8')}`);
    const deadline = Date.now() + 5_000;
    while (!existsSync(out) && Date.now() < deadline) execFileSync('sleep', ['0.02']);
    const argv = readFileSync(out, 'utf8').split('\n').slice(0, -1);
    assert.deepEqual(argv, [program, '--hidden'], `seed ${seed}: started as ${JSON.stringify(argv)}`);
    agreed++;
  }
  console.log(`autostart entries: GLib started ${agreed}/${cases} generated program paths exactly (desktop-file-validate: ${agreed}/${cases} valid)`);
});

test('life cycle: written when on, removed when off, kept when up to date, rewritten when the app moved', (t) => {
  const root = tempDir(t);
  const file = autostartPath({ XDG_CONFIG_HOME: join(root, 'config') }, root);
  assert.deepEqual(applyAutostart(false, '/opt/Cronium Desktop/cronium-desktop', file, false), { action: 'keep', why: 'no entry' });
  assert.equal(existsSync(file), false);
  assert.equal(applyAutostart(true, '/opt/Cronium Desktop/cronium-desktop', file, true).action, 'write');
  assert.equal(readFileSync(file, 'utf8'), autostartEntry('/opt/Cronium Desktop/cronium-desktop'));
  assert.deepEqual(applyAutostart(true, '/opt/Cronium Desktop/cronium-desktop', file, false), { action: 'keep', why: 'up to date' });
  // An AppImage moved to another folder: the entry follows it.
  assert.equal(applyAutostart(true, '/home/ada/Apps/Cronium.AppImage', file, false).action, 'write');
  assert.match(readFileSync(file, 'utf8'), /^Exec=\/home\/ada\/Apps\/Cronium.AppImage --hidden$/m);
  assert.deepEqual(applyAutostart(false, '/x', file, true), { action: 'remove' });
  assert.equal(existsSync(file), false);
});

test("an entry switched off in the desktop's settings stays off at start-up, and comes back when the user turns the setting on", () => {
  const program = '/opt/Cronium Desktop/cronium-desktop';
  const off = autostartEntry(program).replace('X-GNOME-Autostart-enabled=true', 'X-GNOME-Autostart-enabled=false');
  assert.deepEqual(autostartAction(true, program, off, false), { action: 'keep', why: "switched off in the desktop's startup settings" });
  assert.deepEqual(autostartAction(true, program, `${autostartEntry(program)}Hidden=true\n`, false).action, 'keep');
  assert.equal(autostartAction(true, program, off, true).action, 'write');
});
