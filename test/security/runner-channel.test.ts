// Attacks on the runner's channel, against the shipped signed artifact (resources/runner, the
// binary the app deploys), with payloads signed by the app's own TypeScript signer: forged
// (tampered bytes, another installation's key), expired, not yet valid, for another host,
// truncated, replayed, with a traversal in its run id, and lying control frames once a run is
// going. Each is refused with its code and reason, and the script never runs (its marker file
// is never created). The runner runs here as it would on a host: its channel is its stdin and
// stdout, which is what the SSH session carries.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { newNonce, signPayload, signPayloadBytes } from '../../electron/core/runner/payload';
import type { RunPayload } from '../../electron/shared/runner-protocol';
import { ROOT } from '../helpers/cli';

const BINARY = join(ROOT, 'resources/runner/linux-amd64/cronium-runner');
const dir = mkdtempSync(join(tmpdir(), 'cronium-runner-channel-'));
const marker = join(dir, 'ran');
const HOST = 'host-under-attack';
const key = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const installation = key();
const stranger = key();
writeFileSync(join(dir, 'installation.pub'), createPublicKey(installation).export({ type: 'spki', format: 'pem' }));
writeFileSync(join(dir, 'host-id'), `${HOST}\n`);
after(() => rmSync(dir, { recursive: true, force: true }));
const figures = { attacks: 0, refused: 0 };
after(() => console.log(`attack-figures: runner channel (shipped artifact) | attacks ${figures.attacks} | refused ${figures.refused}`));

function payload(extra: Partial<RunPayload> = {}): RunPayload {
  const now = Date.now();
  return {
    jobId: 'j1',
    runId: `r-${newNonce().replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}`,
    hostId: HOST,
    nonce: newNonce(),
    iat: now,
    exp: now + 120_000,
    interpreter: 'sh',
    script: `touch ${marker}\necho ran\n`,
    env: {},
    limits: { timeoutMs: 10_000, graceMs: 500, maxOutputBytes: 1 << 20 },
    detach: false,
    pty: false,
    helper: { transport: 'none' },
    ...extra,
  };
}

/** Runs the runner with `stdin` (then, optionally, more lines once it said hello) until its final frame; returns its frames. */
function runner(stdin: string, then?: string): Promise<{ frames: Record<string, unknown>[]; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(BINARY, ['run', '--key', join(dir, 'installation.pub'), '--host-id', join(dir, 'host-id'), '--state-dir', join(dir, 'state')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/"type":"(exit|error)"/.test(out)) child.stdin.end();
      if (then !== undefined && out.includes('"type":"hello"')) {
        child.stdin.write(then);
        then = undefined;
      }
    });
    child.stderr.resume();
    child.stdin.on('error', () => undefined);
    // The channel stays open while the run goes (closing it means the connection is gone).
    child.stdin.write(stdin);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ frames: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), code });
    });
  });
}

async function refused(name: string, line: string, reason: string): Promise<void> {
  figures.attacks++;
  rmSync(marker, { force: true });
  const { frames, code } = await runner(line);
  const err = frames.find((f) => f.type === 'error');
  assert.ok(err, `${name}: no error frame in ${JSON.stringify(frames)}`);
  assert.equal(err.code, 'PAYLOAD_REJECTED', name);
  assert.equal(err.reason, reason, `${name}: ${JSON.stringify(err)}`);
  assert.notEqual(code, 0, `${name}: the runner exited 0`);
  assert.equal(existsSync(marker), false, `${name}: the script ran`);
  figures.refused++;
}

test('the shipped runner runs a payload this installation signed (the baseline the attacks change one thing of)', async () => {
  rmSync(marker, { force: true });
  const { frames } = await runner(signPayload(payload(), installation));
  assert.equal(frames.at(-1)?.type, 'exit', JSON.stringify(frames));
  assert.equal(existsSync(marker), true);
});

test('forged, expired, early, foreign-host, truncated and traversing payloads are refused and never run', async () => {
  const body = Buffer.from(JSON.stringify(payload()));
  const tampered = JSON.parse(signPayloadBytes(body, installation)) as { payload: string };
  tampered.payload = Buffer.from(body.toString().replace('echo ran', 'echo own')).toString('base64');
  await refused('tampered bytes', `${JSON.stringify(tampered)}\n`, 'bad-signature');
  await refused('another installation\'s key', signPayload(payload(), stranger), 'unknown-key');
  await refused('expired', signPayload(payload({ iat: Date.now() - 7_200_000, exp: Date.now() - 3_600_000 }), installation), 'expired');
  await refused('issued an hour ahead', signPayload(payload({ iat: Date.now() + 3_600_000, exp: Date.now() + 7_200_000 }), installation), 'not-yet-valid');
  await refused('another host', signPayload(payload({ hostId: 'some-other-host' }), installation), 'wrong-host');
  const whole = signPayload(payload(), installation);
  await refused('truncated', `${whole.slice(0, Math.floor(whole.length / 2))}\n`, 'malformed');
  const traversal = Buffer.from(JSON.stringify({ ...payload(), runId: '../../escape' }));
  await refused('run id traversal', signPayloadBytes(traversal, installation), 'invalid-payload');
});

test('a replayed payload is refused: the same signed line runs once', async () => {
  const line = signPayload(payload(), installation);
  rmSync(marker, { force: true });
  const first = await runner(line);
  assert.equal(first.frames.at(-1)?.type, 'exit');
  assert.equal(existsSync(marker), true);
  await refused('replayed', line, 'replay');
});

test('lying control frames during a run (a giant length, garbage, an unknown type) never crash it: it ends with a frame', async () => {
  for (const lie of [`{"type":"cancel","pad":"${'x'.repeat(2 << 20)}"}\n`, '{not json\n', '{"type":"format-disk"}\n']) {
    figures.attacks++;
    const p = payload({ script: 'sleep 1; echo done\n' });
    const { frames, code } = await runner(signPayload(p, installation), lie);
    const last = frames.at(-1);
    assert.ok(last && (last.type === 'exit' || last.type === 'error'), `no final frame after ${lie.slice(0, 30)}: ${JSON.stringify(frames).slice(0, 300)}`);
    assert.notEqual(code, null, 'the runner was killed by the test timeout');
    figures.refused++;
  }
});
