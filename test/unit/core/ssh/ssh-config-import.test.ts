// ssh_config import over real config files written to a temp dir (a fake home with ~/.ssh).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { call } from '../../../../electron/core/api/dispatcher';
import { openCore } from '../../../../electron/core/core';
import { importSshConfig, type SshConfigImportOptions } from '../../../../electron/core/ssh/ssh-config-import';
import { CroniumError } from '../../../../electron/shared/errors';
import { cronium } from '../../../helpers/cli';
import { tempDir } from '../../../helpers/temp';

/** A fake home with the given files under ~/.ssh (and any other relative path). */
function home(t: TestContext, files: Record<string, string>): { home: string; ssh: string; opts: SshConfigImportOptions } {
  const dir = tempDir(t, 'cronium-sshcfg-');
  const ssh = join(dir, '.ssh');
  mkdirSync(ssh, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return { home: dir, ssh, opts: { home: dir, env: { USER: 'me', HOME: dir } } };
}

const byName = <T extends { name: string }>(list: T[]) => Object.fromEntries(list.map((h) => [h.name, h]));

test('concrete Host names become hosts; wildcard and negated patterns only lend their settings (first value wins)', (t) => {
  const h = home(t, {
    '.ssh/config': [
      'Host web1 web2',
      '  HostName %h.example.com',
      '  User deploy',
      'Host web2',
      '  User other',
      '  Port 2222',
      'Host db',
      '  HostName 10.0.0.5',
      'Host * !db',
      '  User fallback',
      '  Port 2200',
      'Host *',
      '  Port 22',
      '  User everyone',
      '',
    ].join('\n'),
  });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.hosts.map((x) => x.name), ['web1', 'web2', 'db']);
  const hosts = byName(r.hosts);
  assert.deepEqual(
    { ...hosts.web1, source: undefined },
    { name: 'web1', address: 'web1.example.com', port: 2200, user: 'deploy', sshAlias: 'web1', source: undefined },
  );
  assert.equal(hosts.web2!.address, 'web2.example.com');
  assert.equal(hosts.web2!.user, 'deploy', 'the first User seen wins, as in OpenSSH');
  assert.equal(hosts.web2!.port, 2222);
  assert.equal(hosts.db!.address, '10.0.0.5');
  assert.equal(hosts.db!.user, 'everyone', '"Host * !db" does not apply to db');
  assert.equal(hosts.db!.port, 22);
  assert.deepEqual(hosts.db!.source, { file: join(h.ssh, 'config'), line: 7 });
});

test('a host without HostName connects to its own name; without User or Port it gets the ssh defaults', (t) => {
  const h = home(t, { '.ssh/config': 'Host plain.example.org\n' });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  assert.deepEqual(r.hosts.map(({ name, address, port, user }) => ({ name, address, port, user })), [{ name: 'plain.example.org', address: 'plain.example.org', port: 22, user: undefined }]);
});

test('IdentityFile: ~ and %d %u %h %r %n tokens and ${VAR} are expanded; the first existing file is used; missing ones are reported', (t) => {
  const h = home(t, {
    '.ssh/id_web1_deploy': 'key',
    '.ssh/keys/me/10.1.1.1': 'key',
    '.ssh/envkey': 'key',
    '.ssh/config': [
      'Host web1',
      '  HostName 10.1.1.1',
      '  User deploy',
      '  IdentityFile ~/.ssh/missing_key',
      '  IdentityFile %d/.ssh/id_%n_%r',
      'Host web2',
      '  HostName 10.1.1.1',
      '  IdentityFile ~/.ssh/keys/%u/%h',
      'Host web3',
      '  IdentityFile ${KEYDIR}/envkey',
      'Host web4',
      '  IdentityFile ~/.ssh/id_%C',
      '',
    ].join('\n'),
  });
  const r = importSshConfig(join(h.ssh, 'config'), { ...h.opts, env: { ...h.opts.env, KEYDIR: h.ssh } });
  const hosts = byName(r.hosts);
  assert.equal(hosts.web1!.identityFile, join(h.ssh, 'id_web1_deploy'));
  assert.equal(hosts.web2!.identityFile, join(h.ssh, 'keys/me/10.1.1.1'));
  assert.equal(hosts.web3!.identityFile, join(h.ssh, 'envkey'));
  assert.equal(hosts.web4!.identityFile, undefined);
  const file = join(h.ssh, 'config');
  assert.deepEqual(r.problems, [
    { file, line: 4, message: `IdentityFile ${join(h.ssh, 'missing_key')} does not exist; ignored` },
    { file, line: 12, message: 'IdentityFile "~/.ssh/id_%C" uses the unsupported token %C; ignored' },
  ]);
});

