/**
 * The Scripts view's model: a saved script as the editor holds it (follow-ups with a
 * target kind), the checks that need no server, and the contract's scripts.save input.
 * Pure functions, tested in test/unit/renderer.
 */
import type { MethodArgs, MethodResult } from '../../../electron/shared/api';
import type { Interpreter } from '../jobs/ScriptEditor';

/** A saved script, from scripts.list. */
export type SavedScript = MethodResult<'scripts.list'>[number];
/** When a follow-up fires. */
export type FollowupOn = SavedScript['followups'][number]['on'];

/** One follow-up row of the editor. */
export interface FollowupRow {
  on: FollowupOn;
  script: string;
  /** same: the host whose run fired it; hosts: chosen hosts; tag: every host with a tag. */
  target: 'same' | 'hosts' | 'tag';
  hosts: string[];
  tag: string;
}

/** What the script editor holds. */
export interface ScriptDraft {
  name: string;
  interpreter: Interpreter;
  body: string;
  followups: FollowupRow[];
  /** Its runs start as root (each host's elevation setting). */
  elevated?: boolean;
}

/** Messages per field; follow-up rows by index. */
export interface ScriptErrors {
  name?: string;
  body?: string;
  followups?: Record<number, string>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$/;

/** A new, empty draft. */
export function emptyDraft(interpreter: Interpreter = 'bash', body = ''): ScriptDraft {
  return { name: '', interpreter, body, followups: [] };
}

/** A saved script as a draft. */
export function toDraft(s: SavedScript): ScriptDraft {
  return {
    name: s.name,
    interpreter: s.interpreter,
    body: s.body,
    elevated: s.elevated,
    followups: s.followups.map((f) => ({
      on: f.on,
      script: f.script,
      target: f.hosts?.length ? 'hosts' : f.tag ? 'tag' : 'same',
      hosts: f.hosts ?? [],
      tag: f.tag ?? '',
    })),
  };
}

/** A new follow-up row. */
export function newFollowup(script = ''): FollowupRow {
  return { on: 'success', script, target: 'same', hosts: [], tag: '' };
}

/** Checks what can be checked here; the app checks again (unknown scripts, loops). */
export function validateScript(d: ScriptDraft): ScriptErrors {
  const e: ScriptErrors = {};
  if (!d.name.trim()) e.name = 'Name is required';
  else if (!NAME.test(d.name.trim())) e.name = 'Use 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit';
  if (!d.body.trim()) e.body = 'The script is empty';
  const rows: Record<number, string> = {};
  d.followups.forEach((f, i) => {
    if (!f.script) rows[i] = 'Choose the script to run';
    else if (f.script === d.name.trim()) rows[i] = 'A script cannot follow itself';
    else if (f.target === 'hosts' && f.hosts.length === 0) rows[i] = 'Choose at least one host, or run it on the same host';
    else if (f.target === 'tag' && !TAG.test(f.tag.trim())) rows[i] = 'Enter a tag';
  });
  if (Object.keys(rows).length) e.followups = rows;
  return e;
}

/** Whether a validation found nothing. */
export function isValid(e: ScriptErrors): boolean {
  return !e.name && !e.body && !e.followups;
}

/** The scripts.save arguments of a valid draft. */
export function toSaveArgs(d: ScriptDraft): MethodArgs<'scripts.save'> {
  return {
    name: d.name.trim(),
    interpreter: d.interpreter,
    body: d.body,
    followups: d.followups.map((f) => ({
      on: f.on,
      script: f.script,
      ...(f.target === 'hosts' ? { hosts: f.hosts } : {}),
      ...(f.target === 'tag' ? { tag: f.tag.trim() } : {}),
    })),
    elevated: d.elevated === true,
  };
}

/** Whether a draft differs from what is saved (null: never saved). */
export function isDirty(d: ScriptDraft, saved: SavedScript | null): boolean {
  if (!saved) return d.name.trim() !== '' || d.body.trim() !== '' || d.followups.length > 0;
  return JSON.stringify(toSaveArgs(d)) !== JSON.stringify(toSaveArgs(toDraft(saved)));
}

/** A follow-up in words: "on success: notify (same host)". */
export function followupText(f: { on: FollowupOn; script: string; hosts?: string[] | undefined; tag?: string | undefined }): string {
  const on = f.on === 'success' ? 'on success' : f.on === 'failure' ? 'on failure' : f.on === 'always' ? 'always' : 'on condition';
  const where = f.hosts?.length ? f.hosts.join(', ') : f.tag ? `tag ${f.tag}` : 'same host';
  return `${on}: ${f.script} (${where})`;
}
