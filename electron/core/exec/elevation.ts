/**
 * Elevation: a run's script as root, through sudo (without a password, or with a stored one
 * answering sudo's prompt on its stdin) or doas (without a password). The runner does it in
 * Go (runner/internal/job/elevate.go); direct mode's prelude does the same with the same
 * wrapper program, and the app reads what sudo said from the stderr before the wrapper's
 * marker (ElevationGate). The password never reaches a command line, the log or the script.
 */
import { randomBytes } from 'node:crypto';

/** A host's (or tag's) elevation setting. */
export type ElevationMethod = 'none' | 'sudo' | 'sudo-password' | 'doas' | 'su';
export const ELEVATION_METHODS: readonly ElevationMethod[] = ['none', 'sudo', 'sudo-password', 'doas', 'su'];

/** What a run needs to become root. */
export interface Elevation {
  method: 'sudo' | 'doas' | 'su';
  /** sudo: answers its prompt; su: root's password (required). */
  password?: string;
}

/**
 * The wrapper sudo starts as root: `sh -c ELEVATE_WRAPPER cronium-elevate STDIN MARKER GRACE10
 * ENVSRC PROGRAM ARGS...`. Kept equal to the runner's ElevateWrapper (a unit test compares them);
 * see there for what it does.
 */
export const ELEVATE_WRAPPER = `exec 3<&0; printf '%s\\n' "$2" >&2; G=$3; E=$4; I=$1; shift 4
( if [ "$E" = - ]; then . /dev/fd/3; else . "$E"; fi || exit 125; exec 3<&-; if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; fi; exec "$@" ) <"$I" &
P=$!
exec 3<&-
k() { kill -TERM -"$P" 2>/dev/null || kill -TERM "$P" 2>/dev/null; i=0; while kill -0 -"$P" 2>/dev/null && [ "$i" -lt "$G" ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; kill -KILL -"$P" 2>/dev/null || kill -KILL "$P" 2>/dev/null; }
trap 'k; wait "$P"; exit 143' TERM; trap 'k; wait "$P"; exit 129' HUP; trap 'k; wait "$P"; exit 130' INT
wait "$P"; rc=$?
kill -0 -"$P" 2>/dev/null && { G=10; k; }
if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then trap - TERM HUP INT; kill -"$((rc-128))" $$; fi
exit "$rc"`;

/** Random markers of one elevated run. */
export function elevationMarkers(random: (bytes: number) => string = (n) => randomBytes(n).toString('hex')): { prompt: string; marker: string } {
  return { prompt: `[cronium-sudo-${random(12)}] `, marker: `@@cronium-elevated:${random(12)}` };
}

/**
 * Splits a direct-mode run's stderr at the wrapper's marker: what comes before is sudo's
 * (lecture, prompts, refusal) and stays out of the log; what follows is the script's.
 */
export class ElevationGate {
  #buf = Buffer.alloc(0);
  #started = false;
  readonly #marker: Buffer;
  constructor(
    marker: string,
    readonly prompt: string,
    readonly password: string | undefined,
  ) {
    this.#marker = Buffer.from(`${marker}\n`);
  }
  get started(): boolean {
    return this.#started;
  }
  /** Returns the script's part of chunk (empty until the marker). */
  push(chunk: Buffer): Buffer {
    if (this.#started) return chunk;
    this.#buf = Buffer.concat([this.#buf, chunk]);
    const i = this.#buf.indexOf(this.#marker);
    if (i >= 0) {
      const rest = this.#buf.subarray(i + this.#marker.length);
      this.#buf = this.#buf.subarray(0, i);
      this.#started = true;
      return Buffer.from(rest);
    }
    if (this.#buf.length > 64 * 1024) this.#buf = this.#buf.subarray(this.#buf.length - 32 * 1024);
    return Buffer.alloc(0);
  }
  /** What sudo said, prompts removed and the password masked. */
  detail(): string {
    let s = this.#buf.toString('utf8').split(this.prompt).join('');
    if (this.password) s = s.split(this.password).join('***');
    return s.trim().slice(-2048);
  }
}

/** A refused elevation as the user reads it: what happened and what to do. */
export function describeElevationFailure(method: 'sudo' | 'doas' | 'su', host: string, detail: string): { message: string; hint: string } {
  const said = detail.trim().replace(/\s*\n\s*/g, ' / ').slice(0, 600) || `(${method} said nothing)`;
  const is = (re: RegExp) => re.test(detail);
  if (is(/not installed on this host|: not found|No such file/i)) {
    return { message: `${method} is not installed on ${host}: ${said}`, hint: `install ${method} on the host, or choose another elevation method (cronium hosts set ${host} --elevation ...)` };
  }
  if (is(/must have a tty|requiretty/i)) {
    return { message: `sudo on ${host} requires a terminal (requiretty): ${said}`, hint: `allow sudo without a terminal for this user (a sudoers line "Defaults:USER !requiretty"); Cronium never runs sudo on a terminal, where a prompt could hang the run` };
  }
  if (method === 'su' && is(/must be run from a terminal/i)) {
    return { message: `su on ${host} reads passwords only from a terminal: ${said}`, hint: `use sudo on this host (cronium hosts set ${host} --elevation sudo or sudo-password); util-linux su reads the password from its input, shadow's su does not` };
  }
  if (method === 'su' && is(/Authentication failure|incorrect password|authentication failed/i)) {
    return { message: `su on ${host} refused the stored root password: ${said}`, hint: `store root's password on the host again: cronium hosts set ${host} --elevation su --elevation-password-stdin` };
  }
  if (is(/incorrect password|Sorry, try again|Authentication failure|authentication failed|no password was provided/i)) {
    return { message: `sudo on ${host} refused the stored password: ${said}`, hint: `store the SSH user's own password on the host again: cronium hosts set ${host} --elevation sudo-password --elevation-password-stdin` };
  }
  if (is(/a password is required/i)) {
    return { message: `sudo on ${host} asks for a password and none is stored: ${said}`, hint: `store the SSH user's password (cronium hosts set ${host} --elevation sudo-password --elevation-password-stdin), or give the user a NOPASSWD sudoers rule` };
  }
  if (is(/not in the sudoers|not allowed to execute|may not run sudo|not permitted|Operation not permitted|not allowed/i)) {
    return { message: `the SSH user may not become root with ${method} on ${host}: ${said}`, hint: method === 'doas' ? `add a doas.conf rule for the user ("permit nopass USER as root")` : `add a sudoers rule for the user on the host (visudo -f /etc/sudoers.d/cronium)` };
  }
  return { message: `${method} on ${host} did not start the script: ${said}`, hint: `run "${method} true" as the SSH user on the host to see what it asks for; cronium diagnose ${host} checks elevation` };
}
