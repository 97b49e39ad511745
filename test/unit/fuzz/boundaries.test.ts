// Fuzzing where input crosses a boundary (fast-check, seeded): whatever comes in, each parser
// answers with a value or a CroniumError that has a stable code and a hint, never another
// exception, a hang or a crash. Budget: CRONIUM_FUZZ_SCALE (runs = 200 x scale; CI: 1), seed:
// CRONIUM_FUZZ_SEED (printed, so a failure can be replayed); the inputs found to break a parser
// once are kept in test/fixtures/fuzz/ and replayed first.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseFrame } from '../../../electron/core/runner/payload';
import { encodeBinaryFrame, FrameDecoder, type DecodedFrame } from '../../../electron/core/runner/frames';
import { parseKnownHosts } from '../../../electron/core/ssh/known-hosts';
import { importSshConfig } from '../../../electron/core/ssh/ssh-config-import';
import { parseCron } from '../../../electron/core/scheduler/cron';
import { methods, METHOD_NAMES, WsClientMessage } from '../../../electron/shared/api';
import { CroniumError, ERROR_HINTS } from '../../../electron/shared/errors';
import { parseJsonBounded } from '../../../electron/shared/json-bounded';
import { ROOT } from '../../helpers/cli';

const SCALE = Number(process.env.CRONIUM_FUZZ_SCALE ?? '1');
const SEED = Number(process.env.CRONIUM_FUZZ_SEED ?? String(Date.now() % 2 ** 31));
const RUNS = Math.max(1, Math.round(200 * SCALE));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'fuzz');
process.stderr.write(`fuzz: seed ${SEED}, ${RUNS} runs per property (CRONIUM_FUZZ_SEED / CRONIUM_FUZZ_SCALE)\n`);

/** Runs fn; an exception must be a CroniumError with a known code and a hint. */
function answers(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CroniumError, `not a CroniumError: ${(e as Error)?.stack ?? String(e)}`);
    assert.ok(Object.hasOwn(ERROR_HINTS, e.code), `unknown code ${e.code}`);
    assert.ok(e.hint.length > 0, `no hint for ${e.code}`);
  }
}

/** Kept inputs of one parser (a JSON array of strings), replayed before the random ones. */
function kept(name: string): string[] {
  try {
    return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as string[];
  } catch {
    return [];
  }
}

const params = { seed: SEED, numRuns: RUNS };
/** Strings that look like the thing, and strings that do not. */
const jsonish = fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 6 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)));

test('runner frames: parseFrame answers every line', () => {
  for (const line of kept('runner-frames')) answers(() => parseFrame(line));
  const frameLike = fc.record({ type: fc.constantFrom('hello', 'log', 'heartbeat', 'exit', 'error', 'helper', 'bogus'), seq: fc.oneof(fc.integer(), fc.double(), fc.string()), data: fc.oneof(fc.base64String(), fc.string()), protocol: fc.oneof(fc.integer(), fc.constant(1)), stream: fc.constantFrom('stdout', 'stderr', 'x') }, { requiredKeys: ['type'] }).map((o) => JSON.stringify(o));
  fc.assert(fc.property(fc.oneof(jsonish, frameLike), (line) => answers(() => parseFrame(line))), params);
});

test('runner frames, protocol 4: the stream decoder answers every byte string, split anywhere, and what it hands on is bounded', async () => {
  const valid = [
    encodeBinaryFrame({ type: 'hello', protocol: 4, version: '1', runId: 'r', pid: 1 }),
    encodeBinaryFrame({ type: 'log', seq: 1, stream: 'stdout', ts: 1, data: Buffer.from('x\n') }),
    encodeBinaryFrame({ type: 'heartbeat', seq: 1, ts: 2 }),
  ];
  // Valid frames with bytes flipped, cut or spliced, plain noise, and JSON lines.
  const mangled = fc.tuple(fc.array(fc.constantFrom(...valid), { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat()).map(([frames, flips, cut]) => {
    const b = Buffer.concat(frames);
    for (const [at, v] of flips) b[at % b.length] = v;
    return b.subarray(0, 1 + (cut % b.length));
  });
  const bytes = fc.oneof(mangled, fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), jsonish.map((s) => Buffer.from(`${s}\n`)));
  await fc.assert(
    fc.asyncProperty(bytes, fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }), async (input, sizes) => {
      const got: DecodedFrame[] = [];
      let malformed = 0;
      const d = new FrameDecoder({ onFrame: (f) => void got.push(f), onMalformed: () => void malformed++ });
      for (let at = 0, i = 0; at < input.length; i++) {
        const n = sizes[i % sizes.length]!;
        await d.push(input.subarray(at, at + n));
        at += n;
      }
      await d.end();
      for (const f of got) {
        if (f.type === 'log') assert.ok(f.data.length <= 65536 && f.seq >= 1 && f.seq <= 2 ** 40);
      }
      assert.ok(got.length + malformed <= input.length);
    }),
    params,
  );
});

