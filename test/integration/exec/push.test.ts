// Files to many hosts through the real CLI on real sshd hosts: SFTP, and `cat` over exec on a host
// without SFTP; the content verified by SHA-256 on each host and renamed into place; skipped where
// the host already has it; as root through real sudo; every refusal coded. The hosts all live on
// this machine, so each writes its own file ({host} in --to).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { call } from '../../../electron/core/api/dispatcher';
import { Worker } from '../../../electron/core/exec/worker';
import { cronium } from '../../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../../helpers/workspace';

const SUBNET = 112;
let ws: Workspace | undefined;
const DEST = `/tmp/cronium-push-${randomBytes(4).toString('hex')}`;
const ROOT_DEST = `${DEST}-root`;
let file = '';
let sha = '';

before(async () => {
  ws = await startWorkspaceWithHosts('push', {
    subnet: SUBNET,
    hosts: [
      { name: 'sftp1', profile: 'default' as const },
      { name: 'nosftp1', profile: 'nosftp' as const },
      { name: 'root1', profile: 'sudonopass' as const },
    ],
  });
  // Every account may write here (the hosts share this machine); the root-only one is 0755 root.
  mkdirSync(DEST, { mode: 0o777 });
  chmodSync(DEST, 0o777);
  mkdirSync(ROOT_DEST, { mode: 0o755 });
  file = join(ws.dataDir, '..', `payload-${randomBytes(3).toString('hex')}.bin`);
  const bytes = randomBytes(10 * 1024 * 1024);
  writeFileSync(file, bytes);
  sha = createHash('sha256').update(bytes).digest('hex');
  const r = await cli(['hosts', 'set', 'root1', '--elevation', 'sudo']);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await ws?.stop();
  rmSync(DEST, { recursive: true, force: true });
  rmSync(ROOT_DEST, { recursive: true, force: true });
  rmSync(file, { force: true });
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });
interface Row {
  jobId: number;
  host: string;
  status: string;
  output?: { skipped: boolean; sha256: string; bytes: number; via: string };
  error?: { code: string; message: string; hint?: string } | null;
}
const rows = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row);
const hashOf = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('.cronium-'));

