/**
 * Builds the ISC cron reference (harness.c around Debian's cron 3.0pl1-162, see harness.c) into
 * .tools/isc-cron/cron-sim: fetches the two pinned source archives from Debian's archive (the
 * apt mirror), checks their SHA-256, applies Debian's patch series and compiles with gcc. Cached
 * by the harness's hash; a failure throws with what to install or fetch.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..', '..');
const MIRROR = process.env.CRONIUM_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const SOURCES = [
  { file: 'cron_3.0pl1.orig.tar.gz', sha256: 'd931e0688005dfa85cfdb60e19bf0a3848ebfa3ee3415bf2a6ea3ea9e5bcfd21' },
  { file: 'cron_3.0pl1-162.debian.tar.xz', sha256: '72790571714030f0ba9acd98a14ad1cef835d3cc7056f013f67182adf1a83d3a' },
];
/** cron.c compiled as is, with the outside world renamed to the harness's functions. */
const RENAMES = {
  time: 'h_time', sleep: 'h_sleep', job_add: 'h_job_add', job_runqueue: 'h_job_runqueue', load_database: 'h_load_database',
  acquire_daemonlock: 'h_lock', set_cron_uid: 'h_uid', set_cron_cwd: 'h_cwd', log_it: 'h_log_it', access: 'h_access',
  creat: 'h_creat', check_orphans: 'h_check_orphans', main: 'cron_main',
};

async function fetchChecked(file: string, sha256: string, dir: string): Promise<string> {
  const path = join(dir, file);
  if (existsSync(path) && createHash('sha256').update(readFileSync(path)).digest('hex') === sha256) return path;
  const url = `${MIRROR}/pool/main/c/cron/${file}`;
  const res = await fetch(url).catch((e: Error) => {
    throw new Error(`cannot fetch ${url} (${e.message}); the ISC cron reference is built from Debian's source`);
  });
  if (!res.ok) throw new Error(`cannot fetch ${url}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== sha256) throw new Error(`${file}: SHA-256 ${got}, expected ${sha256}`);
  writeFileSync(path, bytes);
  return path;
}

/** Returns the path of the built reference simulator, building it when missing or stale. */
export async function buildIscCronSim(): Promise<string> {
  const dir = join(ROOT, '.tools', 'isc-cron');
  const bin = join(dir, 'cron-sim');
  const harness = join(HERE, 'harness.c');
  const stamp = createHash('sha256').update(readFileSync(harness)).update(JSON.stringify([SOURCES, RENAMES])).digest('hex');
  if (existsSync(bin) && existsSync(`${bin}.stamp`) && readFileSync(`${bin}.stamp`, 'utf8') === stamp) return bin;
  mkdirSync(dir, { recursive: true });
  const [orig, debian] = await Promise.all(SOURCES.map((s) => fetchChecked(s.file, s.sha256, dir)));
  const src = join(dir, 'src');
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src);
  execFileSync('tar', ['xzf', orig!, '-C', src, '--strip-components=1']);
  execFileSync('tar', ['xJf', debian!, '-C', src]);
  for (const line of readFileSync(join(src, 'debian', 'patches', 'series'), 'utf8').split('\n')) {
    const p = line.trim();
    if (!p || p.startsWith('#')) continue;
    execFileSync('patch', ['-p1', '-s', '-i', join('debian', 'patches', p)], { cwd: src });
  }
  const defs = Object.entries(RENAMES).map(([from, to]) => `-D${from}=${to}`);
  const cc = (args: string[]) => execFileSync('gcc', ['-w', '-O1', '-I.', '-DDEBUGGING=0', ...args], { cwd: src, stdio: ['ignore', 'ignore', 'pipe'] });
  cc([...defs, '-c', 'cron.c', '-o', 'cron-loop.o']);
  cc(['-o', bin, harness, 'cron-loop.o', 'entry.c', 'env.c', 'misc.c', 'compat.c']);
  writeFileSync(`${bin}.stamp`, stamp);
  return bin;
}
