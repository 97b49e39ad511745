// Runner mode against a scripted fake connection: frames to outcome, seqs passed through,
// shell noise before the first frame, malformed frames, cancel on stdin, a lost detached run,
// and the command line (no secret on it).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, test } from 'node:test';
import { helperTokenExpiry, RunnerExecutor } from '../../../../electron/core/exec/runner-mode';
import type { ExecOutcome, ExecRequest, ExecSinks, RunnerFallback } from '../../../../electron/core/exec/types';
import { CroniumError } from '../../../../electron/shared/errors';
import { encodeBinaryFrame } from '../../../../electron/core/runner/frames';
import type { DeployResult, RunnerDeployer } from '../../../../electron/core/runner/deploy';
import { InstallationKeys } from '../../../../electron/core/runner/payload';
import type { ExecStreamHandle, ExecStreamOptions, SshConnection } from '../../../../electron/core/ssh/types';

const dir = mkdtempSync(join(tmpdir(), 'cronium-runner-mode-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const keys = new InstallationKeys(dir);

const deployed = {
  path: '/home/u/.cache/cronium/0.1.0-abcdefabcdef/cronium-runner',
  stateDir: '/home/u/.cache/cronium/state',
  hostId: 'h1-abc',
  version: '0.1.0',
  integrityFailure: null,
} as unknown as DeployResult;

function deployer(impl: () => Promise<DeployResult> = async () => deployed): RunnerDeployer {
  return { deploy: impl } as unknown as RunnerDeployer;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
// Protocol 3 (JSON lines) in most tests: the app still speaks it; protocol 4 has its own test below.
const hello = JSON.stringify({ type: 'hello', protocol: 3, version: '0.1.0', runId: 'r1', pid: 42 });
const log = (seq: number, text: string, stream = 'stdout') => JSON.stringify({ type: 'log', seq, stream, ts: 1, data: b64(text) });
const exit = (seq: number, o: Record<string, unknown>) =>
  JSON.stringify({ type: 'exit', seq, code: null, signal: null, reason: 'exited', killedWith: null, rusage: { userMs: 0, sysMs: 0, maxRssKb: 0 }, durationMs: 1, limiter: 'none', ...o });

/** A connection whose one execStream plays `script` (lines, or callbacks given the handle's stdin so far). */
function fakeConn(play: (io: { out: (line: string | Buffer) => Promise<void>; stdin: () => string; end: (how?: 'lost') => void; wait: (ms: number) => Promise<void> }) => Promise<void>) {
  const seen: { command?: string; stdin: string } = { stdin: '' };
  const conn = {
    execStream: async (command: string, o: ExecStreamOptions): Promise<ExecStreamHandle> => {
      seen.command = command;
      seen.stdin += typeof o.stdin === 'string' ? o.stdin : (o.stdin?.toString() ?? '');
      let settle: (v: { code: number | null; signal: string | null }) => void = () => undefined;
      let fail: (e: Error) => void = () => undefined;
      const done = new Promise<{ code: number | null; signal: string | null }>((res, rej) => {
        settle = res;
        fail = rej;
      });
      const h: ExecStreamHandle = {
        write: (d) => {
          seen.stdin += d.toString();
          return true;
        },
        endStdin: () => undefined,
        drain: async () => undefined,
        signal: () => undefined,
        close: () => settle({ code: null, signal: null }),
        done,
      };
      void (async () => {
        await play({
          out: async (line) => void (await o.onStdout?.(typeof line === 'string' ? Buffer.from(`${line}\n`) : line)),
          stdin: () => seen.stdin,
          end: (how) => (how === 'lost' ? fail(new CroniumError('CONNECT_FAILED', 'connection lost')) : settle({ code: 0, signal: null })),
          wait: (ms) => new Promise((r) => setTimeout(r, ms)),
        });
      })();
      return h;
    },
  } as unknown as SshConnection;
  return { conn, seen };
}

function collect() {
  const logs: { seq: number; stream: string; text: string }[] = [];
  const raw: Buffer[] = [];
  const system: string[] = [];
  const sinks: ExecSinks = {
    stdout: () => undefined,
    stderr: () => undefined,
    system: (m) => system.push(m),
    log: (c) => {
      logs.push({ seq: c.seq, stream: c.stream, text: c.data.toString() });
      raw.push(Buffer.from(c.data));
    },
  };
  return { logs, raw, system, sinks };
}

const req = (o: Partial<ExecRequest> = {}): ExecRequest => ({ runId: 7, jobId: 3, host: 'h', interpreter: 'sh', script: 'echo secret-script\n', env: { TOKEN: 'secret-env' }, mode: 'runner', timeoutMs: 10_000, graceMs: 100, ...o });
const times = () => ({ t0: performance.now(), connectMs: 5, setupDeadline: performance.now() + 5000 });

async function run(conn: SshConnection, r = req(), cancel = new AbortController().signal, dep = deployer()) {
  const c = collect();
  const out = (await new RunnerExecutor({ deployer: dep, keys }).execute(conn, r, c.sinks, cancel, times())) as ExecOutcome;
  return { out, ...c };
}

test('frames become the outcome: seqs pass through, shell noise before the first frame is ignored, nothing secret on the command line', async () => {
  const { conn, seen } = fakeConn(async (io) => {
    await io.out('Welcome to a noisy shell');
    await io.out(hello);
    await io.out(log(1, 'one\n'));
    await io.out(JSON.stringify({ type: 'heartbeat', ts: 1, seq: 1 }));
    await io.out(log(2, 'two\n', 'stderr'));
    await io.out(exit(3, { code: 4 }));
    io.end();
  });
  const { out, logs } = await run(conn);
  assert.deepEqual(logs, [
    { seq: 1, stream: 'stdout', text: 'one\n' },
    { seq: 2, stream: 'stderr', text: 'two\n' },
  ]);
  assert.deepEqual([out.status, out.exitCode, out.signal, out.mode, out.runnerVersion], ['failed', 4, null, 'runner', '0.1.0']);
  assert.equal(typeof out.timings.deploy, 'number');
  assert.equal(typeof out.timings.exec, 'number');
  assert.match(seen.command!, /cronium-runner' run --key '.*\/installation\.pub' --host-id '.*\/host-id\.[\w-]+' --state-dir '\/home\/u\/\.cache\/cronium\/state' --protocol 4$/);
  assert.ok(!seen.command!.includes('secret'), 'no secret on the command line');
  assert.ok(seen.stdin.startsWith('{"v":1,'), 'the envelope is the first line of stdin');
});

test('protocol 4: binary frames split at any byte give the same logs and outcome; raw bytes pass untouched; a bad header is INVALID_INPUT', async () => {
  const frames = [
    encodeBinaryFrame({ type: 'hello', protocol: 4, version: '0.1.0', runId: 'r1', pid: 42 }),
    encodeBinaryFrame({ type: 'log', seq: 1, stream: 'stdout', ts: 1, data: Buffer.from('one\n\xc5{\n', 'latin1') }),
    encodeBinaryFrame({ type: 'heartbeat', ts: 2, seq: 1 }),
    encodeBinaryFrame({ type: 'log', seq: 2, stream: 'stderr', ts: 3, data: Buffer.alloc(70_000 - 5_000, 0x41) }),
    encodeBinaryFrame(JSON.parse(exit(3, { code: 4 }))),
  ];
  const stream = Buffer.concat([Buffer.from('Welcome to a noisy shell\n'), ...frames]);
  for (const seed of [1, 2, 3, 4, 5]) {
    let x = seed;
    const { conn } = fakeConn(async (io) => {
      for (let at = 0; at < stream.length; ) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        const n = 1 + (x % 9000);
        await io.out(stream.subarray(at, at + n));
        at += n;
      }
      io.end();
    });
    const { out, logs, raw } = await run(conn);
    assert.deepEqual(
      logs.map((l, i) => [l.seq, l.stream, raw[i]!.length]),
      [
        [1, 'stdout', 7],
        [2, 'stderr', 65_000],
      ],
      `seed ${seed}`,
    );
    assert.ok(raw[0]!.equals(Buffer.from('one\n\xc5{\n', 'latin1')), 'output bytes as the script wrote them');
    assert.deepEqual([out.status, out.exitCode, out.runnerVersion], ['failed', 4, '0.1.0']);
  }
  // A header with a body over the log limit: the stream cannot be trusted past it.
  const badHeader = Buffer.from(frames[1]!);
  badHeader.writeUInt32BE(70_000, 4);
  const { conn } = fakeConn(async (io) => {
    await io.out(frames[0]!);
    await io.out(badHeader);
    await io.out(frames[4]!);
    io.end();
  });
  const { out, system } = await run(conn);
  assert.equal(out.errorCode, 'INVALID_INPUT');
  assert.match(out.errorMessage ?? '', /log frame with a body of 70000 bytes, limit 65536/);
  assert.ok(system.some((m) => m.includes('malformed frame')));
});

test('exit reasons: timeout, cancelled, output-limit, a signal', async () => {
  const cases: [Record<string, unknown>, ExecOutcome['status'], RegExp | null][] = [
    [{ signal: 'TERM', reason: 'timeout', killedWith: 'TERM' }, 'timed_out', /stopped with TERM/],
    [{ signal: 'KILL', reason: 'cancelled', killedWith: 'KILL' }, 'cancelled', /stopped with KILL/],
    [{ signal: 'TERM', reason: 'output-limit', killedWith: 'TERM' }, 'failed', /output limit/],
    [{ signal: 'KILL' }, 'failed', /SIGKILL/],
  ];
  for (const [frame, status, message] of cases) {
    const { conn } = fakeConn(async (io) => {
      await io.out(hello);
      await io.out(exit(1, frame));
      io.end();
    });
    const { out } = await run(conn);
    assert.equal(out.status, status, JSON.stringify(frame));
    if (message) assert.match(out.errorMessage ?? '', message);
  }
});

test('a malformed frame is INVALID_INPUT, recorded, never thrown', async () => {
  const { conn } = fakeConn(async (io) => {
    await io.out(hello);
    await io.out('{"type":"log","seq":"x"}');
    await io.out(exit(1, { code: 0 }));
    io.end();
  });
  const { out, system } = await run(conn);
  assert.equal(out.errorCode, 'INVALID_INPUT');
  assert.ok(system.some((m) => /malformed frame/.test(m)));
});

test('PAYLOAD_REJECTED and INTERPRETER_MISSING error frames are 255-class start failures', async () => {
  for (const frame of [
    { type: 'error', code: 'PAYLOAD_REJECTED', message: 'signed by another key', reason: 'unknown-key' },
    { type: 'error', code: 'INTERPRETER_MISSING', message: 'no python3' },
  ]) {
    const { conn } = fakeConn(async (io) => {
      await io.out(JSON.stringify(frame));
      io.end();
    });
    const { out } = await run(conn);
    assert.equal(out.errorCode, frame.code);
    assert.equal(out.exitCode, 255);
    if (frame.reason) assert.match(out.errorMessage ?? '', /unknown-key/);
  }
});

test('cancel writes a cancel frame on stdin; the exit frame says cancelled', async () => {
  const ac = new AbortController();
  const { conn, seen } = fakeConn(async (io) => {
    await io.out(hello);
    ac.abort();
    while (!io.stdin().includes('{"type":"cancel"}')) await io.wait(5);
    await io.out(exit(1, { signal: 'TERM', reason: 'cancelled', killedWith: 'TERM' }));
    io.end();
  });
  const { out } = await run(conn, req(), ac.signal);
  assert.equal(out.status, 'cancelled');
  assert.ok(seen.stdin.endsWith('{"type":"cancel"}\n'));
});

test('a detached run whose connection is lost is handed back for reattach; a foreground one fails CONNECTION_LOST', async () => {
  for (const detach of [true, false]) {
    const { conn } = fakeConn(async (io) => {
      await io.out(hello);
      await io.out(log(1, 'x\n'));
      io.end('lost');
    });
    const { out } = await run(conn, req({ detach }));
    if (detach) assert.equal(out.reattach, true);
    else assert.deepEqual([out.status, out.errorCode, out.reattach], ['failed', 'CONNECTION_LOST', undefined]);
  }
  const { conn, seen } = fakeConn(async (io) => {
    await io.out(hello);
    await io.out(log(5, 'five\n'));
    await io.out(exit(6, { code: 0 }));
    io.end();
  });
  const { out, logs } = await run(conn, req({ detach: true, reattach: { fromSeq: 5 } }));
  assert.equal(out.status, 'succeeded');
  assert.deepEqual(logs.map((l) => l.seq), [5]);
  assert.match(seen.command!, / attach 'c[0-9a-f]{10}-r7-a1' --from 5 --state-dir /);
});

test('deploy fallbacks are handed to the executor', async () => {
  const noLoc = deployer(async () => {
    throw new CroniumError('RUNNER_DEPLOY_FAILED', 'no runner cache location on h is writable and executable: /tmp: noexec', undefined, { reason: 'no-cache-location' });
  });
  const { conn } = fakeConn(async () => undefined);
  const c = collect();
  const fb = (await new RunnerExecutor({ deployer: noLoc, keys }).execute(conn, req(), c.sinks, new AbortController().signal, times())) as RunnerFallback;
  assert.match(fb.fallback, /noexec/);
});

test('fast path: a runner verified before is re-hashed within the run; a mismatch runs the full check, which replaces it', async () => {
  let deploys = 0;
  const dep = deployer(async () => {
    deploys++;
    return { ...deployed, sha256: 'a'.repeat(64) } as DeployResult;
  });
  const ex = new RunnerExecutor({ deployer: dep, keys });
  const commands: string[] = [];
  const play = (checkFails: boolean) =>
    fakeConn(async (io) => {
      if (checkFails) {
        await io.out('CRONIUM-RUNNER-CHECK-FAILED 0123');
        io.end();
        return;
      }
      await io.out(hello);
      await io.out(exit(1, { code: 0 }));
      io.end();
    });
  const once = async (checkFails: boolean[]) => {
    let i = 0;
    const conn = {
      execStream: async (command: string, o: ExecStreamOptions) => {
        commands.push(command);
        return play(checkFails[i++] ?? false).conn.execStream(command, o);
      },
    } as unknown as SshConnection;
    const c = collect();
    const out = (await ex.execute(conn, req(), c.sinks, new AbortController().signal, times())) as ExecOutcome;
    return { out, ...c };
  };
  const first = await once([]);
  assert.equal(first.out.status, 'succeeded');
  assert.equal(deploys, 1);
  assert.ok(!commands[0]!.startsWith('sh -c'), 'the first run follows a full check');
  const second = await once([]);
  assert.equal(second.out.status, 'succeeded');
  assert.equal(deploys, 1, 'no second deploy round trip');
  assert.match(commands[1]!, /^sh -c .*sha256sum.*a{64}/s);
  assert.equal(second.out.timings.deploy, 0);
  const third = await once([true]);
  assert.equal(third.out.status, 'succeeded');
  assert.equal(deploys, 2, 'the mismatch ran the full check');
  assert.ok(!commands[3]!.startsWith('sh -c'));
});

test('helpers: the session settings go into the payload; in-band frames are answered on stdin; the session ends with the run', async () => {
  const answered: unknown[] = [];
  let ended = 0;
  const expiries: number[] = [];
  const helpers = {
    begin: async (_conn: unknown, _run: unknown, expiresAt: number) => ({
      ...(expiries.push(expiresAt) ? {} : {}),
      settings: { transport: 'in-band' as const, token: 'a.b.c' },
      transport: 'in-band' as const,
      fallbackReason: 'the host refused the helper tunnel (forwarding prohibited)',
      fallbackNew: true,
      exposed: () => 'unused',
      answer: async (f: { id: number; op: string }) => {
        answered.push(f);
        return { type: 'helper-reply' as const, id: f.id, status: 200, body: { value: { n: 1 } } };
      },
      end: () => void ended++,
    }),
  };
  const { conn, seen } = fakeConn(async (io) => {
    await io.out(hello);
    await io.out(JSON.stringify({ type: 'helper', id: 1, op: 'input', token: 'a.b.c', body: {} }));
    for (let i = 0; i < 50 && !io.stdin().includes('helper-reply'); i++) await io.wait(5);
    await io.out(exit(1, { code: 0 }));
    io.end();
  });
  const c = collect();
  const out = (await new RunnerExecutor({ deployer: deployer(), keys, helpers }).execute(conn, req({ hostId: 9, timeoutMs: undefined }), c.sinks, new AbortController().signal, times())) as ExecOutcome;
  assert.equal(out.status, 'succeeded');
  assert.equal(out.helperTransport, 'in-band');
  assert.equal(ended, 1);
  assert.deepEqual(answered, [{ type: 'helper', id: 1, op: 'input', token: 'a.b.c', body: {} }]);
  const lines = seen.stdin.trim().split('\n');
  const payload = JSON.parse(Buffer.from((JSON.parse(lines[0]!) as { payload: string }).payload, 'base64').toString()) as { helper: unknown };
  assert.deepEqual(payload.helper, { transport: 'in-band', token: 'a.b.c' });
  assert.deepEqual(JSON.parse(lines[1]!), { type: 'helper-reply', id: 1, status: 200, body: { value: { n: 1 } } });
  assert.ok(c.system.some((m) => /in-band.*refused the helper tunnel/.test(m)), c.system.join('\n'));
  assert.ok(!seen.command!.includes('a.b.c'), 'the token is not on the command line');
  // This run has no timeout: its helpers work for as long as any run may (the review found them
  // refused with HELPER_TOKEN_EXPIRED after ~95 s, the payload's start window).
  assert.equal(expiries.length, 1);
  assert.ok(expiries[0]! - Date.now() > 7 * 86_400_000 - 60_000, `token expiry in ${(expiries[0]! - Date.now()) / 1000} s`);
});

test('helpers: a hello naming the tunnel exposed switches the session to in-band, which then answers the run\'s in-band frames, and the run says why', async () => {
  const exposedWith: (readonly string[])[] = [];
  let transport: 'tunnel' | 'in-band' = 'tunnel';
  const answered: unknown[] = [];
  const helpers = {
    begin: async () => ({
      settings: { transport: 'tunnel' as const, port: 40001, token: 'a.b.c' },
      get transport() {
        return transport;
      },
      fallbackReason: null,
      fallbackNew: false,
      exposed: (addresses: readonly string[]) => {
        exposedWith.push(addresses);
        transport = 'in-band';
        return `bound on ${addresses.join(', ')} (GatewayPorts yes)`;
      },
      answer: async (f: { id: number; op: string }) => {
        answered.push(f);
        return { type: 'helper-reply' as const, id: f.id, status: transport === 'in-band' ? 200 : 403, body: {} };
      },
      end: () => undefined,
    }),
  };
  const { conn, seen } = fakeConn(async (io) => {
    await io.out(JSON.stringify({ type: 'hello', protocol: 3, version: '0.1.0', runId: 'r1', pid: 42, helperExposed: ['0.0.0.0', '::'] }));
    await io.out(JSON.stringify({ type: 'helper', id: 1, op: 'input', token: 'a.b.c', body: {} }));
    for (let i = 0; i < 50 && !io.stdin().includes('helper-reply'); i++) await io.wait(5);
    await io.out(exit(1, { code: 0 }));
    io.end();
  });
  const c = collect();
  const out = (await new RunnerExecutor({ deployer: deployer(), keys, helpers }).execute(conn, req({ hostId: 9 }), c.sinks, new AbortController().signal, times())) as ExecOutcome;
  assert.equal(out.status, 'succeeded');
  assert.deepEqual(exposedWith, [['0.0.0.0', '::']]);
  assert.equal(out.helperTransport, 'in-band', 'the run records the transport its helpers used');
  assert.equal(answered.length, 1);
  assert.match(seen.stdin, /"type":"helper-reply","id":1,"status":200/);
  assert.ok(c.system.some((m) => /in-band.*bound on 0\.0\.0\.0, :: \(GatewayPorts yes\)/.test(m)), c.system.join('\n'));
});

test('helper tokens: a run without a timeout keeps its token for the longest timeout allowed, not the payload\'s start window', () => {
  const iat = 1_800_000_000_000;
  const none = helperTokenExpiry(iat, 30_000, undefined, 5000);
  assert.ok(none - iat >= 7 * 86_400_000, `without a timeout: ${(none - iat) / 1000} s`);
  const tenMin = helperTokenExpiry(iat, 30_000, 600_000, 5000);
  assert.equal(tenMin - iat, 30_000 + 600_000 + 5000 + 60_000, 'with one: setup, timeout, grace and a minute');
});
