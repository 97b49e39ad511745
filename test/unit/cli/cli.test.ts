/** The real `cronium` command, run as a child process over the built dist/. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../../electron/cli/main';
import { CliContext } from '../../../electron/cli/context';
import { cronium, ROOT } from '../../helpers/cli';
import { tempDir } from '../../helpers/temp';

/** Every command path of the CLI, e.g. ['hosts', 'add']. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

const CONTRACT = [
  'hosts add', 'hosts import', 'hosts list', 'hosts show', 'hosts rm', 'hosts trust', 'run', 'diagnose',
  'schedules add', 'schedules list', 'schedules rm', 'schedules pause', 'schedules resume',
  'jobs list', 'jobs show', 'jobs logs', 'jobs cancel',
  'runner list', 'runner build', 'runner verify', 'runner deploy', 'runner clean',
  'vars set', 'vars get', 'vars list', 'vars rm', 'scripts add', 'scripts save', 'scripts list', 'scripts show', 'scripts rm', 'serve',
];

test('every command of the CLI contract exists and has --help', async () => {
  const paths = commandPaths(buildProgram(new CliContext())).map((p) => p.join(' '));
  for (const c of CONTRACT) assert.ok(paths.includes(c), `missing command: ${c}`);
  const results = await Promise.all(paths.map((p) => cronium([...p.split(' '), '--help'])));
  results.forEach((r, i) => {
    assert.equal(r.code, 0, `${paths[i]} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: cronium ${paths[i]}`, 'm'), paths[i]);
  });
  const root = await cronium(['--help']);
  assert.equal(root.code, 0);
  assert.match(root.stdout, /--data-dir/);
  assert.match(root.stdout, /--json/);
});

test('hosts add, list, show and rm work and persist in the data dir', async (t) => {
  const dir = tempDir(t);
  const add = await cronium(['--data-dir', dir, 'hosts', 'add', 'web1', '--address', '127.0.0.1', '--user', 'deploy', '--tag', 'prod', '--tag', 'web', '--group', 'eu/web']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stderr, /added host web1/);
  assert.equal(add.stdout, '', 'messages go to stderr');
  const list = await cronium(['--data-dir', dir, 'hosts', 'list', '--json']);
  assert.equal(list.code, 0);
  const hosts = JSON.parse(list.stdout);
  assert.equal(hosts.length, 1);
  assert.deepEqual({ ...hosts[0], id: 0, createdAt: 0, updatedAt: 0 }, {
    id: 0, name: 'web1', address: '127.0.0.1', port: 22, user: 'deploy', identityFile: null, jump: null, proxyCommand: null, sftpUnavailable: null, transport: 'auto', opensshReason: null, sshAlias: null, sshOptions: null,
    tags: ['prod', 'web'], group: 'eu/web', hasPassword: false, hasPassphrase: false, useAgent: true, elevation: null, hasElevationPassword: false, createdAt: 0, updatedAt: 0,
    reachability: 'unknown', reachabilityAt: null, os: null, arch: null, runnerVersion: null, lastRunAt: null, lastRunStatus: null, lastRunJobId: null,
  });
  const table = await cronium(['hosts', 'list'], { env: { CRONIUM_HOME: dir } });
  assert.match(table.stdout, /^NAME\s+ADDRESS\s+PORT\s+USER\s+JUMP\s+GROUP\s+TAGS\nweb1\s+127\.0\.0\.1\s+22\s+deploy\s+-\s+eu\/web\s+prod,web\n$/);
  assert.equal(JSON.parse((await cronium(['--data-dir', dir, 'hosts', 'list', '--group', 'eu/web', '--json'])).stdout).length, 1);
  assert.equal(JSON.parse((await cronium(['--data-dir', dir, 'hosts', 'list', '--group', 'us', '--json'])).stdout).length, 0);
  const show = await cronium(['--data-dir', dir, 'hosts', 'show', 'web1', '--json']);
  assert.equal(JSON.parse(show.stdout).name, 'web1');
  const rm = await cronium(['--data-dir', dir, 'hosts', 'rm', 'web1', '--json']);
  assert.deepEqual(JSON.parse(rm.stdout), { removed: true, name: 'web1' });
  assert.deepEqual(JSON.parse((await cronium(['--data-dir', dir, 'hosts', 'list', '--json'])).stdout), []);
});

test('--password-stdin reads the secret from stdin and never echoes it', async (t) => {
  const dir = tempDir(t);
  const add = await cronium(['--data-dir', dir, 'hosts', 'add', 'db1', '--address', 'db1.internal', '--password-stdin', '--json'], { input: 's3cr3t-pw\n' });
  assert.equal(add.code, 0, add.stderr);
  assert.equal(JSON.parse(add.stdout).hasPassword, true);
  assert.ok(!(add.stdout + add.stderr).includes('s3cr3t-pw'));
});

test('validation errors name the bad flag, with exit code 2 and a stable code', async (t) => {
  const dir = tempDir(t);
  const key = join(dir, 'key');
  writeFileSync(key, 'k');
  const cases: [string[], RegExp][] = [
    [['hosts', 'add', 'web1', '--address', '127.0.0.1', '--port', '99999'], /invalid --port: must be 1-65535/],
    [['hosts', 'add', 'web1', '--address', '127.0.0.1', '--port', 'ssh'], /invalid --port: must be a whole number/],
    [['hosts', 'add', 'web1', '--address', 'bad address'], /invalid --address/],
    [['hosts', 'add', 'bad/name', '--address', 'a'], /invalid NAME/],
    [['hosts', 'add', 'web1', '--address', 'a', '--user', 'bad user'], /invalid --user/],
    [['hosts', 'add', 'web1', '--address', 'a', '--tag', 'bad tag'], /invalid --tag/],
    [['hosts', 'add', 'web1', '--address', 'a', '--identity', join(dir, 'missing')], /invalid --identity/],
    [['hosts', 'add', 'web1', '--address', 'a', '--jump', 'nobody'], /invalid --jump/],
    [['hosts', 'add', 'web1', '--address', 'a', '--group', '/bad'], /invalid --group/],
    [['hosts', 'add', 'web1'], /--address/],
    [['hosts', 'list', '--bogus'], /unknown option '--bogus'/],
    [['--data-dir', '', 'hosts', 'list'], /--data-dir/],
  ];
  for (const [args, message] of cases) {
    const r = await cronium(['--data-dir', dir, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]: /, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.match(r.stderr, /hint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  const json = await cronium(['--data-dir', dir, '--json', 'hosts', 'add', 'web1', '--address', 'a', '--port', '0']);
  assert.equal(JSON.parse(json.stdout).error.code, 'INVALID_INPUT');
  assert.deepEqual(JSON.parse((await cronium(['--data-dir', dir, 'hosts', 'list', '--json'])).stdout), [], 'nothing stored');
  const ok = await cronium(['--data-dir', dir, 'hosts', 'add', 'k1', '--address', 'a', '--identity', key]);
  assert.equal(ok.code, 0, ok.stderr);
});

test('run, jobs and schedules validate their input and name the field (no host needed)', async (t) => {
  const dir = tempDir(t);
  const cases: [string[], number, RegExp][] = [
    [['run', '--host', 'web1', '--command', 'true'], 2, /^error\[INVALID_INPUT\]: invalid hosts: no host named "web1"/],
    [['run', '--command', 'true'], 2, /^error\[INVALID_INPUT\]: invalid hosts: give either hosts or a tag/],
    [['run', '--host', 'web1'], 2, /^error\[INVALID_INPUT\]: invalid script: give exactly one of a script, a command or a saved script name/],
    [['run', '--host', 'web1', '--command', 'true', '--timeout', '5 parsecs'], 2, /^error\[INVALID_INPUT\]: invalid timeout/],
    [['run', '--host', 'web1', '--command', 'true', '--env', 'NOEQUALS'], 2, /^error\[INVALID_INPUT\]: invalid env/],
    [['run', '--host', 'web1', '--command', 'true', '--env', '1X=y'], 2, /^error\[INVALID_INPUT\]: invalid env/],
    [['run', '--host', 'web1', '--command', 'true', '--input', '{'], 2, /^error\[INVALID_INPUT\]: invalid input/],
    [['run', '--host', 'web1', '--command', 'true', '--input', `${'['.repeat(5000)}${']'.repeat(5000)}`], 2, /^error\[INVALID_INPUT\]: invalid input: nests deeper than 64 levels/],
    [['run', '--host', 'web1', '--command', 'true', '--env', '__proto__=x'], 2, /^error\[INVALID_INPUT\]: invalid env: the name __proto__ is not accepted/],
    [['run', '--host', 'web1', '--command', 'true', '--mode', 'fast'], 2, /^error\[INVALID_INPUT\]: invalid mode/],
    [['schedules', 'add', 's', '--cron', '* * * * *', '--script', 'missing.sh'], 2, /^error\[INVALID_INPUT\]: invalid script: cannot read/],
    [['schedules', 'pause', 's'], 1, /^error\[NOT_FOUND\]/],
    [['jobs', 'show', '1'], 1, /^error\[NOT_FOUND\]: no job 1/],
    [['jobs', 'cancel', 'x'], 2, /^error\[INVALID_INPUT\]: invalid id/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cronium(['--data-dir', dir, ...args]);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
  for (const args of [['jobs', 'list', '--json'], ['schedules', 'list', '--json']]) {
    const r = await cronium(['--data-dir', dir, ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  }
});

test('runner deploy and clean of an unknown host fail with NOT_FOUND', async (t) => {
  const dir = tempDir(t);
  for (const verb of ['deploy', 'clean']) {
    const r = await cronium(['--data-dir', dir, 'runner', verb, 'web1', '--json']);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(JSON.parse(r.stdout).error.code, 'NOT_FOUND', verb);
  }
});

test('errors of the store reach the user with their code, not a stack trace', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'cronium.db'), Buffer.alloc(4096, 1));
  const r = await cronium(['--data-dir', dir, 'hosts', 'list']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error\[DB_CORRUPT\]/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('npm start without the Electron binary fails with one line pointing to cronium serve', () => {
  // Here the Electron binary cannot be downloaded (ELECTRON_SKIP_BINARY_DOWNLOAD=1), which is the case under test.
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/start.mjs')], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.filter((l) => l.startsWith('error')).length, 1, r.stderr);
  assert.match(lines.at(-1)!, /^error: the Electron binary is not installed.*npx cronium serve/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('settings: log retention is shown, set, unset, validated, and used by the core', async (t) => {
  const dir = tempDir(t);
  const shown = await cronium(['--data-dir', dir, 'settings', 'show', '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  assert.deepEqual(JSON.parse(shown.stdout).logsRetention, { maxAgeDays: 90, maxTotalBytes: 2 * 1024 ** 3 });
  assert.equal((await cronium(['--data-dir', dir, 'settings', 'set', 'logs.retention.maxRuns', '500'])).code, 0);
  const unset = await cronium(['--data-dir', dir, '--json', 'settings', 'set', 'logs.retention.maxAgeDays', 'none']);
  assert.deepEqual(JSON.parse(unset.stdout).logsRetention, { maxRuns: 500, maxTotalBytes: 2 * 1024 ** 3 });
  for (const [args, message] of [
    [['settings', 'set', 'logs.retention.maxTotalBytes', '5'], /invalid VALUE for logs.retention.maxTotalBytes/],
    [['settings', 'set', 'logs.retention.maxRuns', 'many'], /invalid VALUE/],
    [['settings', 'set', 'colour', 'blue'], /invalid KEY/],
  ] as [string[], RegExp][]) {
    const r = await cronium(['--data-dir', dir, ...args]);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
  }
  const { openCore } = await import('../../../electron/core/core');
  const { retentionPolicy } = await import('../../../electron/core/exec/runtime');
  const core = openCore({ dataDir: dir, door: 'cli' });
  try {
    assert.deepEqual(retentionPolicy(core), { maxRuns: 500, maxTotalBytes: 2 * 1024 ** 3 }, 'the retention job reads what was set');
  } finally {
    core.close();
  }
});

test('a schedule that can never fire and a script with a NUL byte are refused where they come in, naming the field', async (t) => {
  const dir = tempDir(t);
  const script = join(dir, 'ok.sh');
  writeFileSync(script, 'echo hi\n');
  const nul = join(dir, 'nul.sh');
  writeFileSync(nul, 'echo a\0b\n');
  await cronium(['--data-dir', dir, 'hosts', 'add', 'web1', '--address', '127.0.0.1']);
  for (const cron of ['0 0 30 2 *', '0 0 31 4,6,9,11 *']) {
    const r = await cronium(['--data-dir', dir, 'schedules', 'add', 's', '--cron', cron, '--host', 'web1', '--script', script]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^error\[INVALID_INPUT\]: invalid cron: .* never fires: no date matches it/, cron);
  }
  const leap = await cronium(['--data-dir', dir, 'schedules', 'add', 'leap', '--cron', '0 0 29 2 *', '--host', 'web1', '--script', script]);
  assert.equal(leap.code, 0, `February 29 exists: ${leap.stderr}`);
  const withNul = await cronium(['--data-dir', dir, 'run', '--host', 'web1', '--script', nul]);
  assert.equal(withNul.code, 2, withNul.stderr);
  assert.match(withNul.stderr, /^error\[INVALID_INPUT\]: invalid script: must not contain NUL bytes/);
  const saved = await cronium(['--data-dir', dir, 'schedules', 'add', 'n', '--cron', '* * * * *', '--host', 'web1', '--script', nul]);
  assert.match(saved.stderr, /must not contain NUL bytes/);
  const list = await cronium(['--data-dir', dir, '--json', 'schedules', 'list']);
  assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((s) => s.name), ['leap'], 'nothing else was stored');
});

test('--version and --help load neither the store nor SSH; a command that needs them does', (t) => {
  const trace = join(ROOT, 'test/fixtures/cli/trace-require.cjs');
  const required = (args: string[]) => {
    const r = spawnSync(process.execPath, ['-r', trace, join(ROOT, 'bin/cronium.mjs'), ...args], { encoding: 'utf8' });
    const m = /REQUIRED (\[.*\])/.exec(r.stderr);
    assert.ok(m, r.stderr);
    return { code: r.status, out: r.stdout, packages: JSON.parse(m[1]!) as string[] };
  };
  for (const args of [['--version'], ['--help'], ['run', '--help']]) {
    const r = required(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.ok(!r.packages.includes('better-sqlite3') && !r.packages.includes('ssh2'), `${args.join(' ')} loaded ${r.packages.join(', ')}`);
  }
  assert.match(required(['--help']).out, /Usage: cronium/);
  const list = required(['--data-dir', tempDir(t), 'hosts', 'list', '--json']);
  assert.equal(list.code, 0);
  assert.ok(list.packages.includes('better-sqlite3'), `hosts list loaded ${list.packages.join(', ')}`);
});
