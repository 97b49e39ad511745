// The pieces of a diagnosis that no fleet host can show: other OSes and CPUs, and odd probe output.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { parseProbe, probeScript, shQuote } from '../../../../electron/core/diagnostics/remote-probe';
import { runnerTargetFor } from '../../../../electron/core/diagnostics/runner-target';

test('uname and LONG_BIT map to the runner targets, 32-bit userlands on 64-bit kernels included', () => {
  const cases: [string, string, string | undefined, string | undefined][] = [
    ['Linux', 'x86_64', '64', 'linux-amd64'],
    ['Linux', 'x86_64', '32', 'linux-386'],
    ['Linux', 'i686', '32', 'linux-386'],
    ['Linux', 'aarch64', '64', 'linux-arm64'],
    ['Linux', 'aarch64', '32', 'linux-armv7'],
    ['Linux', 'armv7l', '32', 'linux-armv7'],
    ['Linux', 'armv6l', '32', undefined],
    ['Linux', 'riscv64', '64', undefined],
    ['Darwin', 'arm64', '64', 'darwin-arm64'],
    ['Darwin', 'x86_64', '64', 'darwin-amd64'],
    ['FreeBSD', 'amd64', '64', 'freebsd-amd64'],
    ['FreeBSD', 'arm64', '64', undefined],
    ['OpenBSD', 'amd64', '64', undefined],
    ['Linux', 'x86_64', undefined, 'linux-amd64'],
  ];
  for (const [os, m, bits, want] of cases) assert.equal(runnerTargetFor(os, m, bits).target, want, `${os} ${m} ${bits}`);
  const none = runnerTargetFor('Linux', 'armv6l', '32');
  assert.ok(!none.target && /no runner build for Linux on armv6l/.test(none.reason));
});

test('the probe output is parsed after its marker; what came before is the shell noise', () => {
  const out = Buffer.from(
    [
      'Welcome!',
      '',
      '@@cronium-diag-begin',
      '@uname_s\tLinux',
      '@interp\tbash\t0\t/bin/bash\t5.2.15(1)-release',
      '@interp\tnode\t127\t\tnot found in PATH',
      '@cache\txdg-runtime\t\tunset',
      '@cache\ttmp\t/tmp/cronium-1000\tcreated\t\tdrwx------ 1000\t1\t\t0\tsh: 1: /tmp/cronium-1000/.cronium-diag-9: Permission denied\t1024',
      '@runner\tpresent\tABCDEF',
      '@end\tok',
      '',
    ].join('\n'),
  );
  const facts = parseProbe(out)!;
  assert.equal(facts.noise.toString(), 'Welcome!\n');
  assert.equal(facts.complete, true);
  assert.equal(facts.values.get('uname_s'), 'Linux');
  assert.deepEqual(facts.interpreters.map((i) => [i.name, i.status, i.output]), [['bash', 0, '5.2.15(1)-release'], ['node', 127, 'not found in PATH']]);
  assert.equal(facts.caches[0]!.state, 'unset');
  assert.deepEqual({ ...facts.caches[1]! }, {
    id: 'tmp', path: '/tmp/cronium-1000', state: 'created', mkdirError: '', mode: 'drwx------ 1000', writable: true, writeError: '',
    executable: false, execError: 'sh: 1: /tmp/cronium-1000/.cronium-diag-9: Permission denied', freeKiB: 1024,
  });
  assert.deepEqual(facts.runner, { state: 'present', sha256: 'abcdef' });
  assert.equal(parseProbe(Buffer.from('sh: not found\n')), undefined, 'no marker: the probe never ran');
  assert.equal(parseProbe(Buffer.from('\n@@cronium-diag-begin\n@uname_s\tLinux\n'))!.complete, false);
});

test('the probe script is valid POSIX sh (dash -n) and quotes the runner path', () => {
  const path = "/tmp/it's here/cronium-runner";
  const script = probeScript(path);
  assert.ok(script.includes(`r_path=${shQuote(path)}`));
  const r = spawnSync('sh', ['-n'], { input: script });
  assert.equal(r.status, 0, r.stderr.toString());
});
