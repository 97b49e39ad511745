/**
 * Helper tokens: the JWT (jose, HS256) a script presents on every helper call.
 *
 * One token per run attempt: subject `run:<id>`, audience the helper API, the host's id, the
 * operations it may call, an expiry tied to the run's own timeout. The key is a 32-byte file
 * of the data dir used for nothing else (`helper-token.key`, 0600), so a token outlives an app
 * restart exactly as long as its detached run may. A token is revoked when its run ends: the
 * revocation set answers at once, and the run's status in the store (checked on every call by
 * the API) covers a token whose run ended in another process.
 *
 * Invariant: a token is never logged, stored or put on a command line; it travels inside the
 * signed payload (stdin) and reaches the script only through its environment.
 */
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { CroniumError } from '../../shared/errors';
import { HelperOp as HelperOpSchema } from '../../shared/runner-protocol';
import { loadOrCreateKey } from '../secrets/secret-box';

/** The operations of the helper API, with the names every language shim uses (the runner protocol's list). */
export const HELPER_OPS = HelperOpSchema.options;
/** An operation of the helper API. */
export type HelperOp = (typeof HELPER_OPS)[number];

/** The audience every helper token names. */
export const HELPER_AUDIENCE = 'cronium-helper-api';
const ISSUER = 'cronium';
const KEY_FILE = 'helper-token.key';

/** What a valid token says. */
export interface HelperClaims {
  runId: number;
  jobId: number;
  hostId: number;
  ops: HelperOp[];
  /** Expiry, ms since the epoch. */
  exp: number;
  jti: string;
}

const Claims = z.object({
  sub: z.string().regex(/^run:[1-9][0-9]{0,15}$/),
  job: z.int().min(1),
  host: z.int().min(1),
  ops: z.array(z.enum(HELPER_OPS)).max(HELPER_OPS.length),
  exp: z.int(),
  jti: z.string().min(8).max(64),
});

/** A token's shape as scripts hand it over (bounded before any parsing). */
export const TOKEN_SHAPE = /^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{1,2048}$/;

/** Issues, verifies and revokes helper tokens. */
export class HelperTokens {
  readonly #key: Uint8Array;
  /** jti → expiry (ms) of revoked tokens, pruned as they expire. */
  readonly #revoked = new Map<string, number>();
  /** When expired entries of #revoked are next dropped (a sweep per revoke would be quadratic in a fan-out). */
  #nextSweep = 0;

  constructor(dataDir: string) {
    this.#key = new Uint8Array(loadOrCreateKey(dataDir, KEY_FILE));
  }

  /** A token for one run attempt, valid until `expiresAt` (ms) unless revoked sooner. */
  async issue(run: { runId: number; jobId: number; hostId: number }, expiresAt: number, ops: readonly HelperOp[] = HELPER_OPS): Promise<{ token: string; jti: string }> {
    const jti = randomBytes(12).toString('base64url');
    const token = await new SignJWT({ job: run.jobId, host: run.hostId, ops: [...ops] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(HELPER_AUDIENCE)
      .setSubject(`run:${run.runId}`)
      .setIssuedAt()
      .setJti(jti)
      .setExpirationTime(Math.ceil(expiresAt / 1000))
      .sign(this.#key);
    return { token, jti };
  }

  /** Revokes a token now (its run ended). */
  revoke(jti: string, exp: number): void {
    const now = Date.now();
    if (now >= this.#nextSweep) {
      for (const [k, e] of this.#revoked) if (e < now) this.#revoked.delete(k);
      this.#nextSweep = now + 10_000;
    }
    this.#revoked.set(jti, exp);
  }

  /**
   * The claims of a valid token; else HELPER_TOKEN_INVALID, HELPER_TOKEN_EXPIRED (401) or
   * HELPER_TOKEN_REVOKED (403).
   */
  async verify(token: string): Promise<HelperClaims> {
    if (!TOKEN_SHAPE.test(token)) throw invalidToken('the token is not a JWT');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#key, { issuer: ISSUER, audience: HELPER_AUDIENCE, algorithms: ['HS256'] }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) {
        throw new CroniumError('HELPER_TOKEN_EXPIRED', 'the helper token has expired', 'a helper token lasts as long as its run may (its timeout, or 7 days without one) and ends with the run');
      }
      throw invalidToken(e instanceof joseErrors.JWSSignatureVerificationFailed ? 'the token was not issued by this app' : 'the token does not verify');
    }
    const claims = Claims.safeParse(payload);
    if (!claims.success) throw invalidToken('the token does not name a run, host and operations');
    const c = claims.data;
    if (this.#revoked.has(c.jti)) throw revoked();
    return { runId: Number(c.sub.slice(4)), jobId: c.job, hostId: c.host, ops: c.ops, exp: c.exp * 1000, jti: c.jti };
  }
}

function invalidToken(why: string): CroniumError {
  return new CroniumError('HELPER_TOKEN_INVALID', `invalid helper token: ${why}`, 'helpers take the token from CRONIUM_HELPER_TOKEN, which the runner sets for each run; do not copy it between runs');
}

/** The error of a token whose run has ended. */
export function revoked(): CroniumError {
  return new CroniumError('HELPER_TOKEN_REVOKED', 'the helper token was revoked: its run has ended', 'helper calls work only while the run that received the token is running');
}
