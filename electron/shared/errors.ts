/**
 * The one list of error codes that cross any boundary (CLI, IPC, WebSocket, helper API,
 * runner frames). Codes are stable: scripts and tests depend on them.
 */
import type { z } from 'zod';

/** Every error code Cronium reports, with the CLI contract's codes first. */
export const ERROR_CODES = [
  'HOST_KEY_UNKNOWN',
  'HOST_KEY_MISMATCH',
  'AUTH_FAILED',
  'AUTH_INTERACTIVE_REQUIRED',
  'CONNECT_FAILED',
  'CONNECT_TIMEOUT',
  'RUNNER_DEPLOY_FAILED',
  'RUNNER_INTEGRITY_FAILED',
  'PAYLOAD_REJECTED',
  'INTERPRETER_MISSING',
  'INVALID_INPUT',
  'INTERNAL',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'CONFLICT',
  'APP_NOT_RUNNING',
  'APP_UNAUTHORIZED',
  'NOT_IMPLEMENTED',
  'UNAUTHORIZED',
  // A team server (issue #16): who you are (SIGN_IN_FAILED, TOTP_REQUIRED, ACCOUNT_LOCKED,
  // SIGNED_OUT) and what your role allows (FORBIDDEN).
  'SIGN_IN_FAILED',
  'TOTP_REQUIRED',
  'ACCOUNT_LOCKED',
  'SIGNED_OUT',
  'SIGN_IN_BUSY',
  'FORBIDDEN',
  'DB_TOO_NEW',
  'DB_CORRUPT',
  'DB_FOREIGN',
  // A PostgreSQL database (team server) holds a migration applied from another file than this build's.
  'DB_MIGRATION_CHANGED',
  'DATA_DIR_UNUSABLE',
  // A write to the store failed: the disk of the data dir is full.
  'DATA_DIR_FULL',
  'SECRET_KEY_INSECURE',
  'SECRET_UNAVAILABLE',
  'RUNNER_BUILD_FAILED',
  // The SQLite binding for this runtime (Node or Electron) is absent, or built for another ABI.
  'NATIVE_MODULE_MISSING',
  'NATIVE_MODULE_MISMATCH',
  // Scripts, variables, follow-ups: a follow-up graph with a cycle.
  'FOLLOWUP_LOOP',
  // Client side only: the connection to the app dropped while a call was in flight.
  'DISCONNECTED',
  // The SSH connection to a host dropped after the script had started.
  'CONNECTION_LOST',
  // The host's file system for the runner's cache and spools is full.
  'HOST_DISK_FULL',
  'ELEVATION_FAILED',
  // cronium push: the file could not be put in place on a host; or what landed is not what was sent.
  'PUSH_FAILED',
  'PUSH_VERIFY_FAILED',
  // Runtime helpers (the helper API, its tokens and transports).
  'HELPER_TOKEN_INVALID',
  'HELPER_TOKEN_EXPIRED',
  'HELPER_TOKEN_REVOKED',
  'HELPER_FORBIDDEN',
  'TOOL_ACTION_FORBIDDEN',
  'HELPER_RATE_LIMITED',
  'HELPER_UNAVAILABLE',
  'HELPER_TIMEOUT',
  'PAYLOAD_TOO_LARGE',
  // Runner mode: a run's output passed its limit; a deployed runner speaks another protocol.
  'OUTPUT_LIMIT',
  'RUNNER_PROTOCOL',
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The default hint of every code: what to do next when the thrown error has no more specific
 * hint of its own (one with real values, such as the fingerprint to trust, always wins). Every
 * door shows these: CroniumError carries them, and a run's stored error falls back to them.
 */
export const ERROR_HINTS: Readonly<Record<ErrorCode, string>> = Object.freeze({
  APP_NOT_RUNNING: 'start the app (or `cronium serve`) on this data dir, or leave CRONIUM_USE_APP unset to run in this process',
  APP_UNAUTHORIZED: "only the data dir's owner may use the running app: run the command as that user, with the same --data-dir",
  HOST_KEY_UNKNOWN:
    "check the host's key fingerprint out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the host), then trust it: cronium hosts trust NAME --fingerprint SHA256:…",
  HOST_KEY_MISMATCH:
    'the host key CHANGED: someone may be intercepting the connection, or the host was reinstalled. Connections stay refused; if it was reinstalled, verify the new fingerprint out of band, then re-trust it: cronium hosts trust NAME --fingerprint SHA256:…',
  AUTH_FAILED: 'check the user name and the credentials of the host (cronium hosts show NAME): its key file (--identity), your ssh-agent (ssh-add -l) or its stored password',
  AUTH_INTERACTIVE_REQUIRED:
    'the host asks a person for an answer (a one-time code) and nobody can give it here: run it by hand first (the CLI asks on the terminal, the app in a dialog; the connection is then kept for the next runs), or give the host a key or certificate it accepts on its own',
  CONNECT_FAILED: 'check that the host is up and that sshd listens on its address and port; cronium diagnose NAME shows which step fails',
  CONNECT_TIMEOUT: 'the host did not answer in time: check that it is up and reachable from here (VPN, firewall); cronium diagnose NAME times each step',
  RUNNER_DEPLOY_FAILED: 'see why with: cronium diagnose NAME; meanwhile the script can run without the runner: --mode direct',
  RUNNER_INTEGRITY_FAILED:
    'a runner binary does not match its signed checksum and is never run: check with cronium runner verify, then rebuild it (cronium runner build) or reinstall Cronium',
  PAYLOAD_REJECTED: "the runner refused the signed job (clock skew, a replay or a changed key): check the host's clock with cronium diagnose NAME, then redeploy: cronium runner deploy NAME",
  INTERPRETER_MISSING: 'install the interpreter on the host, or choose another one with --interpreter (bash, sh, python3, node); cronium diagnose NAME lists what the host has',
  INVALID_INPUT: 'check the value the message names; add --help to the command for its usage',
  INTERNAL: 'this is a bug in Cronium: please report it with what you did (CRONIUM_DEBUG=1 makes the CLI print the stack)',
  NOT_FOUND: 'check the name or id: cronium hosts list, cronium jobs list, cronium schedules list and cronium scripts list show what exists',
  ALREADY_EXISTS: 'choose another name, or change or remove the one that exists',
  CONFLICT: 'it changed meanwhile (another window, CLI or worker): reload and try again',
  NOT_IMPLEMENTED: 'this is not available here: use another mode or door (the CLI or the desktop app)',
  UNAUTHORIZED: 'open the URL exactly as `cronium serve` printed it, with its token',
  DB_TOO_NEW: 'a newer Cronium wrote this data dir: upgrade Cronium, or use another data dir (--data-dir DIR or CRONIUM_HOME)',
  DB_CORRUPT: "restore the data dir's cronium.db from a backup, or move it aside to start afresh",
  DB_FOREIGN: 'that file is not a Cronium database: use another data dir (--data-dir DIR or CRONIUM_HOME)',
  DB_MIGRATION_CHANGED: 'run the same Cronium version on every server of a team database; the database was not changed',
  DATA_DIR_FULL: 'free space on the disk that holds the data dir (cronium --data-dir, or CRONIUM_HOME): runs in flight were stopped and are marked lost at the next start; the database itself is not damaged (SQLite writes all or nothing)',
  DATA_DIR_UNUSABLE: 'pass --data-dir DIR or set CRONIUM_HOME to a directory you can write',
  SECRET_KEY_INSECURE: 'make the key file private to you: chmod 600 FILE, and chmod 700 its directory',
  SECRET_UNAVAILABLE: "a stored secret cannot be opened here (another data dir's key, or a locked keychain): unlock the keychain, or store the secret again",
  RUNNER_BUILD_FAILED: 'install Go 1.25 or later (https://go.dev/dl/) and run cronium runner build again; until then runs use direct mode',
  FOLLOWUP_LOOP: 'remove the follow-up that leads back to a script of the chain (cronium scripts show SCRIPT lists them)',
  ELEVATION_FAILED:
    "sudo (or doas) refused to run the script as root, and the script did not run: check the host's elevation setting (cronium hosts set NAME --elevation ...), its stored sudo password, and the host's sudoers rules (cronium diagnose NAME checks them)",
  PUSH_FAILED: "the file could not be put in place on the host: the message says which step failed (the target's directory, permissions, the upload, or setting mode and owner); nothing was replaced, and the temporaries were removed",
  PUSH_VERIFY_FAILED: "what landed on the host is not what was sent (its SHA-256 differs): nothing was replaced; push again, and check the host's disk and memory if it repeats",
  HOST_DISK_FULL: "the host's disk is full where the runner keeps its cache and its runs' logs (~/.cache/cronium, or the location cronium diagnose NAME shows): free space there, or run with --mode direct, which keeps nothing on the host",
  CONNECTION_LOST: 'the connection to the host dropped while the script ran, so its end is unknown here: runner mode stops such a script (run with --detach to let it finish and be reattached), direct mode ends it at its next write; check the network, then cronium diagnose NAME',
  DISCONNECTED: 'the connection dropped: it is re-established on its own; check the state (e.g. cronium jobs show ID) before trying again',
  HELPER_TOKEN_INVALID: "helpers work only inside a run, with that run's token: call them from the script while it runs",
  HELPER_TOKEN_EXPIRED: "a run's helper token lasts as long as its timeout allows (7 days without one) and ends with the run: the run outlived it; give it a longer --timeout",
  SIGN_IN_FAILED: 'check the name and the password (both are case-sensitive, the name is not); an admin can set a new password: cronium users set NAME --password-stdin',
  TOTP_REQUIRED: 'give the 6-digit code of your authenticator app for Cronium as well',
  ACCOUNT_LOCKED: 'too many failed sign-ins: wait until the time given, or ask an admin to unlock it (cronium users set NAME --unlock)',
  SIGNED_OUT: 'sign in again (your session ended, or was signed out)',
  SIGN_IN_BUSY: 'the server is checking many sign-ins at once: try again in a few seconds',
  FORBIDDEN: 'your role does not allow this; ask an admin of the team server for the role or the grant',
  HELPER_TOKEN_REVOKED: 'the run has ended, and its helper token with it: call helpers only while the run runs',
  HELPER_FORBIDDEN: "this run's token does not allow that operation",
  TOOL_ACTION_FORBIDDEN: "tool actions run only on the app's own machine, never on an SSH host",
  HELPER_RATE_LIMITED: 'the script calls the helpers too often: batch the calls, or slow down',
  HELPER_UNAVAILABLE: "this run has no helper channel: run it in runner mode, or allow TCP forwarding on the host (AllowTcpForwarding yes)",
  HELPER_TIMEOUT: 'the app did not answer the helper call in time: try the call again',
  PAYLOAD_TOO_LARGE: 'send less: split the value or the input into smaller pieces',
  OUTPUT_LIMIT: 'the script wrote more than the output limit of a run: write less, or write big output to a file on the host',
  RUNNER_PROTOCOL: 'redeploy the runner to the host: cronium runner deploy NAME',
  NATIVE_MODULE_MISSING: 'run `npm run rebuild:electron` in the Cronium folder, or reinstall Cronium Desktop from its installer',
  NATIVE_MODULE_MISMATCH: 'rebuild the SQLite binding for this runtime (`npm run rebuild:electron` for the app, `npm rebuild better-sqlite3` for Node), or reinstall Cronium Desktop',
});

/**
 * The default hint of a code, with the host's name in place of NAME when the failure is about a
 * known host; undefined for a string that is no code of ERROR_CODES.
 */
export function hintFor(code: string, where: { host?: string } = {}): string | undefined {
  if (!Object.hasOwn(ERROR_HINTS, code)) return undefined;
  const hint = ERROR_HINTS[code as ErrorCode];
  return where.host ? hint.replace(/\bNAME\b/g, where.host) : hint;
}

/**
 * The serialised form of an error, as it crosses every boundary. A plain type: this module
 * loads without zod, so the CLI's error path and its quick commands stay light.
 */
export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
  hint?: string;
  details?: Record<string, unknown>;
}

