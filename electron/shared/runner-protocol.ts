/**
 * The runner's wire format, shared by the app (which signs payloads and parses
 * frames) and anything that displays them. Twin of runner/internal/protocol
 * (Go); test/fixtures/runner holds vectors both sides verify, so a change here
 * must change there too and regenerate the fixtures.
 *
 * Invariant: every schema is strict (unknown keys are rejected) and every size
 * is bounded exactly as the Go parser bounds it, so a payload or frame means
 * the same thing on both sides. No Node imports: the renderer imports types.
 */
import { z } from 'zod';

/**
 * The wire protocol the app asks the runner for (`run`/`attach --protocol`) and the hello frame
 * names (2: runtime helpers, helper frames; 3: the payload's mask; 4: binary frames, raw output
 * bytes: electron/core/runner/frames.ts).
 */
export const RUNNER_PROTOCOL = 4;
/** Protocols the app decodes: a protocol 3 stream (an older runner) still works until the runner is replaced. */
export const RUNNER_PROTOCOLS_ACCEPTED: readonly number[] = [3, 4];
/** Envelope format version (`v`). */
export const ENVELOPE_VERSION = 1;

/** Bounds shared with runner/internal/protocol/payload.go. */
export const RUNNER_LIMITS = Object.freeze({
  maxEnvelopeBytes: 4 << 20,
  maxScriptBytes: 1 << 20,
  maxInputBytes: 1 << 20,
  maxEnvEntries: 256,
  maxEnvValueBytes: 128 << 10,
  maxEnvBytes: 1 << 20,
  /** The payload's mask: secret values the runner masks in the output before framing it. */
  maxMaskEntries: 256,
  minMaskValueBytes: 3,
  maxMaskValueBytes: 4096,
  maxMaskBytes: 256 << 10,
  maxLifetimeMs: 24 * 3600_000,
  /** How far the host's clock may be from the app's, either way (the runner's ClockSkew). */
  clockSkewMs: 15 * 60_000,
  maxTimeoutMs: 7 * 24 * 3600_000,
  maxGraceMs: 10 * 60_000,
  maxOutputBytes: 4 * 2 ** 30,
  defaultMaxOutputBytes: 256 << 20,
  minMemoryBytes: 16 << 20,
  maxMemoryBytes: 2 ** 40,
  minOpenFiles: 16,
  maxOpenFiles: 1 << 20,
  maxCpuSeconds: 7 * 24 * 3600,
  maxLogData: 64 << 10,
  /** One frame line: room for a helper frame with a full body and token. */
  maxFrameBytes: (1 << 20) + (16 << 10),
  maxTokenBytes: 4096,
  /** The JSON body of a helper call or reply. */
  maxHelperBodyBytes: 1 << 20,
});

/** Canonical standard base64 (the form Go's StdEncoding.Strict accepts: zero padding bits). */
export const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$/;

const base64 = z.string().regex(CANONICAL_BASE64, { error: 'must be canonical base64' });
const nonNegInt = z.int().min(0);
/** Frame sequence numbers: one per frame of at most 64 KiB, so 2^40 is far beyond any real run; a larger one is a lie. */
export const MAX_SEQ = 2 ** 40;
const seqNum = z.int().min(1).max(MAX_SEQ);

/** A job, run or host id as the runner accepts it (run ids name directories on the host). */
export const RunnerId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
  error: 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
});

/** Interpreters the runner can run a script with. */
export const RunnerInterpreter = z.enum(['bash', 'sh', 'python3', 'node']);

const L = RUNNER_LIMITS;
const utf8Length = (s: string): number => new TextEncoder().encode(s).length;
const optionalBounded = (min: number, max: number) => z.int().min(min).max(max).optional();

/** Resource limits of one run. */
export const RunLimits = z.strictObject({
  timeoutMs: z.int().min(1).max(L.maxTimeoutMs),
  graceMs: z.int().min(0).max(L.maxGraceMs),
  cpuSeconds: optionalBounded(1, L.maxCpuSeconds),
  memoryBytes: optionalBounded(L.minMemoryBytes, L.maxMemoryBytes),
  openFiles: optionalBounded(L.minOpenFiles, L.maxOpenFiles),
  maxOutputBytes: optionalBounded(1, L.maxOutputBytes),
});

/** The run's helper token (a JWT): it reaches the script only in its environment. */
export const HelperToken = z.string().regex(/^[A-Za-z0-9._-]{1,4096}$/, { error: 'must be 1-4096 letters, digits, ".", "_" or "-"' });

