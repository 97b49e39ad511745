// The direct-mode prelude, run by the local POSIX sh exactly as a host runs it (`sh -s`, stdin
// kept open), and the stdout filter that takes its markers and the script's output out of the log.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StdoutFilter } from '../../../../electron/core/exec/output-filter';
import { buildPrelude, DIRECT_HELPERS_DIR, heredocDelimiter, shQuote, validateEnv } from '../../../../electron/core/exec/prelude';

/** A home of these tests' own: the prelude keeps its shared helpers under ~/.cache/cronium. */
const HOME = mkdtempSync(join(tmpdir(), 'cronium-prelude-home-'));
after(() => rmSync(HOME, { recursive: true, force: true }));

/** Runs a prelude with `sh -s` (or another shell), keeping stdin open until the shell exits (as the app does). */
function runPrelude(text: string, shell: string[] = ['sh'], home = HOME): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(shell[0]!, [...shell.slice(1), '-s'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOME: home } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.write(text);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const NASTY = [`it's`, `"double"`, '$HOME $(id) `id` \\n \\\\', 'line1\nline2', "'", "''", '', 'a\'b"c$d`e\\f', '!!', '*', '-n'];

test('shQuote: every value reaches sh unchanged', () => {
  for (const v of NASTY) {
    const out = execFileSync('sh', ['-c', `printf %s ${shQuote(v)}`]).toString();
    assert.equal(out, v, JSON.stringify(v));
  }
});

test('heredocDelimiter: never a line of the content', () => {
  const seq = ['aaaa', 'aaaa', 'bbbb'];
  const random = () => seq.shift()!;
  assert.equal(heredocDelimiter('x\nCRONIUM_EOF_aaaa\ny', random), 'CRONIUM_EOF_bbbb');
});

test('validateEnv: identifiers only, reserved names refused', () => {
  validateEnv({ A: '1', _b2: 'x' });
  for (const bad of ['1A', 'A-B', 'A B', '', 'PATH', 'CRONIUM_X', 'IFS']) {
    assert.throws(() => validateEnv({ [bad]: 'v' }), /INVALID|invalid/, bad);
  }
  assert.throws(() => validateEnv({ A: 'x\0y' }));
});

test('prelude: script, input and env arrive exactly, even when the script contains the delimiter', async () => {
  // The first delimiter drawn collides with a line of the script: the builder must draw again.
  const draws = ['nonce0001', 'dddd', 'dddd', 'eeee', 'ffff'];
  const random = () => draws.shift() ?? 'zzzz';
  const script = ['cat <<\'X\'', 'CRONIUM_EOF_dddd', 'X', 'printf "%s|" "$A" "$B" "$C"', 'echo', 'cat', 'echo "$CRONIUM_INPUT_FILE" | grep -q "[.]input$" && echo has-input-file'].join('\n');
  const p = buildPrelude({ interpreter: 'sh', script, input: '{"q":"it\'s $x"}', env: { A: NASTY[0]!, B: NASTY[2]!, C: NASTY[3]! }, random });
  assert.ok(!p.text.includes('<<CRONIUM_EOF_dddd\n'), 'the colliding delimiter was used');
  assert.ok(p.text.includes('<<CRONIUM_EOF_eeee\n'), 'the script\'s here-document uses the next draw');
  const r = await runPrelude(p.text);
  assert.equal(r.code, 0, r.stderr);
  const body = r.stdout.slice(r.stdout.indexOf('started'));
  assert.equal(body.slice(body.indexOf('\n') + 1), `CRONIUM_EOF_dddd\n${NASTY[0]}|${NASTY[2]}|${NASTY[3]}|\n{"q":"it's $x"}\nhas-input-file\n`);
});

test('prelude: exit status passes through, the run\'s files are removed, a missing interpreter is reported', async () => {
  const p = buildPrelude({ interpreter: 'sh', script: 'echo "$0"; ls -d "${0%.script}".*; exit 7' });
  const r = await runPrelude(p.text);
  assert.equal(r.code, 7);
  const path = /\n(\S+\/cronium\.[0-9a-f]{16}\.script)\n/.exec(r.stdout)?.[1];
  assert.ok(path, r.stdout);
  // While it ran: its script, input and scratch file (the helpers were the shared dir's, made by
  // an earlier test, or this run's own .h).
  const during = r.stdout.slice(r.stdout.indexOf(path) + path.length).trim().split('\n');
  assert.ok(['input', 'script', 'v'].every((f) => during.includes(path.replace(/script$/, f))), during.join(' '));
  for (const f of during) assert.throws(() => execFileSync('test', ['-e', f]), `${f} is left`);
  const missing = buildPrelude({ interpreter: 'sh', script: 'true' });
  const r2 = await runPrelude(missing.text.replace("for x in 'sh'", "for x in 'no-such-interpreter-x'"));
  assert.equal(r2.code, 127);
  assert.match(r2.stdout, new RegExp(`@@cronium:${missing.nonce}:error INTERPRETER_MISSING`));
});

test('prelude: files by the shell\'s builtin printf (dash, BusyBox ash) or, where printf is a program, by cat; the same bytes either way', async () => {
  // The script prints its own file and its input: both must be the bytes given, quotes, `$X`,
  // backslashes, backticks and all (a comment line and a line that is only `$X` included).
  const script = ['cat "$0" "$CRONIUM_INPUT_FILE"; exit 0', "# '$X' \\\\ `x` \"$(y)\" it's %s \\n", '$X', 'X', ''].join('\n');
  const input = '{"q":"$X it\'s \\\\"}';
  const forceCat = (text: string) => text.replace('*builtin*) B=1', '*no-such-shell*) B=1');
  const shells: [string, string[], (t: string) => string][] = [
    ['sh (dash)', ['sh'], (t) => t],
    ['BusyBox ash', ['busybox', 'sh'], (t) => t],
    ['sh, printf taken for a program', ['sh'], forceCat],
  ];
  const outputs: string[] = [];
  for (const [name, shell, edit] of shells) {
    const p = buildPrelude({ interpreter: 'sh', script, input });
    const text = edit(p.text);
    if (edit === forceCat) assert.notEqual(text, p.text, 'the printf check was rewritten');
    // Every file written once, through the branch chosen when the run starts.
    assert.equal(text.split('<<CRONIUM_EOF_').length - 1, 5, name);
    const r = await runPrelude(text, shell);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    const body = r.stdout.slice(r.stdout.indexOf('started'));
    outputs.push(body.slice(body.indexOf('\n') + 1));
  }
  assert.equal(outputs[0], `${script}${input}\n`);
  assert.deepEqual(outputs.slice(1), [outputs[0], outputs[0]]);
  // printf is not a builtin everywhere: the detection runs, and the fallback is there.
  const text = buildPrelude({ interpreter: 'sh', script: 'true' }).text;
  assert.match(text, /command -V printf >\|"\$d\.v"/);
  assert.match(text, /else cat >"\$d\.script" <<CRONIUM_EOF_\w+\n\$X\n/);
});

test('prelude: the helpers come from the account\'s shared dir once a run has made it whole; a dir not the account\'s own is never used', async () => {
  const home = mkdtempSync(join(tmpdir(), 'cronium-prelude-shared-'));
  try {
    const shared = join(home, '.cache', 'cronium', DIRECT_HELPERS_DIR);
    // The script reports where its helpers came from and uses each of them.
    const script = ['command -v cronium', 'cronium input', 'cronium output \'{"n":1}\'', 'python3 -c "import cronium; print(cronium.input())"'].join('\n');
    const run = async (h = home) => {
      const r = await runPrelude(buildPrelude({ interpreter: 'sh', script, input: '{"q":2}' }).text, ['sh'], h);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.slice(r.stdout.indexOf('started')).split('\n').slice(1);
    };
    // The first run writes its own helpers and publishes a copy: whole, the account's, 0700.
    const first = await run();
    assert.match(first[0]!, /\/cronium\.[0-9a-f]{16}\.h\/bin\/cronium$/);
    assert.deepEqual(first.slice(1, 4), ['{"q":2}', '@@cronium:output {"n":1}', "{'q': 2}"]);
    assert.equal(statSync(shared).mode & 0o777, 0o700);
    assert.equal(statSync(join(shared, 'bin', 'cronium')).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(shared).sort(), ['bin', 'node', 'python'], 'nothing staged is left inside');
    assert.deepEqual(readdirSync(join(home, '.cache', 'cronium')), [DIRECT_HELPERS_DIR], 'nothing staged is left beside');
    // Later runs use it, with the same results.
    const second = await run();
    assert.equal(second[0], join(shared, 'bin', 'cronium'));
    assert.deepEqual(second.slice(1, 4), first.slice(1, 4));
    // Runs at once: each finds a whole dir or makes its own; one dir, nothing staged left.
    rmSync(shared, { recursive: true });
    const many = await Promise.all(Array.from({ length: 6 }, () => run()));
    for (const out of many) assert.deepEqual(out.slice(1, 4), first.slice(1, 4));
    assert.deepEqual(readdirSync(shared).sort(), ['bin', 'node', 'python']);
    assert.deepEqual(readdirSync(join(home, '.cache', 'cronium')), [DIRECT_HELPERS_DIR]);
    // Another account's dir (as root here: chown) is never used nor touched; the run makes its own.
    chownSync(shared, 65534, 65534);
    const foreign = await run();
    assert.match(foreign[0]!, /\/cronium\.[0-9a-f]{16}\.h\/bin\/cronium$/);
    assert.equal(statSync(shared).uid, 65534);
    chownSync(shared, process.getuid!(), process.getgid!());
    // A file in it that is not the account's, or a command that cannot run: the same.
    chownSync(join(shared, 'node', 'cronium.js'), 65534, 65534);
    assert.match((await run())[0]!, /\.h\/bin\/cronium$/);
    chownSync(join(shared, 'node', 'cronium.js'), process.getuid!(), process.getgid!());
    chmodSync(join(shared, 'bin', 'cronium'), 0o600);
    assert.match((await run())[0]!, /\.h\/bin\/cronium$/);
    // No usable HOME: the run's own helpers.
    assert.match((await run('relative/home'))[0]!, /\.h\/bin\/cronium$/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('prelude: nothing secret on a command line; only `sh -s` would be', () => {
  const p = buildPrelude({ interpreter: 'bash', script: 'true', env: { TOKEN: 'hunter2' } });
  assert.match(p.text, /export TOKEN='hunter2'/);
  assert.ok(p.text.startsWith('{\n') && p.text.endsWith('}\n'), 'one brace group, parsed whole before it runs');
});

test('StdoutFilter: drops pre-start noise, takes markers and output lines split across chunks', () => {
  const markers: string[] = [];
  const outputs: unknown[] = [];
  const f = new StdoutFilter('n1', { onMarker: (m) => markers.push(m), onOutput: (v) => outputs.push(v) });
  const parts = ['Welcome to noisy host\n\n@@cronium:n1:sta', 'rted 42\nhello\n@@cro', 'nium:output {"a":', '1}\nworld', ' tail\n@@cronium:output not json\n', '@@cronium:output {"b":2}'];
  const log = parts.map((p) => f.push(Buffer.from(p)).toString()).join('') + f.end().toString();
  assert.deepEqual(markers, ['started 42']);
  assert.deepEqual(outputs, [{ a: 1 }, { b: 2 }]);
  assert.equal(log, 'hello\nworld tail\n@@cronium:output not json\n');
});

test('StdoutFilter: a line that only starts like a marker is passed on at once', () => {
  const f = new StdoutFilter('n', { onMarker: () => undefined, onOutput: () => undefined });
  f.push(Buffer.from('\n@@cronium:n:started 1\n'));
  assert.equal(f.push(Buffer.from('@@x\n')).toString(), '@@x\n');
  assert.equal(f.push(Buffer.from('abc')).toString(), 'abc');
  assert.equal(f.push(Buffer.from('@@cronium:output {}\n')).toString(), '@@cronium:output {}\n', 'not at a line start: plain output');
  assert.equal(f.push(Buffer.from('\n')).toString(), '\n');
  assert.equal(f.push(Buffer.from('@@cronium:output')).toString(), '', 'held: could still be an output line');
  assert.equal(f.push(Buffer.from('x\n')).toString(), '@@cronium:outputx\n');
});

test('prelude: a script that prints at once is never taken for login-shell noise', async () => {
  // The start marker must precede anything the script writes to the shared stdout, or the
  // filter drops the script's first output as pre-start noise (a race seen on fast hosts):
  // so the marker is printed before the script is even started.
  const text = buildPrelude({ interpreter: 'sh', script: 'true' }).text;
  const marker = text.indexOf('m started');
  const launch = text.indexOf('( x setsid )');
  assert.ok(marker > 0 && launch > marker, 'the start marker is printed before the script is launched');
  for (let i = 0; i < 20; i++) {
    const p = buildPrelude({ interpreter: 'sh', script: 'echo "first $$"' });
    const r = await runPrelude(p.text);
    assert.equal(r.code, 0, r.stderr);
    const markerAt = r.stdout.indexOf(`@@cronium:${p.nonce}:started`);
    const outputAt = r.stdout.indexOf('first ');
    assert.ok(markerAt >= 0 && outputAt > markerAt, `run ${i}: output before the start marker:\n${r.stdout}`);
  }
});

test('prelude: direct-mode helpers in sh, bash, python3 and node give input and output, and refuse the rest by name', async () => {
  const scripts: Record<'sh' | 'bash' | 'python3' | 'node', string> = {
    sh: 'cronium output "$(cronium input)"; cronium get-var X; echo "rc=$?"',
    bash: 'v=$(cronium input); cronium output "{\\"got\\":$v}"; cronium condition true 2>&1; echo "rc=$?"',
    python3: 'import cronium\ncronium.output({"got": cronium.input()})\ntry:\n    cronium.getVariable("X")\nexcept cronium.CroniumError as e:\n    print("raised", e.code)',
    node: 'const c = require("cronium");\nc.output({ got: c.input() });\ntry { c.setCondition(true); } catch (e) { console.log("raised", e.code); }',
  };
  for (const [interpreter, script] of Object.entries(scripts) as [keyof typeof scripts, string][]) {
    const p = buildPrelude({ interpreter, script, input: '{"n":1}' });
    const r = await runPrelude(p.text);
    assert.equal(r.code, 0, `${interpreter}: ${r.stderr}`);
    const out = r.stdout.split(`@@cronium:${p.nonce}:started\n`)[1] ?? '';
    assert.match(out, /^@@cronium:output \{/m, interpreter);
    const value = JSON.parse(/^@@cronium:output (.*)$/m.exec(out)![1]!) as unknown;
    assert.deepEqual(value, interpreter === 'sh' ? { n: 1 } : { got: { n: 1 } }, interpreter);
    if (interpreter === 'sh') {
      assert.match(r.stderr, /HELPER_UNAVAILABLE: cronium get-var is not available in direct mode/);
      assert.match(out, /rc=3/);
    }
    else if (interpreter === 'bash') assert.match(out, /HELPER_UNAVAILABLE: cronium condition[\s\S]*rc=3/);
    else assert.match(out, /raised HELPER_UNAVAILABLE/, interpreter);
  }
});

test('prelude: env named like its own variables reaches the script and changes nothing else (d=DIR never removes DIR)', async () => {
  const victim = mkdtempSync(join(tmpdir(), 'victim-'));
  writeFileSync(join(victim, 'keep'), 'x');
  try {
    // Every one-letter name, and the others the prelude's shell uses.
    const names = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'rc', '_l', 'TMPDIR', 'PYTHONPATH', 'NODE_PATH'];
    const env = Object.fromEntries(names.map((n) => [n, n === 'TMPDIR' ? victim : victim]));
    const p = buildPrelude({ interpreter: 'sh', script: 'echo "d=$d N=$N P=$P"; cronium output \'{"ok":1}\'; exit 3', env });
    const r = await runPrelude(p.text);
    assert.equal(r.code, 3, `the script's own status comes back: ${r.stderr}`);
    assert.ok(r.stdout.includes(`@@cronium:${p.nonce}:started`), 'the start marker uses the prelude\'s own nonce');
    assert.ok(r.stdout.includes(`d=${victim} N=${victim} P=${victim}`), r.stdout);
    assert.ok(r.stdout.includes('@@cronium:output {"ok":1}'), 'the helpers are still on PATH');
    assert.ok(existsSync(join(victim, 'keep')), 'the directory named by d survived the cleanup');
  } finally {
    rmSync(victim, { recursive: true, force: true });
  }
});
