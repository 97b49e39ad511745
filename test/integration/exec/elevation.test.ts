// Elevation through the real CLI on real sshd hosts with real sudo and real sudoers rules (the
// fleet's opt-in sudo profiles; they make their accounts root on this machine while the fleet
// runs): NOPASSWD, a password with sudo's lecture, requiretty, no rule, doas, su with root's
// password (inside that host only), and no setting at all, in
// runner and direct mode, in fan-out. Each refusal is ELEVATION_FAILED with what sudo said and a
// hint, quickly (no prompt left hanging); the password never reaches a command line, an
// environment, the log or the store in clear; a stopped elevated script's root processes go too.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium } from '../../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../../helpers/workspace';

const SUBNET = 110;
const NOPASS = ['np1', 'np2', 'np3', 'np4'];
const PASS = ['pw1', 'pw2', 'pw3', 'pw4'];
let ws: Workspace | undefined;
let password = '';

before(async () => {
  ws = await startWorkspaceWithHosts('elevation', {
    subnet: SUBNET,
    hosts: [
      ...NOPASS.map((name) => ({ name, profile: 'sudonopass' as const })),
      ...PASS.map((name) => ({ name, profile: 'sudopass' as const })),
      { name: 'tty', profile: 'sudotty' as const },
      { name: 'none', profile: 'sudonone' as const },
      { name: 'plain', profile: 'default' as const },
      { name: 'doas', profile: 'sudodoas' as const },
      { name: 'su', profile: 'sudosu' as const },
    ],
  });
  password = ws.fleet.host('pw1').sudoPassword!;
  assert.ok(password.includes("'") && password.includes(' '), 'the fleet password has a quote and a space');
  for (const h of [...NOPASS, 'tty']) await cli(['hosts', 'set', h, '--elevation', 'sudo']).then(ok);
  await cli(['hosts', 'set', 'doas', '--elevation', 'doas']).then(ok);
  // su with root's password: the sudosu host's own (its sshd sees a copy of /etc/shadow).
  await cli(['hosts', 'set', 'su', '--elevation', 'su', '--elevation-password-stdin'], ws.fleet.host('su').rootPassword!).then(ok);
  // sudo -n answers "a password is required" to anyone without a NOPASSWD rule; with the account's
  // own password sudo gets as far as the rules.
  await cli(['hosts', 'set', 'none', '--elevation', 'sudo-password', '--elevation-password-stdin'], ws.fleet.host('none').sudoPassword!).then(ok);
  for (const h of PASS) await cli(['hosts', 'set', h, '--add-tag', 'pw']).then(ok);
  // One password for every host of a tag, from stdin.
  await cli(['hosts', 'set', '--tag', 'pw', '--elevation', 'sudo-password', '--elevation-password-stdin'], password).then(ok);
});
after(async () => {
  await ws?.stop();
});

const cli = (args: string[], input?: string) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' }, ...(input !== undefined ? { input } : {}) });
const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);

interface Row {
  jobId: number;
  runId: number;
  host: string;
  status: string;
  exitCode: number | null;
  error?: { code: string; message: string; hint?: string };
}
const rows = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);

const SCRIPT = 'echo "uid=$(id -u) var=$MYVAR helpers=$(command -v cronium >/dev/null && echo yes)"; read line; echo "stdin=$line"; echo to-stderr >&2';

