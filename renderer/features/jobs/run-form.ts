/** The Run form's model: values as typed, the checks that need no server, the contract input. */
import type { MethodArgs } from '../../../electron/shared/api';
import type { Interpreter } from './ScriptEditor';

/** What the Run form holds. */
export interface RunFormValues {
  target: 'hosts' | 'tag';
  hosts: string[];
  tag: string;
  interpreter: Interpreter;
  /** auto: the runner where it works, else direct SSH. */
  mode: 'auto' | 'runner' | 'direct';
  script: string;
  /** Seconds, as typed; empty for none. */
  timeout: string;
  /** Run the script as root, by each host's elevation setting (sudo/doas). */
  elevated?: boolean;
  /** Run a script (default) or send a file (cronium push). */
  what?: 'script' | 'file';
  /** The file to send: an absolute path on the machine that runs Cronium. */
  file?: string;
  /** Where it goes on the hosts ({host}: each host's name). */
  to?: string;
  /** Octal, as typed. */
  fileMode?: string;
  /** user or user:group. */
  owner?: string;
}

/** A starting script per interpreter, so the editor is never a blank page. */
export const SAMPLES: Record<Interpreter, string> = {
  bash: '#!/usr/bin/env bash\nset -euo pipefail\necho "hello from $(hostname)"\nuptime\n',
  sh: 'echo "hello from $(hostname)"\nuptime\n',
  python3: 'import platform\nprint("hello from", platform.node())\n',
  node: "const os = require('os');\nconsole.log('hello from', os.hostname());\n",
};

/** Messages per field. */
export type RunFormErrors = Partial<Record<'hosts' | 'tag' | 'script' | 'timeout' | 'file' | 'to' | 'fileMode' | 'owner', string>>;

/** Checks what can be checked here; the app checks again. */
export function validateRun(v: RunFormValues): RunFormErrors {
  const e: RunFormErrors = {};
  if (v.target === 'hosts' && v.hosts.length === 0) e.hosts = 'Choose at least one host';
  if (v.target === 'tag' && !v.tag.trim()) e.tag = 'Enter a tag';
  if (v.what === 'file') {
    if (!v.file?.trim().startsWith('/')) e.file = 'Enter the file\u2019s absolute path on this computer';
    if (!v.to?.trim().startsWith('/')) e.to = 'Enter an absolute path on the hosts';
    if (v.fileMode?.trim() && !/^0?[0-7]{3,4}$/.test(v.fileMode.trim())) e.fileMode = 'Mode must be octal, like 0644';
    if (v.owner?.trim() && !/^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/.test(v.owner.trim())) e.owner = 'Owner must be user or user:group';
    return e;
  }
  if (!v.script.trim()) e.script = 'The script is empty';
  const t = v.timeout.trim();
  if (t && (!/^\d+(\.\d+)?$/.test(t) || Number(t) <= 0)) e.timeout = 'Timeout must be a number of seconds above 0';
  return e;
}

/** The jobs.run arguments for valid values. */
export function toRunArgs(v: RunFormValues): MethodArgs<'jobs.run'> {
  const args: MethodArgs<'jobs.run'> = { script: v.script, interpreter: v.interpreter, mode: v.mode };
  if (v.target === 'hosts') args.hosts = v.hosts;
  else args.tag = v.tag.trim();
  const t = v.timeout.trim();
  if (t) args.timeoutMs = Math.round(Number(t) * 1000);
  if (v.elevated) args.elevated = true;
  return args;
}

/** The jobs.push arguments for valid values (the Run form in "Send a file"). */
export function toPushArgs(v: RunFormValues): MethodArgs<'jobs.push'> {
  const args: MethodArgs<'jobs.push'> = { path: (v.file ?? '').trim(), to: (v.to ?? '').trim() };
  if (v.target === 'hosts') args.hosts = v.hosts;
  else args.tag = v.tag.trim();
  if (v.fileMode?.trim()) args.mode = parseInt(v.fileMode.trim(), 8);
  if (v.owner?.trim()) args.owner = v.owner.trim();
  if (v.elevated) args.elevated = true;
  return args;
}
