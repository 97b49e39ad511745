/**
 * Each OS's OpenSSH conventions (ssh-paths.ts) with the platform injected: on Windows the
 * OpenSSH agent's named pipe first and Pageant second, %USERPROFILE%\.ssh for the config,
 * keys and known_hosts whatever HOME says; ~/.ssh and $SSH_AUTH_SOCK elsewhere. Remote paths
 * stay POSIX on a Windows client: the lint rule in eslint.config.js keeps node:path's local
 * functions out of the code that builds them, checked here by running ESLint on an offender.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultAgentSocket, expandTilde, sshDir, sshHome, userKnownHosts, userSshConfig, WINDOWS_OPENSSH_AGENT_PIPE } from '../../../../electron/core/ssh/ssh-paths';
import { ROOT } from '../../../helpers/cli';

const WIN_ENV = { USERPROFILE: 'C:\\Users\\Ada', HOME: '/c/Users/ada-msys', APPDATA: 'C:\\Users\\Ada\\AppData\\Roaming' };

test("Windows: the OpenSSH agent's named pipe when its service runs, else Pageant; SSH_AUTH_SOCK wins everywhere", () => {
  assert.equal(WINDOWS_OPENSSH_AGENT_PIPE, '\\\\.\\pipe\\openssh-ssh-agent');
  const probed: string[] = [];
  const running = (p: string) => (probed.push(p), p === WINDOWS_OPENSSH_AGENT_PIPE);
  assert.equal(defaultAgentSocket(WIN_ENV, 'win32', running), WINDOWS_OPENSSH_AGENT_PIPE);
  assert.deepEqual(probed, [WINDOWS_OPENSSH_AGENT_PIPE]);
  assert.equal(defaultAgentSocket(WIN_ENV, 'win32', () => false), 'pageant');
  assert.equal(defaultAgentSocket({ ...WIN_ENV, SSH_AUTH_SOCK: '\\\\.\\pipe\\1password-agent' }, 'win32', running), '\\\\.\\pipe\\1password-agent');
  assert.equal(defaultAgentSocket({ SSH_AUTH_SOCK: '/run/user/1000/agent.sock' }, 'linux', running), '/run/user/1000/agent.sock');
  assert.equal(defaultAgentSocket({}, 'darwin', running), undefined, 'no agent configured: none');
  // ssh2 treats exactly this form as a Windows pipe (its own WINDOWS_PIPE_REGEX) and anything else but "pageant" as a Cygwin socket.
  assert.match(WINDOWS_OPENSSH_AGENT_PIPE, /^[/\\][/\\]\.[/\\]pipe[/\\].+/);
});

test('Windows: %USERPROFILE%\\.ssh for config, keys and known_hosts, not the HOME that MSYS sets', () => {
  assert.equal(sshHome(WIN_ENV, 'win32'), 'C:\\Users\\Ada');
  assert.equal(sshDir(WIN_ENV, 'win32'), 'C:\\Users\\Ada\\.ssh');
  assert.equal(userKnownHosts(WIN_ENV, 'win32'), 'C:\\Users\\Ada\\.ssh\\known_hosts');
  assert.equal(userSshConfig(WIN_ENV, 'win32'), 'C:\\Users\\Ada\\.ssh\\config');
  assert.equal(expandTilde('~\\.ssh\\id_ed25519', 'C:\\Users\\Ada', 'win32'), 'C:\\Users\\Ada\\.ssh\\id_ed25519');
  assert.equal(expandTilde('~/.ssh/id_ed25519', 'C:\\Users\\Ada', 'win32'), 'C:\\Users\\Ada/.ssh/id_ed25519');
  assert.equal(expandTilde('~ada/x', 'C:\\Users\\Ada', 'win32'), '~ada/x', "another user's home is not ours");
  // Elsewhere: $HOME.
  assert.equal(userKnownHosts({ HOME: '/home/ada' }, 'linux'), '/home/ada/.ssh/known_hosts');
  assert.equal(userSshConfig({ HOME: '/Users/ada' }, 'darwin'), '/Users/ada/.ssh/config');
  assert.equal(expandTilde('~\\x', '/home/ada', 'linux'), '~\\x', 'a backslash is a file name character on POSIX');
  assert.equal(expandTilde('~', '/home/ada', 'linux'), '/home/ada');
});

test('remote paths stay POSIX: node:path functions are refused in the code that builds them', (t) => {
  // A file where remote paths are built (electron/core/runner/deploy*.ts), written for the check and removed after.
  const offender = join(ROOT, 'electron', 'core', 'runner', 'deploy-lint-probe.ts');
  t.after(() => spawnSync('rm', ['-f', offender]));
  writeFileSync(offender, "import { join } from 'node:path';\nimport path from 'node:path';\nimport { posix } from 'node:path';\n/** A probe. */\nexport const a = [join('x', 'y'), path.join('x'), posix.join('/tmp', 'x')];\n");
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', offender], { cwd: ROOT, encoding: 'utf8' });
  const messages = (JSON.parse(r.stdout) as { messages: { ruleId: string; line: number; message: string }[] }[])[0]!.messages.filter((m) => m.ruleId === 'no-restricted-imports');
  assert.deepEqual(messages.map((m) => m.line), [1, 2], 'join and the default import are refused; posix is allowed');
  assert.match(messages[0]!.message, /remote paths are POSIX/);
});
