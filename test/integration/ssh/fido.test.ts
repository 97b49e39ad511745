// FIDO security keys (issue 14, part 4) through the real CLI: an sk-ssh-ed25519@openssh.com key
// made with OpenSSH's own dummy authenticator (regress/misc/sk-dummy, built from the Debian source
// of the installed ssh by scripts/ci/build-sk-dummy.sh: there is no security key on this machine)
// and held by a real ssh-agent. The built-in client cannot sign with it and says where to go; the
// OpenSSH transport, your own ssh with that agent, logs in with it.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cronium, ROOT, runJson } from '../../helpers/cli';
import { until, startWorkspace, type Workspace } from '../../helpers/workspace';

const SUBNET = 119;
const SK_DUMMY = join(ROOT, '.tools', 'sk-dummy.so');
let ws: Workspace | undefined;
let agent: ChildProcess | undefined;
let sock = '';

before(async () => {
  assert.ok(existsSync(SK_DUMMY), `${SK_DUMMY} is missing: run scripts/ci/build-sk-dummy.sh (.ci/run does)`);
  ws = await startWorkspace('fido', { subnet: SUBNET, hosts: [{ name: 'h', profile: 'default' }] });
  const key = join(ws.scratch, 'id_ed25519_sk');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519-sk', '-w', SK_DUMMY, '-N', '', '-C', 'cronium-fido-test', '-f', key]);
  await ws.fleet.authorize('h', readFileSync(`${key}.pub`, 'utf8'));
  sock = join(ws.scratch, 'agent.sock');
  // The agent loads only this provider (-P); -D keeps it in the foreground, as our child.
  agent = spawn('ssh-agent', ['-D', '-a', sock, '-P', SK_DUMMY], { stdio: 'ignore' });
  await until('the agent listens', () => existsSync(sock));
  execFileSync('ssh-add', [key], { env: { ...process.env, SSH_AUTH_SOCK: sock, SSH_SK_PROVIDER: SK_DUMMY }, stdio: 'ignore' });
  assert.match(execFileSync('ssh-add', ['-l'], { env: { ...process.env, SSH_AUTH_SOCK: sock } }).toString(), /ED25519-SK/);
  const host = ws.fleet.host('h');
  assert.equal((await cli(['hosts', 'add', 'fido', '--address', host.address, '--user', host.user])).code, 0);
  assert.equal((await cli(['hosts', 'trust', 'fido', '--fingerprint', host.hostKeyFingerprint])).code, 0);
});
after(async () => {
  agent?.kill('SIGTERM');
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never', SSH_AUTH_SOCK: sock } });

test('a FIDO key in the agent: the built-in client says to use your own ssh, which logs in with it', async () => {
  const builtin = await cli(['run', '--host', 'fido', '--command', 'true']);
  assert.equal(builtin.code, 255);
  assert.match(builtin.stderr, /AUTH_FAILED/);
  assert.match(builtin.stderr, /FIDO security key .* cronium hosts set fido --transport openssh/);
  assert.equal((await cli(['hosts', 'set', 'fido', '--transport', 'openssh'])).code, 0);
  for (const mode of ['runner', 'direct']) {
    const r = await runJson(cli, ['--host', 'fido', '--mode', mode, '--command', 'echo "signed by a security key"']);
    assert.deepEqual([r.status, r.transport], ['succeeded', 'openssh'], JSON.stringify(r.error));
  }
});
