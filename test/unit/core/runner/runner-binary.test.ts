import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeControl, logBytes, newNonce, parseFrame, signPayload } from '../../../../electron/core/runner/payload';
import { type RunnerFrame, type RunPayload } from '../../../../electron/shared/runner-protocol';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const fixtures = join(repoRoot, 'test', 'fixtures', 'runner');
const QEMU = { arm64: '/usr/bin/qemu-aarch64-static', armv7: '/usr/bin/qemu-arm-static' };
const MAX_ARTIFACT_BYTES = 6 * 1024 * 1024;
const HOST_ID = 'host-under-test';

let tmp: string;
let key: KeyObject;
const bins: Record<'amd64' | 'arm64' | 'armv7', string> = { amd64: '', arm64: '', armv7: '' };

function goBuild(out: string, env: Record<string, string>): void {
  const res = spawnSync('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags', '-s -w', '-o', out, './cmd/cronium-runner'], {
    cwd: join(repoRoot, 'runner'),
    env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux', ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(res.status, 0, `go build ${JSON.stringify(env)}: ${res.stderr}`);
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cronium-runner-bin-'));
  bins.amd64 = join(tmp, 'amd64', 'cronium-runner');
  bins.arm64 = join(tmp, 'arm64', 'cronium-runner');
  bins.armv7 = join(tmp, 'armv7', 'cronium-runner');
  goBuild(bins.amd64, { GOARCH: 'amd64' });
  goBuild(bins.arm64, { GOARCH: 'arm64' });
  goBuild(bins.armv7, { GOARCH: 'arm', GOARM: '7' });
  key = createPrivateKey(await readFile(join(fixtures, 'keys', 'installation.pem'), 'utf8'));
  // As deployed: the pinned key and host id next to the binary.
  for (const dir of ['amd64', 'arm64', 'armv7']) {
    await copyFile(join(fixtures, 'keys', 'installation.pub'), join(tmp, dir, 'installation.pub'));
    await writeFile(join(tmp, dir, 'host-id'), `${HOST_ID}\n`);
  }
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let counter = 0;
function payload(script: string, patch: Partial<RunPayload> = {}): RunPayload {
  const now = Date.now();
  counter++;
  return {
    jobId: 'job-ts',
    runId: `run-ts-${process.pid}-${counter}`,
    hostId: HOST_ID,
    nonce: newNonce(),
    iat: now,
    exp: now + 60_000,
    interpreter: 'bash',
    script,
    env: {},
    limits: { timeoutMs: 20_000, graceMs: 500 },
    detach: false,
    pty: false,
    helper: { transport: 'none' },
    ...patch,
  };
}

interface Session {
  frames: RunnerFrame[];
  code: number | null;
}

/**
 * Runs the binary with `line` on stdin, keeping stdin open (a closed stdin
 * means the SSH channel went away) until the stream ends; onFrame may write
 * control frames.
 */
function runRunner(
  argv: string[],
  line: string,
  onFrame?: (f: RunnerFrame, write: (s: string) => void) => void,
): Promise<Session> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const frames: RunnerFrame[] = [];
    let buf = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`runner timed out; frames so far: ${JSON.stringify(frames)}`));
    }, 30_000);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const f = parseFrame(buf.slice(0, i));
        buf = buf.slice(i + 1);
        frames.push(f);
        onFrame?.(f, (s) => child.stdin.write(s));
        if (f.type === 'exit' || f.type === 'error') child.stdin.end();
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      assert.equal(buf, '', 'partial frame at end of stream');
      resolve({ frames, code });
    });
    child.stdin.on('error', () => {});
    child.stdin.write(line);
  });
}

const stateDir = (): string => join(tmp, 'state');
const runArgs = (bin: string): string[] => [bin, 'run', '--state-dir', stateDir()];

function output(frames: RunnerFrame[], stream: 'stdout' | 'stderr'): string {
  return Buffer.concat(frames.flatMap((f) => (f.type === 'log' && f.stream === stream ? [logBytes(f.data)] : []))).toString('utf8');
}

test('artifacts stay under 6 MB', async () => {
  for (const [arch, bin] of Object.entries(bins)) {
    const { size } = await stat(bin);
    console.log(`linux-${arch}: ${(size / 1048576).toFixed(2)} MB`);
    assert.ok(size < MAX_ARTIFACT_BYTES, `linux-${arch} is ${size} bytes`);
  }
});