test('Include: relative to ~/.ssh, globs in lexical order, nested, conditional inside a Host block; unreadable ones reported', (t) => {
  const h = home(t, {
    '.ssh/config': ['Include conf.d/*.conf', 'Include missing.conf', '', 'Host gated', '  Include gated.conf', '  Port 2022', 'Host *', '  User global', ''].join('\n'),
    '.ssh/conf.d/20-b.conf': 'Host b\n  HostName 10.0.0.2\n  Include nested/deeper.conf\n',
    '.ssh/conf.d/10-a.conf': 'Host a\n  HostName 10.0.0.1\n',
    '.ssh/conf.d/.hidden.conf': 'Host hidden\n',
    '.ssh/conf.d/ignored.txt': 'Host ignored\n',
    '.ssh/nested/deeper.conf': 'User from-deeper\n',
    // A top-level directive of a file included inside `Host gated` applies to gated only.
    '.ssh/gated.conf': 'HostName 10.9.9.9\nUser gated-user\nHost alsogated\n  HostName 10.9.9.10\n',
  });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  assert.deepEqual(r.hosts.map((x) => x.name), ['a', 'b', 'gated', 'alsogated']);
  const hosts = byName(r.hosts);
  assert.equal(hosts.a!.user, 'global');
  assert.equal(hosts.b!.user, 'from-deeper', 'an Include inside Host b applies to b');
  assert.equal(hosts.gated!.address, '10.9.9.9');
  assert.equal(hosts.gated!.user, 'gated-user');
  assert.equal(hosts.gated!.port, 2022, 'settings after the Include still belong to the Host block');
  assert.equal(hosts.alsogated!.address, 'alsogated', 'a Host block inside a conditional Include applies only when the including block matched too');
  assert.equal(hosts.alsogated!.user, 'global');
  assert.deepEqual(hosts.b!.source, { file: join(h.ssh, 'conf.d/20-b.conf'), line: 1 });
  assert.deepEqual(r.problems, [{ file: join(h.ssh, 'config'), line: 2, message: `cannot read included file ${join(h.ssh, 'missing.conf')}: ENOENT` }]);
});

test('Include loops and runaway nesting are reported, not followed forever', (t) => {
  const h = home(t, {
    '.ssh/config': 'Include loop.conf\nHost ok\n',
    '.ssh/loop.conf': 'Include config\n',
  });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  assert.deepEqual(r.hosts.map((x) => x.name), ['ok']);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.file, join(h.ssh, 'loop.conf'));
  assert.equal(r.problems[0]!.line, 1);
  assert.match(r.problems[0]!.message, /loops back/);

  const files: Record<string, string> = { '.ssh/config': 'Include d0.conf\n' };
  for (let i = 0; i < 20; i++) files[`.ssh/d${i}.conf`] = `Include d${i + 1}.conf\nHost h${i}\n`;
  const deep = home(t, files);
  const rd = importSshConfig(join(deep.ssh, 'config'), deep.opts);
  assert.equal(rd.hosts.length, 16);
  assert.deepEqual(
    rd.problems.map((p) => [p.line, p.message]),
    [[1, 'Include nested more than 16 levels deep; not followed']],
  );
});

