/**
 * The remote side of runner deployment: POSIX sh scripts and their parsers.
 *
 * Invariant: every script prints its results as tagged lines after a marker line of its own,
 * so whatever a login shell prints first (a noisy ~/.bashrc) is skipped, never parsed; values
 * are flattened to one line. Nothing secret is ever put on a command line: the install command
 * carries only paths, a checksum, the installation's public key and the host id.
 * The cache-location probe is the diagnostics probe's (remote-probe.ts), so both always agree.
 */
import { CACHE_LOCATIONS, parseProbe, SH_LONG_BIT, SH_PROBE_CACHE, SH_SAY, SH_SHA256, SHA256_TOOLS, shQuote, type ProbeFacts } from '../diagnostics/remote-probe';

/** The command the prepare and clean scripts are fed to (on stdin). */
export const SCRIPT_COMMAND = '/bin/sh -s';

const PREPARE_MARKER = '@@cronium-deploy-prepare';
const INSTALL_MARKER = '@@cronium-deploy-install';
const CLEAN_MARKER = '@@cronium-deploy-clean';

/** `<version>-<sha12>`: a runner's directory in the cache. */
export function versionDirName(version: string, sha256: string): string {
  return `${version}-${sha256.slice(0, 12)}`;
}

/** Where a version's binary and the runner's state live under a host's cache dir. */
export function runnerLayout(cacheDir: string, version: string, sha256: string): { cacheDir: string; dir: string; path: string; stateDir: string } {
  const dir = `${cacheDir}/${versionDirName(version, sha256)}`;
  return { cacheDir, dir, path: `${dir}/cronium-runner`, stateDir: `${cacheDir}/state` };
}

/** The layout a recorded binary path belongs to (its cache dir is two levels up). */
export function runnerLayoutOf(path: string, version: string, sha256: string): ReturnType<typeof runnerLayout> {
  return runnerLayout(path.slice(0, path.lastIndexOf('/', path.lastIndexOf('/') - 1)), version, sha256);
}

/** A shell `case` pattern matching version directory names (anything ending in -<12 hex>). */
const VERSION_DIR_CASE = `*-${'[0-9a-f]'.repeat(12)}`;

/**
 * The file in a version dir that tells the runner which inventory host it serves: one per host id,
 * because hosts that share a home directory (NFS, or two names for one account) share the cache,
 * and one shared `host-id` file would make their runs refuse each other's payloads ("wrong-host").
 */
export function hostIdFile(hostId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(hostId)) throw new Error(`invalid runner host id ${JSON.stringify(hostId)}`);
  return `host-id.${hostId}`;
}

/**
 * Detects the platform, chooses the cache location (creating it 0700 when missing) and reports
 * which of the candidate version dirs hold a runner, with the SHA-256 of its binary, of its
 * installation.pub and the host id its file for this host holds.
 */
export function prepareScript(candidates: string[], hostId: string): string {
  const tries = CACHE_LOCATIONS.map((c) => `[ -z "$chosen" ] && try_cache ${c.id} ${c.expr}`).join('\n');
  const names = candidates.map(shQuote).join(' ');
  return `{
printf '\\n%s\\n' '${PREPARE_MARKER}'
${SH_SAY}
${SH_SHA256}
say uname_s "$(clean "$(uname -s 2>&1)")"
say uname_m "$(clean "$(uname -m 2>&1)")"
${SH_LONG_BIT}
uid=$(id -u)
say uid "$uid"
if command -v gzip >/dev/null 2>&1; then say gzip 1; else say gzip 0; fi
for t in ${SHA256_TOOLS.join(' ')}; do if command -v "$t" >/dev/null 2>&1; then say shatool "$t"; break; fi; done
${SH_PROBE_CACHE}
chosen=
try_cache() { probe_cache "$1" "$2"; if [ "$c_ok" = 1 ]; then chosen=$c_dir; else probe_cache_undo; fi; }
${tries}
if [ -n "$chosen" ]; then
  say chosen "$chosen"
  for v in ${names}; do
    b="$chosen/$v/cronium-runner"
    if [ -f "$b" ] && [ ! -L "$b" ] && [ ! -L "$chosen/$v" ]; then
      say have "$v	$(sha256_of "$b")	$(sha256_of "$chosen/$v/installation.pub")	$(clean "$(head -c 200 "$chosen/$v/${hostIdFile(hostId)}" 2>/dev/null)")"
    fi
  done
fi
say end ok
} </dev/null
`;
}

