#!/usr/bin/env node
// The `cronium` command: runs the built CLI (dist/cli/cronium.cjs, one bundled file, built by
// `npm install` or `npm run build`). It compiles the bundle with V8's code cache: the first
// start stores the compiled code next to the bundle (or in the user's cache dir when that is
// not writable), and later starts skip most of the compiling. The cache is keyed on the Node
// version and the bundle's size and time; V8 itself refuses a cache made for other source.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

// `--version` alone needs nothing but package.json: answered before the CLI loads.
if (process.argv.length === 3 && (process.argv[2] === '--version' || process.argv[2] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}\n`);
  process.exit(0);
}

const bundle = fileURLToPath(new URL('../dist/cli/cronium.cjs', import.meta.url));
let source;
let stat;
try {
  source = readFileSync(bundle, 'utf8');
  stat = statSync(bundle);
} catch {
  process.stderr.write('error[INTERNAL]: Cronium is not built yet\n  hint: run `npm run build` in the Cronium folder (npm install does it too)\n');
  process.exit(1);
}

const key = `cronium-${process.version}-${process.arch}-${stat.size}-${Math.floor(stat.mtimeMs)}.v8cache`;
const cacheDirs = [join(dirname(bundle), '.cache'), join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'cronium')];
let cachedData;
for (const dir of cacheDirs) {
  try {
    cachedData = readFileSync(join(dir, key));
    break;
  } catch {
    // not cached there
  }
}

const script = new vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
if (!cachedData || script.cachedDataRejected) {
  // Stored when the process ends, so that the functions this command compiled are in it too.
  process.once('exit', () => {
    const data = script.createCachedData();
    for (const dir of cacheDirs) {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const tmp = join(dir, `${key}.${process.pid}.tmp`);
        writeFileSync(tmp, data, { mode: 0o600 });
        renameSync(tmp, join(dir, key));
        return;
      } catch {
        // not writable: the next place
      }
    }
  });
}
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