test('ProxyJump: a name of another host, user@host:port forms (synthesised jump hosts), chains; jump hosts come first', (t) => {
  const h = home(t, {
    '.ssh/config': [
      'Host app',
      '  HostName 10.0.1.10',
      '  ProxyJump bastion',
      'Host bastion',
      '  HostName 203.0.113.5',
      '  User jumper',
      'Host deep',
      '  HostName 10.0.2.20',
      '  ProxyJump bastion,ops@10.0.1.1:2222',
      'Host viaurl',
      '  HostName 10.0.2.21',
      '  ProxyJump ssh://ops@10.0.1.1:2222',
      'Host viaexisting',
      '  HostName 10.0.3.3',
      '  ProxyJump old-bastion',
      'Host viacommand',
      '  HostName 10.0.4.4',
      '  ProxyCommand ssh -q -W %h:%p bastion',
      'Host twohops',
      '  HostName 10.0.5.5',
      '  ProxyJump app,bastion',
      '',
    ].join('\n'),
  });
  const r = importSshConfig(join(h.ssh, 'config'), { ...h.opts, existing: [{ name: 'old-bastion', address: '198.51.100.7', port: 22 }] });
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.skipped, []);
  const names = r.hosts.map((x) => x.name);
  assert.deepEqual(names, ['bastion', 'app', '10.0.1.1-ops-2222', 'deep', '10.0.1.1-ops-2222-2', 'viaurl', 'viaexisting', 'viacommand', 'bastion-via-app', 'twohops']);
  const hosts = byName(r.hosts);
  assert.equal(hosts.app!.jump, 'bastion');
  assert.equal(hosts.bastion!.jump, undefined);
  // ops@10.0.1.1:2222 is reached through bastion: a synthesised host whose own jump is bastion.
  assert.deepEqual({ ...hosts['10.0.1.1-ops-2222'], source: undefined }, { name: '10.0.1.1-ops-2222', address: '10.0.1.1', port: 2222, user: 'ops', jump: 'bastion', source: undefined });
  assert.equal(hosts.deep!.jump, '10.0.1.1-ops-2222');
  // The same hop on its own is reached directly, so it is a different host.
  assert.deepEqual({ ...hosts['10.0.1.1-ops-2222-2'], source: undefined }, { name: '10.0.1.1-ops-2222-2', address: '10.0.1.1', port: 2222, user: 'ops', source: undefined });
  assert.equal(hosts.viaurl!.jump, '10.0.1.1-ops-2222-2');
  assert.equal(hosts.viaexisting!.jump, 'old-bastion');
  assert.equal(hosts.viacommand!.jump, 'bastion', 'ProxyCommand ssh -W %h:%p HOST is imported as ProxyJump HOST');
  // twohops: app, then bastion reached through app; bastion's own entry goes direct, so a variant is made.
  assert.deepEqual({ ...hosts['bastion-via-app'], source: undefined }, { name: 'bastion-via-app', address: '203.0.113.5', port: 22, user: 'jumper', jump: 'app', source: undefined });
  assert.equal(hosts.twohops!.jump, 'bastion-via-app');
  // Every jump host precedes the hosts that use it.
  for (const x of r.hosts) if (x.jump && names.includes(x.jump)) assert.ok(names.indexOf(x.jump) < names.indexOf(x.name), `${x.jump} before ${x.name}`);
});

