/** Jobs, the Run form and host keys: formatting, phases, form checks and where a fingerprint comes from. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiError } from '../../../renderer/api';
import { countsText, formatDuration, isFinal, phases, statusTone } from '../../../renderer/features/jobs/job-format';
import { SAMPLES, toRunArgs, validateRun, type RunFormValues } from '../../../renderer/features/jobs/run-form';
import { hostKeyProblemOfError, hostKeyProblemOfReport } from '../../../renderer/features/hosts/host-key';

const FP = 'SHA256:' + 'A'.repeat(43);
const FP2 = 'SHA256:' + 'B'.repeat(43);

test('durations read naturally', () => {
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(340), '340 ms');
  assert.equal(formatDuration(1234), '1.2 s');
  assert.equal(formatDuration(42_000), '42 s');
  assert.equal(formatDuration(125_000), '2 min 5 s');
  assert.equal(formatDuration(3_780_000), '1 h 3 min');
});

test('statuses: final or not, and their tone', () => {
  assert.ok(isFinal('succeeded') && isFinal('partial') && isFinal('timed_out'));
  assert.ok(!isFinal('running') && !isFinal('queued'));
  assert.equal(statusTone('failed'), 'bad');
  assert.equal(statusTone('running'), 'busy');
  assert.equal(countsText({ failed: 1, succeeded: 2, queued: 0 }), '2 succeeded, 1 failed');
});

test('phases split setup from script and leave out what did not happen', () => {
  assert.deepEqual(phases({ connect: 12, deploy: null, start: 3, exec: 100 }), [
    { label: 'connect', ms: 12, kind: 'setup' },
    { label: 'start', ms: 3, kind: 'setup' },
    { label: 'script', ms: 100, kind: 'script' },
  ]);
  assert.deepEqual(phases({ connect: null, deploy: null, start: null, exec: null }), []);
});

test('the Run form checks its fields and builds jobs.run arguments', () => {
  const base: RunFormValues = { target: 'hosts', hosts: [], tag: '', interpreter: 'bash', mode: 'auto', script: SAMPLES.bash, timeout: '' };
  assert.deepEqual(Object.keys(validateRun(base)), ['hosts']);
  assert.deepEqual(Object.keys(validateRun({ ...base, target: 'tag', script: '  ', timeout: '-1' })).sort(), ['script', 'tag', 'timeout']);
  assert.deepEqual(toRunArgs({ ...base, hosts: ['a', 'b'], timeout: '1.5' }), { script: SAMPLES.bash, interpreter: 'bash', mode: 'auto', hosts: ['a', 'b'], timeoutMs: 1500 });
  assert.deepEqual(toRunArgs({ ...base, target: 'tag', tag: ' prod ', interpreter: 'python3', mode: 'direct', script: 'print(1)' }), { script: 'print(1)', interpreter: 'python3', mode: 'direct', tag: 'prod' });
  assert.deepEqual(toRunArgs({ ...base, hosts: ['a'], elevated: true }), { script: SAMPLES.bash, interpreter: 'bash', mode: 'auto', hosts: ['a'], elevated: true });
});

test('a host-key error yields exactly its fingerprint; other errors none', () => {
  const unknown = new ApiError({ code: 'HOST_KEY_UNKNOWN', message: 'not trusted', details: { name: 'web1', algorithm: 'ssh-ed25519', fingerprint: FP } });
  assert.deepEqual(hostKeyProblemOfError(unknown, 'x'), { code: 'HOST_KEY_UNKNOWN', host: 'web1', algorithm: 'ssh-ed25519', fingerprint: FP, previousFingerprint: null, revoked: false, message: 'not trusted' });
  const changed = new ApiError({ code: 'HOST_KEY_MISMATCH', message: 'changed', details: { fingerprint: FP2, previousFingerprint: FP } });
  const p = hostKeyProblemOfError(changed, 'db1');
  assert.equal(p?.host, 'db1');
  assert.equal(p?.fingerprint, FP2);
  assert.equal(p?.previousFingerprint, FP);
  assert.equal(hostKeyProblemOfError(new ApiError({ code: 'HOST_KEY_UNKNOWN', message: 'x', details: { fingerprint: 'MD5:zz' } }), 'a'), null);
  assert.equal(hostKeyProblemOfError(new ApiError({ code: 'AUTH_FAILED', message: 'x', details: { fingerprint: FP } }), 'a'), null);
  assert.equal(hostKeyProblemOfError(new Error('x'), 'a'), null);
});

test('a diagnostics report with a failed ssh check yields its fingerprint', () => {
  const report = {
    host: 'web1',
    checks: [
      { id: 'tcp', status: 'pass', detail: 'connected' },
      { id: 'ssh', status: 'fail', detail: 'the host key of web1 is not trusted yet', data: { code: 'HOST_KEY_UNKNOWN', fingerprint: FP, algorithm: 'ssh-ed25519' } },
    ],
  };
  assert.equal(hostKeyProblemOfReport(report)?.fingerprint, FP);
  assert.equal(hostKeyProblemOfReport({ host: 'a', checks: [{ status: 'fail', detail: 'refused', data: { code: 'CONNECT_FAILED' } }] }), null);
});

test('"Send a file": the checks and the jobs.push arguments', async () => {
  const { toPushArgs } = await import('../../../renderer/features/jobs/run-form');
  const base: RunFormValues = { target: 'hosts', hosts: ['a'], tag: '', interpreter: 'bash', mode: 'auto', script: '', timeout: '', what: 'file', file: '/home/me/app.conf', to: '/etc/app/{host}.conf' };
  assert.deepEqual(validateRun(base), {}, 'no script is needed to send a file');
  assert.deepEqual(Object.keys(validateRun({ ...base, file: 'rel', to: 'rel', fileMode: '999', owner: 'a b' })).sort(), ['file', 'fileMode', 'owner', 'to']);
  assert.deepEqual(toPushArgs({ ...base, fileMode: '0600', owner: 'root:root', elevated: true }), { path: '/home/me/app.conf', to: '/etc/app/{host}.conf', hosts: ['a'], mode: 0o600, owner: 'root:root', elevated: true });
  assert.deepEqual(toPushArgs({ ...base, target: 'tag', tag: ' web ' }), { path: '/home/me/app.conf', to: '/etc/app/{host}.conf', tag: 'web' });
});
