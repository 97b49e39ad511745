// The Scripts view's model: drafts from saved scripts and back, local checks, dirtiness, and jobs.list arguments of the Jobs filters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { followupText, isDirty, isValid, newFollowup, toDraft, toSaveArgs, validateScript, type SavedScript } from '../../../renderer/features/scripts/script-form';
import { jobsListArgs } from '../../../renderer/store/jobs-slice';

const saved: SavedScript = {
  id: 1,
  name: 'backup',
  interpreter: 'bash',
  body: 'tar czf /tmp/x.tgz /etc\n',
  followups: [
    { on: 'success', script: 'notify' },
    { on: 'failure', script: 'page', hosts: ['ops1', 'ops2'] },
    { on: 'condition', script: 'rotate', tag: 'db' },
  ],
  elevated: false,
  files: [],
  createdAt: 1,
  updatedAt: 2,
};

test('a saved script round-trips through the draft unchanged', () => {
  const d = toDraft(saved);
  assert.deepEqual(d.followups.map((f) => f.target), ['same', 'hosts', 'tag']);
  assert.deepEqual(toSaveArgs(d), { name: 'backup', interpreter: 'bash', body: saved.body, followups: saved.followups, elevated: false });
  assert.equal(isDirty(d, saved), false);
  assert.equal(isDirty({ ...d, elevated: true }, saved), true, 'marking it "runs as root" is a change');
  assert.equal(isDirty({ ...d, body: 'true\n' }, saved), true);
  assert.equal(isDirty({ ...d, followups: d.followups.slice(1) }, saved), true);
});

test('validateScript: name, body and each follow-up row are checked here', () => {
  assert.ok(isValid(validateScript(toDraft(saved))));
  const e = validateScript({ name: ' bad name', interpreter: 'sh', body: '  ', followups: [newFollowup(), { ...newFollowup('x'), target: 'hosts' }, { ...newFollowup('x'), target: 'tag', tag: '' }, newFollowup('me')] });
  assert.match(e.name ?? '', /letters, digits/);
  assert.equal(e.body, 'The script is empty');
  assert.deepEqual(Object.keys(e.followups ?? {}), ['0', '1', '2']);
  assert.equal(validateScript({ name: 'me', interpreter: 'sh', body: 'true', followups: [newFollowup('me')] }).followups?.[0], 'A script cannot follow itself');
  assert.equal(validateScript({ name: '', interpreter: 'sh', body: 'true', followups: [] }).name, 'Name is required');
});

test('followupText says when and where', () => {
  assert.deepEqual(saved.followups.map(followupText), ['on success: notify (same host)', 'on failure: page (ops1, ops2)', 'on condition: rotate (tag db)']);
});

test('jobsListArgs: only the filters that are set; the range becomes since', () => {
  assert.deepEqual(jobsListArgs({ status: null, host: null, schedule: null, range: 'all' }, 1_000_000), { limit: 200 });
  assert.deepEqual(jobsListArgs({ status: 'failed', host: 'web', schedule: 'nightly', range: '1h' }, 10_000_000, 50), {
    limit: 50,
    status: 'failed',
    host: 'web',
    schedule: 'nightly',
    since: 10_000_000 - 3_600_000,
  });
});
