// Attack: shell injection from every field that reaches a remote command, against a real sshd
// host, in runner and direct mode. Each hostile value carries a command that would create a
// marker file on the host; the test passes only if no marker exists afterwards and the value
// reached the script unchanged (or was refused at the door with INVALID_INPUT).
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium } from '../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../helpers/workspace';

// Other suites use 201-232 and 242.
const SUBNET = 233;
let ws: Workspace | undefined;
const MARK = `/tmp/cronium-pwned-${process.pid}`;
const markers = () => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => `${MARK}-${i}`).filter((m) => existsSync(m));

/** Values that run `touch MARK-i` if any shell evaluates them. */
const HOSTILE = [
  `$(touch ${MARK}-0)`,
  `\`touch ${MARK}-1\``,
  `'; touch ${MARK}-2; '`,
  `"; touch ${MARK}-3; "`,
  `x\ntouch ${MARK}-4\n`,
  `$'\\x3b' ; touch ${MARK}-5`,
  `| touch ${MARK}-6`,
  `\\'$(touch ${MARK}-7)\\'`,
];

before(async () => {
  ws = await startWorkspaceWithHosts('shell-injection', { subnet: SUBNET, hosts: [{ name: 'target', profile: 'default' }] });
});
after(async () => {
  for (const m of [0, 1, 2, 3, 4, 5, 6, 7]) rmSync(`${MARK}-${m}`, { force: true });
  await ws?.stop();
});

for (const mode of ['runner', 'direct'] as const) {
  test(`${mode} mode: hostile env values, input and script text reach the script as data, never as commands`, async () => {
    const w = ws!;
    const env = HOSTILE.flatMap((v, i) => ['--env', `V${i}=${v}`]);
    const script = join(w.scratch, `print-${mode}.sh`);
    // The script prints each value NUL-separated; its own text contains the hostile strings too (as data in a heredoc).
    writeFileSync(script, `for i in 0 1 2 3 4 5 6 7; do eval "printf '%s\\\\0' \\"\\$V$i\\""; done\ncat <<'EOF_'\n${HOSTILE.join('\n')}\nEOF_\ncat\n`);
    const r = await cronium(['--data-dir', w.dataDir, 'run', '--host', 'target', '--mode', mode, '--interpreter', 'sh', '--script', script, '--input', JSON.stringify(HOSTILE), ...env], { env: { ...w.env, CRONIUM_USE_APP: 'never' } });
    assert.equal(r.code, 0, r.stderr);
    const values = r.stdout.split('\0').slice(0, HOSTILE.length);
    assert.deepEqual(values, HOSTILE, 'every env value arrived byte for byte');
    assert.ok(r.stdout.includes(HOSTILE[2]!), 'the script text arrived as written');
    assert.ok(r.stdout.includes(JSON.stringify(HOSTILE)), 'the input arrived as written');
    assert.deepEqual(markers(), [], 'no hostile value ran');
  });
}

test('hostile names (host, tag, env name, script name, interpreter, schedule) are refused at the door with INVALID_INPUT', async () => {
  const w = ws!;
  const base = ['--data-dir', w.dataDir];
  const env = { ...w.env, CRONIUM_USE_APP: 'never' };
  const cases: string[][] = [
    ['hosts', 'add', `h$(touch ${MARK}-0)`, '--address', '127.0.0.1'],
    ['hosts', 'add', 'okname', '--address', `127.0.0.1;touch ${MARK}-1`],
    ['hosts', 'add', 'okname2', '--address', '127.0.0.1', '--user', `u$(touch ${MARK}-2)`],
    ['hosts', 'add', 'okname3', '--address', '127.0.0.1', '--tag', `t;touch ${MARK}-3`],
    ['run', '--host', 'target', '--command', 'true', '--env', `A;touch ${MARK}-4=1`],
    ['run', '--host', 'target', '--command', 'true', '--interpreter', `sh -c 'touch ${MARK}-5'`],
    ['run', '--host', 'target', '--script-name', `x$(touch ${MARK}-6)`],
    ['schedules', 'add', `s;touch ${MARK}-7`, '--cron', '* * * * *', '--host', 'target', '--script-name', 'x'],
  ];
  for (const args of cases) {
    const r = await cronium([...base, ...args], { env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]/, args.join(' '));
  }
  assert.deepEqual(markers(), []);
});
