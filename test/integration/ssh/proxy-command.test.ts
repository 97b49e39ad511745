// ProxyCommand through the real CLI: a host reached through a local command (socat to %h:%p)
// runs scripts in both modes; a command that fails is CONNECT_FAILED with what it said; a host
// cannot have both a jump host and a ProxyCommand.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cronium } from '../../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../../helpers/workspace';

const SUBNET = 114;
let ws: Workspace | undefined;

before(async () => {
  ws = await startWorkspaceWithHosts('proxy-command', { subnet: SUBNET, hosts: [{ name: 'h', profile: 'default' }] });
});
after(async () => {
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });

test('a host reached through a ProxyCommand runs scripts in both modes; a failing command says why', async () => {
  const h = ws!.fleet.host('h');
  const add = await cli(['hosts', 'add', 'via', '--address', h.address, '--port', String(h.port), '--user', h.user, '--identity', h.identityFile!, '--proxy-command', 'exec socat - TCP:%h:%p']);
  assert.equal(add.code, 0, add.stderr);
  const trust = await cli(['hosts', 'trust', 'via', '--fingerprint', h.hostKeyFingerprint]);
  assert.equal(trust.code, 0, trust.stderr);
  for (const mode of ['auto', 'direct', 'runner']) {
    const r = await cli(['run', '--host', 'via', '--mode', mode, '--command', 'echo through-proxy']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'through-proxy\n');
  }
  const show = JSON.parse((await cli(['--json', 'hosts', 'show', 'via'])).stdout) as { proxyCommand: string };
  assert.equal(show.proxyCommand, 'exec socat - TCP:%h:%p');
  const bad = await cli(['hosts', 'set', 'via', '--proxy-command', 'echo "corp proxy: denied for %h" >&2; exit 5']);
  assert.equal(bad.code, 0, bad.stderr);
  const r = await cli(['run', '--host', 'via', '--mode', 'direct', '--command', 'echo never']);
  assert.equal(r.code, 255);
  assert.match(r.stderr, /CONNECT_FAILED/);
  assert.match(r.stderr, new RegExp(`corp proxy: denied for ${h.address.replace(/\./g, '\\.')}`));
  // diagnose shows what the command said, on the check that failed.
  const d = await cli(['--json', 'diagnose', 'via']);
  const checks = (JSON.parse(d.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks;
  const failed = checks.find((c) => c.status === 'fail');
  assert.ok(failed, d.stdout);
  assert.match(failed.detail, new RegExp(`corp proxy: denied for ${h.address.replace(/\./g, '\\.')}`));
  const both = await cli(['hosts', 'add', 'both', '--address', h.address, '--jump', 'h', '--proxy-command', 'nc %h %p']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /jump host or a ProxyCommand, not both/);
});
