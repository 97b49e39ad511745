// Fault: the app's own disk fills up during a run. The data dir lives on a 6 MiB tmpfs inside a
// private mount namespace (nothing is mounted on this machine outside it); the driver
// (fixtures/datadir-full-driver.ts) fills it to ~150 KiB free while a run prints ~2 MB. The CLI
// must stop at once with DATA_DIR_FULL and its hint (not hang, not a stack trace), the database
// must stay intact, and once space returns the next start marks the run lost, saying why, and
// the next run works. What was stored of the run is a clean prefix: no line doubled or torn.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../helpers/workspace';

const SUBNET = 126;
let ws: Workspace | undefined;
let mountPoint = '';

before(async () => {
  ws = await startWorkspaceWithHosts('datadir-full', { subnet: SUBNET, hosts: [{ name: 'h', profile: 'default' }] });
  mountPoint = mkdtempSync(join(tmpdir(), 'cronium-datadir-full-'));
});
after(async () => {
  await ws?.stop();
  if (mountPoint) rmSync(mountPoint, { recursive: true, force: true });
});

interface Cli {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

test('the data dir\'s disk full mid-run: DATA_DIR_FULL at once, database intact, recovery when space returns', () => {
  const h = ws!.fleet.host('h');
  const mount = 'mount -t tmpfs -o size=6m cronium-datadir-full "$1" && shift && exec "$@"';
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', mount, 'sh', mountPoint, process.execPath, '--import', 'tsx', join(ROOT, 'test/faults/fixtures/datadir-full-driver.ts'), mountPoint], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...ws!.env, ADDR: h.address, USR: h.user, IDF: h.identityFile! },
    timeout: 300_000,
    maxBuffer: 1 << 26,
  });
  assert.equal(r.status, 0, `driver: ${r.stderr.slice(-2000)}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    add: number;
    first: Cli;
    full: Cli;
    listWhileFull: Cli;
    after: Cli;
    runs: { id: number; status: string; error_message: string | null }[];
    integrity: string;
    chunks: { run_id: number; n: number; bytes: number }[];
    prefix: number | string;
  };
  assert.equal(out.add, 0);
  assert.equal(out.first.code, 0, out.first.stderr);

  // The run on a full disk: stopped with the code and its hint, quickly, without a stack trace.
  assert.equal(out.full.signal, null, 'the CLI ended by itself');
  assert.equal(out.full.code, 1, out.full.stderr);
  assert.match(out.full.stderr, /^error\[DATA_DIR_FULL\]: the disk of the data dir is full/m);
  assert.match(out.full.stderr, /hint: free space on the disk that holds the data dir/);
  assert.doesNotMatch(out.full.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(out.full.ms < 60_000, `it took ${out.full.ms} ms`);
  // Reading still works while the disk is full.
  assert.equal(out.listWhileFull.code, 0, out.listWhileFull.stderr);

  // Space back: the next start resolved the stopped run (its process is gone), the next run works.
  assert.equal(out.after.code, 0, out.after.stderr);
  assert.equal(out.after.stdout.trim(), 'after');
  assert.equal(out.integrity, 'ok');
  assert.deepEqual(out.runs.map((x) => x.status), ['succeeded', 'lost', 'succeeded']);
  assert.match(out.runs[1]!.error_message ?? '', /is gone/);
  assert.equal(typeof out.prefix, 'number', `the stored output is not a clean prefix: ${out.prefix}`);
  console.log(`fault-figures: app data dir full | tried 1 | survived 1 | lines lost 0 (stored: a clean prefix; output after the disk filled is not kept) | runs stuck 0`);
});
