/**
 * The team-mode tests' PostgreSQL (test/pg/cluster.ts, Debian's package, issue #16): a private
 * cluster starts on 127.0.0.1 at a port of its own, nowhere else; a wrong password is refused;
 * two clusters run side by side; stop leaves no server process and no files.
 * Needs root (the server runs as the postgres user) and the postgresql package.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { isRunning, processStartTime } from '../../fleet/proc';
import { startPgCluster } from '../../pg/cluster';

test('a private cluster: loopback only, its own port, scram passwords; two side by side; stop leaves nothing', async () => {
  const a = await startPgCluster();
  const b = await startPgCluster();
  try {
    assert.notEqual(a.port, b.port);
    assert.equal((await a.psql('show listen_addresses')).trim(), '127.0.0.1');
    assert.equal(Number((await a.psql('show port')).trim()), a.port);
    assert.ok(Number((await a.psql('show server_version_num')).trim()) >= 150000);
    assert.equal((await a.psql('show password_encryption')).trim(), 'scram-sha-256');
    // The password is checked (scram), and b's is not a's.
    await assert.rejects(a.psql('select 1', 'postgres', 'wrong'), /password authentication failed/);
    await assert.rejects(b.psql('select 1', 'postgres', a.password), /password authentication failed/);
    await a.psql('create database cronium_test');
    assert.equal((await a.psql('select 1 + 1', 'cronium_test')).trim(), '2');
    assert.ok(!a.url().includes(' '));
  } finally {
    const started = { pid: a.pid, startTime: processStartTime(a.pid) ?? '' };
    await a.stop();
    await b.stop();
    assert.equal(isRunning(started), false, 'the server is gone');
    assert.equal(existsSync(a.dir), false, 'its dir is removed');
  }
});