test('a 10 MB file to three hosts: over SFTP and over exec, verified, mode set, no temporaries left; again: skipped', async () => {
  const hosts = ['sftp1', 'nosftp1', 'root1'];
  const r = await cli(['--json', 'push', file, ...hosts.flatMap((h) => ['--host', h]), '--to', `${DEST}/{host}.bin`, '--mode', '0640']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const by = new Map(rows(r.stdout).map((x) => [x.host, x]));
  for (const h of hosts) {
    assert.equal(by.get(h)?.status, 'succeeded', JSON.stringify(by.get(h)));
    const p = join(DEST, `${h}.bin`);
    assert.equal(hashOf(p), sha, `${h}: the content arrived whole`);
    assert.equal(statSync(p).mode & 0o7777, 0o640);
  }
  assert.deepEqual(leftovers(DEST), []);
  const log = await cli(['jobs', 'logs', String(by.get('sftp1')!.jobId)]);
  assert.match(log.stdout + log.stderr, /sftp1 \| cronium: sent 10\.5 MB in [\d.]+ s over sftp; sha256 [0-9a-f]{12}… verified on the host/);
  assert.match(log.stdout + log.stderr, /nosftp1 \| cronium: sent 10\.5 MB in [\d.]+ s over exec/);
  assert.match(log.stdout + log.stderr, /uploading payload-\w+\.bin: 50% of 10\.5 MB/);

  // The same file again: nothing sent anywhere.
  const again = await cli(['--json', 'push', file, ...hosts.flatMap((h) => ['--host', h]), '--to', `${DEST}/{host}.bin`, '--mode', '0640']);
  assert.equal(again.code, 0, again.stderr);
  for (const row of rows(again.stdout)) {
    const job = JSON.parse((await cli(['--json', 'jobs', 'show', String(row.jobId)])).stdout) as { runs: { host: string; output: { skipped: boolean } | null }[] };
    assert.equal(job.runs.find((x) => x.host === row.host)?.output?.skipped, true, `${row.host} skipped`);
  }
  // Another mode: sent again, the mode changed.
  const chmod = await cli(['--json', 'push', file, '--host', 'sftp1', '--to', `${DEST}/{host}.bin`, '--mode', '600']);
  assert.equal(chmod.code, 0, chmod.stderr);
  assert.equal(statSync(join(DEST, 'sftp1.bin')).mode & 0o7777, 0o600);
});

test('as root through sudo: into a root-only directory, owned by root; without --sudo it is refused with the hint', async () => {
  const denied = await cli(['--json', 'push', file, '--host', 'root1', '--to', `${ROOT_DEST}/app.bin`]);
  const [d] = rows(denied.stdout);
  assert.equal(d!.status, 'failed');
  assert.equal(d!.error?.code, 'PUSH_FAILED');
  assert.match(d!.error!.hint ?? '', /--sudo/);
  assert.deepEqual(readdirSync(ROOT_DEST), [], 'nothing was left behind');

  const ok = await cli(['--json', 'push', file, '--host', 'root1', '--to', `${ROOT_DEST}/app.bin`, '--sudo', '--owner', 'root:root', '--mode', '0600']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const st = statSync(join(ROOT_DEST, 'app.bin'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o600]);
  assert.equal(hashOf(join(ROOT_DEST, 'app.bin')), sha);
  assert.deepEqual(leftovers(ROOT_DEST), []);
  const home = readdirSync(`/home/${ws!.fleet.host('root1').user}`).filter((n) => n.startsWith('.cronium-push-'));
  assert.deepEqual(home, [], 'the staging copy in the home is gone');
});

test('what lands is verified: a file that changed after it was queued is refused with PUSH_VERIFY_FAILED, nothing replaced', async () => {
  const target = join(DEST, 'sftp1-verify.bin');
  writeFileSync(target, 'the old content\n');
  const core = ws!.open();
  try {
    const { jobId } = await call(core.dispatch, 'jobs.push', { path: file, hosts: ['sftp1'], to: target }, { door: 'cli' });
    // The blob is changed under the queued job (a disk error, say): the host must notice.
    const blob = join(ws!.dataDir, 'blobs', sha);
    const bad = readFileSync(blob);
    bad[12345] = (bad[12345]! + 1) % 256;
    writeFileSync(blob, bad);
    const worker = new Worker({ store: core.store.data, queue: core.queue, logs: core.logs, events: core.events, executor: core.executor, owner: `test:${process.pid}`, jobId, ...core.runHooks });
    const detach = core.jobs.attach(worker);
    worker.start();
    for (let i = 0; i < 600; i++) {
      const status = core.store.sqlite.prepare('select status from jobs where id = ?').pluck().get(jobId) as string;
      if (!['queued', 'running'].includes(status)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await worker.stop();
    detach();
    const run = core.store.sqlite.prepare('select status, error_code, error_message from runs where job_id = ?').get(jobId) as { status: string; error_code: string; error_message: string };
    assert.equal(run.status, 'failed');
    assert.equal(run.error_code, 'PUSH_VERIFY_FAILED', run.error_message);
    assert.equal(readFileSync(target, 'utf8'), 'the old content\n', 'the target was not replaced');
    assert.deepEqual(leftovers(DEST), []);
    writeFileSync(blob, readFileSync(file));
  } finally {
    core.close();
  }
});

test('bad input is refused before anything is sent, with the flag named', async () => {
  const rel = await cli(['push', file, '--host', 'sftp1', '--to', 'relative/path']);
  assert.equal(rel.code, 2, rel.stderr);
  assert.match(rel.stderr, /to.*absolute path/);
  const missing = await cli(['push', '/nonexistent/file', '--host', 'sftp1', '--to', '/tmp/x']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /path.*cannot be read: ENOENT/);
  const mode = await cli(['push', file, '--host', 'sftp1', '--to', '/tmp/x', '--mode', '999']);
  assert.equal(mode.code, 2);
  assert.match(mode.stderr, /not an octal mode/);
  const dir = await cli(['--json', 'push', file, '--host', 'sftp1', '--to', DEST]);
  const [row] = rows(dir.stdout);
  assert.equal(row!.error?.code, 'PUSH_FAILED');
  assert.match(row!.error!.message, /is a directory/);
  const nodir = await cli(['--json', 'push', file, '--host', 'sftp1', '--to', `${DEST}/no/such/dir/x`]);
  assert.match(rows(nodir.stdout)[0]!.error!.message, /does not exist/);
});

test('a saved script declares a file it needs: pushed to each host before it runs (then skipped), and a failed push keeps the script from running', async () => {
  const script = join(ws!.dataDir, '..', 'uses-file.sh');
  writeFileSync(script, `for f in ${DEST}/needs-*.bin; do sha256sum "$f" | cut -c1-64; done | sort -u\n`);
  const saved = await cli(['scripts', 'save', 'uses-file', '--file', script, '--push', `${file}=${DEST}/needs-{host}.bin,0600`]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.match(saved.stdout + saved.stderr, /pushes payload-\w+\.bin to .*needs-\{host\}\.bin first/);
  const r = await cli(['--json', 'run', '--script-name', 'uses-file', '--host', 'sftp1', '--host', 'nosftp1', '--mode', 'direct']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const h of ['sftp1', 'nosftp1']) {
    assert.equal(hashOf(join(DEST, `needs-${h}.bin`)), sha);
    assert.equal(statSync(join(DEST, `needs-${h}.bin`)).mode & 0o7777, 0o600);
  }
  const jobId = rows(r.stdout)[0]!.jobId;
  const log = await cli(['jobs', 'logs', String(jobId)]);
  assert.match(log.stdout + log.stderr, /sftp1 \| cronium: sent 10\.5 MB .* over sftp/);
  assert.match(log.stdout, new RegExp(`sftp1 \\| ${sha}`), 'the script ran after its file was in place');
  // Again: the files are there, nothing is sent, the script runs.
  const again = await cli(['--json', 'run', '--script-name', 'uses-file', '--host', 'sftp1', '--mode', 'runner']);
  assert.equal(again.code, 0, again.stderr);
  const log2 = await cli(['jobs', 'logs', String(rows(again.stdout)[0]!.jobId)]);
  assert.match(log2.stdout + log2.stderr, /cronium: unchanged: .*nothing sent/);
  // A file that cannot be put in place: the run fails before the script.
  const bad = await cli(['scripts', 'save', 'bad-file', '--file', script, '--push', `${file}=${DEST}/missing-dir/x.bin`]);
  assert.equal(bad.code, 0, bad.stderr);
  const failed = await cli(['--json', 'run', '--script-name', 'bad-file', '--host', 'sftp1', '--mode', 'direct']);
  const [row] = rows(failed.stdout);
  assert.equal(row!.error?.code, 'PUSH_FAILED');
  assert.match(row!.error!.message, /^file payload-\w+\.bin \(to .*x\.bin\): the directory .* does not exist .*; the script did not run$/);
  const flog = await cli(['jobs', 'logs', String(row!.jobId)]);
  assert.doesNotMatch(flog.stdout, /[0-9a-f]{64}/, 'the script did not run');
  // The script keeps where each file goes and its mode.
  const shown = JSON.parse((await cli(['--json', 'scripts', 'show', 'uses-file'])).stdout) as { files: { to: string; mode: number }[] };
  assert.deepEqual(shown.files.map((f) => [f.to, f.mode]), [[`${DEST}/needs-{host}.bin`, 0o600]]);
});
