// Resident runner sessions against a scripted channel (the real `serve` on real sshd is in
// test/integration/runner/run.test.ts): the opening check's markers, ready frames ending runs,
// writes of a finished run dropped, a session that misbehaves closed, and runner mode taking one
// channel for many runs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ResidentRunners, ResidentSession } from '../../../../electron/core/exec/resident';
import { readCheckLine, RunnerExecutor } from '../../../../electron/core/exec/runner-mode';
import type { ExecOutcome } from '../../../../electron/core/exec/types';
import { encodeBinaryFrame, type DecodedFrame } from '../../../../electron/core/runner/frames';
import type { DeployResult, RunnerDeployer } from '../../../../electron/core/runner/deploy';
import { InstallationKeys } from '../../../../electron/core/runner/payload';
import type { RunnerFrame } from '../../../../electron/shared/runner-protocol';
import type { ExecExit, ExecStreamHandle, ExecStreamOptions, SshConnection } from '../../../../electron/core/ssh/types';

const dir = mkdtempSync(join(tmpdir(), 'cronium-resident-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The check's marker lines, read as runner mode reads them. */
const markers = readCheckLine;
const ready = (code: number | null = null, signal: string | null = null) => encodeBinaryFrame({ type: 'ready', code, signal } as RunnerFrame);
const hello = (pid: number) => encodeBinaryFrame({ type: 'hello', protocol: 4, version: '0.1.0', runId: 'r1', pid });
const logf = (seq: number, text: string) => encodeBinaryFrame({ type: 'log', seq, stream: 'stdout', ts: 1, data: Buffer.from(text) });
const exitf = (seq: number, code: number) =>
  encodeBinaryFrame({ type: 'exit', seq, code, signal: null, reason: 'exited', killedWith: null, rusage: { userMs: 0, sysMs: 0, maxRssKb: 0 }, durationMs: 1, limiter: 'none' });

/** A channel the test drives: what the app wrote on stdin, and a way to write its stdout and end it. */
interface Channel {
  command: string;
  stdin: string[];
  out(b: Buffer | string): Promise<void>;
  end(): void;
  /** The connection is lost under the channel. */
  lose(): void;
  closed: boolean;
}

function fakeConn(onOpen: (ch: Channel) => void = () => undefined) {
  const channels: Channel[] = [];
  const wanted = new Set<() => void>();
  const conn = {
    alive: true,
    onSessionWanted: (fn: () => void) => {
      wanted.add(fn);
      return () => void wanted.delete(fn);
    },
    execStream: async (command: string, o: ExecStreamOptions): Promise<ExecStreamHandle> => {
      let settle!: (v: ExecExit) => void;
      let fail!: (e: Error) => void;
      const done = new Promise<ExecExit>((r, j) => {
        settle = r;
        fail = j;
      });
      done.catch(() => undefined);
      const ch: Channel = {
        command,
        stdin: o.stdin === undefined ? [] : [o.stdin.toString()],
        out: async (b) => void (await o.onStdout?.(typeof b === 'string' ? Buffer.from(b) : b)),
        end: () => settle({ code: 0, signal: null }),
        lose: () => fail(new Error('connection lost')),
        closed: false,
      };
      channels.push(ch);
      onOpen(ch);
      return {
        write: (d) => (ch.stdin.push(d.toString()), true),
        endStdin: () => undefined,
        drain: async () => undefined,
        signal: () => undefined,
        close: () => {
          ch.closed = true;
          settle({ code: null, signal: 'TERM' });
        },
        done,
      };
    },
  } as unknown as SshConnection;
  /** A command of the connection waits for a session slot. */
  const want = () => [...wanted].forEach((fn) => fn());
  return { conn, channels, want, wanted };
}

function recorder() {
  const frames: DecodedFrame[] = [];
  const malformed: string[] = [];
  return { frames, malformed, sink: { onFrame: (f: DecodedFrame) => void frames.push(f), onMalformed: (m: string) => void malformed.push(m) } };
}

test('a session opens on its first ready frame (the check\'s stat lines kept); a check marker or an end without ready says why', async () => {
  const ok = fakeConn((ch) => void setImmediate(() => void ch.out(Buffer.concat([Buffer.from('CRONIUM-RUNNER-STAT 1:2:3\nCRONIUM-RUNNER-STAT 4\nCRONIUM-RUNNER-STAT 5\n'), ready()]))));
  const opened = await new ResidentSession(ok.conn, 'k', markers).open('serve', new AbortController().signal);
  assert.ok('session' in opened);
  assert.deepEqual(opened.statLines, ['1:2:3', '4', '5']);
  assert.equal(opened.session.alive, true);

  const bad = fakeConn((ch) => void setImmediate(() => void ch.out('CRONIUM-RUNNER-CHECK-FAILED abc\n').then(() => ch.end())));
  assert.deepEqual(await new ResidentSession(bad.conn, 'k', markers).open('serve', new AbortController().signal), { checkFailed: 'abc' });

  const old = fakeConn((ch) => void setImmediate(() => void ch.out('{"type":"error","code":"INVALID_INPUT","message":"unknown command serve"}\n').then(() => ch.end())));
  const o = await new ResidentSession(old.conn, 'k', markers).open('serve', new AbortController().signal);
  assert.ok('unsupported' in o && !o.transient, `a binary that would not serve: ${JSON.stringify(o)}`);
  assert.equal(old.channels[0]!.closed, true);

  const lost = fakeConn((ch) => void setImmediate(() => ch.lose()));
  const l = await new ResidentSession(lost.conn, 'k', markers).open('serve', new AbortController().signal);
  assert.ok('unsupported' in l && l.transient === true, `a lost channel is transient: ${JSON.stringify(l)}`);
});

test('runs take turns: the envelope goes out, frames reach the run, ready ends it with the status; a finished run writes nothing', async () => {
  const { conn, channels } = fakeConn((ch) => void setImmediate(() => void ch.out(ready())));
  const opened = await new ResidentSession(conn, 'k', markers).open('serve', new AbortController().signal);
  assert.ok('session' in opened);
  const s = opened.session;
  const ch = channels[0]!;
  for (const [i, code] of [
    [1, 0],
    [2, 3],
  ] as const) {
    const r = recorder();
    const link = await s.begin(`envelope-${i}\n`)(r.sink, () => undefined, new AbortController().signal);
    assert.equal(ch.stdin.at(-1), `envelope-${i}\n`);
    await ch.out(Buffer.concat([hello(100 + i), logf(1, `out ${i}`), exitf(2, code)]));
    // A split ready frame: the run ends only once it is whole.
    const rd = ready(code);
    await ch.out(rd.subarray(0, 10));
    let ended = false;
    void link.done.then(() => (ended = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(ended, false);
    await ch.out(rd.subarray(10));
    assert.deepEqual(await link.done, { code, signal: null });
    assert.deepEqual(r.frames.map((f) => f.type), ['hello', 'log', 'exit']);
    assert.equal(link.frames, 3);
    const before = ch.stdin.length;
    link.write('{"type":"cancel"}\n');
    link.close();
    assert.equal(ch.stdin.length, before, 'a finished run writes nothing');
    assert.equal(ch.closed, false, 'nor closes the session');
  }
  assert.equal(s.alive, true);
  // A frame outside a run: the session is closed, never reused.
  await ch.out(hello(7));
  assert.equal(s.alive, false);
  assert.equal(ch.closed, true);
});

test('a run whose channel ends mid-run ends with the channel; RUNNER_CHANGED retires the session; the idle pool keeps few, drops the dead and yields to a waiting command', async () => {
  const h = fakeConn((ch) => void setImmediate(() => void ch.out(ready())));
  const { conn, channels } = h;
  const open = async () => {
    const o = await new ResidentSession(conn, 'k', markers).open('serve', new AbortController().signal);
    assert.ok('session' in o);
    return o.session;
  };
  const s1 = await open();
  const r = recorder();
  const link = await s1.begin('e\n')(r.sink, () => undefined, new AbortController().signal);
  await channels[0]!.out(hello(1));
  channels[0]!.end();
  assert.deepEqual(await link.done, { code: 0, signal: null });
  assert.equal(s1.alive, false);

  const s2 = await open();
  const r2 = recorder();
  const l2 = await s2.begin('e\n')(r2.sink, () => undefined, new AbortController().signal);
  await channels[1]!.out(Buffer.concat([encodeBinaryFrame({ type: 'error', code: 'RUNNER_CHANGED', message: 'changed' }), ready(1)]));
  assert.deepEqual(await l2.done, { code: 1, signal: null });
  assert.equal(s2.alive, false, 'a runner that found its binary changed is not used again');

  const pool = new ResidentRunners({ maxIdle: 2, idleMs: 60_000 });
  const [a, b, c] = [await open(), await open(), await open()];
  pool.give(a);
  pool.give(b);
  pool.give(c);
  assert.equal(pool.idleCount, 2);
  assert.equal(c.alive, false, 'the third idle session is closed');
  pool.give(s2);
  assert.equal(pool.idleCount, 2);
  const t = pool.take(conn, 'k');
  assert.ok(t === a || t === b);
  // A session wanted on the connection: the idle one left gives its slot back; the taken one (in a run) does not.
  const other = t === a ? b : a;
  const r3 = recorder();
  await t.begin('e\n')(r3.sink, () => undefined, new AbortController().signal);
  assert.equal(other.alive, true);
  h.want();
  assert.equal(other.alive, false, 'the idle session closed for a waiting command');
  assert.equal(t.alive, true, 'a session in a run stays');
  assert.equal(pool.idleCount, 0);
  assert.equal(pool.take({ alive: true } as unknown as SshConnection, 'k'), undefined, 'another connection\'s sessions are not handed out');
  pool.closeAll();
  assert.equal(pool.idleCount, 0);
});

test('runner mode: a verified binary on a Linux host runs a connection\'s first run on its own channel, every later one through one serve channel behind the check', async () => {
  let pid = 200;
  const serveChannel = (ch: Channel) => {
    if (/ run --key /.test(ch.command)) {
      // A connection's first run: its own channel.
      void (async () => {
        await new Promise((r) => setImmediate(r));
        await ch.out(Buffer.concat([hello(++pid), logf(1, 'run 1\n'), exitf(2, 0)]));
        ch.end();
      })();
      return;
    }
    if (!/ serve /.test(ch.command)) return;
    void (async () => {
      await new Promise((r) => setImmediate(r));
      await ch.out(ready());
      // Each envelope gets a run: hello (a new pid), its output, exit, ready.
      let seen = 0;
      for (;;) {
        const envelopes = ch.stdin.filter((l) => l.startsWith('{"v"'));
        if (ch.closed) return;
        if (envelopes.length > seen) {
          seen++;
          await ch.out(Buffer.concat([hello(++pid), logf(1, `run ${seen + 1}\n`), exitf(2, 0), ready(0)]));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
  };
  const { conn, channels } = fakeConn(serveChannel);
  const deployed = {
    path: '/home/u/.cache/cronium/0.1.0-abcdefabcdef/cronium-runner',
    stateDir: '/home/u/.cache/cronium/state',
    hostId: 'h1-abc',
    version: '0.1.0',
    target: 'linux-amd64',
    sha256: 'a'.repeat(64),
    shaTool: 'sha256sum',
    statRecord: ['1:2:3:4.000000001:5.000000001:1000:755', '1:3:4096:4.000000001:5.000000001:1000:700', '1:4:4096:4.000000001:5.000000001:1000:700'].join('\n'),
    integrityFailure: null,
  } as unknown as DeployResult;
  const deployer = { deploy: async () => deployed, known: async () => deployed } as unknown as RunnerDeployer;
  const runner = new RunnerExecutor({ deployer, keys: new InstallationKeys(dir), check: () => 'stat' });
  const logs: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const o = (await runner.execute(
      conn,
      { runId: i, jobId: i, host: 'h', interpreter: 'sh', script: 'true\n', mode: 'runner', timeoutMs: 5000 },
      { stdout: (b) => void logs.push(b.toString()), stderr: () => undefined, system: () => undefined },
      new AbortController().signal,
      { t0: performance.now(), connectMs: 0, setupDeadline: performance.now() + 5000 },
    )) as ExecOutcome;
    assert.equal(o.status, 'succeeded', `${o.errorCode} ${o.errorMessage}`);
  }
  assert.deepEqual(logs, ['run 1\n', 'run 2\n', 'run 3\n']);
  assert.equal(channels.length, 2, 'the first run on its own channel, the next two on one serve channel');
  assert.match(channels[0]!.command, / run --key /);
  assert.match(channels[1]!.command, /stat -c/, 'opened behind the stat check');
  assert.match(channels[1]!.command, / serve --key /);
  assert.equal(channels[1]!.stdin.filter((l) => l.startsWith('{"v"')).length, 2);

  // Strict mode (hash before every run) keeps the per-run exec.
  const strict = new RunnerExecutor({ deployer, keys: new InstallationKeys(dir), check: () => 'hash' });
  const per = fakeConn((ch) => void setImmediate(() => void ch.out(Buffer.concat([hello(9), exitf(1, 0)])).then(() => ch.end())));
  const o = (await strict.execute(
    per.conn,
    { runId: 9, jobId: 9, host: 'h', interpreter: 'sh', script: 'true\n', mode: 'runner', timeoutMs: 5000 },
    { stdout: () => undefined, stderr: () => undefined, system: () => undefined },
    new AbortController().signal,
    { t0: performance.now(), connectMs: 0, setupDeadline: performance.now() + 5000 },
  )) as ExecOutcome;
  assert.equal(o.status, 'succeeded', `${o.errorCode} ${o.errorMessage}`);
  assert.match(per.channels[0]!.command, / run --key /);
  assert.doesNotMatch(per.channels[0]!.command, / serve /);
  runner.closeIdle();
  assert.equal(channels[1]!.closed, true, 'closeIdle ends the idle serve channel');
});
