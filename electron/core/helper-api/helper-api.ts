/**
 * The helper API: what a script's `cronium input|output|get-var|set-var|condition|event`
 * calls reach, whichever transport carried them (the SSH reverse tunnel's HTTP requests, or
 * in-band frames on the runner's own channel). Transport-independent: a call is an operation
 * name, a token and a JSON body; the reply a status and a JSON body.
 *
 * Every call is checked in this order, each failure with its stable code:
 * token (HELPER_TOKEN_INVALID / _EXPIRED 401, _REVOKED 403) → the run is still running and is
 * the token's (else revoked) → the transport's binding (a tunnel serves one host's connection,
 * an in-band channel one run: a token of another host or run is HELPER_FORBIDDEN 403) → the
 * operation is one the token allows (tool actions never are on SSH targets:
 * TOOL_ACTION_FORBIDDEN 403) → the per-run rate (HELPER_RATE_LIMITED 429) → the body
 * (INVALID_INPUT 400). Every call, answered or refused, is written to the audit log with the
 * operation and variable name only, never a value.
 */
import { sql } from 'drizzle-orm';
import { asJson, type DataStore } from '../db/store';
import { z } from 'zod';
import { VarKey } from '../../shared/api';
import { CroniumError, isCroniumError, type ErrorCode } from '../../shared/errors';
import type { AuditLog } from '../audit/audit-log';
import { setRunCondition, setRunOutput } from '../scripts/runs';
import { maskSecretsInValue } from '../logs/secret-masker';
import { HELPER_OPS, revoked, type HelperClaims, type HelperOp, type HelperTokens } from './tokens';

/** A helper call as a transport delivers it. */
export interface HelperCall {
  op: string;
  token: string;
  body: unknown;
}

/** What carried the call, and what it is bound to. */
export interface HelperVia {
  transport: 'tunnel' | 'in-band';
  hostId: number;
  /** The run whose tunnel or channel carried the call (absent: only the host is known). */
  runId?: number;
}

/** The answer to a call: an HTTP-like status and a JSON object. */
export interface HelperReply {
  status: number;
  body: Record<string, unknown>;
}

/** Variables as scripts see them (electron/core/vars). */
export interface HelperVariables {
  /** The value a host's scripts see for a key (per-host wins over global), unsealed; null when unset. */
  getForRun(hostId: number | null, key: string): Promise<{ value: string; secret: boolean } | null>;
  /** A script's setVariable in a host-scoped job: writes that host's own variable. */
  setForHostFromScript(hostId: number, key: string, value: string): Promise<void>;
  /** Every secret value a run on this host can see: masked in what the run stores. */
  secretValuesFor(hostId: number | null): Promise<string[]>;
  /** A script's setVariable (see the vars service for which scope it writes). */
  setFromScript(hostId: number | null, key: string, value: string): Promise<void>;
}

/** Operations of other Cronium targets that an SSH target never offers. */
export const TOOL_ACTION_OPS = ['toolAction', 'tool-action', 'tools'] as const;

const MAX_VALUE = 64 * 1024;

const Bodies = {
  input: z.strictObject({}),
  output: z.strictObject({ value: z.json() }),
  getVariable: z.strictObject({ key: VarKey }),
  setVariable: z.strictObject({ key: VarKey, value: z.string().max(MAX_VALUE, { error: `must be at most ${MAX_VALUE} characters` }) }),
  setCondition: z.strictObject({ value: z.boolean({ error: 'must be true or false' }) }),
  event: z.strictObject({}),
} satisfies Record<HelperOp, z.ZodType>;

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  HELPER_TOKEN_INVALID: 401,
  HELPER_TOKEN_EXPIRED: 401,
  HELPER_TOKEN_REVOKED: 403,
  HELPER_FORBIDDEN: 403,
  TOOL_ACTION_FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  HELPER_RATE_LIMITED: 429,
  HELPER_UNAVAILABLE: 503,
  HELPER_TIMEOUT: 504,
};