test('WebSocket and local-door messages: parsing and every method\'s arguments answer', () => {
  fc.assert(
    fc.property(jsonish, (text) =>
      answers(() => {
        const raw = parseJsonBounded(text, 'message');
        WsClientMessage.safeParse(raw);
      }),
    ),
    params,
  );
  const args = fc.jsonValue({ maxDepth: 3 });
  fc.assert(
    fc.property(fc.constantFrom(...METHOD_NAMES), args, (method, a) => {
      const r = (methods as Record<string, { args: { safeParse(v: unknown): { success: boolean } } }>)[method]!.args.safeParse(a);
      assert.equal(typeof r.success, 'boolean');
    }),
    params,
  );
});

test('known_hosts: parseKnownHosts reads anything, reporting problems, never throwing', () => {
  const line = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.tuple(fc.constantFrom('', '@cert-authority ', '@revoked ', '@bogus '), fc.stringMatching(/^[a-z0-9.,*?[\]:|=!-]{0,40}$/), fc.constantFrom('ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256', 'x'), fc.base64String({ maxLength: 120 })).map(([m, h, t, k]) => `${m}${h} ${t} ${k}`),
  );
  fc.assert(
    fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
      const r = parseKnownHosts(lines.join('\n'), 'fuzz');
      assert.ok(Array.isArray(r.entries) && Array.isArray(r.problems));
    }),
    params,
  );
});

test('ssh_config: importSshConfig reads any file, reporting problems, never throwing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cronium-fuzz-'));
  try {
    const keyword = fc.constantFrom('Host', 'Match', 'HostName', 'User', 'Port', 'IdentityFile', 'ProxyJump', 'ProxyCommand', 'Include', 'CertificateFile', 'HostKeyAlias', 'host', 'PORT', 'Bogus');
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.stringMatching(/^[a-z0-9.%@:*?!,=~ "-]{0,30}$/), fc.integer({ min: -5, max: 70_000 }).map(String));
    const line = fc.oneof(fc.string({ maxLength: 80 }), fc.tuple(fc.constantFrom('', '  ', '\t'), keyword, fc.constantFrom(' ', '=', ' = '), value).map(([i, k, s, v]) => `${i}${k}${s}${v}`));
    const files = [...kept('ssh-configs'), ...fc.sample(fc.array(line, { maxLength: 25 }).map((ls) => ls.join('\n')), { seed: SEED, numRuns: RUNS })];
    for (const [i, text] of files.entries()) {
      const path = join(dir, `config-${i}`);
      writeFileSync(path, text);
      answers(() => {
        const r = importSshConfig(path, { home: dir, env: { USER: 'fuzz' } });
        assert.ok(Array.isArray(r.hosts));
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cron: parseCron answers every expression and zone', () => {
  const field = fc.oneof(fc.constantFrom('*', '*/2', '0', '59', '1-5', '1,2', 'MON', 'jan', '?', 'L', '#', '60', '-1'), fc.string({ maxLength: 6 }));
  const expr = fc.oneof(fc.string({ maxLength: 40 }), fc.array(field, { minLength: 4, maxLength: 7 }).map((f) => f.join(' ')));
  const tz = fc.oneof(fc.constantFrom('UTC', 'Europe/Berlin', 'Australia/Lord_Howe', 'Nope/Zone', ''), fc.string({ maxLength: 20 }));
  fc.assert(fc.property(expr, tz, (e, z) => answers(() => parseCron(e, z))), params);
});

test('the kept inputs are valid fixtures', () => {
  for (const f of readdirSync(FIXTURES)) {
    const v = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as unknown;
    assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), f);
  }
});
