/**
 * The one place where a call from any door meets the core: the method name is looked
 * up in the contract, the arguments are parsed (INVALID_INPUT naming the bad field),
 * the handler runs, and its result is parsed by the result schema on the way out, so
 * that nothing outside the contract (a secret, say) can leave. Every outcome becomes
 * an envelope; an unexpected error becomes INTERNAL without its stack.
 */
import { withCaller, type Principal } from '../accounts/caller';
import { dataDirFull, isDiskFull } from '../db/disk-full';
import { methods, type Envelope, type MethodName, type MethodResult, type ParsedArgs } from '../../shared/api';
import { CroniumError, invalidInput, isCroniumError } from '../../shared/errors';

/** Who is calling: which door, for audit and for door-specific behaviour; on a team server, the signed-in person and where from. */
export interface CallContext {
  door: 'desktop' | 'headless' | 'cli';
  principal?: Principal;
  source?: string;
}

/** Checks a signed-in person's call before it runs (accounts/access.ts); throws FORBIDDEN. */
export type Authorize = (method: MethodName, args: unknown, who: Principal) => Promise<void>;

/** The handler table: one function per contract method; a missing one fails to compile. */
export type Handlers = {
  [M in MethodName]: (args: ParsedArgs<M>, ctx: CallContext) => MethodResult<M> | Promise<MethodResult<M>>;
};

/** Dispatches calls by name with unknown input; resolves to an envelope, never rejects. */
export type Dispatch = (method: unknown, args: unknown, ctx: CallContext) => Promise<Envelope<unknown>>;

/** Reports unexpected errors (bugs) somewhere a developer will see them. */
export type BugReporter = (method: string, error: unknown) => void;

const defaultReporter: BugReporter = (method, error) => {
  process.stderr.write(`cronium: internal error in ${method}: ${(error as Error)?.stack ?? String(error)}\n`);
};

/** Whether a string names a contract method (and not an Object.prototype member). */
export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

/** Builds the dispatcher over a handler table. */
export function createDispatcher(handlers: Handlers, report: BugReporter = defaultReporter, authorize?: Authorize): Dispatch {
  return async (method, args, ctx) => {
    if (!isMethodName(method)) {
      const err = new CroniumError('INVALID_INPUT', `unknown method ${JSON.stringify(String(method)).slice(0, 120)}`, 'see electron/shared/api.ts for the list of methods');
      return { ok: false, error: err.toJSON() };
    }
    const spec = methods[method];
    const parsed = spec.args.safeParse(args ?? undefined);
    if (!parsed.success) {
      const err = invalidInput(parsed.error, 'arguments', `see the arguments of ${method} in electron/shared/api.ts`);
      // The method tells a door which of its own words to use instead (the CLI: the command's --help).
      return { ok: false, error: { ...err.toJSON(), details: { ...err.details, method } } };
    }
    try {
      const handler = handlers[method] as (a: unknown, c: CallContext) => unknown;
      // A team server's call: its person may call this (FORBIDDEN if not), and what it records names them.
      if (ctx.principal) {
        // Fail closed: a person's call is never answered unchecked.
        if (!authorize) throw new Error('a signed-in call reached a dispatcher without an authorizer');
        await authorize(method, parsed.data, ctx.principal);
      }
      const caller = { ...(ctx.principal ? { principal: ctx.principal } : {}), ...(ctx.source ? { source: ctx.source } : {}) };
      const result = await withCaller(caller, () => handler(parsed.data, ctx));
      const out = spec.result.safeParse(result);
      if (!out.success) throw new Error(`result of ${method} does not match the contract: ${out.error.message}`);
      return { ok: true, result: out.data };
    } catch (e) {
      if (isCroniumError(e)) return { ok: false, error: e.toJSON() };
      // Any write can meet a full disk: that is the user's to fix, not a bug.
      if (isDiskFull(e)) return { ok: false, error: dataDirFull(e).toJSON() };
      report(method, e);
      return { ok: false, error: new CroniumError('INTERNAL', `internal error in ${method}`, 'this is a bug in Cronium; details were written to its log').toJSON() };
    }
  };
}

/** Unwraps an envelope into its result, or throws its error as a CroniumError. */
export function unwrap<T>(envelope: Envelope<T>): T {
  if (envelope.ok) return envelope.result;
  const { code, message, hint, details } = envelope.error;
  throw new CroniumError(code, message, hint, details);
}

/** Typed call helper for in-process callers (the CLI, tests). */
export async function call<M extends MethodName>(dispatch: Dispatch, method: M, args: unknown, ctx: CallContext): Promise<MethodResult<M>> {
  return unwrap((await dispatch(method, args, ctx)) as Envelope<MethodResult<M>>);
}
