// RunnerDeployer's decisions on hosts the fleet cannot be (other platforms, missing tools), against
// a scripted connection; the fleet-backed test is test/integration/runner/deploy.test.ts.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openCore } from '../../../../electron/core/core';
import { isDirectFallback, RunnerDeployer } from '../../../../electron/core/runner/deploy';
import { LocalArtifacts } from '../../../../electron/core/runner/local-artifacts';
import { InstallationKeys } from '../../../../electron/core/runner/payload';
import type { ExecResult, SshConnection, SshPool } from '../../../../electron/core/ssh/types';
import { isCroniumError, type CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

/** A signed artifacts dir with one linux-amd64 "binary", as buildRunnerArtifacts lays it out. */
function fakeArtifacts(dir: string): void {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const bin = Buffer.from('not really a runner');
  mkdirSync(join(dir, 'linux-amd64'), { recursive: true });
  writeFileSync(join(dir, 'linux-amd64', 'cronium-runner'), bin);
  writeFileSync(join(dir, 'linux-amd64', 'cronium-runner.sig'), sign('sha256', bin, { key: privateKey, dsaEncoding: 'der' }).toString('base64'));
  writeFileSync(join(dir, 'cosign.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const fingerprint = createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
  const entry = { target: 'linux-amd64', path: 'linux-amd64/cronium-runner', sha256: createHash('sha256').update(bin).digest('hex'), size: bin.length, signature: 'linux-amd64/cronium-runner.sig' };
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ version: '0.1.0', protocol: 1, builtAt: new Date().toISOString(), signer: { kind: 'development', publicKeyPath: 'cosign.pub', fingerprint }, artifacts: [entry] }),
  );
}

/** A deployer whose host answers the prepare script with `lines` (after some login-shell noise). */
function setup(t: TestContext, lines: string[]): { deployer: RunnerDeployer; commands: string[]; close: () => void } {
  const dir = tempDir(t);
  fakeArtifacts(join(dir, 'artifacts'));
  const core = openCore({ dataDir: join(dir, 'data'), door: 'cli', runner: { artifactsDir: join(dir, 'artifacts') } });
  t.after(() => core.close());
  core.hosts.add({ name: 'h1', address: '192.0.2.1', port: 22, tags: [] });
  const commands: string[] = [];
  const stdout = Buffer.from(`Welcome!\n@@cronium-deploy-prepare\n@uname_s\tfake\n${lines.map((l) => `@${l}`).join('\n')}\n@end\tok\n`);
  const conn = {
    exec: (command: string): Promise<ExecResult> => {
      commands.push(command);
      return Promise.resolve({ stdout, stderr: Buffer.alloc(0), code: 0, signal: null });
    },
  } as unknown as SshConnection;
  const pool = { connect: () => Promise.resolve(conn), scanHostKey: () => Promise.reject(new Error('no')), close: () => Promise.resolve() } as SshPool;
  const deployer = new RunnerDeployer({
    db: core.store.db,
    pool,
    resolve: (n) => core.hosts.sshTarget(n),
    keys: new InstallationKeys(join(dir, 'data')),
    artifacts: new LocalArtifacts({ dir: join(dir, 'artifacts') }),
  });
  return { deployer, commands, close: () => core.close() };
}

async function rejection(p: Promise<unknown>): Promise<CroniumError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isCroniumError(err));
    return err;
  }
  assert.fail('expected a rejection');
}

const LINUX_OK = ['uid\t1000', 'gzip\t1', 'shatool\tsha256sum', 'chosen\t/home/u/.cache/cronium'];

test('an unsupported platform fails with RUNNER_DEPLOY_FAILED quoting uname, recorded, a direct-mode fallback', async (t) => {
  const { deployer, commands } = setup(t, ['uname_s\tSunOS', 'uname_m\tsun4v', 'long_bit\t64', ...LINUX_OK]);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.code, 'RUNNER_DEPLOY_FAILED');
  assert.equal(err.details?.reason, 'unsupported-platform');
  assert.match(err.message, /uname -sm: "SunOS sun4v"/);
  assert.ok(isDirectFallback(err));
  assert.equal(commands.length, 1, 'nothing but the prepare script ran');
  const [row] = deployer.deployments({ name: 'h1' });
  assert.equal(row!.status, 'failed');
  assert.match(row!.error!, /^RUNNER_DEPLOY_FAILED: no runner build for SunOS/);
});

test('a 64-bit kernel with a 32-bit userland needs the armv7 build; without it: no-artifact', async (t) => {
  const { deployer } = setup(t, ['uname_s\tLinux', 'uname_m\taarch64', 'long_bit\t32', ...LINUX_OK]);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'no-artifact');
  assert.match(err.message, /no runner artifact for linux-armv7/);
  assert.equal(deployer.deployments({ name: 'h1' })[0]!.target, 'linux-armv7');
});

test('a host without any SHA-256 tool cannot be verified: no-sha256-tool, before any upload', async (t) => {
  const { deployer, commands } = setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', 'uid\t1000', 'gzip\t1', 'chosen\t/home/u/.cache/cronium']);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'no-sha256-tool');
  assert.equal(commands.length, 1);
});

test('a prepare script that never ran (a broken login shell) is RUNNER_DEPLOY_FAILED, not a fallback', async (t) => {
  const { deployer } = setup(t, []);
  const conn = (await (deployer as unknown as { deps: { pool: SshPool } }).deps.pool.connect({} as never)) as unknown as { exec: () => Promise<ExecResult> };
  conn.exec = () => Promise.resolve({ stdout: Buffer.from('garbage'), stderr: Buffer.from('sh: not found'), code: 127, signal: null });
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'script-failed');
  assert.match(err.message, /exit 127: sh: not found/);
  assert.equal(isDirectFallback(err), false);
});