test('runs a bash script: output, exit code, ordered frames', async () => {
  const line = signPayload(payload('echo "hello $WHO"; echo warn >&2; printf "no newline"; exit 3', { env: { WHO: 'wörld' } }), key);
  const { frames, code } = await runRunner(runArgs(bins.amd64), line);
  assert.equal(code, 0);
  assert.equal(frames[0]?.type, 'hello');
  const exit = frames.at(-1);
  assert.ok(exit?.type === 'exit');
  assert.deepEqual([exit.code, exit.signal, exit.reason, exit.killedWith], [3, null, 'exited', null]);
  assert.equal(output(frames, 'stdout'), 'hello wörld\nno newline');
  assert.equal(output(frames, 'stderr'), 'warn\n');
  const seqs = frames.flatMap((f) => (f.type === 'log' || f.type === 'exit' ? [f.seq] : []));
  assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
});

test('refuses tampered, expired, foreign-host and replayed payloads with PAYLOAD_REJECTED', async () => {
  const good = signPayload(payload('true'), key);
  const env = JSON.parse(good) as { payload: string };
  const body = Buffer.from(env.payload, 'base64').toString('utf8').replace('"script":"true"', '"script":"rm -rf ~"');
  const tampered = `${JSON.stringify({ ...env, payload: Buffer.from(body).toString('base64') })}\n`;
  const now = Date.now();
  const cases: [string, string, string][] = [
    ['tampered', tampered, 'bad-signature'],
    ['expired', signPayload(payload('true', { iat: now - 7_200_000, exp: now - 3_600_000 }), key), 'expired'],
    ['wrong host', signPayload(payload('true', { hostId: 'someone-else' }), key), 'wrong-host'],
    ['unsigned', `${JSON.stringify({ v: 1, payload: env.payload })}\n`, 'unsigned'],
  ];
  const first = await runRunner(runArgs(bins.amd64), good);
  assert.equal(first.frames.at(-1)?.type, 'exit');
  cases.push(['replayed', good, 'replay']);
  for (const [name, line, reason] of cases) {
    const { frames, code } = await runRunner(runArgs(bins.amd64), line);
    assert.equal(frames.length, 1, name);
    const f = frames[0];
    assert.ok(f?.type === 'error', name);
    assert.equal(f.code, 'PAYLOAD_REJECTED', name);
    assert.equal(f.reason, reason, name);
    assert.notEqual(code, 0, name);
  }
});

function groupMembers(pgid: number): number[] {
  return readdirSync('/proc').flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return fields[0] !== 'Z' && Number(fields[2]) === pgid ? [Number(name)] : [];
    } catch {
      return [];
    }
  });
}

test('a cancel frame kills the whole process group', async () => {
  let pgid = 0;
  const line = signPayload(payload('sleep 60 & sleep 60 & echo $$; wait'), key);
  const { frames } = await runRunner(runArgs(bins.amd64), line, (f, write) => {
    if (f.type === 'log' && pgid === 0) {
      pgid = Number(logBytes(f.data).toString('utf8').trim());
      assert.ok(groupMembers(pgid).length >= 2, 'the script and its sleeps are running');
      write(encodeControl({ type: 'cancel' }));
    }
  });
  const exit = frames.at(-1);
  assert.ok(exit?.type === 'exit');
  assert.equal(exit.reason, 'cancelled');
  assert.equal(exit.killedWith, 'TERM');
  assert.equal(exit.signal, 'TERM');
  assert.deepEqual(groupMembers(pgid), []);
});

for (const arch of ['arm64', 'armv7'] as const) {
  test(`the ${arch} build runs doctor and a job under qemu`, async () => {
    const doctor = spawnSync(QEMU[arch], [bins[arch], 'doctor', '--state-dir', join(tmp, `state-${arch}`)], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(doctor.status, 0, doctor.stderr);
    const d = JSON.parse(doctor.stdout) as { arch: string; interpreters: Record<string, { found: boolean }> };
    assert.equal(d.arch, arch === 'arm64' ? 'arm64' : 'arm');
    assert.ok(d.interpreters.sh?.found);
    // Default key and host id: the files next to the binary.
    const { frames } = await runRunner([QEMU[arch], bins[arch], 'run', '--state-dir', join(tmp, `state-${arch}`)], signPayload(payload('echo from-$0; exit 5'), key));
    const exit = frames.at(-1);
    assert.ok(exit?.type === 'exit', JSON.stringify(frames));
    assert.equal(exit.code, 5);
    assert.match(output(frames, 'stdout'), /^from-/);
  });
}
