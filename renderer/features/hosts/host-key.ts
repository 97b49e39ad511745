/**
 * Finds an untrusted or changed host key in whatever reported it: an ApiError from any
 * call (HOST_KEY_UNKNOWN / HOST_KEY_MISMATCH with details.fingerprint) or a diagnostics
 * report whose ssh check failed with the same code in its data. The fingerprint found
 * is the one the user confirms and the one hosts.trust pins: never anything else.
 */
import { ApiError } from '../../api';

/** A host key that needs the user's decision. */
export interface HostKeyProblem {
  code: 'HOST_KEY_UNKNOWN' | 'HOST_KEY_MISMATCH';
  /** The host whose key it is (a jump host, possibly, not the one called). */
  host: string;
  algorithm: string | null;
  fingerprint: string;
  /** The key trusted before (mismatch). */
  previousFingerprint: string | null;
  /** A revoked key can never be trusted. */
  revoked: boolean;
  message: string;
}

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

function fromData(code: unknown, data: Record<string, unknown> | undefined, fallbackHost: string, message: string): HostKeyProblem | null {
  if ((code !== 'HOST_KEY_UNKNOWN' && code !== 'HOST_KEY_MISMATCH') || !data) return null;
  const fp = data.fingerprint;
  if (typeof fp !== 'string' || !FINGERPRINT.test(fp)) return null;
  return {
    code,
    host: typeof data.name === 'string' && data.name ? data.name : fallbackHost,
    algorithm: typeof data.algorithm === 'string' ? data.algorithm : null,
    fingerprint: fp,
    previousFingerprint: typeof data.previousFingerprint === 'string' ? data.previousFingerprint : null,
    revoked: data.revoked === true,
    message,
  };
}

/** The host-key problem an error reports, if any. */
export function hostKeyProblemOfError(e: unknown, host: string): HostKeyProblem | null {
  if (!(e instanceof ApiError)) return null;
  return fromData(e.code, e.details, host, e.message);
}

/** The host-key problem a diagnostics report shows in its checks, if any. */
export function hostKeyProblemOfReport(report: { host: string; checks: readonly { status: string; detail: string; data?: Record<string, unknown> | undefined }[] }): HostKeyProblem | null {
  for (const c of report.checks) {
    if (c.status !== 'fail' || !c.data) continue;
    const p = fromData(c.data.code, c.data, report.host, c.detail);
    if (p) return p;
  }
  return null;
}
