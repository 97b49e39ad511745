// RunnerDeployer's decisions on hosts the fleet cannot be (other platforms, missing tools), against
// a scripted connection; the fleet-backed test is test/integration/runner/deploy.test.ts.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openCore } from '../../../../electron/core/core';
import { isDirectFallback, RunnerDeployer, type RunnerDeployerDeps } from '../../../../electron/core/runner/deploy';
import { LocalArtifacts, NOT_BUILT_REASON } from '../../../../electron/core/runner/local-artifacts';
import { CroniumError } from '../../../../electron/shared/errors';
import { InstallationKeys } from '../../../../electron/core/runner/payload';
import type { ExecResult, SshConnection, SshPool } from '../../../../electron/core/ssh/types';
import { isCroniumError } from '../../../../electron/shared/errors';
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
async function setup(
  t: TestContext,
  lines: string[],
  opts: { empty?: boolean; builder?: (artifactsDir: string) => RunnerDeployerDeps['builder'] } = {},
): Promise<{ deployer: RunnerDeployer; commands: string[]; close: () => void }> {
  const dir = tempDir(t);
  if (opts.empty) mkdirSync(join(dir, 'artifacts'));
  else fakeArtifacts(join(dir, 'artifacts'));
  const core = openCore({ dataDir: join(dir, 'data'), door: 'cli', runner: { artifactsDir: join(dir, 'artifacts') } });
  t.after(() => core.close());
  await core.hosts.add({ name: 'h1', address: '192.0.2.1', port: 22, tags: [] });
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
    store: core.store.data,
    pool,
    resolve: (n) => core.hosts.sshTarget(n),
    keys: new InstallationKeys(join(dir, 'data')),
    artifacts: new LocalArtifacts({ dir: join(dir, 'artifacts') }),
    ...(opts.builder ? { builder: opts.builder(join(dir, 'artifacts')) } : {}),
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
  const { deployer, commands } = await setup(t, ['uname_s\tSunOS', 'uname_m\tsun4v', 'long_bit\t64', ...LINUX_OK]);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.code, 'RUNNER_DEPLOY_FAILED');
  assert.equal(err.details?.reason, 'unsupported-platform');
  assert.match(err.message, /uname -sm: "SunOS sun4v"/);
  assert.ok(isDirectFallback(err));
  assert.equal(commands.length, 1, 'nothing but the prepare script ran');
  const [row] = await deployer.deployments({ name: 'h1' });
  assert.equal(row!.status, 'failed');
  assert.match(row!.error!, /^RUNNER_DEPLOY_FAILED: no runner build for SunOS/);
});

test('a 64-bit kernel with a 32-bit userland needs the armv7 build; without it: no-artifact', async (t) => {
  const { deployer } = await setup(t, ['uname_s\tLinux', 'uname_m\taarch64', 'long_bit\t32', ...LINUX_OK]);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'no-artifact');
  assert.equal(err.message, 'runner artifacts are not built here for linux-armv7; build them with: cronium runner build');
  assert.ok(isDirectFallback(err));
  assert.equal((await deployer.deployments({ name: 'h1' }))[0]!.target, 'linux-armv7');
});

test('a host without any SHA-256 tool cannot be verified: no-sha256-tool, before any upload', async (t) => {
  const { deployer, commands } = await setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', 'uid\t1000', 'gzip\t1', 'chosen\t/home/u/.cache/cronium']);
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'no-sha256-tool');
  assert.equal(commands.length, 1);
});

test('a prepare script that never ran (a broken login shell) is RUNNER_DEPLOY_FAILED, not a fallback', async (t) => {
  const { deployer } = await setup(t, []);
  const conn = (await (deployer as unknown as { deps: { pool: SshPool } }).deps.pool.connect({} as never)) as unknown as { exec: () => Promise<ExecResult> };
  conn.exec = () => Promise.resolve({ stdout: Buffer.from('garbage'), stderr: Buffer.from('sh: not found'), code: 127, signal: null });
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.details?.reason, 'script-failed');
  assert.match(err.message, /exit 127: sh: not found/);
  assert.equal(isDirectFallback(err), false);
});