/**
 * How the script's runtime helpers reach the app: the SSH reverse forward on the host's
 * 127.0.0.1:port, helper frames on the runner's own channel, or not at all (every call
 * answers HELPER_UNAVAILABLE).
 */
export const HelperSettings = z.discriminatedUnion('transport', [
  z.strictObject({ transport: z.literal('tunnel'), port: z.int().min(1).max(65535), token: HelperToken }),
  z.strictObject({ transport: z.literal('in-band'), token: HelperToken }),
  z.strictObject({ transport: z.literal('none') }),
]);
/** How the script's runtime helpers reach the app. */
export type HelperSettings = z.infer<typeof HelperSettings>;

/** The helper operations a script can call. */
export const HelperOp = z.enum(['input', 'output', 'getVariable', 'setVariable', 'setCondition', 'event']);
/** A helper operation. */
export type HelperOp = z.infer<typeof HelperOp>;

/** A helper call's or reply's body: one JSON object of at most maxHelperBodyBytes (compact UTF-8). */
export const HelperBody = z
  .record(z.string(), z.json())
  .refine((b) => utf8Length(JSON.stringify(b)) <= L.maxHelperBodyBytes, { error: `at most ${L.maxHelperBodyBytes} bytes` });

/** The environment of a run: bounded, valid names, no NUL bytes. */
export const RunEnv = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, { error: 'must be a valid variable name' }), z.string())
  .superRefine((env, ctx) => {
    const entries = Object.entries(env);
    if (entries.length > L.maxEnvEntries) ctx.addIssue({ code: 'custom', message: `at most ${L.maxEnvEntries} entries` });
    let total = 0;
    for (const [k, v] of entries) {
      const n = utf8Length(v);
      if (n > L.maxEnvValueBytes) ctx.addIssue({ code: 'custom', path: [k], message: `at most ${L.maxEnvValueBytes} bytes` });
      if (v.includes('\0')) ctx.addIssue({ code: 'custom', path: [k], message: 'must not contain NUL' });
      total += utf8Length(k) + n;
    }
    if (total > L.maxEnvBytes) ctx.addIssue({ code: 'custom', message: `at most ${L.maxEnvBytes} bytes in all` });
  });

/**
 * Secret values the runner replaces with `***` in the script's output before framing it, so a
 * secret never reaches a frame or the host's spool, also when split across writes or reads.
 */
