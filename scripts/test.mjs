#!/usr/bin/env node
// Runs the test suites and ends with one summary line, "N passed, N failed".
// Usage: node scripts/test.mjs [static|unit|go|integration|faults|security|e2e]...   (no argument: all)
// faults: injected failures on the test fleet (test/faults); security: the attack suite (test/security).
// static = typecheck + lint + actionlint (one check each); TypeScript suites run on node's test
// runner (through tsx); Go through `go test`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const all = ['static', 'unit', 'go', 'integration', 'faults', 'security', 'e2e'];
const wanted = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const w of wanted) {
  if (!all.includes(w)) {
    console.error(`unknown suite "${w}" (expected one of: ${all.join(', ')})`);
    process.exit(2);
  }
}

/** Lists *.test.ts files under a directory, sorted for a stable order. */
function findTests(dir) {
  const out = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Runs a command, echoing its output, and returns [exitCode, output]. */
function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { text += d; process.stderr.write(d); });
    child.on('close', (code) => resolve([code ?? 1, text]));
  });
}

/**
 * Checks every workflow file with actionlint (a Go module, pinned in package.json's
 * config.actionlint; .ci/run installs it into .tools/bin). Missing, it fails with how to
 * install it: never skipped.
 */
async function actionlint() {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).config.actionlint;
  const gopath = spawnSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).stdout?.trim();
  const candidates = [process.env.ACTIONLINT, join(root, '.tools', 'bin', 'actionlint'), gopath && join(gopath, 'bin', 'actionlint')].filter(Boolean);
  const bin = candidates.find((c) => existsSync(c)) ?? (spawnSync('actionlint', ['-version']).status === 0 ? 'actionlint' : undefined);
  if (!bin) {
    console.log(`actionlint is not installed\n  hint: GOBIN="$PWD/.tools/bin" go install github.com/rhysd/actionlint/cmd/actionlint@${version} (.ci/run does it)`);
    return 1;
  }
  const workflows = readdirSync(join(root, '.github', 'workflows')).filter((f) => /\.ya?ml$/.test(f)).map((f) => join('.github', 'workflows', f));
  if (workflows.length === 0) {
    console.log('actionlint: no workflow files in .github/workflows');
    return 1;
  }
  const [code] = await run(bin, workflows);
  if (code === 0) console.log(`actionlint: ${workflows.length} workflow file(s) clean`);
  return code;
}

let passed = 0;
let failed = 0;
for (const suite of wanted) {
  console.log(`\n=== ${suite} ===`);
  if (suite === 'static') {
    for (const script of ['typecheck', 'lint']) {
      const [code] = await run('npm', ['run', '--silent', script]);
      console.log(`${code === 0 ? '✔' : '✖'} ${script}`);
      if (code === 0) passed++;
      else failed++;
    }
    const code = await actionlint();
    console.log(`${code === 0 ? '✔' : '✖'} actionlint`);
    if (code === 0) passed++;
    else failed++;
    continue;
  }
  if (suite === 'go') {
    const [code, text] = await run('go', ['test', '-count=1', '-v', './...'], { cwd: join(root, 'runner') }).catch(() => [1, '']);
    const p = (text.match(/^\s*--- PASS/gm) ?? []).length;
    const f = (text.match(/^\s*--- FAIL/gm) ?? []).length;
    passed += p;
    failed += f || (code !== 0 ? 1 : 0);
    // A short fuzz run of each parser and of the log masker on top of the seeds (`go test` alone
    // replays only the seeds). Budgets are counts (a few seconds each here), not durations: a
    // `-fuzztime` duration can fail with a bare "context deadline exceeded" at its end on a
    // loaded machine (a race in Go's fuzz coordinator, golang/go#75804, fixed in Go 1.27).
    const fuzzTargets = [
      ['FuzzVerify', './internal/protocol/', 100_000],
      ['FuzzParsePayload', './internal/protocol/', 200_000],
      ['FuzzFrame', './internal/protocol/', 200_000],
      ['FuzzDecodeBinary', './internal/protocol/', 300_000],
      ['FuzzMask', './internal/mask/', 300_000],
    ];
    for (const [target, pkg, execs] of fuzzTargets) {
      const [fc] = await run('go', ['test', '-run', '^$', `-fuzz=^${target}$`, `-fuzztime=${execs}x`, pkg], { cwd: join(root, 'runner') }).catch(() => [1, '']);
      console.log(`${fc === 0 ? '✔' : '✖'} fuzz ${target} (${execs.toLocaleString('en')} inputs)`);
      if (fc === 0) passed++;
      else failed++;
    }
    continue;
  }
  const files = findTests(join(root, 'test', suite));
  if (files.length === 0) {
    console.log(`(no ${suite} tests)`);
    continue;
  }
  const concurrency = suite === 'unit' ? '2' : '1';
  const [code, text] = await run(process.execPath, [
    '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec',
    ...files.map((f) => relative(root, f)),
  ]);
  const p = Number(/ℹ pass (\d+)/.exec(text)?.[1] ?? 0);
  const f = Number(/ℹ fail (\d+)/.exec(text)?.[1] ?? 0);
  passed += p;
  failed += f || (code !== 0 ? 1 : 0);
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
