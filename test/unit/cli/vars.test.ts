// `cronium vars` and `cronium scripts` (and --script-name on run and schedules add), through the
// real bin over the built dist/: output, --json, secrets shown as (secret), the warning for a
// secret on the command line, --value-stdin, error codes and exit codes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cronium } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

test('vars set, get, list and rm: scopes, --json, secrets never printed, --value-stdin', async (t) => {
  const dir = tempDir(t);
  const c = (args: string[], input?: string) => cronium(['--data-dir', dir, ...args], input !== undefined ? { input } : {});
  assert.equal((await c(['hosts', 'add', 'web1', '--address', '127.0.0.1'])).code, 0);

  const set = await c(['vars', 'set', 'REGION', 'eu']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stderr, /set global variable REGION/);
  assert.equal(set.stdout, '');
  assert.equal((await c(['vars', 'set', 'REGION', 'us', '--host', 'web1'])).code, 0);
  assert.equal((await c(['vars', 'get', 'REGION'])).stdout, 'eu\n');
  assert.equal((await c(['vars', 'get', 'REGION', '--host', 'web1'])).stdout, 'us\n');

  const secret = `cl1-secret-${process.pid}-${Date.now()}`;
  const piped = await c(['vars', 'set', 'TOKEN', '--secret', '--value-stdin'], `${secret}\n`);
  assert.equal(piped.code, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /warning/, 'no warning when the value came on stdin');
  const argv = await c(['vars', 'set', 'TOKEN2', 'on-the-command-line', '--secret']);
  assert.equal(argv.code, 0, argv.stderr);
  assert.match(argv.stderr, /^warning: .*--value-stdin/m);
  const get = await c(['vars', 'get', 'TOKEN']);
  assert.equal(get.stdout, '(secret)\n');
  const getJson = JSON.parse((await c(['vars', 'get', 'TOKEN', '--json'])).stdout);
  assert.deepEqual({ ...getJson, updatedAt: 0 }, { key: 'TOKEN', scope: 'global', host: null, secret: true, value: null, updatedAt: 0 });

  const list = await c(['vars', 'list']);
  assert.match(list.stdout, /^KEY\s+SCOPE\s+HOST\s+VALUE\n/);
  assert.match(list.stdout, /^REGION\s+global\s+-\s+eu$/m);
  assert.match(list.stdout, /^REGION\s+host\s+web1\s+us$/m);
  assert.match(list.stdout, /^TOKEN\s+global\s+-\s+\(secret\)$/m);
  const allText = [list.stdout, (await c(['vars', 'list', '--json'])).stdout, (await c(['vars', 'list', '--host', 'web1', '--json'])).stdout].join('');
  assert.ok(!allText.includes(secret) && !allText.includes('on-the-command-line'), 'a secret was printed');
  const onWeb1 = JSON.parse((await c(['vars', 'list', '--host', 'web1', '--json'])).stdout) as { key: string; value: string | null }[];
  assert.deepEqual(onWeb1.map((v) => `${v.key}=${v.value}`), ['REGION=us', 'TOKEN=null', 'TOKEN2=null']);
  const files = readdirSync(dir).filter((f) => f.startsWith('cronium.db'));
  assert.ok(!Buffer.concat(files.map((f) => readFileSync(join(dir, f)))).includes(secret), 'the secret is on disk in plaintext');

  const rm = await c(['vars', 'rm', 'REGION', '--host', 'web1', '--json']);
  assert.deepEqual(JSON.parse(rm.stdout), { removed: true });
  assert.equal((await c(['vars', 'get', 'REGION', '--host', 'web1'])).stdout, 'eu\n');
  const missing = await c(['vars', 'get', 'NOPE']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error\[NOT_FOUND\]: no variable "NOPE"/);
  const noValue = await c(['vars', 'set', 'K']);
  assert.equal(noValue.code, 2);
  assert.match(noValue.stderr, /error\[INVALID_INPUT\]: invalid value/);
  const both = await c(['vars', 'set', 'K', 'v', '--value-stdin'], 'w');
  assert.equal(both.code, 2);
  const badKey = await c(['vars', 'set', '9lives', 'v']);
  assert.equal(badKey.code, 2);
  assert.match(badKey.stderr, /invalid key/);
});