test('bad lines are reported with file and line; hosts whose effective settings use them are skipped, never guessed', (t) => {
  const h = home(t, {
    '.ssh/config': [
      'Host good',
      '  HostName 10.0.0.1',
      '  SomeFutureKeyword yes',
      'Host badport',
      '  Port abc',
      'Host cmd',
      '  ProxyCommand nc -X connect -x proxy:8080 %h %p',
      'Host broken "unterminated',
      '  User lost',
      'Host after',
      '  HostName 10.0.0.3',
      'Match originalhost after exec "true"',
      '  User matched',
      'Host loop1',
      '  ProxyJump loop2',
      'Host loop2',
      '  ProxyJump loop1',
      'Host badjump',
      '  ProxyJump user@@host',
      'Host under_score',
      '  HostName bad_name.example',
      'Host "two words"',
      '',
    ].join('\n'),
  });
  const file = join(h.ssh, 'config');
  const r = importSshConfig(file, h.opts);
  assert.deepEqual(r.hosts.map((x) => x.name), ['good', 'cmd', 'after']);
  assert.equal(byName(r.hosts).cmd!.proxyCommand, 'nc -X connect -x proxy:8080 %h %p', 'a ProxyCommand is carried over, run at connect time');
  assert.equal(byName(r.hosts).cmd!.jump, undefined);
  assert.equal(byName(r.hosts).after!.user, undefined, 'a Match exec block is not applied by the import');
  assert.match(byName(r.hosts).after!.opensshReason ?? '', /Match exec/, 'the host goes through ssh, which runs it');
  assert.equal(byName(r.hosts).good!.opensshReason, undefined, 'a Match exec whose other criteria fail does not concern the host');
  assert.deepEqual(r.problems, [
    { file, line: 5, message: 'Port "abc" is not a number 1-65535' },
    { file, line: 8, message: 'cannot parse this line: Unexpected line break at broken unterminated' },
    { file, line: 12, message: 'Match exec is not run by the import (hosts import --match-exec runs it), so its block is left out here; hosts it may apply to go through your own ssh (the OpenSSH transport), which runs it' },
    { file, line: 19, message: 'ProxyJump "user@@host" is not of the form [user@]host[:port]' },
  ]);
  const skipped = Object.fromEntries(r.skipped.map((s) => [s.name, s.reason]));
  assert.equal(skipped.badport, `Port "abc" is not a number 1-65535 (${file}:5)`);
  assert.match(skipped.loop1!, /ProxyJump loop: loop1 → loop2 → loop1|jump host "loop2" was skipped/);
  assert.match(skipped.loop2!, /ProxyJump loop/);
  assert.match(skipped.badjump!, /ProxyJump "user@@host".*config:19\)$/);
  assert.match(skipped.under_score!, /^"bad_name.example" is not a host name or IP address \(.*config:21\)$/);
  assert.match(skipped['two words']!, /^"two words" cannot be a host name here: must be 1-63 characters/);
  assert.equal(r.hosts.find((x) => x.name === 'lost'), undefined);
});

test('CRLF files and "=" separators parse, with the right line numbers', (t) => {
  const h = home(t, { '.ssh/config': 'Host=one\r\n  HostName = 10.0.0.1\r\n\r\n  Port=x\r\n' });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  assert.deepEqual(r.problems.map((p) => [p.line, p.message]), [[4, 'Port "x" is not a number 1-65535']]);
  assert.deepEqual(r.skipped.map((s) => s.name), ['one']);
});

test('a config that cannot be read is an INVALID_INPUT error naming the file', (t) => {
  const h = home(t, {});
  assert.throws(
    () => importSshConfig(join(h.ssh, 'nope'), h.opts),
    (e: unknown) => e instanceof CroniumError && e.code === 'INVALID_INPUT' && /cannot read .*nope: ENOENT/.test(e.message),
  );
});

test('hosts.import adds jump hosts first, skips existing names, tags, and does nothing on dryRun', async (t) => {
  const h = home(t, {
    '.ssh/id_test': 'key',
    '.ssh/config': [
      'Host app',
      '  HostName 10.0.1.10',
      '  ProxyJump bastion',
      '  IdentityFile ~/.ssh/id_test',
      'Host bastion',
      '  HostName 203.0.113.5',
      'Host taken',
      '  HostName 10.0.0.99',
      'Host bad',
      '  Port 0',
      'Host dependent',
      '  ProxyJump bad',
      '',
    ].join('\n'),
  });
  // The API reads ~ from the process environment, as the CLI and desktop do.
  const realHome = process.env.HOME;
  process.env.HOME = h.home;
  t.after(() => (process.env.HOME = realHome));
  const core = openCore({ dataDir: tempDir(t), door: 'cli' });
  t.after(() => core.close());
  const ctx = { door: 'cli' as const };
  await call(core.dispatch, 'hosts.add', { name: 'taken', address: '10.0.0.1' }, ctx);
  const path = join(h.ssh, 'config');

  const dry = await call(core.dispatch, 'hosts.import', { path, dryRun: true, tag: ['imported'] }, ctx);
  assert.deepEqual(dry.added, ['bastion', 'app']);
  assert.equal(dry.dryRun, true);
  assert.deepEqual((await call(core.dispatch, 'hosts.list', {}, ctx)).map((x) => x.name), ['taken']);

  const r = await call(core.dispatch, 'hosts.import', { path, tag: ['imported'] }, ctx);
  assert.deepEqual(r.added, ['bastion', 'app']);
  assert.deepEqual(
    r.skipped.map((s) => s.name),
    ['bad', 'dependent', 'taken'],
  );
  assert.match(r.skipped.find((s) => s.name === 'dependent')!.reason, /jump host "bad" was skipped/);
  assert.match(r.skipped.find((s) => s.name === 'taken')!.reason, /already in the inventory/);
  assert.deepEqual(r.problems, [{ file: path, line: 10, message: 'Port "0" is not a number 1-65535' }]);
  const app = await call(core.dispatch, 'hosts.get', { name: 'app' }, ctx);
  assert.equal(app.jump, 'bastion');
  assert.equal(app.identityFile, join(h.ssh, 'id_test'));
  assert.deepEqual(app.tags, ['imported']);
  assert.equal((await call(core.dispatch, 'hosts.get', { name: 'taken' }, ctx)).address, '10.0.0.1', 'existing hosts are not overwritten');

  const again = await call(core.dispatch, 'hosts.import', { path }, ctx);
  assert.deepEqual(again.added, []);
});

