/** Errors as the renderer sees them: a contract error (ApiError) or a lost connection. */
import type { ApiErrorBody, ErrorCode } from '../../electron/shared/errors';

/** A failure the app reported through an envelope, with its stable code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(body: ApiErrorBody) {
    super(body.message);
    this.code = body.code;
    this.hint = body.hint;
    this.details = body.details;
  }
}

/**
 * The transport to the app went away before a call finished. Not a contract code:
 * the call may or may not have been applied, so callers should reload state.
 */
export class ConnectionLostError extends Error {
  override readonly name = 'ConnectionLostError';
  readonly code = 'DISCONNECTED';
}

/** A plain, serialisable description of any error, fit for the store and the UI. */
export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

/** Describes whatever was thrown as an ErrorInfo. */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof ApiError) return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  if (e instanceof ConnectionLostError) return { code: e.code, message: e.message, hint: 'Cronium will reconnect on its own; try again then.' };
  if (e instanceof Error) return { code: 'INTERNAL', message: e.message };
  return { code: 'INTERNAL', message: String(e) };
}

/** A problem with one input field, as reported by the app. */
export interface FieldError {
  /** The top-level field name, such as "port" (for "tags.2", "tags"). */
  field: string;
  /** A fragment such as "must be 1-65535", to be shown after the field's label. */
  message: string;
}

/** The field errors of an INVALID_INPUT reply (`details.fields[]`); none for other errors. */
export function fieldErrors(e: unknown): FieldError[] {
  if (!(e instanceof ApiError) || !Array.isArray(e.details?.fields)) return [];
  const out: FieldError[] = [];
  for (const f of e.details.fields as unknown[]) {
    if (typeof f !== 'object' || f === null) continue;
    const { field, message } = f as { field?: unknown; message?: unknown };
    if (typeof field === 'string' && typeof message === 'string') out.push({ field: field.split('.')[0] ?? field, message });
  }
  return out;
}