export const RunMask = z
  .array(
    z.string().superRefine((v, ctx) => {
      const n = utf8Length(v);
      if (n < L.minMaskValueBytes || n > L.maxMaskValueBytes) {
        ctx.addIssue({ code: 'custom', message: `must be ${L.minMaskValueBytes}..${L.maxMaskValueBytes} bytes` });
      }
      if (v.includes('\0')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL' });
    }),
  )
  .max(L.maxMaskEntries)
  .refine((m) => m.reduce((n, v) => n + utf8Length(v), 0) <= L.maxMaskBytes, { error: `at most ${L.maxMaskBytes} bytes in all` });

/** Whether some occurrence of `a` in a stream could share bytes with one of `b` (b within a, or one ending where the other starts). */
function overlaps(a: string, b: string): boolean {
  if (a.includes(b) || b.includes(a)) return true;
  for (let k = 1; k < Math.min(a.length, b.length); k++) {
    if (a.endsWith(b.slice(0, k)) || b.endsWith(a.slice(0, k))) return true;
  }
  return false;
}

/**
 * The payload's `mask` for a run's secret values: longest first, those that fit RunMask's bounds.
 * The app's own masker covers every secret anyway; what does not fit is left to it alone. So
 * that masking at the source never breaks the app's match of a longer secret left out (the runner
 * masking a piece of it would leave the rest readable), a value that overlaps a left-out one at
 * least as long is left out too. Values are taken as the runner decodes them (lone surrogates as
 * U+FFFD); too short ones are dropped, as both maskers ignore them.
 */
export function runnerMask(secrets: readonly string[]): string[] {
  const wellFormed = (s: string): string => new TextDecoder().decode(new TextEncoder().encode(s));
  const values = [...new Set(secrets.map(wellFormed))]
    .map((v) => ({ v, n: utf8Length(v) }))
    .filter((x) => x.n >= L.minMaskValueBytes)
    .sort((a, b) => b.n - a.n);
  const kept: string[] = [];
  const left: string[] = [];
  let total = 0;
  for (const { v, n } of values) {
    const fits = n <= L.maxMaskValueBytes && !v.includes('\0') && kept.length < L.maxMaskEntries && total + n <= L.maxMaskBytes;
    if (fits && !left.some((u) => overlaps(u, v))) {
      kept.push(v);
      total += n;
    } else {
      left.push(v);
    }
  }
  return kept;
}

/** How a payload's script becomes root (the runner's job/elevate.go). */
export const RunElevation = z.discriminatedUnion('method', [
  z.strictObject({
    method: z.literal('sudo'),
    password: z
      .string()
      .min(1)
      .refine((s) => utf8Length(s) <= 1024 && !/[\0\n\r]/.test(s), { error: 'one line of at most 1024 bytes' })
      .optional(),
  }),
  z.strictObject({ method: z.literal('doas') }),
  z.strictObject({
    method: z.literal('su'),
    password: z
      .string()
      .min(1)
      .refine((s) => utf8Length(s) <= 1024 && !/[\0\n\r]/.test(s), { error: 'one line of at most 1024 bytes' }),
  }),
]);
/** How a payload's script becomes root. */
export type RunElevation = z.infer<typeof RunElevation>;

/** The signed job payload. */
export const RunPayload = z
  .strictObject({
    jobId: RunnerId,
    runId: RunnerId,
    hostId: RunnerId,
    nonce: base64.max(128).refine((s) => Math.floor((s.length * 3) / 4) - (s.match(/=/g)?.length ?? 0) >= 16, {
      error: 'must be at least 16 random bytes',
    }),
    iat: z.int().min(1),
    exp: z.int().min(1),
    interpreter: RunnerInterpreter,
    script: z.string().refine((s) => utf8Length(s) <= L.maxScriptBytes, { error: `at most ${L.maxScriptBytes} bytes` }),
    env: RunEnv,
    input: z
      .json()
      .optional()
      .refine((v) => v === undefined || utf8Length(JSON.stringify(v)) <= L.maxInputBytes, { error: `at most ${L.maxInputBytes} bytes` }),
    limits: RunLimits,
    detach: z.boolean(),
    pty: z.boolean(),
    helper: HelperSettings,
    /** Absent means nothing to mask (protocol 3). */
    mask: RunMask.optional(),
    /** Run the script as root through sudo or doas; a sudo password answers its prompt on stdin (and is in mask). */
    elevation: RunElevation.optional(),
  })
  .refine((p) => p.exp > p.iat && p.exp - p.iat <= L.maxLifetimeMs, {
    error: `need iat < exp <= iat + ${L.maxLifetimeMs} ms`,
    path: ['exp'],
  })
  .refine((p) => !(p.elevation && p.pty), { error: 'elevation cannot be combined with pty', path: ['elevation'] });
/** The signed job payload. */
export type RunPayload = z.infer<typeof RunPayload>;

/** The one line the app writes on the runner's stdin before any control frame. */
export const SignedEnvelope = z.strictObject({
  v: z.literal(ENVELOPE_VERSION),
  kid: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }),
  payload: base64,
  sig: base64.min(1),
});
/** The one line the app writes on the runner's stdin. */
export type SignedEnvelope = z.infer<typeof SignedEnvelope>;

/** The app's answer to a helper frame (in-band transport): an HTTP-like status and a JSON object. */
export const HelperReplyFrame = z.strictObject({
  type: z.literal('helper-reply'),
  id: z.int().min(1),
  status: z.int().min(100).max(599),
  body: HelperBody,
});
/** The app's answer to a helper frame. */
export type HelperReplyFrame = z.infer<typeof HelperReplyFrame>;

/** Control frames the app writes after the envelope. */
export const ControlFrame = z.discriminatedUnion('type', [z.strictObject({ type: z.literal('cancel') }), HelperReplyFrame]);
/** A control frame. */
export type ControlFrame = z.infer<typeof ControlFrame>;

/** Why a run ended. */
export const ExitReason = z.enum(['exited', 'timeout', 'cancelled', 'disconnected', 'output-limit', 'spool-full', 'elevation-failed']);
/** How the runner enforced resource limits. */
export const Limiter = z.enum(['systemd-scope', 'rlimit', 'none']);
/** Why a payload was refused (the `reason` of a PAYLOAD_REJECTED error frame). */
export const RejectReason = z.enum([
  'malformed',
  'unsigned',
  'unknown-key',
  'bad-signature',
  'invalid-payload',
  'expired',
  'not-yet-valid',
  'wrong-host',
  'replay',
]);
/** Why a payload was refused. */
export type RejectReason = z.infer<typeof RejectReason>;