for (const mode of ['runner', 'direct'] as const) {
  test(`${mode} mode: elevated fan-out runs as root where sudo allows it, and every refusal is ELEVATION_FAILED with sudo's reason`, async () => {
    const hosts = [...NOPASS, ...PASS, 'doas', 'su', 'tty', 'none', 'plain'];
    const t0 = Date.now();
    const r = await cli(['--json', 'run', '--sudo', '--mode', mode, '--concurrency', String(hosts.length), ...hosts.flatMap((h) => ['--host', h]), '--env', "MYVAR=it's $HOME", '--input', '"the input"', '--command', SCRIPT]);
    const secs = (Date.now() - t0) / 1000;
    const by = new Map(rows(r.stdout).map((x) => [x.host, x]));
    assert.equal(by.size, hosts.length, r.stdout + r.stderr);
    const log = await cli(['jobs', 'logs', String(by.get('np1')!.jobId)]);
    const text = log.stdout + log.stderr;
    for (const h of [...NOPASS, ...PASS, 'doas', 'su']) {
      assert.equal(by.get(h)!.status, 'succeeded', `${h}: ${JSON.stringify(by.get(h))}`);
      assert.ok(text.includes(`${h} | uid=0 var=it's $HOME helpers=yes\n`), `${h} ran as root with the job's env and the helpers on PATH:\n${text}`);
      assert.ok(text.includes(`${h} | stdin="the input"\n`), `${h} read the job's input`);
      assert.ok(text.includes(`${h} | to-stderr\n`), `${h}: the script's stderr is logged`);
    }
    const scriptLines = text.split('\n').filter((l) => !/^\S+ \| cronium: /.test(l)).join('\n');
    assert.doesNotMatch(scriptLines, /lecture|cronium-sudo|cronium-elevated|password/i, "sudo's own words stay out of the log");
    assert.ok(!text.includes(password));
    const tty = by.get('tty')!;
    assert.equal(tty.status, 'failed');
    assert.equal(tty.error?.code, 'ELEVATION_FAILED');
    assert.match(tty.error!.message, /requires a terminal \(requiretty\)/);
    assert.match(tty.error!.hint ?? '', /!requiretty/);
    const none = by.get('none')!;
    assert.equal(none.error?.code, 'ELEVATION_FAILED');
    assert.match(none.error!.message, /may not become root/);
    assert.match(none.error!.message, /is not in the sudoers file/);
    assert.match(none.error!.hint ?? '', /sudoers rule/);
    const plain = by.get('plain')!;
    assert.equal(plain.error?.code, 'ELEVATION_FAILED');
    assert.match(plain.error!.message, /has no elevation setting/);
    assert.match(plain.error!.hint ?? '', /cronium hosts set plain --elevation/);
    assert.notEqual(r.code, 0, 'a job with failed runs exits non-zero');
    console.log(`elevation-figures: mode=${mode} hosts=${hosts.length} wall=${secs.toFixed(2)}s`);
  });

  test(`${mode} mode: a wrong stored password fails at once with ELEVATION_FAILED, never a hanging prompt`, async () => {
    await cli(['hosts', 'set', 'pw4', '--elevation', 'sudo-password', '--elevation-password-stdin'], 'not the password').then(ok);
    try {
      const t0 = Date.now();
      const r = await cli(['--json', 'run', '--sudo', '--mode', mode, '--host', 'pw4', '--command', 'echo ran']);
      const [row] = rows(r.stdout);
      assert.equal(row!.error?.code, 'ELEVATION_FAILED', r.stdout + r.stderr);
      assert.match(row!.error!.message, /refused the stored password/);
      assert.ok(!row!.error!.message.includes('not the password'), 'the wrong password is not echoed back');
      assert.ok(Date.now() - t0 < 20_000, 'sudo gives up after one try');
      const log = await cli(['jobs', 'logs', String(row!.jobId)]);
      assert.doesNotMatch(log.stdout, /^ran$/m);
    } finally {
      await cli(['hosts', 'set', 'pw4', '--elevation-password-stdin'], password).then(ok);
    }
  });

  test(`${mode} mode: su with a wrong root password fails at once with ELEVATION_FAILED`, async () => {
    await cli(['hosts', 'set', 'su', '--elevation-password-stdin'], 'not root\'s').then(ok);
    try {
      const r = await cli(['--json', 'run', '--sudo', '--mode', mode, '--host', 'su', '--command', 'echo ran']);
      const [row] = rows(r.stdout);
      assert.equal(row!.error?.code, 'ELEVATION_FAILED', r.stdout + r.stderr);
      assert.match(row!.error!.message, /su on su refused the stored root password/);
    } finally {
      await cli(['hosts', 'set', 'su', '--elevation-password-stdin'], ws!.fleet.host('su').rootPassword!).then(ok);
    }
  });

  test(`${mode} mode: the password is never on a command line or in an environment, and a stopped elevated script's root processes go too`, async () => {
    const marker = mode === 'runner' ? 31337 : 31338;
    const run = cli(['--json', 'run', '--sudo', '--mode', mode, '--host', 'pw1', '--timeout', '3s', '--command', `sleep ${marker} & sleep ${marker + 1000}; echo never`]);
    // While it runs: every process of this machine (the hosts are local), as root reads them.
    const seen = new Set<string>();
    let rootSleep = false;
    const deadline = Date.now() + 2500;
    while (Date.now() < deadline) {
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        for (const f of ['cmdline', 'environ']) {
          try {
            const text = readFileSync(join('/proc', pid, f)).toString('utf8');
            if (text.includes(password)) seen.add(`${pid}/${f}: ${text.replace(/\0/g, ' ').slice(0, 200)}`);
            if (f === 'cmdline' && text === `sleep\0${marker}\0`) rootSleep = readFileSync(join('/proc', pid, 'status'), 'utf8').includes('\nUid:\t0\t');
          } catch {
            // gone meanwhile
          }
        }
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    const r = await run;
    assert.deepEqual([...seen], [], 'no process showed the password');
    assert.ok(rootSleep, 'the script ran as root');
    const [row] = rows(r.stdout);
    assert.equal(row!.status, 'timed_out', r.stdout + r.stderr);
    await new Promise((res) => setTimeout(res, 1500));
    const left = execFileSync('ps', ['-eo', 'user,args']).toString().split('\n').filter((l) => l.includes(`sleep ${marker}`) || l.includes(`sleep ${marker + 1000}`));
    assert.deepEqual(left, [], "the timeout stopped the root script's whole group");
  });
}

test('the store keeps the sudo password sealed, hosts show only that one is stored, and bad settings are refused with the flag named', async () => {
  const db = readFileSync(join(ws!.dataDir, 'cronium.db'));
  assert.ok(!db.includes(Buffer.from(password)), 'no clear password in the database file');
  const h = JSON.parse((await cli(['--json', 'hosts', 'show', 'pw1'])).stdout) as { elevation: string; hasElevationPassword: boolean };
  assert.deepEqual([h.elevation, h.hasElevationPassword], ['sudo-password', true]);
  const bad = await cli(['hosts', 'set', 'np1', '--elevation', 'root']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /invalid --elevation/);
  const noPw = await cli(['hosts', 'set', 'np1', '--elevation', 'sudo-password']);
  assert.notEqual(noPw.code, 0);
  assert.match(noPw.stderr, /invalid --elevation-password-stdin: sudo-password elevation needs the password/);
  const twoLines = await cli(['hosts', 'set', 'pw1', '--elevation-password-stdin'], 'a\nb\n');
  assert.notEqual(twoLines.code, 0);
  // Leaving sudo-password drops the stored password.
  await cli(['hosts', 'set', 'pw3', '--elevation', 'sudo']).then(ok);
  const h3 = JSON.parse((await cli(['--json', 'hosts', 'show', 'pw3'])).stdout) as { elevation: string; hasElevationPassword: boolean };
  assert.deepEqual([h3.elevation, h3.hasElevationPassword], ['sudo', false]);
  await cli(['hosts', 'set', 'pw3', '--elevation', 'sudo-password', '--elevation-password-stdin'], password).then(ok);
});

test('diagnose checks elevation by becoming root once: passes where sudo allows it, fails with the reason where it does not', async () => {
  const report = async (h: string) => {
    const r = await cli(['--json', 'diagnose', h]);
    const rep = JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string; hint: string | null }[] };
    return rep.checks.find((c) => c.id === 'elevation')!;
  };
  const np = await report('np1');
  assert.equal(np.status, 'pass', np.detail);
  assert.match(np.detail, /^sudo: became root in \d+ ms$/);
  const pw = await report('pw2');
  assert.equal(pw.status, 'pass', pw.detail);
  assert.match(pw.detail, /^sudo-password: became root/);
  const su = await report('su');
  assert.equal(su.status, 'pass', su.detail);
  assert.match(su.detail, /^su: became root/);
  const doas = await report('doas');
  assert.equal(doas.status, 'pass', doas.detail);
  assert.match(doas.detail, /^doas: became root/);
  const tty = await report('tty');
  assert.equal(tty.status, 'fail');
  assert.match(tty.detail, /requiretty/);
  const plain = await report('plain');
  assert.equal(plain.status, 'pass');
  assert.match(plain.detail, /not set/);
});