/** What the prepare script found. */
export interface PrepareFacts {
  facts: ProbeFacts;
  uname: { s: string; m: string; longBit: string };
  uid: string;
  gzip: boolean;
  shaTool: string | undefined;
  chosen: string | undefined;
  have: Map<string, { sha256: string; pubSha256: string; hostId: string }>;
}

/** Parses the prepare script's stdout; undefined when its marker never came. */
export function parsePrepare(stdout: Buffer): PrepareFacts | undefined {
  const facts = parseProbe(stdout, PREPARE_MARKER);
  if (!facts) return undefined;
  const have = new Map<string, { sha256: string; pubSha256: string; hostId: string }>();
  // parseProbe keeps the last value per key; `have` lines can repeat, so read them again.
  for (const line of stdout.subarray(stdout.indexOf(`\n${PREPARE_MARKER}\n`)).toString('utf8').split('\n')) {
    const m = /^@have\t(.*)$/.exec(line);
    if (!m) continue;
    const [dir = '', sha = '', pub = '', hostId = ''] = (m[1] ?? '').split('\t');
    have.set(dir, { sha256: sha.toLowerCase(), pubSha256: pub.toLowerCase(), hostId: hostId.trim() });
  }
  const v = facts.values;
  return {
    facts,
    uname: { s: v.get('uname_s') ?? '', m: v.get('uname_m') ?? '', longBit: v.get('long_bit') ?? '' },
    uid: v.get('uid') ?? '',
    gzip: v.get('gzip') === '1',
    shaTool: v.get('shatool') || undefined,
    chosen: v.get('chosen') || undefined,
    have,
  };
}

/** How the binary reaches the host: piped into the install command (gzip or raw), already put by SFTP, or not at all. */
export type InstallMode = 'gz' | 'raw' | 'put' | 'none';

/** Arguments of the install command. */
export interface InstallArgs {
  /** The version dir on the host. */
  dir: string;
  /** Unique per deploy: names the temporary files. */
  tag: string;
  sha256: string;
  mode: InstallMode;
  /** The installation's public key in PEM. */
  publicKeyPem: string;
  hostId: string;
}

/** The body of installation.pub as the host will hold it: one base64 line between the PEM armour. */
export function pinnedKeyText(publicKeyPem: string): string {
  return `-----BEGIN PUBLIC KEY-----\n${pemBody(publicKeyPem)}\n-----END PUBLIC KEY-----\n`;
}

function pemBody(pem: string): string {
  return pem
    .replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '')
    .replace(/\s+/g, '');
}

/**
 * The stat line of the binary, its version dir and the cache root: device, inode, size, mtime and
 * ctime with nanoseconds, owner and mode (GNU/BusyBox `stat -c`, else BSD `stat -f`). In the C
 * locale: the same text whatever the login's locale, and no locale files loaded on every run
 * (0.15 of 0.9 ms per run with LANG=C.UTF-8 on the test machine).
 */
const STAT_FILES = '"$p" "${p%/*}" "${p%/*/*}"';
export const STAT_COMMAND = `LC_ALL=C stat -c '%d:%i:%s:%.9Y:%.9Z:%u:%a' -- ${STAT_FILES} 2>/dev/null || LC_ALL=C stat -f '%d:%i:%z:%Fm:%Fc:%u:%Lp' -- ${STAT_FILES} 2>/dev/null`;

/**
 * Whether a stat record may stand in for the hash: three lines (binary, version dir, cache root)
 * whose time fields all carry nine-digit nanoseconds, and the binary's not all zero (a stat or a
 * file system with whole seconds only would let a change within the same second escape).
 */
export function usableStatRecord(record: string): boolean {
  const lines = record.split('\n');
  if (lines.length !== 3) return false;
  const fields = lines.map((l) => l.split(':'));
  if (!fields.every((f) => f.length === 7 && /^\d+\.\d{9}$/.test(f[3]!) && /^\d+\.\d{9}$/.test(f[4]!))) return false;
  const [, , , mtime, ctime] = fields[0]!;
  return !mtime!.endsWith('.000000000') && !ctime!.endsWith('.000000000');
}

