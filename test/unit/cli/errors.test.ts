/**
 * Every error once, with its hint: each code of ERROR_CODES has a default hint; through the CLI's
 * printing paths (a failed command, and a failed run of `cronium run`) each prints exactly once,
 * with exactly one hint, in the human output and once in `--json`; and the failures that are cheap
 * to cause for real are caused through the real `cronium` (dist/) and checked the same way.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { reportError } from '../../../electron/cli/output';
import { printRunError, runJson } from '../../../electron/cli/commands/run';
import { CroniumError, ERROR_CODES, ERROR_HINTS, hintFor, type ErrorCode } from '../../../electron/shared/errors';
import { cronium, ROOT } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

/** How many times `needle` occurs in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/** Runs fn with stdout and stderr captured (synchronously restored). */
function capture(fn: () => void): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  const write = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((chunk: string | Uint8Array) => ((out.stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((out.stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stdout.write = write.stdout;
    process.stderr.write = write.stderr;
  }
  return out;
}

/** Checks one printed failure: the human form once (code, message, hint), and with --json one document carrying the hint. */
function assertOnce(r: { stdout: string; stderr: string }, code: string, hint: string, json: boolean, label: string): void {
  assert.equal(count(r.stderr, `error[${code}]`), 1, `${label}: error[${code}] once on stderr:\n${r.stderr}`);
  assert.equal(count(r.stderr, 'hint: '), 1, `${label}: one hint:\n${r.stderr}`);
  assert.ok(r.stderr.includes(`  hint: ${hint}\n`), `${label}: the hint under the message:\n${r.stderr}`);
  if (!json) return;
  const docs = r.stdout.trim().split('\n').filter(Boolean);
  const parsed = JSON.parse(r.stdout) as { ok?: boolean; error: { code: string; hint?: string } };
  assert.equal(parsed.error.code, code, label);
  assert.equal(parsed.error.hint, hint, label);
  assert.equal(count(r.stdout, `"code": "${code}"`) + count(r.stdout, `"code":"${code}"`), 1, `${label}: once in --json:\n${r.stdout} (${docs.length} lines)`);
}

test('every error code has a hint, and a thrown error\'s own hint wins over it', () => {
  for (const code of ERROR_CODES) {
    assert.ok(ERROR_HINTS[code] && ERROR_HINTS[code].length > 20, `${code} has a default hint`);
    assert.equal(new CroniumError(code, 'x').hint, ERROR_HINTS[code]);
    assert.equal(new CroniumError(code, 'x').toJSON().hint, ERROR_HINTS[code]);
    assert.equal(new CroniumError(code, 'x', 'do this').hint, 'do this');
  }
  assert.deepEqual(Object.keys(ERROR_HINTS).sort(), [...ERROR_CODES].sort(), 'no hint without a code');
  assert.equal(hintFor('NOT_A_CODE'), undefined);
  assert.equal(hintFor('RUNNER_PROTOCOL', { host: 'web1' }), 'redeploy the runner to the host: cronium runner deploy web1');
});

test('every code prints exactly once, with its hint, through the CLI\'s error path (human and --json)', () => {
  for (const code of ERROR_CODES) {
    const error = new CroniumError(code, `something about ${code.toLowerCase()} went wrong`);
    assertOnce(capture(() => reportError(error, false)), code, ERROR_HINTS[code], false, `${code} human`);
    const json = capture(() => reportError(error, true));
    assertOnce(json, code, ERROR_HINTS[code], true, `${code} --json`);
    const own = capture(() => reportError(new CroniumError(code, 'x', `fix ${code} like this`), true));
    assertOnce(own, code, `fix ${code} like this`, true, `${code} own hint`);
  }
  const bug = capture(() => reportError(new TypeError('x is undefined'), true));
  assertOnce(bug, 'INTERNAL', 'this is a bug in Cronium; please report it with the command you ran', true, 'a bug');
  assert.doesNotMatch(bug.stderr, /\n\s+at /, 'no stack trace');
});

test('every code prints exactly once, with its hint, through `cronium run`\'s per-run path (human and --json)', () => {
  for (const code of ERROR_CODES as readonly ErrorCode[]) {
    const hint = hintFor(code, { host: 'web1' })!;
    const run = { host: 'web1', errorCode: code, errorMessage: `the run failed with ${code}`, errorHint: hint };
    for (const several of [false, true]) {
      const r = capture(() => printRunError(run, several));
      assertOnce(r, code, hint, false, `${code} run${several ? ' (several hosts)' : ''}`);
      assert.equal(r.stderr.startsWith(`error[${code}]: ${several ? 'web1: ' : ''}the run failed`), true, r.stderr);
    }
    const line = runJson({
      id: 1, jobId: 1, host: 'web1', status: 'failed', attempt: 1, exitCode: null, signal: null, mode: null, modeReason: null, runnerVersion: null,
      errorCode: code, errorMessage: 'm', errorHint: hint, output: null, condition: null, helperTransport: null, transport: null,
      timings: { connect: null, deploy: null, start: null, exec: null, total: 1 }, queuedAt: 0, startedAt: null, finishedAt: null,
    });
    assert.deepEqual(line.error, { code, message: 'm', hint });
  }
});

/** A real failure of the real CLI: its exit code, and the error once with its hint, in both forms. */
async function realFailure(args: string[], code: ErrorCode, exit: number, hint: RegExp | string, opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<void> {
  const label = args.join(' ');
  const human = await cronium(args, opts);
  assert.equal(human.code, exit, `${label}: ${human.stderr}`);
  assert.equal(count(human.stderr, `error[${code}]`), 1, `${label}: once:\n${human.stderr}`);
  assert.equal(count(human.stderr, '  hint: '), 1, `${label}: one hint:\n${human.stderr}`);
  const shown = /\n {2}hint: (.*)\n/.exec(human.stderr)?.[1] ?? '';
  if (typeof hint === 'string') assert.equal(shown, hint, label);
  else assert.match(shown, hint, label);
  assert.doesNotMatch(human.stderr, /\n\s+at /, `${label}: no stack trace`);
  const json = await cronium(['--json', ...args], opts);
  assert.equal(json.code, exit, `${label} --json: ${json.stderr}`);
  const docs = json.stdout.trim().split(/\n(?=\{)/);
  const errors = docs.map((d) => JSON.parse(d) as { error: { code: string; hint?: string } | null }).filter((d) => d.error);
  assert.equal(errors.length, 1, `${label} --json: one error:\n${json.stdout}`);
  assert.equal(errors[0]!.error!.code, code);
  assert.equal(errors[0]!.error!.hint, shown, `${label} --json: the same hint`);
}

test('real failures of the real CLI print once with their hint: input, store, data dir, keys, runner, follow-ups, connection', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const d = (...a: string[]) => ['--data-dir', data, ...a];
  await realFailure(d('hosts', 'add', 'web1', '--address', '127.0.0.1', '--port', 'ssh'), 'INVALID_INPUT', 2, 'run `cronium hosts add --help` for usage');
  assert.equal((await cronium(d('hosts', 'add', 'web1', '--address', '127.0.0.1', '--port', '1'))).code, 0);
  await realFailure(d('hosts', 'add', 'web1', '--address', '127.0.0.1'), 'ALREADY_EXISTS', 1, /./);
  await realFailure(d('hosts', 'show', 'nobody'), 'NOT_FOUND', 1, /cronium hosts list/);
  // A closed port on loopback: the run's own error, once, with the hint naming the host.
  await realFailure(d('run', '--host', 'web1', '--mode', 'direct', '--command', 'true'), 'CONNECT_FAILED', 255, /127\.0\.0\.1/);
  // Scripts whose follow-ups would loop.
  const script = join(dir, 'a.sh');
  writeFileSync(script, 'true\n');
  assert.equal((await cronium(d('scripts', 'save', 'a', '--file', script))).code, 0);
  await realFailure(d('scripts', 'save', 'a', '--file', script, '--followup', 'success:a'), 'FOLLOWUP_LOOP', 1, /drop one follow-up/);
  // The data dir and the store.
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  await realFailure(['--data-dir', file, 'hosts', 'list'], 'DATA_DIR_UNUSABLE', 1, /--data-dir/);
  const corrupt = join(dir, 'corrupt');
  mkdirSync(corrupt);
  writeFileSync(join(corrupt, 'cronium.db'), Buffer.alloc(4096, 1));
  await realFailure(['--data-dir', corrupt, 'hosts', 'list'], 'DB_CORRUPT', 1, /backup/);
  const foreign = join(dir, 'foreign');
  mkdirSync(foreign);
  new Database(join(foreign, 'cronium.db')).exec('create table t (x)').close();
  await realFailure(['--data-dir', foreign, 'hosts', 'list'], 'DB_FOREIGN', 1, /--data-dir/);
  const newer = join(dir, 'newer');
  mkdirSync(newer);
  assert.equal((await cronium(['--data-dir', newer, 'hosts', 'list'])).code, 0);
  const db = new Database(join(newer, 'cronium.db'));
  db.pragma('user_version = 999');
  db.close();
  await realFailure(['--data-dir', newer, 'hosts', 'list'], 'DB_TOO_NEW', 1, /upgrade Cronium/);
  // A secret key others can read is refused when a secret is sealed.
  writeFileSync(join(data, 'secret.key'), Buffer.alloc(32, 7), { mode: 0o644 });
  chmodSync(join(data, 'secret.key'), 0o644);
  await realFailure(d('hosts', 'add', 'pw', '--address', '127.0.0.1', '--password-stdin'), 'SECRET_KEY_INSECURE', 1, /chmod 600/, { input: 'secret\n' });
  // The runner: nothing built, tampered, and no Go to build with.
  const empty = join(dir, 'no-runner');
  mkdirSync(empty);
  await realFailure(d('runner', 'verify', '--dir', empty), 'NOT_FOUND', 1, /^build it with: cronium runner build/);
  const tampered = join(dir, 'tampered');
  cpSync(join(ROOT, 'resources', 'runner'), tampered, { recursive: true });
  writeFileSync(join(tampered, 'linux-amd64', 'cronium-runner'), 'changed');
  await realFailure(d('runner', 'verify', '--dir', tampered), 'RUNNER_INTEGRITY_FAILED', 1, /cronium runner build/);
  await realFailure(d('runner', 'build', '--target', 'linux-amd64', '--out', join(dir, 'out')), 'RUNNER_BUILD_FAILED', 1, /install Go/, { env: { PATH: '/nonexistent' } });
});
