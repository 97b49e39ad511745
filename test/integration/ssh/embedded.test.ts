// Embedded and minimal servers through the real CLI (issue 14, part 6): Debian's Dropbear with no
// sftp-server (as on routers), Debian's TinySSH (one session channel per connection, no SFTP, no
// forwarding) and OpenSSH chrooted into a root whose whole userland is busybox-static. Each is
// imported from the fleet's ssh_config, trusted, and run in auto mode, which deploys the runner on
// all three; diagnose says what each lacks, the same way every time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium, runJson } from '../../helpers/cli';
import { startWorkspace, type Workspace } from '../../helpers/workspace';

const SUBNET = 115;
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspace('embedded', {
    subnet: SUBNET,
    hosts: [
      { name: 'router', profile: 'dropbear' },
      { name: 'tiny', profile: 'tinyssh' },
      { name: 'bb', profile: 'busybox' },
    ],
  });
  const imp = await cli(['hosts', 'import', '--ssh-config', join(ws.fleet.dir, 'ssh_config')]);
  assert.equal(imp.code, 0, imp.stderr);
  assert.match(imp.stderr + imp.stdout, /3 added, 0 skipped, 0 problems/);
  for (const h of ws.fleet.hosts) {
    const t = await cli(['hosts', 'trust', h.name, '--fingerprint', h.hostKeyFingerprint]);
    assert.equal(t.code, 0, t.stderr);
    // The fleet's accounts outlive a fleet: start without a runner cached by an earlier one.
    const clean = await cli(['runner', 'clean', h.name]);
    assert.equal(clean.code, 0, clean.stderr);
  }
});
after(async () => {
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });

const run = (args: string[]) => runJson(cli, args);

/** How many connections tinysshd has accepted so far (it logs one line per connection). */
function tinyConnections(): number {
  const log = readFileSync(join(ws!.fleet.dir, 'hosts', 'tiny', 'sshd.log'), 'utf8');
  return (log.match(/info: connection from /g) ?? []).length;
}

test('auto mode deploys the runner and runs on Dropbear without sftp-server, on TinySSH and on a BusyBox-only host', async () => {
  for (const host of ['router', 'tiny']) {
    const r = await run(['--host', host, '--command', 'echo "$0" on "$(uname -s)"']);
    assert.equal(r.status, 'succeeded', `${host}: ${JSON.stringify(r.error)}`);
    assert.equal(r.mode, 'runner', `${host} ran in runner mode (${r.modeReason ?? ''})`);
    assert.ok(r.runnerVersion);
    const plain = await cli(['run', '--host', host, '--command', 'echo hello from $(id -un)']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, `hello from ${ws!.fleet.host(host).user}\n`);
  }
  // BusyBox: bash is not there, and the run says so; sh is, and the runner runs it.
  const bash = await run(['--host', 'bb', '--command', 'echo never']);
  assert.equal(bash.status, 'failed');
  assert.equal(bash.error?.code, 'INTERPRETER_MISSING');
  const sh = await cli(['run', '--host', 'bb', '--interpreter', 'sh', '--command', 'printf "%s\\n" "$(sha256sum /bin/busybox | cut -c1-8)" ok']);
  assert.equal(sh.code, 0, sh.stderr);
  assert.match(sh.stdout, /^[0-9a-f]{8}\nok\n$/);
  // Direct mode finds BusyBox's sh too (ash names its applets without a path).
  for (const host of ['bb', 'tiny', 'router']) {
    const d = await run(['--host', host, '--mode', 'direct', '--interpreter', 'sh', '--command', 'echo direct']);
    assert.equal(d.status, 'succeeded', `${host}: ${JSON.stringify(d.error)}`);
    assert.equal(d.mode, 'direct');
  }
});

test('a host without SFTP is remembered across processes: the next deploy streams over exec without asking again', async () => {
  const show = JSON.parse((await cli(['--json', 'hosts', 'show', 'tiny'])).stdout) as { sftpUnavailable?: string | null };
  assert.match(show.sftpUnavailable ?? '', /Unable to start subsystem/, `the first deploy recorded that TinySSH has no SFTP: ${JSON.stringify(show)}`);
  const clean = await cli(['runner', 'clean', 'tiny']);
  assert.equal(clean.code, 0, clean.stderr);
  const before = tinyConnections();
  const dep = await cli(['--json', 'runner', 'deploy', 'tiny']);
  assert.equal(dep.code, 0, dep.stderr);
  const result = JSON.parse(dep.stdout) as { transport: string; cached: boolean };
  assert.equal(result.cached, false);
  assert.match(result.transport, /^exec/);
  // One connection per channel on TinySSH: the prepare script and the install, and no SFTP attempt.
  assert.equal(tinyConnections() - before, 2, 'a new process went straight to the exec stream');
});

test('diagnose says what each minimal server lacks, and the same on every run', async () => {
  const checks = async (host: string) => {
    const r = await cli(['--json', 'diagnose', host]);
    const report = JSON.parse(r.stdout) as { checks: { id: string; status: string; detail: string; hint: string | null }[] };
    return new Map(report.checks.map((c) => [c.id, c]));
  };
  const router = await checks('router');
  assert.equal(router.get('sftp')?.status, 'warn');
  assert.match(router.get('sftp')!.detail, /SFTP server program is missing on the host \(the subsystem exited 127/);
  assert.doesNotMatch(router.get('sftp')!.hint ?? '', /MaxSessions/);

  const bb = await checks('bb');
  assert.equal(bb.get('platform')?.status, 'pass');
  assert.match(bb.get('platform')!.detail, /64-bit userland \(from \/bin\/sh's ELF header: no getconf\)/);
  assert.equal(bb.get('clock')?.status, 'pass', bb.get('clock')?.detail);
  assert.match(bb.get('clock')!.detail, /±5\d\d ms/, 'whole seconds from BusyBox date: half a second more uncertainty');
  assert.equal(bb.get('interpreters')?.status, 'warn');
  assert.match(bb.get('interpreters')!.hint ?? '', /--interpreter sh/);
  assert.doesNotMatch(bb.get('interpreters')!.hint ?? '', /direct mode runs scripts with sh/);
  assert.equal(bb.get('runner')?.status, 'pass');

  const seen = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const tiny = await checks('tiny');
    seen.add(JSON.stringify([...tiny].map(([id, c]) => [id, c.status])));
    assert.match(tiny.get('sftp')!.detail, /not available: Unable to start subsystem/);
    assert.match(tiny.get('forwarding')!.detail, /forwards no ports/);
    assert.equal(tiny.get('runner')?.status, 'pass');
    assert.equal(tiny.get('shell-noise')?.status, 'pass');
  }
  assert.equal(seen.size, 1, `diagnose gave the same verdicts three times: ${[...seen].join('\n')}`);
});