/** The reply for an error. */
export function errorReply(e: unknown): HelperReply {
  const err = isCroniumError(e) ? e : new CroniumError('INTERNAL', 'the helper API failed on this call', 'see the app log');
  const body = { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
  return { status: STATUS_OF[err.code] ?? 500, body };
}

/** Audit rows for calls refused without a valid token, per host: a burst of 20, then 1 a second. */
export const REFUSAL_AUDIT = { burst: 20, perSecond: 1 } as const;

/** Token-bucket limits of helper calls per run. */
export interface HelperRateLimit {
  burst: number;
  perSecond: number;
}

interface RunRow {
  status: string;
  job_id: number;
  host_id: number | null;
  host_name: string;
  attempt: number;
  input: unknown;
  kind: string;
  parent_job_id: number | null;
  var_scope: 'host' | 'global';
  secret_names: unknown;
  script: string | null;
  schedule: string | null;
}

/** The helper API of one core. */
export class HelperApi {
  readonly #buckets = new Map<number, { tokens: number; at: number }>();
  readonly #rate: HelperRateLimit;
  /** Audit budget of unauthenticated refusals, per host. */
  readonly #refusals = new Map<number, { tokens: number; at: number; suppressed: number }>();

  /** The tokens this API verifies (sessions issue them). */
  readonly tokens: HelperTokens;

  constructor(
    private readonly deps: {
      store: DataStore;
      tokens: HelperTokens;
      vars: HelperVariables;
      audit: AuditLog;
      rate?: HelperRateLimit;
    },
  ) {
    this.tokens = deps.tokens;
    this.#rate = deps.rate ?? { burst: 500, perSecond: 200 };
  }

  async #run(runId: number): Promise<RunRow | undefined> {
    const [row] = await this.deps.store.rows<RunRow>(
      sql`select r.status, r.job_id, r.host_id, r.host_name, r.attempt, j.input, j.kind, j.parent_job_id, j.var_scope, j.secret_names,
              s.name as script, sc.name as schedule
         from runs r join jobs j on j.id = r.job_id
         left join scripts s on s.id = j.script_id
         left join schedules sc on sc.id = j.schedule_id
        where r.id = ${runId}`,
    );
    if (!row) return undefined;
    const num = (v: number | null) => (v === null ? null : Number(v));
    return { ...row, job_id: Number(row.job_id), host_id: num(row.host_id), attempt: Number(row.attempt), parent_job_id: num(row.parent_job_id) };
  }

  /** Answers one call; never throws. */
  async handle(call: HelperCall, via: HelperVia): Promise<HelperReply> {
    let claims: HelperClaims | undefined;
    let detail: Record<string, unknown> = {};
    try {
      claims = await this.tokens.verify(call.token);
      const run = await this.#run(claims.runId);
      if (!run || run.job_id !== claims.jobId || run.host_id !== claims.hostId) throw revoked();
      if (run.status !== 'running' && run.status !== 'claimed') throw revoked();
      if (via.hostId !== claims.hostId) {
        throw new CroniumError('HELPER_FORBIDDEN', 'the helper token belongs to a run on another host', 'each run has its own token in CRONIUM_HELPER_TOKEN; do not copy tokens between hosts');
      }
      if (via.runId !== undefined && via.runId !== claims.runId) {
        throw new CroniumError('HELPER_FORBIDDEN', 'the helper token belongs to another run', 'each run has its own token in CRONIUM_HELPER_TOKEN; do not copy tokens between runs');
      }
      if ((TOOL_ACTION_OPS as readonly string[]).includes(call.op)) {
        throw new CroniumError('TOOL_ACTION_FORBIDDEN', 'tool actions are not available to scripts on SSH hosts', `helpers on SSH hosts offer: ${HELPER_OPS.join(', ')}`);
      }
      if (!(HELPER_OPS as readonly string[]).includes(call.op)) {
        throw new CroniumError('NOT_FOUND', `no helper operation "${call.op.slice(0, 64)}"`, `operations: ${HELPER_OPS.join(', ')}`);
      }
      const op = call.op as HelperOp;
      if (!claims.ops.includes(op)) throw new CroniumError('HELPER_FORBIDDEN', `this run's token does not allow ${op}`, 'the job did not grant this operation');
      this.#take(claims.runId);
      const parsed = Bodies[op].safeParse(call.body ?? {});
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        throw new CroniumError('INVALID_INPUT', `invalid ${op} request: ${i?.path.join('.') || 'body'} ${i?.message ?? ''}`.trim(), 'see `cronium --help` on the host for each operation\'s arguments');
      }
      const body = parsed.data as Record<string, unknown>;
      if (typeof body.key === 'string') detail = { key: body.key };
      const result = await this.#answer(op, body, claims, run);
      await this.#audit(call.op, claims.runId, via, 200, detail);
      return { status: 200, body: result };
    } catch (e) {
      const reply = errorReply(e);
      const code = (reply.body.error as { code: string }).code;
      if (claims === undefined) {
        // No valid token: anyone on the host can send these as fast as they like. They are
        // audited at a bounded rate per host; the rest are counted into the next row.
        const suppressed = this.#admitRefusal(via.hostId);
        if (suppressed === undefined) return reply;
        if (suppressed > 0) detail = { ...detail, suppressed };
      }
      await this.#audit(call.op, claims?.runId, via, reply.status, { ...detail, code });
      return reply;
    }
  }

  /** Forgets a run's rate bucket (its run ended). */
  forget(runId: number): void {
    this.#buckets.delete(runId);
  }

  async #answer(op: HelperOp, body: Record<string, unknown>, claims: HelperClaims, run: RunRow): Promise<Record<string, unknown>> {
    switch (op) {
      case 'input':
        return { value: asJson<unknown>(run.input) };
      case 'output':
        await setRunOutput(this.deps.store, claims.runId, maskSecretsInValue(body.value, await this.deps.vars.secretValuesFor(claims.hostId)));
        return { ok: true };
      case 'getVariable': {
        const key = body.key as string;
        const v = await this.deps.vars.getForRun(claims.hostId, key);
        if (v?.secret && !(asJson<string[]>(run.secret_names) ?? []).includes(key)) {
          // One compromised host must not read every secret: a job opens only the secrets it names.
          throw new CroniumError('HELPER_FORBIDDEN', `the secret variable ${key} was not declared by this job`, `declare it where the job is made: cronium run --secret ${key} (or schedules add --secret ${key})`);
        }
        return v ? { found: true, value: v.value } : { found: false, value: null };
      }
      case 'setVariable':
        // The run's host's own variable, unless the job allowed global writes: one host cannot
        // change what every other host's scripts read.
        if (run.var_scope === 'global') await this.deps.vars.setFromScript(claims.hostId, body.key as string, body.value as string);
        else await this.deps.vars.setForHostFromScript(claims.hostId, body.key as string, body.value as string);
        return { ok: true };
      case 'setCondition':
        await setRunCondition(this.deps.store, claims.runId, body.value as boolean);
        return { ok: true };
      case 'event':
        return {
          jobId: claims.jobId,
          runId: claims.runId,
          host: run.host_name,
          script: run.script,
          schedule: run.schedule,
          attempt: run.attempt,
          trigger: run.kind,
          parentJobId: run.parent_job_id,
        };
    }
  }

  /**
   * Whether a refused, unauthenticated call from this host gets an audit row: undefined when
   * over the rate (counted), else how many were left out since the last row.
   */
  #admitRefusal(hostId: number): number | undefined {
    const now = Date.now();
    const b = this.#refusals.get(hostId) ?? { tokens: REFUSAL_AUDIT.burst, at: now, suppressed: 0 };
    b.tokens = Math.min(REFUSAL_AUDIT.burst, b.tokens + ((now - b.at) / 1000) * REFUSAL_AUDIT.perSecond);
    b.at = now;
    this.#refusals.set(hostId, b);
    if (b.tokens < 1) {
      b.suppressed++;
      return undefined;
    }
    b.tokens -= 1;
    const suppressed = b.suppressed;
    b.suppressed = 0;
    return suppressed;
  }

  #take(runId: number): void {
    const now = Date.now();
    const b = this.#buckets.get(runId) ?? { tokens: this.#rate.burst, at: now };
    b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond);
    b.at = now;
    if (b.tokens < 1) {
      this.#buckets.set(runId, b);
      throw new CroniumError('HELPER_RATE_LIMITED', `too many helper calls from this run (more than ${this.#rate.perSecond}/s)`, 'batch values into fewer calls, or wait and retry');
    }
    b.tokens -= 1;
    this.#buckets.set(runId, b);
  }

  async #audit(op: string, runId: number | undefined, via: HelperVia, status: number, detail: Record<string, unknown>): Promise<void> {
    try {
      await this.deps.audit.record(`helper.${op.slice(0, 32)}`, runId ? `run:${runId}` : `host:${via.hostId}`, { transport: via.transport, status, ...detail });
    } catch {
      // An audit write that fails (store closing) must not turn an answered call into an error.
    }
  }
}