test('no artifacts built at all: the "not built" fallback before any connection, never RUNNER_INTEGRITY_FAILED', async (t) => {
  const { deployer, commands } = await setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', ...LINUX_OK], { empty: true });
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.code, 'RUNNER_DEPLOY_FAILED');
  assert.equal(err.details?.reason, 'no-artifacts');
  assert.equal(err.message, NOT_BUILT_REASON);
  assert.equal(NOT_BUILT_REASON, 'runner artifacts are not built here; build them with: cronium runner build');
  assert.match(err.hint, /Go 1\.25/);
  assert.ok(isDirectFallback(err), 'auto mode runs directly');
  assert.equal(commands.length, 0, 'nothing reached the host');
  assert.deepEqual(await deployer.deployments({ name: 'h1' }), [], 'a machine without artifacts is no failed deployment of the host');
});

test('no artifacts, but a builder: the host\'s target is built on demand, then deployed from', async (t) => {
  const built: string[] = [];
  const { deployer, commands } = await setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', ...LINUX_OK], {
    empty: true,
    builder: (dir) => ({
      build: (target: string) => {
        built.push(target);
        fakeArtifacts(dir);
        return Promise.resolve();
      },
    }),
  });
  const err = await rejection(deployer.deploy('h1'));
  assert.deepEqual(built, ['linux-amd64']);
  // The scripted host then fails the upload (it answers every command with the prepare output):
  // what matters is that the deploy went on with the built artifact, after a second look at the cache.
  assert.equal(err.details?.reason, 'upload-failed', err.message);
  assert.equal(commands.filter((c) => c === commands[0]).length, 2, 'the prepare script ran again with the new artifact');
});

test('a builder that cannot build (no Go) gives the same fallback as no builder; a failed build says why', async (t) => {
  const noGo = new CroniumError('RUNNER_BUILD_FAILED', 'cannot run the Go toolchain "go": not found');
  const a = await setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', ...LINUX_OK], { empty: true, builder: () => ({ build: () => Promise.reject(noGo) }) });
  const e1 = await rejection(a.deployer.deploy('h1'));
  assert.equal(e1.message, NOT_BUILT_REASON);
  assert.ok(isDirectFallback(e1));
  const broken = new CroniumError('RUNNER_BUILD_FAILED', 'go build for linux-arm64 failed (exit 1):\nsyntax error');
  const b = await setup(t, ['uname_s\tLinux', 'uname_m\taarch64', 'long_bit\t64', ...LINUX_OK], { builder: () => ({ build: () => Promise.reject(broken) }) });
  const e2 = await rejection(b.deployer.deploy('h1'));
  assert.equal(e2.details?.reason, 'no-artifact');
  assert.match(e2.message, /^runner artifacts are not built here for linux-arm64; build them with: cronium runner build \(building it failed: go build for linux-arm64 failed \(exit 1\):\)$/);
  assert.ok(isDirectFallback(e2));
});

test('a tampered artifact stays RUNNER_INTEGRITY_FAILED in every mode: no fallback, no rebuild', async (t) => {
  const built: string[] = [];
  let artifactsDir = '';
  const { deployer, commands } = await setup(t, ['uname_s\tLinux', 'uname_m\tx86_64', 'long_bit\t64', ...LINUX_OK], {
    builder: (dir) => {
      artifactsDir = dir;
      return { build: (target: string) => (built.push(target), Promise.resolve()) };
    },
  });
  writeFileSync(join(artifactsDir, 'linux-amd64', 'cronium-runner'), 'not really a runner, changed');
  const err = await rejection(deployer.deploy('h1'));
  assert.equal(err.code, 'RUNNER_INTEGRITY_FAILED');
  assert.equal(isDirectFallback(err), false);
  assert.deepEqual(built, []);
  assert.equal(commands.length, 0);
  // A malformed manifest is no "not built" either.
  writeFileSync(join(artifactsDir, 'manifest.json'), '{"version":');
  const malformed = await rejection(deployer.deploy('h1'));
  assert.equal(malformed.code, 'RUNNER_INTEGRITY_FAILED');
  assert.equal(isDirectFallback(malformed), false);
});
