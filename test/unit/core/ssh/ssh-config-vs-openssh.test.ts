// The import against the reference: OpenSSH's own resolver. Seeded, generated ssh_configs (Host
// patterns with *, ? and ! negation, several aliases per line, repeated keywords where the first
// value wins, keyword case and `=`, Match blocks on host, originalhost, user, localuser, all,
// final and exec (run, as with hosts import --match-exec), negated and with pattern lists, and the carried UserKnownHostsFile, HostKeyAlias,
// IdentityAgent, ConnectTimeout and ServerAliveInterval), and for every concrete alias the import's
// HostName, User, Port and those settings are compared with `ssh -G -F FILE ALIAS` (which resolves without connecting). The
// agreement figure is printed; every alias must agree.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { importSshConfig } from '../../../../electron/core/ssh/ssh-config-import';

const SEED = Number(process.env.CRONIUM_FUZZ_SEED ?? '20261203');
const CONFIGS = Math.max(10, Math.round(60 * Number(process.env.CRONIUM_FUZZ_SCALE ?? '1')));

const NAMES = ['web1', 'web2', 'web10', 'db1', 'db12', 'dba', 'app-a', 'App-B', 'x'];
const PATTERNS = ['*', 'web*', 'web?', 'web??', 'db?', 'db??', '*1', '?b1', 'app-*', '!web2', '!db*', '*-b', 'x', 'WEB1', '!x'];

const setting = fc.oneof(
  fc.tuple(fc.constantFrom('HostName', 'hostname', 'HOSTNAME'), fc.constantFrom('10.0.0.1', 'h1.example', 'h2.example', '%h.example', '%%h')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('User', 'user'), fc.constantFrom('alice', 'bob', 'deploy')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('Port', 'port'), fc.constantFrom('22', '2222', '8022')).map(([k, v]) => `${k}=${v}`),
  // Carried connection settings (compared below as ssh -G prints them).
  fc.tuple(fc.constantFrom('UserKnownHostsFile', 'userknownhostsfile'), fc.constantFrom('~/kh1', '~/kh1 %d/kh2', 'none', '/etc/kh-%h')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('HostKeyAlias'), fc.constantFrom('alias1', 'Alias-%h'.replace('%h', 'Two'))).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('IdentityAgent'), fc.constantFrom('none', '~/agent.sock', '/run/agent-%u')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('ConnectTimeout', 'ServerAliveInterval'), fc.constantFrom('7', '1m', '1m30s', '0')).map(([k, v]) => `${k} ${v}`),
);
const block = fc.tuple(fc.array(fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom(...PATTERNS)), { minLength: 1, maxLength: 3 }), fc.array(setting, { minLength: 1, maxLength: 4 })).map(([pats, sets]) => `Host ${pats.join(' ')}\n${sets.map((x) => `  ${x}`).join('\n')}`);
// Match lines: host (the HostName so far), originalhost, user (the User so far), localuser, all,
// final (a second pass), negations and pattern lists; `LOCAL` becomes the local user's name.
const criterion = fc.oneof(
  fc.tuple(fc.constantFrom('host', '!host', 'originalhost', '!originalhost'), fc.constantFrom('web*', 'db?', '*.example', 'h1.example', '10.0.0.1', 'web1,db1', '*,!db*', 'x', 'App-B')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('user', '!user'), fc.constantFrom('alice', 'bob,deploy', 'LOCAL', '*', '!alice,*')).map(([k, v]) => `${k} ${v}`),
  fc.tuple(fc.constantFrom('localuser', '!localuser'), fc.constantFrom('LOCAL', 'nobody-else')).map(([k, v]) => `${k} ${v}`),
  fc.constant('final'),
  // Match exec, which the import runs when asked (--match-exec), as ssh -G does.
  fc.constantFrom('exec "test %n = web1"', 'exec "test %h = h1.example"', '!exec "test %r = bob"', 'exec "exit 1"'),
);
const matchBlock = fc
  .tuple(fc.oneof(fc.constant(['all']), fc.array(criterion, { minLength: 1, maxLength: 2 })), fc.array(setting, { minLength: 1, maxLength: 3 }))
  .map(([crit, sets]) => `Match ${crit.join(' ')}\n${sets.map((x) => `  ${x}`).join('\n')}`);
const config = fc.array(fc.oneof({ weight: 3, arbitrary: block }, { weight: 1, arbitrary: matchBlock }), { minLength: 2, maxLength: 7 }).map((bs) => bs.join('\n'));

test('the import resolves every concrete alias as `ssh -G` does (HostName, User, Port and the carried connection settings)', (t) => {
  if (spawnSync('ssh', ['-V']).status !== 0) assert.fail('the OpenSSH client (ssh) is needed: .ci/run installs openssh-client');
  const dir = mkdtempSync(join(tmpdir(), 'cronium-sshG-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const local = userInfo().username;
  let aliases = 0;
  const misses: string[] = [];
  for (const [i, text] of fc.sample(config, { seed: SEED, numRuns: CONFIGS }).entries()) {
    const file = join(dir, `config-${i}`);
    writeFileSync(file, `${text.replace(/LOCAL/g, local)}\n`);
    // ssh expands ~ and %d with the account's home directory: the import is given the same.
    const imported = importSshConfig(file, { home: userInfo().homedir, env: { USER: local }, matchExec: true });
    for (const h of imported.hosts) {
      const g = spawnSync('ssh', ['-G', '-F', file, h.name], { encoding: 'utf8' });
      if (g.status !== 0) {
        misses.push(`${h.name} in config-${i}: ssh -G failed: ${g.stderr.trim()}`);
        continue;
      }
      const want = Object.fromEntries(g.stdout.split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
      aliases++;
      const o = h.sshOptions ?? {};
      const home = userInfo().homedir;
      const got = {
        hostname: h.address,
        user: h.user ?? local,
        port: String(h.port),
        userknownhostsfile: o.knownHostsFiles ? (o.knownHostsFiles.length ? o.knownHostsFiles.join(' ') : 'none') : `${home}/.ssh/known_hosts ${home}/.ssh/known_hosts2`,
        hostkeyalias: o.hostKeyAlias,
        identityagent: o.identityAgent,
        connecttimeout: o.connectTimeoutMs !== undefined ? String(o.connectTimeoutMs / 1000) : 'none',
        serveraliveinterval: String((o.serverAliveIntervalMs ?? 0) / 1000),
      };
      for (const k of ['hostname', 'user', 'port', 'userknownhostsfile', 'hostkeyalias', 'identityagent', 'connecttimeout', 'serveraliveinterval'] as const) {
        if (got[k] !== want[k]) misses.push(`${h.name} in config-${i}: ${k} ${got[k]} != ssh -G ${want[k]}\n${text}`);
      }
    }
  }
  const agreeing = aliases - new Set(misses.map((m) => m.split(':')[0])).size;
  process.stderr.write(`ssh -G agreement: ${agreeing}/${aliases} aliases in ${CONFIGS} configs (seed ${SEED})\n`);
  assert.ok(aliases > CONFIGS, `too few aliases compared: ${aliases}`);
  assert.deepEqual(misses.slice(0, 5), []);
});