test('cronium hosts import: readable summary, --dry-run, --tag, --json, and a bad --ssh-config names the flag', async (t) => {
  const h = home(t, {
    '.ssh/config': ['Host web', '  HostName 10.0.0.7', '  User deploy', '  ProxyJump ops@10.0.0.1', 'Host broken', '  Port 99999', ''].join('\n'),
  });
  const dataDir = tempDir(t);
  const env = { HOME: h.home };
  const dry = await cronium(['--data-dir', dataDir, 'hosts', 'import', '--dry-run'], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /^\+ would add 10\.0\.0\.1-ops \(ops@10\.0\.0\.1:22\) {2}~\/\.ssh\/config:4$/m);
  assert.match(dry.stderr, /^\+ would add web \(deploy@10\.0\.0\.7:22 via 10\.0\.0\.1-ops\) {2}~\/\.ssh\/config:1$/m);
  assert.match(dry.stderr, /^- skipped broken: Port "99999" is not a number 1-65535/m);
  assert.match(dry.stderr, /^! ~\/\.ssh\/config:6: Port "99999" is not a number 1-65535$/m);
  assert.match(dry.stderr, /^~\/\.ssh\/config: 2 to add, 1 skipped, 1 problem \(dry run: nothing was changed\)$/m);
  assert.deepEqual(JSON.parse((await cronium(['--data-dir', dataDir, 'hosts', 'list', '--json'])).stdout), []);

  const real = await cronium(['--data-dir', dataDir, '--json', 'hosts', 'import', '--ssh-config', join(h.ssh, 'config'), '--tag', 'imported', '--tag', 'ssh'], { env });
  assert.equal(real.code, 0, real.stderr);
  const result = JSON.parse(real.stdout);
  assert.deepEqual(result.added, ['10.0.0.1-ops', 'web']);
  assert.equal(result.dryRun, false);
  const listed = JSON.parse((await cronium(['--data-dir', dataDir, 'hosts', 'list', '--json'])).stdout) as { name: string; jump: string | null; tags: string[] }[];
  assert.deepEqual(listed.map((x) => [x.name, x.jump, x.tags]), [['10.0.0.1-ops', null, ['imported', 'ssh']], ['web', '10.0.0.1-ops', ['imported', 'ssh']]]);

  const missing = await cronium(['--data-dir', dataDir, 'hosts', 'import', '--ssh-config', join(h.ssh, 'nope')], { env });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error\[INVALID_INPUT\]: invalid --ssh-config: cannot read .*nope: ENOENT/);
  const none = await cronium(['--data-dir', dataDir, 'hosts', 'import'], { env: { HOME: tempDir(t) } });
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error\[INVALID_INPUT\]: cannot read .*\.ssh\/config: ENOENT\n {2}hint: there is no config at the default place; pass one with --ssh-config FILE/);
});