test('scripts add, save, list, show, rm with follow-ups; loops refused; run and schedules take --script-name', async (t) => {
  const dir = tempDir(t);
  const c = (args: string[]) => cronium(['--data-dir', dir, ...args]);
  const sh = join(dir, 'backup.sh');
  const py = join(dir, 'notify.py');
  writeFileSync(sh, 'echo backup\n');
  writeFileSync(py, 'print("notify")\n');
  assert.equal((await c(['hosts', 'add', 'web1', '--address', '127.0.0.1'])).code, 0);

  const addNotify = await c(['scripts', 'add', 'notify', '--file', py]);
  assert.equal(addNotify.code, 0, addNotify.stderr);
  assert.match(addNotify.stderr, /saved script notify \(python3\)/, 'the interpreter follows the extension');
  const again = await c(['scripts', 'add', 'notify', '--file', py]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error\[ALREADY_EXISTS\]/);
  const save = await c(['scripts', 'save', 'backup', '--file', sh, '--followup', 'success:notify', '--followup', 'failure:notify@web1', '--json']);
  assert.equal(save.code, 0, save.stderr);
  assert.deepEqual(JSON.parse(save.stdout).followups, [{ on: 'success', script: 'notify' }, { on: 'failure', script: 'notify', hosts: ['web1'] }]);
  const list = await c(['scripts', 'list']);
  assert.match(list.stdout, /^backup\s+bash\s+success:notify failure:notify@web1\s+\d{4}-/m);
  assert.match(list.stdout, /^notify\s+python3\s+-\s+/m);
  const show = await c(['scripts', 'show', 'backup']);
  assert.match(show.stdout, /^backup \(bash, 12 bytes/);
  assert.match(show.stdout, /^follow-ups: success:notify failure:notify@web1$/m);
  assert.match(show.stdout, /^echo backup$/m);

  const loop = await c(['scripts', 'save', 'notify', '--file', py, '--followup', 'always:backup']);
  assert.equal(loop.code, 1);
  assert.match(loop.stderr, /^error\[FOLLOWUP_LOOP\]: .*notify -> backup -> notify/);
  assert.match(loop.stderr, /hint: /);
  const badSpec = await c(['scripts', 'save', 'x', '--file', sh, '--followup', 'sometimes:notify']);
  assert.equal(badSpec.code, 2);
  assert.match(badSpec.stderr, /invalid followup/);
  const unknown = await c(['scripts', 'save', 'x', '--file', sh, '--followup', 'success:ghost#web']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error\[NOT_FOUND\]: .*ghost/);

  const runUnknown = await c(['run', '--host', 'web1', '--script-name', 'ghost', '--json']);
  assert.equal(runUnknown.code, 1);
  assert.equal(JSON.parse(runUnknown.stdout).error.code, 'NOT_FOUND');
  const runBoth = await c(['run', '--host', 'web1', '--script-name', 'backup', '--command', 'true']);
  assert.equal(runBoth.code, 2);
  assert.match(runBoth.stderr, /exactly one of a script, a command or a saved script name/);

  const sched = await c(['schedules', 'add', 'nightly', '--cron', '0 3 * * *', '--host', 'web1', '--script-name', 'backup', '--json']);
  assert.equal(sched.code, 0, sched.stderr);
  assert.equal(JSON.parse(sched.stdout).scriptName, 'backup');
  const inUse = await c(['scripts', 'rm', 'notify']);
  assert.equal(inUse.code, 1);
  assert.match(inUse.stderr, /^error\[CONFLICT\]: script "notify" is used by the follow-ups of backup/);
  const inUse2 = await c(['scripts', 'rm', 'backup']);
  assert.match(inUse2.stderr, /schedule nightly/);
  assert.equal((await c(['schedules', 'rm', 'nightly'])).code, 0);
  assert.equal((await c(['scripts', 'rm', 'backup'])).code, 0);
  assert.equal((await c(['scripts', 'rm', 'notify'])).code, 0);
  assert.deepEqual(JSON.parse((await c(['scripts', 'list', '--json'])).stdout), []);
});
