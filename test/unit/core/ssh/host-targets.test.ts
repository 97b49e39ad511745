/** Inventory host → SshTarget: jump chains resolved recursively, loops refused. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openCore, type Core } from '../../../../electron/core/core';
import { MAX_JUMPS, resolveTarget, type TargetRecord } from '../../../../electron/core/hosts/host-targets';
import { CroniumError } from '../../../../electron/shared/errors';
import { tempDir } from '../../../helpers/temp';

function record(name: string, jump: string | null = null, extra: Partial<TargetRecord> = {}): TargetRecord {
  return { name, address: `${name}.example`, port: 22, user: null, identityFile: null, useAgent: true, jump, ...extra };
}

function lookupOf(records: TargetRecord[]): (name: string) => TargetRecord | undefined {
  const map = new Map(records.map((r) => [r.name, r]));
  return (name) => map.get(name);
}

const noSecrets = () => () => undefined;

/** The CroniumError `e` must be, with its code and message. */
function coded(e: unknown, code: string, message?: RegExp): CroniumError {
  assert.ok(e instanceof CroniumError, String(e));
  assert.equal(e.code, code, e.message);
  if (message) assert.match(e.message, message);
  return e;
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): CroniumError {
  try {
    fn();
  } catch (e) {
    return coded(e, code, message);
  }
  assert.fail(`expected ${code}`);
}

async function rejectsCode(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<CroniumError> {
  try {
    await fn();
  } catch (e) {
    return coded(e, code, message);
  }
  assert.fail(`expected ${code}`);
}

test('a direct host has no jumps; its facts are carried over', () => {
  const t = resolveTarget('web', lookupOf([record('web', null, { user: 'deploy', port: 2222, useAgent: false })]), noSecrets);
  assert.equal(t.name, 'web');
  assert.equal(t.address, 'web.example');
  assert.equal(t.port, 2222);
  assert.equal(t.user, 'deploy');
  assert.equal(t.useAgent, false);
  assert.deepEqual(t.jumps, []);
  assert.equal(t.identityFile, undefined);
  assert.equal(t.passphrase, undefined, 'no passphrase opener without an identity file');
});

test('a jump chain is resolved outermost first, each hop with its own chain', () => {
  // inner → mid → edge (edge is reached directly).
  const t = resolveTarget('inner', lookupOf([record('inner', 'mid'), record('mid', 'edge', { user: 'jumper' }), record('edge')]), noSecrets);
  assert.deepEqual(t.jumps.map((j) => j.name), ['edge', 'mid']);
  assert.deepEqual(t.jumps[0]!.jumps, []);
  assert.deepEqual(t.jumps[1]!.jumps.map((j) => j.name), ['edge'], 'mid is reached through edge');
  assert.equal(t.jumps[1]!.user, 'jumper', 'each hop keeps its own credentials');
});

test('loops are refused with INVALID_INPUT naming the chain; unknown hosts with NOT_FOUND', () => {
  const loop = throwsCode(() => resolveTarget('a', lookupOf([record('a', 'b'), record('b', 'c'), record('c', 'a')]), noSecrets), 'INVALID_INPUT', /loops: a → b → c → a/);
  assert.deepEqual(loop.details?.chain, ['a', 'b', 'c', 'a']);
  throwsCode(() => resolveTarget('self', lookupOf([record('self', 'self')]), noSecrets), 'INVALID_INPUT', /loops: self → self/);
  throwsCode(() => resolveTarget('x', lookupOf([record('x', 'b'), record('b', 'c'), record('c', 'b')]), noSecrets), 'INVALID_INPUT', /x → b → c → b/);
  throwsCode(() => resolveTarget('ghost', lookupOf([]), noSecrets), 'NOT_FOUND');
  throwsCode(() => resolveTarget('a', lookupOf([record('a', 'gone')]), noSecrets), 'INVALID_INPUT', /jump host "gone"/);
  const long = Array.from({ length: MAX_JUMPS + 3 }, (_, i) => record(`h${i}`, i < MAX_JUMPS + 2 ? `h${i + 1}` : null));
  throwsCode(() => resolveTarget('h0', lookupOf(long), noSecrets), 'INVALID_INPUT', /longer than/);
  assert.equal(resolveTarget('h3', lookupOf(long), noSecrets).jumps.length, MAX_JUMPS - 1);
});

function open(t: TestContext): Core {
  const core = openCore({ dataDir: tempDir(t), door: 'cli', ssh: { agentSocket: null, knownHostsFiles: [] } });
  t.after(() => core.close());
  return core;
}

test('HostService.sshTarget resolves the inventory and opens secrets only when asked', async (t) => {
  const core = open(t);
  const dir = tempDir(t);
  const key = join(dir, 'id');
  writeFileSync(key, 'not read here');
  await core.hosts.add({ name: 'edge', address: '127.0.0.1', port: 22, tags: [], password: 'edge-pw' });
  await core.hosts.add({ name: 'inner', address: '10.1.1.1', port: 2200, user: 'app', identityFile: key, passphrase: 'pp', useAgent: false, jump: 'edge', tags: [] });
  const target = await core.hosts.sshTarget('inner');
  assert.equal(target.port, 2200);
  assert.equal(target.identityFile, key);
  assert.equal(target.useAgent, false);
  assert.equal(target.passphrase?.(), 'pp');
  assert.equal(target.password?.(), undefined);
  assert.deepEqual(target.jumps.map((j) => j.name), ['edge']);
  assert.equal(target.jumps[0]!.password?.(), 'edge-pw');
  assert.equal(target.jumps[0]!.useAgent, true, 'useAgent defaults to true');
  const shown = await core.hosts.get('inner');
  assert.equal(shown.hasPassphrase, true);
  assert.equal(shown.useAgent, false);
  assert.equal((await core.hosts.get('edge')).hasPassphrase, false);

  // A loop can only come from outside the API (an edited database, an import bug): still refused.
  core.store.sqlite.prepare('update hosts set jump_host_id = (select id from hosts where name = ?) where name = ?').run('inner', 'edge');
  await rejectsCode(() => core.hosts.sshTarget('inner'), 'INVALID_INPUT', /loops: inner → edge → inner/);
  await rejectsCode(() => core.hosts.sshTarget('nobody'), 'NOT_FOUND');
});

test('a passphrase needs an identity file', async (t) => {
  const core = open(t);
  await rejectsCode(() => core.hosts.add({ name: 'x', address: '127.0.0.1', port: 22, tags: [], passphrase: 'pp' }), 'INVALID_INPUT', /invalid passphrase/);
});