/** First frame of every stream: the protocol the runner speaks. */
export const HelloFrame = z.strictObject({
  type: z.literal('hello'),
  protocol: z.int().min(1),
  version: z.string().min(1).max(64),
  runId: RunnerId,
  pid: z.int().min(1),
  /**
   * The payload asked for the helper tunnel, but its port listens beyond loopback on these
   * addresses (sshd with GatewayPorts yes): the runner checked before the script started, and the
   * run's helpers use in-band frames instead.
   */
  helperExposed: z.array(z.string().regex(/^[0-9A-Fa-f.:]{2,45}$/)).min(1).max(16).optional(),
});
/** A chunk of the script's output (at most 64 KiB of data; lines may span frames). */
export const LogFrame = z.strictObject({
  type: z.literal('log'),
  seq: seqNum,
  stream: z.enum(['stdout', 'stderr']),
  ts: nonNegInt,
  data: base64.max(Math.ceil(L.maxLogData / 3) * 4),
});
/** Sent every few seconds; seq is the last seq emitted so far (0 before any). */
export const HeartbeatFrame = z.strictObject({ type: z.literal('heartbeat'), ts: nonNegInt, seq: nonNegInt.max(MAX_SEQ) });
/** The last frame of a run. */
export const ExitFrame = z
  .strictObject({
    type: z.literal('exit'),
    seq: seqNum,
    code: z.int().min(0).max(255).nullable(),
    signal: z.string().min(1).max(16).nullable(),
    reason: ExitReason,
    killedWith: z.enum(['TERM', 'KILL']).nullable(),
    rusage: z.strictObject({ userMs: nonNegInt, sysMs: nonNegInt, maxRssKb: nonNegInt }),
    durationMs: nonNegInt,
    limiter: Limiter,
    /** With reason elevation-failed only: what sudo or doas said (prompts removed, secrets masked). */
    detail: z.string().min(1).max(2048).optional(),
  })
  .refine((f) => (f.code === null) !== (f.signal === null), { error: 'exactly one of code and signal' })
  .refine((f) => (f.detail !== undefined) === (f.reason === 'elevation-failed'), { error: 'detail goes with reason elevation-failed only' });
/** A failure before or instead of a run. */
export const ErrorFrame = z
  .strictObject({
    type: z.literal('error'),
    code: z.enum(['PAYLOAD_REJECTED', 'INTERPRETER_MISSING', 'INTERNAL', 'INVALID_INPUT', 'NOT_FOUND', 'RUNNER_CHANGED']),
    message: z.string().max(4096),
    reason: RejectReason.optional(),
  })
  .refine((f) => (f.code === 'PAYLOAD_REJECTED') === (f.reason !== undefined), {
    error: 'reason is required with PAYLOAD_REJECTED and only there',
  });

/**
 * A script's helper call carried in-band (no seq: not part of the resumable log). id counts
 * from 1 per run; the app answers with a helper-reply control frame of the same id, and the
 * runner answers the script 504 HELPER_TIMEOUT when none comes within 30 s.
 */
export const HelperFrame = z.strictObject({
  type: z.literal('helper'),
  id: z.int().min(1),
  op: HelperOp,
  token: HelperToken,
  body: HelperBody,
});

/**
 * A resident runner (`cronium-runner serve`, protocol 4 only) is ready for the next envelope: its
 * previous run's process ended with `code` or `signal` (both null in the first one, before any run).
 */
export const ReadyFrame = z
  .strictObject({
    type: z.literal('ready'),
    code: z.int().min(0).max(255).nullable(),
    signal: z.string().min(1).max(16).nullable(),
  })
  .refine((f) => f.code === null || f.signal === null, { error: 'at most one of code and signal' });

/** Any frame the runner writes on stdout. */
export const RunnerFrame = z.union([HelloFrame, LogFrame, HeartbeatFrame, ExitFrame, ErrorFrame, HelperFrame, ReadyFrame]);
/** Any frame the runner writes on stdout. */
export type RunnerFrame = z.infer<typeof RunnerFrame>;
/** The hello frame. */
export type HelloFrame = z.infer<typeof HelloFrame>;
/** A log frame. */
export type LogFrame = z.infer<typeof LogFrame>;
/** A heartbeat frame. */
export type HeartbeatFrame = z.infer<typeof HeartbeatFrame>;
/** The exit frame. */
export type ExitFrame = z.infer<typeof ExitFrame>;
/** An error frame. */
export type ErrorFrame = z.infer<typeof ErrorFrame>;
/** A helper frame. */
export type HelperFrame = z.infer<typeof HelperFrame>;
/** A ready frame. */
export type ReadyFrame = z.infer<typeof ReadyFrame>;
