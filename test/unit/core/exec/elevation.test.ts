// The elevation pieces of the app: the wrapper is the runner's (one program, two copies), the gate
// keeps sudo's words out of the log, refusals read as what happened and what to do.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { describeElevationFailure, ELEVATE_WRAPPER, ElevationGate, elevationMarkers } from '../../../../electron/core/exec/elevation';
import { buildPrelude } from '../../../../electron/core/exec/prelude';

test("the app's wrapper is the runner's, byte for byte", () => {
  const go = readFileSync(new URL('../../../../runner/internal/job/elevate.go', import.meta.url), 'utf8');
  const m = /const ElevateWrapper = `([\s\S]*?)`\n/.exec(go);
  assert.ok(m, 'ElevateWrapper found in elevate.go');
  assert.equal(ELEVATE_WRAPPER, m[1]);
});

test('the gate holds stderr until the marker, then passes everything on; the detail drops prompts and masks the password', () => {
  const { prompt, marker } = elevationMarkers();
  const gate = new ElevationGate(marker, prompt, 'hunter2 x');
  assert.equal(gate.push(Buffer.from(`We trust you have received the usual lecture\n${prompt}`)).length, 0);
  assert.equal(gate.push(Buffer.from(`Sorry, try again (hunter2 x)\n${prompt}`)).length, 0);
  assert.equal(gate.started, false);
  assert.equal(gate.detail(), 'We trust you have received the usual lecture\nSorry, try again (***)');
  // The marker split across chunks.
  assert.equal(gate.push(Buffer.from(marker.slice(0, 10))).length, 0);
  assert.equal(gate.push(Buffer.from(`${marker.slice(10)}\nscript says`)).toString(), 'script says');
  assert.equal(gate.started, true);
  assert.equal(gate.push(Buffer.from(' more')).toString(), ' more');
});

test('refusals are classified by what sudo said', () => {
  const cases: [string, RegExp][] = [
    ['sudo: sorry, you must have a tty to run sudo', /requiretty/],
    ['Sorry, try again.\nsudo: 1 incorrect password attempt', /refused the stored password/],
    ['sudo: a password is required', /asks for a password and none is stored/],
    ['crf is not in the sudoers file.', /may not become root/],
    ['Sorry, user crf is not allowed to execute \'/bin/sh\' as root on h.', /may not become root/],
    ['sudo: not installed on this host (not found in PATH)', /is not installed/],
    ['something else entirely', /did not start the script: something else entirely/],
  ];
  for (const [detail, re] of cases) assert.match(describeElevationFailure('sudo', 'h', detail).message, re, detail);
  assert.match(describeElevationFailure('doas', 'h', 'doas: Operation not permitted').hint, /doas\.conf/);
});

test('the elevated prelude keeps the password off every command line and the env names away from the wrapper', () => {
  const random = (() => {
    let i = 0;
    return (n: number) => String(++i).padStart(n * 2, '0');
  })();
  const { text } = buildPrelude({ interpreter: 'bash', script: 'id -u', env: { G: '1', I: '/etc/shadow' }, elevation: { method: 'sudo', password: "it's secret", prompt: '[p] ', marker: '@@m' }, random });
  // The password is assigned once, from the prelude (stdin of sh -s), and printed by the builtin printf.
  assert.equal(text.split("it'\\''s secret").length - 1, 1);
  assert.match(text, /q \| \( y setsid \)/);
  assert.match(text, /sudo -S -p '\[p\] ' -- \/bin\/sh -c /);
  // The user's G and I go to the env file after Cronium's own lines (the wrapper sources it in the
  // script's subshell only).
  const env = text.slice(text.indexOf('cat >"$d.env"'));
  assert.ok(env.indexOf("export G='1'") > env.indexOf('unset D'));
  assert.ok(env.indexOf("export I='/etc/shadow'") > env.indexOf('CRONIUM_INPUT_FILE="$I"'));
  const nopass = buildPrelude({ interpreter: 'sh', script: 'true', elevation: { method: 'sudo', prompt: '[p] ', marker: '@@m' } }).text;
  assert.match(nopass, /sudo -n -- /);
  assert.doesNotMatch(nopass, /\bQ=/);
  assert.match(buildPrelude({ interpreter: 'sh', script: 'true', elevation: { method: 'doas', prompt: '[p] ', marker: '@@m' } }).text, /doas -n -- /);
});

test('su: the wrapper as a file of the run, the command quoted for root\'s shell, the password first on su\'s stdin', () => {
  const { text } = buildPrelude({ interpreter: 'sh', script: 'id -u', elevation: { method: 'su', password: 'r00t', prompt: '[p] ', marker: '@@m' } });
  assert.match(text, /cat >"\$d\.wrap" <</);
  assert.match(text, /su -c "exec \/bin\/sh '\$d\.wrap' '\$d\.input' '@@m' \d+ '\$d\.env' '\$I' '\$d\.script'" root/);
  assert.match(text, /case "\$d\$I" in \*"'"\*\)/, 'a quote in a path is refused before su');
  assert.match(text, /q \| \( y setsid \)/);
  assert.match(describeElevationFailure('su', 'h', 'Password: su: Authentication failure').message, /su on h refused the stored root password/);
  assert.match(describeElevationFailure('su', 'h', 'su: must be run from a terminal').hint, /use sudo/);
});

test('the password reaches sudo\'s stdin whole, by the builtin printf or by cat where printf is a program', () => {
  const password = `it's $HOME \`id\` \\n "x"`;
  const { text } = buildPrelude({ interpreter: 'sh', script: 'true', elevation: { method: 'sudo', password, prompt: '[p] ', marker: '@@m' } });
  const lines = text.split('\n');
  const q = lines.findIndex((l) => l.startsWith('q() {'));
  const def = lines.slice(q, q + 4).join('\n');
  assert.match(def, /^q\(\) \{ if \[ -n "\$B" \]; then printf '%s\\n' "\$Q"; else cat <<CRONIUM_EOF_\w+\n\$Q\nCRONIUM_EOF_\w+\nfi; \}$/);
  const assign = lines.find((l) => l.startsWith('Q='))!;
  for (const b of ['1', '']) {
    const out = execFileSync('sh', ['-s'], { input: `B=${b}\n${assign}\n${def}\nq\n` }).toString();
    assert.equal(out, `${password}\n`, `B=${b}`);
  }
});