/** An expected failure with a stable code and a hint for the user; never a bug. */
export class CroniumError extends Error {
  override readonly name = 'CroniumError';
  /** What to do next: the thrower's own hint, else the code's default (ERROR_HINTS). */
  readonly hint: string;
  constructor(
    readonly code: ErrorCode,
    message: string,
    hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.hint = hint || ERROR_HINTS[code];
  }

  /** The form that crosses boundaries: no stack, nothing but what the user should see. */
  toJSON(): ApiErrorBody {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Narrows an unknown value to a CroniumError. */
export function isCroniumError(e: unknown): e is CroniumError {
  return e instanceof CroniumError;
}

/** Turns a zod failure into INVALID_INPUT naming each bad field. */
export function invalidInput(error: z.ZodError, what = 'input', hint?: string): CroniumError {
  const fields = error.issues.map((i) => ({ field: i.path.join('.') || what, message: i.message }));
  const first = fields[0];
  const message = first
    ? `invalid ${first.field}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ''}`
    : `invalid ${what}`;
  return new CroniumError('INVALID_INPUT', message, hint, { fields });
}

/** INVALID_INPUT for one named field, in the same shape as a schema failure. */
export function fieldError(field: string, message: string, hint?: string): CroniumError {
  return new CroniumError('INVALID_INPUT', `invalid ${field}: ${message}`, hint, { fields: [{ field, message }] });
}