/** Where an SFTP upload writes the binary before the install command verifies and renames it. */
export function sftpTempPath(cacheDir: string, tag: string): string {
  return `${cacheDir}/.cronium-runner.${tag}.tmp`;
}

// One line, no `!`, no doubled backslash: it is parsed by the login shell (any of sh, bash, zsh, csh, fish) before
// sh runs it. Positional: dir tag sha mode pubBase64 hostId.
const INSTALL_SCRIPT = [
  `d=$1; tag=$2; want=$3; how=$4; pub=$5; hid=$6; root=$(dirname -- "$d"); tmp=`,
  `printf '\\n%s\\n' '${INSTALL_MARKER}'`,
  SH_SAY.replace(/\n/g, '; '),
  SH_SHA256,
  `fail() { say fail "$1	$(clean "$2")"; if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi; rm -f -- "$d/.installation.pub.$tag.tmp" "$d/.host-id.$tag.tmp"; exit 0; }`,
  `umask 077`,
  `if [ -L "$d" ]; then fail symlink "$d is a symlink"; fi`,
  `e=$(mkdir -p -m 700 -- "$d" 2>&1) || fail mkdir "$e"`,
  // An SFTP upload lands in the cache dir itself (SFTP cannot create the version dir); same file system, so the rename stays atomic.
  `case "$how" in put) t="$root/.cronium-runner.$tag.tmp";; *) t="$d/.cronium-runner.$tag.tmp";; esac`,
  `case "$how" in gz) tmp=$t; e=$( { gzip -dc > "$t"; } 2>&1 ) || fail write "$e";; raw) tmp=$t; e=$( { cat > "$t"; } 2>&1 ) || fail write "$e";; put) tmp=$t;; esac`,
  `if [ -n "$tmp" ]; then got=$(sha256_of "$t"); if [ "$got" = "$want" ]; then :; else rm -f -- "$t"; say mismatch "$got"; exit 0; fi; e=$(chmod 700 -- "$t" 2>&1) || fail chmod "$e"; fi`,
  `p="$d/.installation.pub.$tag.tmp"; e=$( { printf '%s\\n%s\\n%s\\n' '-----BEGIN PUBLIC KEY-----' "$pub" '-----END PUBLIC KEY-----' > "$p" && mv -f -- "$p" "$d/installation.pub"; } 2>&1 ) || fail pub "$e"`,
  `h="$d/.host-id.$tag.tmp"; e=$( { printf '%s\\n' "$hid" > "$h" && mv -f -- "$h" "$d/host-id.$hid"; } 2>&1 ) || fail host-id "$e"`,
  `if [ -n "$tmp" ]; then e=$(mv -f -- "$t" "$d/cronium-runner" 2>&1) || fail rename "$e"; tmp=; fi`,
  // Keep this version and the newest other one; older version dirs go.
  `n=0; for v in $(ls -1t -- "$root" 2>/dev/null); do case "$v" in ${VERSION_DIR_CASE}) ;; *) continue;; esac; if [ "$root/$v" = "$d" ] || [ -L "$root/$v" ]; then continue; fi; [ -d "$root/$v" ] || continue; n=$((n+1)); if [ "$n" -gt 1 ]; then rm -rf -- "$root/$v" && say removed "$v"; fi; done`,
  // Temporaries of deploys that died midway (connection lost between the SFTP write and this command).
  `find "$root" "$d" -maxdepth 1 -name '.cronium-runner.*.tmp' -mmin +60 -exec rm -f -- {} + 2>/dev/null`,
  // The runner's state dir, made now rather than by the first run: its entry in the cache root
  // would move the root's times after the stat record below.
  `mkdir -p -m 700 -- "$root/state" 2>/dev/null`,
  // Last, when nothing more changes here: the stat of the binary, its dir and the cache root, then
  // the hash. A hash that matches vouches for the file as it stat'ed (any change since moves the
  // stat), so the app records these lines and the first runs need not hash (runner-mode.ts).
  `p="$d/cronium-runner"; s=$(${STAT_COMMAND})`,
  `say installed "$(sha256_of "$p")"`,
  `for l in $s; do say stat "$l"; done`,
  `say end ok`,
].join('; ');

