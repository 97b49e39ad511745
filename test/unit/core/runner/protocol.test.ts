import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  InstallationKeys,
  encodeControl,
  keyId,
  logBytes,
  newNonce,
  openEnvelope,
  parseFrame,
  signPayload,
} from '../../../../electron/core/runner/payload';
import { ControlFrame, RUNNER_LIMITS, RUNNER_PROTOCOL, RunMask, type RunPayload, type RunnerFrame, SignedEnvelope, runnerMask } from '../../../../electron/shared/runner-protocol';
import { decodeFrameStream, encodeBinaryFrame } from '../../../../electron/core/runner/frames';
import { CroniumError } from '../../../../electron/shared/errors';

const fixtures = fileURLToPath(new URL('../../../fixtures/runner/', import.meta.url));

interface PayloadFixtures {
  hostId: string;
  now: number;
  kid: string;
  cases: { name: string; line: string; reason: string | null }[];
}

async function loadFixtures(): Promise<PayloadFixtures> {
  return JSON.parse(await readFile(join(fixtures, 'payloads.json'), 'utf8')) as PayloadFixtures;
}

async function fixtureKey(name: string) {
  return createPrivateKey(await readFile(join(fixtures, 'keys', `${name}.pem`), 'utf8'));
}

test('every shared payload vector gets the verdict the Go runner gives', async () => {
  const fx = await loadFixtures();
  const pub = createPublicKey(await readFile(join(fixtures, 'keys', 'installation.pub'), 'utf8'));
  assert.equal(keyId(pub), fx.kid);
  assert.ok(fx.cases.length >= 8);
  for (const c of fx.cases) {
    const res = openEnvelope(c.line, pub, { hostId: fx.hostId, now: fx.now });
    if (c.reason === null) assert.ok(res.ok, `${c.name}: ${res.ok ? '' : `${res.reason} ${res.message}`}`);
    else assert.equal(res.ok ? 'accepted' : res.reason, c.reason, c.name);
  }
  // Issued in 2100: the real clock refuses the valid vector.
  const valid = fx.cases.find((c) => c.name === 'valid');
  assert.ok(valid);
  assert.deepEqual(openEnvelope(valid.line, pub, { hostId: fx.hostId, now: Date.now() }).ok, false);
});

