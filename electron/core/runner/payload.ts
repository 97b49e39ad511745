/**
 * Signs job payloads for the runner and parses the frames it writes back.
 *
 * Invariant: the signature covers the exact payload bytes that travel (base64
 * in the envelope), so no JSON canonicalisation is involved; the payload is
 * validated against the shared schema before it is signed, so the app never
 * signs something the runner would reject as invalid. The installation's
 * payload-signing key lives in `<dataDir>/keys/payload-signing.pem` (0600),
 * separate from the runner release key; only its public half leaves the app.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CroniumError, invalidInput } from '../../shared/errors';
import { parseJsonBounded } from '../../shared/json-bounded';
import {
  CANONICAL_BASE64,
  ControlFrame,
  ENVELOPE_VERSION,
  RUNNER_LIMITS,
  RunPayload,
  RunnerFrame,
  SignedEnvelope,
  type RejectReason,
} from '../../shared/runner-protocol';

const KEY_FILE = 'payload-signing.pem';

/** Kids already computed, by key object (a KeyObject is immutable): every run asks for its key's. */
const kids = new WeakMap<KeyObject, string>();

/** The kid of a public key: hex SHA-256 of its SPKI DER. */
export function keyId(key: KeyObject): string {
  let kid = kids.get(key);
  if (kid === undefined) {
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    kid = createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');
    kids.set(key, kid);
  }
  return kid;
}

/** A fresh nonce for a payload. */
export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

/** Validates a payload and returns the signed envelope line, newline included. */
export function signPayload(payload: RunPayload, privateKey: KeyObject): string {
  const parsed = RunPayload.safeParse(payload);
  if (!parsed.success) throw invalidInput(parsed.error, 'runner payload');
  return signPayloadBytes(Buffer.from(JSON.stringify(parsed.data), 'utf8'), privateKey);
}

/** Signs raw payload bytes without validating them; for tests and fixtures that need invalid payloads. */
export function signPayloadBytes(bytes: Buffer, privateKey: KeyObject, kid = keyId(privateKey)): string {
  const sig = sign('sha256', bytes, { key: privateKey, dsaEncoding: 'der' });
  const envelope: SignedEnvelope = { v: ENVELOPE_VERSION, kid, payload: bytes.toString('base64'), sig: sig.toString('base64') };
  return `${JSON.stringify(envelope)}\n`;
}

/** The outcome of openEnvelope: the payload, or the reason the runner would give. */
export type OpenResult = { ok: true; payload: RunPayload } | { ok: false; reason: RejectReason; message: string };

/**
 * Verifies an envelope line the way the runner does (all but replay, which
 * needs the host's state): shape, key, signature, payload, validity window, host.
 */
export function openEnvelope(line: string, publicKey: KeyObject, opts: { hostId: string; now: number }): OpenResult {
  const fail = (reason: RejectReason, message: string): OpenResult => ({ ok: false, reason, message });
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (Buffer.byteLength(text) > RUNNER_LIMITS.maxEnvelopeBytes || text.includes('\n')) return fail('malformed', 'envelope too long or not one line');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('malformed', 'envelope is not JSON');
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && (!('sig' in raw) || !('kid' in raw) || raw.sig === '')) {
    const v = (raw as Record<string, unknown>).v;
    if (v === ENVELOPE_VERSION && typeof (raw as Record<string, unknown>).payload === 'string') return fail('unsigned', 'envelope has no kid or sig');
  }
  const env = SignedEnvelope.safeParse(raw);
  if (!env.success) return fail('malformed', env.error.issues[0]?.message ?? 'bad envelope');
  if (env.data.kid !== keyId(publicKey)) return fail('unknown-key', 'signed by another key');
  const bytes = Buffer.from(env.data.payload, 'base64');
  const ok = verify('sha256', bytes, { key: publicKey, dsaEncoding: 'der' }, Buffer.from(env.data.sig, 'base64'));
  if (!ok) return fail('bad-signature', 'signature does not verify');
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail('invalid-payload', 'payload is not JSON');
  }
  const payload = RunPayload.safeParse(body);
  if (!payload.success) return fail('invalid-payload', payload.error.issues[0]?.message ?? 'bad payload');
  const p = payload.data;
  if (p.exp < opts.now) return fail('expired', 'payload expired');
  if (p.iat > opts.now + RUNNER_LIMITS.clockSkewMs) return fail('not-yet-valid', 'payload issued in the future');
  if (p.hostId !== opts.hostId) return fail('wrong-host', `payload is for host ${p.hostId}`);
  return { ok: true, payload: p };
}

/** Parses one NDJSON line from the runner's stdout; INVALID_INPUT when it is not a valid frame. */
export function parseFrame(line: string): RunnerFrame {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  if (text.length > RUNNER_LIMITS.maxFrameBytes) {
    throw new CroniumError('INVALID_INPUT', `runner frame is ${text.length} bytes, limit ${RUNNER_LIMITS.maxFrameBytes}`);
  }
  const raw = parseJsonBounded(text, 'runner frame', 'the runner and the app may speak different protocols; redeploy the runner');
  const parsed = RunnerFrame.safeParse(raw);
  if (!parsed.success) throw invalidInput(parsed.error, 'runner frame');
  return parsed.data;
}

/** Encodes a control frame for the runner's stdin, newline included. */
export function encodeControl(frame: ControlFrame): string {
  return `${JSON.stringify(ControlFrame.parse(frame))}\n`;
}

/** Decodes a log frame's data. */
export function logBytes(data: string): Buffer {
  if (!CANONICAL_BASE64.test(data)) throw new CroniumError('INVALID_INPUT', 'log data is not canonical base64');
  return Buffer.from(data, 'base64');
}

/** The installation's payload-signing key, created on first use and then loaded. */
export class InstallationKeys {
  readonly file: string;
  #privateKey: KeyObject | undefined;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'keys', KEY_FILE);
  }

  /** The private key; created atomically (0600) if absent, so concurrent processes agree on one key. */
  privateKey(): KeyObject {
    this.#privateKey ??= this.#loadOrCreate();
    return this.#privateKey;
  }

  /** The public key in PEM (SPKI), as the runner pins it (`installation.pub`). */
  publicKeyPem(): string {
    return createPublicKey(this.privateKey()).export({ type: 'spki', format: 'pem' }).toString();
  }

  /** The kid the runner expects in envelopes. */
  keyId(): string {
    return keyId(this.privateKey());
  }

  /** Signs a payload with the installation key. */
  sign(payload: RunPayload): string {
    return signPayload(payload, this.privateKey());
  }

  #loadOrCreate(): KeyObject {
    const dir = path.dirname(this.file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const existing = readIfExists(this.file);
    if (existing !== undefined) return parseKey(existing, this.file);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    try {
      // link, not rename: a key created concurrently by another process wins and is kept.
      linkSync(tmp, this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
    return parseKey(readFileSync(this.file, 'utf8'), this.file);
  }
}

function parseKey(pem: string, file: string): KeyObject {
  const hint = `delete ${file} to create a new payload key (then redeploy the runner to every host)`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new CroniumError('INVALID_INPUT', `${file} is not an unencrypted PEM private key`, hint);
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CroniumError('INVALID_INPUT', `${file} is not an ECDSA P-256 key`, hint);
  }
  return key;
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