/** The install command line; the binary (if mode is gz or raw) goes to its stdin. */
export function installCommand(a: InstallArgs): string {
  hostIdFile(a.hostId);
  return ['/bin/sh', '-c', INSTALL_SCRIPT, 'cronium-install', a.dir, a.tag, a.sha256, a.mode, pemBody(a.publicKeyPem), a.hostId].map(shQuote).join(' ');
}

/** What the install command reported. */
export interface InstallOutcome {
  installed?: string;
  /** The stat lines taken just before `installed` was hashed (binary, version dir, cache root). */
  stat: string[];
  mismatch?: string;
  fail?: { step: string; message: string };
  removed: string[];
  complete: boolean;
}

/** Parses the install command's stdout; undefined when its marker never came. */
export function parseInstall(stdout: Buffer): InstallOutcome | undefined {
  return parseTagged(stdout, INSTALL_MARKER, (out: InstallOutcome, key, value) => {
    if (key === 'installed') out.installed = value.trim().toLowerCase();
    else if (key === 'mismatch') out.mismatch = value.trim().toLowerCase();
    else if (key === 'fail') {
      const [step = '', message = ''] = value.split('\t');
      out.fail = { step, message };
    } else if (key === 'removed') out.removed.push(value);
    else if (key === 'stat') out.stat.push(value.trim());
    else if (key === 'end') out.complete = true;
  }, { removed: [], stat: [], complete: false });
}

/**
 * Removes every cached version dir from each cache location that exists and is the user's
 * (never following a symlink), then the location itself if it is left empty; the state dir
 * (detached runs, replay records) stays.
 */
export function cleanScript(): string {
  const each = CACHE_LOCATIONS.map((c) => `clean_loc ${c.id} ${c.expr}`).join('\n');
  return `{
printf '\\n%s\\n' '${CLEAN_MARKER}'
${SH_SAY}
uid=$(id -u)
clean_loc() {
  l=$2
  if [ -z "$l" ] || [ -L "$l" ] || [ ! -d "$l" ]; then return; fi
  owner=$(ls -ldn -- "$l" 2>/dev/null | awk '{print $3}')
  if [ "$owner" != "$uid" ]; then say skipped "$1	$(clean "$l")	owned by uid $owner"; return; fi
  for v in $(ls -1 -- "$l" 2>/dev/null); do
    case "$v" in ${VERSION_DIR_CASE}) ;; *) continue;; esac
    if [ -L "$l/$v" ] || [ ! -d "$l/$v" ]; then continue; fi
    if e=$(rm -rf -- "$l/$v" 2>&1); then say removed "$1	$(clean "$l")	$v"; else say failed "$1	$(clean "$l")	$v	$(clean "$e")"; fi
  done
  rmdir -- "$l" 2>/dev/null && say rmdir "$1	$(clean "$l")"
  say location "$1	$(clean "$l")"
}
${each}
say end ok
} </dev/null
`;
}

/** What the clean script reported. */
export interface CleanOutcome {
  removed: { location: string; path: string; dir: string }[];
  failed: { location: string; path: string; dir: string; message: string }[];
  skipped: { location: string; path: string; why: string }[];
  locations: { location: string; path: string }[];
  complete: boolean;
}

/** Parses the clean script's stdout; undefined when its marker never came. */
export function parseClean(stdout: Buffer): CleanOutcome | undefined {
  return parseTagged(stdout, CLEAN_MARKER, (out: CleanOutcome, key, value) => {
    const [location = '', p = '', a = '', b = ''] = value.split('\t');
    if (key === 'removed') out.removed.push({ location, path: p, dir: a });
    else if (key === 'failed') out.failed.push({ location, path: p, dir: a, message: b });
    else if (key === 'skipped') out.skipped.push({ location, path: p, why: a });
    else if (key === 'location') out.locations.push({ location, path: p });
    else if (key === 'end') out.complete = true;
  }, { removed: [], failed: [], skipped: [], locations: [], complete: false });
}

function parseTagged<T>(stdout: Buffer, markerText: string, onLine: (out: T, key: string, value: string) => void, init: T): T | undefined {
  const marker = Buffer.from(`\n${markerText}\n`);
  const at = stdout.indexOf(marker);
  if (at < 0) return undefined;
  for (const line of stdout.subarray(at + marker.length).toString('utf8').split('\n')) {
    const m = /^@([a-z_0-9]+)\t(.*)$/.exec(line);
    if (m) onLine(init, m[1] ?? '', m[2] ?? '');
  }
  return init;
}