test('the valid vector carries every payload field', async () => {
  const fx = await loadFixtures();
  const pub = createPublicKey(await readFile(join(fixtures, 'keys', 'installation.pub'), 'utf8'));
  const res = openEnvelope(fx.cases[0]!.line, pub, { hostId: fx.hostId, now: fx.now });
  assert.ok(res.ok);
  assert.equal(res.payload.env.NAME, 'wörld');
  assert.deepEqual(res.payload.helper, { transport: 'tunnel', port: 40123, token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJydW4tMDAwMSJ9.c2lnbmF0dXJl' });
  assert.equal(res.payload.limits.cpuSeconds, 10);
});

test('the mask vector carries its secret values, counted in UTF-8 bytes', async () => {
  const fx = await loadFixtures();
  const pub = createPublicKey(await readFile(join(fixtures, 'keys', 'installation.pub'), 'utf8'));
  const open = (name: string) => openEnvelope(fx.cases.find((c) => c.name === name)!.line, pub, { hostId: fx.hostId, now: fx.now });
  const res = open('valid-mask');
  assert.ok(res.ok);
  assert.deepEqual(res.payload.mask, ['hunter2secret', 'wörld', 'é'.repeat(2048)]);
  // 2049 characters but 4098 bytes: over the bound on both sides.
  const long = open('signed-mask-too-long');
  assert.equal(long.ok ? 'accepted' : long.reason, 'invalid-payload');
  // A payload without mask (an app of protocol 2 would send one) means nothing to mask.
  const plain = open('valid');
  assert.ok(plain.ok);
  assert.equal(plain.payload.mask, undefined);
  assert.equal(RUNNER_PROTOCOL, 4);
});

test('runnerMask sends the longest secrets that fit and leaves the rest to the app', () => {
  assert.deepEqual(runnerMask([]), []);
  assert.deepEqual(runnerMask(['on', 'abc', 'hunter2secret', 'abc', 'wörld']), ['hunter2secret', 'wörld', 'abc']);
  // Count bound: 300 values, the 256 longest go.
  const many = Array.from({ length: 300 }, (_, i) => 'v'.repeat(3 + i));
  const m = runnerMask(many);
  assert.equal(m.length, RUNNER_LIMITS.maxMaskEntries);
  assert.deepEqual(m, many.slice(44).reverse());
  // Total bound: 70 values of 4 KiB, 64 fill the 256 KiB; nothing is left for a shorter one.
  const big = Array.from({ length: 70 }, (_, i) => `${i}`.padEnd(4096, 's'));
  const mb = runnerMask([...big, 'tiny-secret']);
  assert.equal(mb.length, 64);
  assert.ok(!mb.includes('tiny-secret'));
  // Too long for the runner (bytes, not characters), or with NUL: left to the app, and so is
  // every value that overlaps one of those (the runner masking a piece would spoil the app's match).
  const long = `head-${'é'.repeat(2047)}-tail`;
  assert.deepEqual(runnerMask([long, 'head-é', 'é-tail', 'tail-end', 'unrelated', 'x\0yz']), ['unrelated']);
  assert.deepEqual(runnerMask(['é'.repeat(2048)]), ['é'.repeat(2048)]);
  assert.deepEqual(runnerMask(['é'.repeat(2049)]), []);
  // A longer value may contain a left-out shorter one: the runner masks the longer whole.
  const outer = `outer-${'x'.repeat(4090)}`;
  assert.deepEqual(runnerMask(['o\0u', 'outer', outer]), [outer, 'outer']);
  // Whatever it returns, the payload schema accepts.
  for (const list of [many, big, [long, 'a\0b', 'abc']]) assert.equal(RunMask.safeParse(runnerMask(list)).success, true);
});

test('frames.ndjson parses and frames-invalid.ndjson is refused line by line', async () => {
  const valid = (await readFile(join(fixtures, 'frames.ndjson'), 'utf8')).trimEnd().split('\n');
  const types = valid.map((l) => parseFrame(l).type);
  assert.deepEqual(new Set(types), new Set(['hello', 'log', 'heartbeat', 'exit', 'error', 'helper', 'ready']));
  const log = parseFrame(valid[2]!);
  assert.ok(log.type === 'log');
  assert.deepEqual([...logBytes(log.data)], [0, 255, 254, 10]);
  // Serialising a parsed frame gives the same bytes: one form on the wire.
  for (const l of valid) assert.equal(JSON.stringify(parseFrame(l)), l);
  const invalid = (await readFile(join(fixtures, 'frames-invalid.ndjson'), 'utf8')).trimEnd().split('\n');
  for (const l of invalid) {
    assert.throws(() => parseFrame(l), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT', l);
  }
});

test('frames-v4.json: binary frames encode byte for byte, decode to their JSON frame, and the invalid ones are refused (as the Go runner does)', async () => {
  const fx = JSON.parse(await readFile(join(fixtures, 'frames-v4.json'), 'utf8')) as { valid: { frame: RunnerFrame; hex: string }[]; invalid: { name: string; hex: string }[] };
  assert.ok(fx.valid.length >= 10 && fx.invalid.length >= 20);
  const decodeAll = decodeFrameStream;
  for (const c of fx.valid) {
    const raw = Buffer.from(c.hex, 'hex');
    assert.equal(encodeBinaryFrame(c.frame).toString('hex'), c.hex, c.frame.type);
    const [got, ...rest] = decodeAll(raw);
    assert.equal(rest.length, 0);
    const want = c.frame.type === 'log' ? { ...c.frame, data: logBytes(c.frame.data) } : c.frame;
    assert.deepEqual(got, want);
  }
  for (const c of fx.invalid) {
    assert.throws(() => decodeAll(Buffer.from(c.hex, 'hex')), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT', c.name);
  }
});

test('control.ndjson parses as control frames and control-invalid.ndjson is refused', async () => {
  const valid = (await readFile(join(fixtures, 'control.ndjson'), 'utf8')).trimEnd().split('\n');
  for (const l of valid) {
    const f = ControlFrame.parse(JSON.parse(l));
    // The encoder writes back the same bytes the Go runner reads.
    assert.equal(encodeControl(f), `${l}\n`);
  }
  assert.deepEqual(new Set(valid.map((l) => (JSON.parse(l) as { type: string }).type)), new Set(['cancel', 'helper-reply']));
  const invalid = (await readFile(join(fixtures, 'control-invalid.ndjson'), 'utf8')).trimEnd().split('\n');
  for (const l of invalid) assert.equal(ControlFrame.safeParse(JSON.parse(l)).success, false, l);
});

test('helper bodies are bounded at maxHelperBodyBytes on both frames', () => {
  const room = RUNNER_LIMITS.maxHelperBodyBytes - '{"value":""}'.length;
  const body = (n: number) => ({ value: 'x'.repeat(n) });
  const reply = (n: number) => ({ type: 'helper-reply', id: 1, status: 200, body: body(n) });
  assert.equal(ControlFrame.safeParse(reply(room)).success, true);
  assert.equal(ControlFrame.safeParse(reply(room + 1)).success, false);
  const frame = (n: number) => JSON.stringify({ type: 'helper', id: 1, op: 'output', token: 'a'.repeat(RUNNER_LIMITS.maxTokenBytes), body: body(n) });
  assert.equal(parseFrame(frame(room)).type, 'helper');
  assert.throws(() => parseFrame(frame(room + 1)), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT');
  // The largest helper frame still fits in one frame line.
  assert.ok(frame(room).length <= RUNNER_LIMITS.maxFrameBytes);
});

test('signPayload signs what openEnvelope accepts and refuses invalid payloads', async () => {
  const key = await fixtureKey('installation');
  const now = Date.now();
  const payload: RunPayload = {
    jobId: 'j',
    runId: 'r',
    hostId: 'h',
    nonce: newNonce(),
    iat: now,
    exp: now + 60_000,
    interpreter: 'sh',
    script: 'true',
    env: {},
    limits: { timeoutMs: 1000, graceMs: 0 },
    detach: false,
    pty: false,
    helper: { transport: 'none' },
  };
  const line = signPayload(payload, key);
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
  const env = SignedEnvelope.parse(JSON.parse(line));
  assert.equal(env.kid, keyId(key));
  const res = openEnvelope(line, createPublicKey(key), { hostId: 'h', now });
  assert.ok(res.ok);
  assert.deepEqual(res.payload, payload);
  assert.equal(openEnvelope(line, createPublicKey(await fixtureKey('other')), { hostId: 'h', now }).ok, false);
  const masked = openEnvelope(signPayload({ ...payload, runId: 'r2', mask: ['hunter2secret'] }, key), createPublicKey(key), { hostId: 'h', now });
  assert.ok(masked.ok);
  assert.deepEqual(masked.payload.mask, ['hunter2secret']);

  const bad: [string, Partial<RunPayload> & Record<string, unknown>][] = [
    ['path in run id', { runId: '../x' }],
    ['interpreter', { interpreter: 'perl' as 'sh' }],
    ['lifetime', { exp: now + 25 * 3600_000 }],
    ['env name', { env: { 'A=B': 'x' } }],
    ['tunnel without port', { helper: { transport: 'tunnel', token: 'a.b.c' } as never }],
    ['tunnel without token', { helper: { transport: 'tunnel', port: 1 } as never }],
    ['in-band token charset', { helper: { transport: 'in-band', token: 'a b' } }],
    ['none with a token', { helper: { transport: 'none', token: 'a' } as never }],
    ['unknown field', { sudo: true }],
    ['timeout', { limits: { timeoutMs: 0, graceMs: 0 } }],
    ['mask value too short', { mask: ['ab'] }],
    ['mask value with NUL', { mask: ['ab\0c'] }],
    ['mask null', { mask: null as never }],
    ['mask too many', { mask: Array.from({ length: 257 }, () => 'abc') }],
  ];
  for (const [name, patch] of bad) {
    assert.throws(() => signPayload({ ...payload, ...patch } as RunPayload, key), (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT', name);
  }
  assert.equal(encodeControl({ type: 'cancel' }), '{"type":"cancel"}\n');
});

test('InstallationKeys creates one private P-256 key and loads it afterwards', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cronium-keys-'));
  try {
    const a = new InstallationKeys(dataDir);
    const b = new InstallationKeys(dataDir);
    const kid = a.keyId();
    assert.equal(b.keyId(), kid);
    assert.equal(a.file, join(dataDir, 'keys', 'payload-signing.pem'));
    assert.equal((await stat(a.file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'keys'))).mode & 0o777, 0o700);
    assert.match(a.publicKeyPem(), /^-----BEGIN PUBLIC KEY-----/);
    assert.equal(keyId(createPublicKey(a.publicKeyPem())), kid);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('frames that lie: an absurd seq, a seq below 1, an unknown protocol are refused with a code', () => {
  const refused = (line: string) => {
    try {
      parseFrame(line);
      return false;
    } catch (e) {
      return (e as { code?: string }).code === 'INVALID_INPUT';
    }
  };
  assert.equal(refused(`{"type":"log","seq":${2 ** 40 + 1},"stream":"stdout","ts":1,"data":"eA=="}`), true);
  assert.equal(refused(`{"type":"log","seq":${2 ** 40},"stream":"stdout","ts":1,"data":"eA=="}`), false);
  assert.equal(refused('{"type":"log","seq":0,"stream":"stdout","ts":1,"data":"eA=="}'), true);
  assert.equal(refused('{"type":"heartbeat","ts":1,"seq":1e15}'), true);
  assert.equal(refused('{"type":"hello","protocol":99,"version":"0.1.0"}'), true);
});