test('a ProxyJump hop written as user@address gets its own settings, never the key of an imported host at that address', (t) => {
  const h = home(t, {
    '.ssh/config': 'Host bastion\n  HostName 10.9.9.9\n  User ops\n  IdentityFile ~/.ssh/bastion_key\nHost app\n  HostName 10.0.0.5\n  ProxyJump ops@10.9.9.9\n',
    '.ssh/bastion_key': 'x',
  });
  const r = importSshConfig(join(h.ssh, 'config'), h.opts);
  const hosts = byName(r.hosts);
  assert.equal(hosts.bastion!.identityFile, join(h.ssh, 'bastion_key'));
  const hop = hosts[hosts.app!.jump!]!;
  assert.notEqual(hop.name, 'bastion', 'not the imported bastion (which has a key of its own)');
  assert.deepEqual([hop.address, hop.user, hop.identityFile], ['10.9.9.9', 'ops', undefined], 'ssh would offer no IdentityFile to this hop');
});

test('a host whose config only your own ssh can honour is marked for the OpenSSH transport, with why', (t) => {
  const h = home(t, {
    '.ssh/config': [
      'Host certhost',
      '  HostName 10.0.0.7',
      '  CertificateFile ~/.ssh/id_cert-cert.pub',
      'Host card',
      '  PKCS11Provider /usr/lib/opensc-pkcs11.so',
      'Host krb',
      '  GSSAPIAuthentication yes',
      'Host plainhost',
      '  CertificateFile none',
      '  GSSAPIAuthentication no',
      '',
    ].join('\n'),
  });
  const hosts = byName(importSshConfig(join(h.ssh, 'config'), h.opts).hosts);
  assert.match(hosts.certhost!.opensshReason ?? '', /^CertificateFile/);
  assert.match(hosts.card!.opensshReason ?? '', /^PKCS11Provider/);
  assert.match(hosts.krb!.opensshReason ?? '', /^GSSAPIAuthentication/);
  assert.equal(hosts.plainhost!.opensshReason, undefined);
  assert.deepEqual([hosts.certhost!.sshAlias, hosts.plainhost!.sshAlias], ['certhost', 'plainhost']);
});

test('Match exec runs only when asked (--match-exec): sh -c with tokens expanded, a time limit, exit 0 matches', (t) => {
  const h = home(t, {
    '.ssh/config': ['Host web1 web2', '  Port 2200', 'Match exec "test %n = web1"', '  User via-exec', 'Match exec "sleep 30"', '  User too-slow', ''].join('\n'),
  });
  const off = byName(importSshConfig(join(h.ssh, 'config'), h.opts).hosts);
  assert.equal(off.web1!.user, undefined, 'not run unless asked');
  const t0 = Date.now();
  const on = byName(importSshConfig(join(h.ssh, 'config'), { ...h.opts, matchExec: true }).hosts);
  assert.equal(on.web1!.user, 'via-exec');
  assert.equal(on.web2!.user, undefined, 'the command failed for web2; the one that runs too long does not match either');
  assert.equal(on.web1!.opensshReason, undefined, 'decided here: no need for ssh to decide');
  assert.ok(Date.now() - t0 < 30_000 - 5_000, 'the slow command was stopped at its limit');
});

test('settings that change how ssh connects but are not carried are listed with their line', (t) => {
  const h = home(t, {
    '.ssh/config': ['Host web1', '  HostName 10.0.0.1', '  ForwardAgent yes', '  LocalForward 8080 localhost:80', '  PasswordAuthentication no', '  StrictHostKeyChecking accept-new', ''].join('\n'),
  });
  const file = join(h.ssh, 'config');
  const r = importSshConfig(file, h.opts);
  assert.deepEqual(r.hosts.map((x) => x.name), ['web1']);
  assert.deepEqual(
    r.problems.map((p) => [p.line, p.message.split(' (')[0]]),
    [
      [3, 'ForwardAgent is not carried to the built-in client'],
      [4, 'LocalForward is not carried to the built-in client'],
      [6, 'StrictHostKeyChecking accept-new is not carried: Cronium never accepts a host key it has not been shown; trust it with cronium hosts trust NAME'],
    ],
  );
});
