/**
 * The one list of error codes that cross any boundary (CLI, IPC, WebSocket, helper API,
 * runner frames). Codes are stable: scripts and tests depend on them.
 */
import { z } from 'zod';

/** Every error code Cronium reports, with the CLI contract's codes first. */
export const ERROR_CODES = [
  'HOST_KEY_UNKNOWN',
  'HOST_KEY_MISMATCH',
  'AUTH_FAILED',
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
  'NOT_IMPLEMENTED',
  'UNAUTHORIZED',
  'DB_TOO_NEW',
  'DB_CORRUPT',
  'DB_FOREIGN',
  'DATA_DIR_UNUSABLE',
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
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The serialised form of an error, as it crosses every boundary. */
export const ApiErrorSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  hint: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** The serialised form of an error. */
export type ApiErrorBody = z.infer<typeof ApiErrorSchema>;

/** An expected failure with a stable code and a hint for the user; never a bug. */
export class CroniumError extends Error {
  override readonly name = 'CroniumError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The form that crosses boundaries: no stack, nothing but what the user should see. */
  toJSON(): ApiErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
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
