// Output compared across hosts, through the real CLI on real sshd hosts: a fan-out to five hosts
// where one answers differently (by the address it was reached on) and every line carries a time
// that differs on every host; `jobs compare` groups them (the times removed by --ignore), `jobs
// diff` shows what differs, `jobs rerun --differing` runs the same script on that one host only.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { cronium } from '../../helpers/cli';
import { startWorkspaceWithHosts, type Workspace } from '../../helpers/workspace';

// Other suites use 201-242; helpers' branches 130-189.
const SUBNET = 121;
const NAMES = ['c1', 'c2', 'c3', 'c4', 'c5'];
let ws: Workspace | undefined;
let odd = '';

before(async () => {
  ws = await startWorkspaceWithHosts('compare', { subnet: SUBNET, hosts: NAMES.map((name) => ({ name, profile: 'default' as const })) });
  odd = ws.fleet.host('c4').address;
});
after(async () => {
  await ws?.stop();
});

const cli = (args: string[]) => cronium(['--data-dir', ws!.dataDir, ...args], { env: { ...ws!.env, CRONIUM_USE_APP: 'never' } });

// SSH_CONNECTION names the address the host was reached on: c4's differs in one line.
const SCRIPT = `
echo "started $(date +%H:%M:%S.%N)"
echo "kernel $(uname -s)"
case "$SSH_CONNECTION" in *" $ODD "*) echo "disk 91% used";; *) echo "disk 12% used";; esac
echo "done $(date +%H:%M:%S.%N)"
`;

test('compare groups hosts by output and exit code, diff shows the difference, rerun --differing runs only there', async () => {
  const r = await cli(['--json', 'run', ...NAMES.flatMap((n) => ['--host', n]), '--env', `ODD=${odd}`, '--command', SCRIPT]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { jobId: number; host: string; status: string });
  const jobId = rows[0]!.jobId;
  assert.deepEqual(rows.map((x) => x.status), NAMES.map(() => 'succeeded'));

  // Raw: every host differs (the times).
  const raw = JSON.parse((await cli(['--json', 'jobs', 'compare', String(jobId)])).stdout) as { groups: { runs: { host: string }[] }[] };
  assert.equal(raw.groups.length, 5, 'with the times, all five outputs differ');

  // Times removed: two groups, the four alike first.
  const c = await cli(['--json', 'jobs', 'compare', String(jobId), '--ignore', '\\d\\d:\\d\\d:\\d\\d\\.\\d+']);
  assert.equal(c.code, 0, c.stderr);
  const cmp = JSON.parse(c.stdout) as { pending: number; groups: { exitCode: number; lines: number; runs: { runId: number; host: string }[]; sample: string }[] };
  assert.equal(cmp.pending, 0);
  assert.deepEqual(cmp.groups.map((g) => g.runs.map((x) => x.host).sort()), [['c1', 'c2', 'c3', 'c5'], ['c4']]);
  assert.deepEqual(cmp.groups.map((g) => g.exitCode), [0, 0]);
  assert.equal(cmp.groups[0]!.lines, 4);
  assert.match(cmp.groups[1]!.sample, /disk 91% used/);
  assert.doesNotMatch(cmp.groups[0]!.sample, /\d\d:\d\d:\d\d/, 'the sample is the normalised output');

  // The table for people.
  const table = await cli(['jobs', 'compare', String(jobId), '--ignore', '\\d\\d:\\d\\d:\\d\\d\\.\\d+']);
  assert.match(table.stdout, /#1 {2}4 hosts, exit 0, 4 lines/);
  assert.match(table.stdout, /#2 {2}1 host, exit 0, 4 lines, sha256 [0-9a-f]{12}: c4/);

  // The diff of c4 against the largest group: the one line, times removed.
  const odd4 = cmp.groups[1]!.runs[0]!.runId;
  const d = await cli(['jobs', 'diff', String(odd4), '--ignore', '\\d\\d:\\d\\d:\\d\\d\\.\\d+']);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /^-disk 12% used$/m);
  assert.match(d.stdout, /^\+disk 91% used$/m);
  assert.doesNotMatch(d.stdout, /^[-+]started/m, 'times are ignored in the diff too');
  const same = JSON.parse((await cli(['--json', 'jobs', 'diff', String(cmp.groups[0]!.runs[0]!.runId), '--against', String(cmp.groups[0]!.runs[1]!.runId), '--ignore', '\\d\\d:\\d\\d:\\d\\d\\.\\d+'])).stdout) as { identical: boolean };
  assert.equal(same.identical, true);

  // Re-run where it differs: one run, on c4, same script and env (it still says 91%).
  const again = await cli(['--json', 'jobs', 'rerun', String(jobId), '--differing', '--ignore', '\\d\\d:\\d\\d:\\d\\d\\.\\d+']);
  assert.equal(again.code, 0, again.stderr);
  const rerun = again.stdout.trim().split('\n').map((l) => JSON.parse(l) as { jobId: number; host: string; status: string });
  assert.deepEqual(rerun.map((x) => [x.host, x.status]), [['c4', 'succeeded']]);
  assert.notEqual(rerun[0]!.jobId, jobId);
  const log = await cli(['jobs', 'logs', String(rerun[0]!.jobId)]);
  assert.match(log.stdout, /disk 91% used/);

  // Bad input: a pattern that does not compile, a host the job did not run on, an unknown job.
  const bad = await cli(['--json', 'jobs', 'compare', String(jobId), '--ignore', '(']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /INVALID_INPUT/);
  assert.match(bad.stderr, /not a regular expression/);
  const notThere = await cli(['jobs', 'rerun', String(rerun[0]!.jobId), '--host', 'c1']);
  assert.notEqual(notThere.code, 0);
  assert.match(notThere.stderr, /did not run on "c1"/);
  const none = await cli(['jobs', 'compare', '99999']);
  assert.match(none.stderr, /NOT_FOUND/);
  assert.doesNotMatch(bad.stderr + notThere.stderr + none.stderr, /\n\s+at /, 'no stack traces');
});
