/**
 * The one remote command of a diagnosis: a POSIX sh script, fed on stdin to `/bin/sh -s` so
 * that any login shell (bash, dash, zsh, csh, fish) only has to start `sh`, which prints tagged
 * lines after a marker. Whatever the login shell printed before the marker is the "shell noise"
 * that breaks non-interactive use.
 *
 * Invariant: the probe leaves nothing behind. It creates a cache location only when missing,
 * writes one tiny script into it, runs it, and removes the script and every directory it
 * created (rmdir, so it can never remove anything that was not empty and its own). It reads
 * no secrets and changes no existing file or mode.
 */

/** The remote command line; the script goes to its stdin. */
export const PROBE_COMMAND = '/bin/sh -s';

const MARKER = '@@cronium-diag-begin';

/** The runner's cache locations in DESIGN.md's order, as shell expressions. */
export const CACHE_LOCATIONS = [
  { id: 'xdg-cache', label: '${XDG_CACHE_HOME:-~/.cache}/cronium', expr: '"${XDG_CACHE_HOME:-$HOME/.cache}/cronium"' },
  { id: 'xdg-runtime', label: '$XDG_RUNTIME_DIR/cronium', expr: '"${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/cronium}"' },
  { id: 'dev-shm', label: '/dev/shm/cronium-$UID', expr: '"/dev/shm/cronium-$uid"' },
  { id: 'tmp', label: '/tmp/cronium-$UID', expr: '"/tmp/cronium-$uid"' },
  { id: 'var-tmp', label: '/var/tmp/cronium-$UID', expr: '"/var/tmp/cronium-$uid"' },
] as const;

/** Quotes a string for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** sh helpers shared by every marker-framed remote script: `clean` flattens a value to one line, `say` prints a tagged line. */
export const SH_SAY = `clean() { printf '%s' "$1" | tr '\\t\\r\\n' '   ' | cut -c1-300; }
say() { printf '@%s\\t%s\\n' "$1" "$2"; }`;

/**
 * The host's SHA-256 tools, fastest first (OpenSSL's assembly hashes about twice as fast as
 * coreutils), as one sh list that prints `<hex> …` for the file `file` (an sh word, e.g.
 * `"$p"`); a tool that is missing or fails gives way to the next.
 */
export function shSha256Tools(file: string): string {
  return SHA256_TOOLS.map((t) => sha256Command(t, file)).join(' || ');
}

/** The host SHA-256 tools, fastest first (the deploy records the first one the host has). */
export const SHA256_TOOLS = ['openssl', 'sha256sum', 'shasum', 'sha256'] as const;

/** One tool's command printing `<hex> …` for `file` (an sh word); an unknown tool: every tool in turn. */
export function sha256Command(tool: string | undefined, file: string): string {
  switch (tool) {
    case 'openssl':
      return `openssl dgst -sha256 -r -- ${file}`;
    case 'sha256sum':
      return `sha256sum -- ${file}`;
    case 'shasum':
      return `shasum -a 256 -- ${file}`;
    case 'sha256':
      return `sha256 -q -- ${file}`;
    default:
      return shSha256Tools(file);
  }
}

/**
 * Prints `long_bit` (the userland's word size: 32 or 64, empty when unknown) and `long_bit_from`
 * (getconf, or elf): getconf LONG_BIT where there is one; otherwise (BusyBox, many routers) the
 * class byte of /bin/sh's ELF header (1: 32-bit, 2: 64-bit), read with od.
 */
export const SH_LONG_BIT = `lb=$(getconf LONG_BIT 2>/dev/null) lb_from=getconf
if [ -z "$lb" ]; then
  lb_from=elf
  case "$(od -An -tu1 -j4 -N1 /bin/sh 2>/dev/null | tr -d ' ')" in 1) lb=32 ;; 2) lb=64 ;; *) lb= lb_from= ;; esac
fi
say long_bit "$lb"
say long_bit_from "$lb_from"`;

/** `sha256_of FILE`: the file's SHA-256 in hex with the host's own tools (empty when it has none). */
export const SH_SHA256 = `sha256_of() { { ${shSha256Tools('"$1"')}; } 2>/dev/null | awk 'NR==1 {print $1}'; }`;

/**
 * \`probe_cache ID DIR\` (needs \`say\`, \`clean\` and \`$uid\`): creates DIR 0700 if missing, checks that
 * it is a directory, writable, and that a tiny script written there runs; prints one \`@cache\` line
 * and sets \`c_ok=1\` when the location can hold the runner (private: 0700 and owned by \`$uid\`, or
 * created just now; not a symlink). \`probe_cache_undo\` removes the directories it created (rmdir only).
 */
export const SH_PROBE_CACHE = `probe_cache() {
  c_id=$1 c_dir=$2 c_ok=0 c_missing=
  if [ -z "$c_dir" ]; then say cache "$c_id		unset"; return; fi
  c_p=$c_dir
  while [ ! -e "$c_p" ] && [ ! -L "$c_p" ]; do c_missing="$c_missing$c_p
"; c_p=$(dirname -- "$c_p"); done
  c_state=exists c_err= c_mode= c_w=0 c_werr= c_x=0 c_xerr=
  if [ -n "$c_missing" ]; then
    c_state=created
    c_err=$(mkdir -p -m 700 -- "$c_dir" 2>&1) || c_state=mkdir-failed
  fi
  if [ "$c_state" != mkdir-failed ]; then
    if [ -L "$c_dir" ]; then c_mode=symlink
    elif [ ! -d "$c_dir" ]; then c_mode=not-a-directory
    else c_mode=$(ls -ldn -- "$c_dir" 2>/dev/null | awk '{print $1 " " $3}'); fi
    c_f="$c_dir/.cronium-probe-$$"
    if c_werr=$( { printf '#!/bin/sh\\necho cronium-exec-ok\\n' > "$c_f"; } 2>&1 ); then
      c_w=1
      chmod 700 "$c_f" 2>/dev/null
      c_xerr=$("$c_f" 2>&1) && [ "$c_xerr" = cronium-exec-ok ] && c_x=1 && c_xerr=
      rm -f -- "$c_f"
    fi
    c_p=$c_dir
    if [ "$c_w" = 1 ] && [ "$c_x" = 1 ]; then
      case "$c_state:$c_mode" in
        created:symlink|created:not-a-directory) ;;
        created:*) c_ok=1 ;;
        "exists:drwx------ $uid"|exists:drwx------?" $uid") c_ok=1 ;;
      esac
    fi
  fi
  c_free=$(df -Pk -- "$c_p" 2>/dev/null | awk 'NR==2 {print $4}')
  say cache "$c_id	$(clean "$c_dir")	$c_state	$(clean "$c_err")	$c_mode	$c_w	$(clean "$c_werr")	$c_x	$(clean "$c_xerr")	$c_free"
}
probe_cache_undo() {
  c_old_ifs=$IFS; IFS='
'
  for c_d in $c_missing; do rmdir -- "$c_d" 2>/dev/null; done
  IFS=$c_old_ifs
  c_missing=
}`;

/** The probe script; `runnerPath` is the recorded path of a deployed runner to checksum, if any. */
export function probeScript(runnerPath?: string): string {
  const caches = CACHE_LOCATIONS.map((c) => `probe_cache ${c.id} ${c.expr}; probe_cache_undo`).join('\n');
  // The whole script is one brace group: sh parses it completely before running any of it, so
  // nothing in it can read the rest of the script from stdin; it runs with stdin from /dev/null.
  return `{
printf '\\n%s\\n' '${MARKER}'
${SH_SAY}
${SH_SHA256}
say uname_s "$(clean "$(uname -s 2>&1)")"
say uname_m "$(clean "$(uname -m 2>&1)")"
say uname_r "$(clean "$(uname -r 2>&1)")"
${SH_LONG_BIT}
if [ -r /etc/os-release ]; then say os "$(clean "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')")"
elif command -v sw_vers >/dev/null 2>&1; then say os "macOS $(sw_vers -productVersion 2>/dev/null)"; fi
uid=$(id -u)
say uid "$uid"
say login_shell "$(clean "\${SHELL:-}")"
interp() {
  i_name=$1; shift
  i_path=$(command -v "$i_name" 2>/dev/null)
  # BusyBox ash names its applets bare ("sh"): find the file on PATH instead.
  case "$i_path" in /*) ;; ?*) i_old=$IFS; IFS=:; for i_d in $PATH; do [ -x "$i_d/$i_name" ] && [ -f "$i_d/$i_name" ] && { i_path=$i_d/$i_name; break; }; done; IFS=$i_old ;; esac
  if [ -z "$i_path" ]; then say interp "$i_name	127		not found in PATH"; return; fi
  i_out=$("$@" 2>&1); i_rc=$?
  say interp "$i_name	$i_rc	$(clean "$i_path")	$(clean "$i_out")"
}
interp bash bash --norc --noprofile -c 'printf %s "$BASH_VERSION"'
interp sh sh -c 'readlink -f "$(command -v sh)" 2>/dev/null || command -v sh'
interp python3 python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'
interp node node -e 'process.stdout.write(process.versions.node)'
${SH_PROBE_CACHE}
${caches}
${
  runnerPath
    ? `r_path=${shQuote(runnerPath)}
if [ -f "$r_path" ]; then
  say runner "present	$(sha256_of "$r_path")"
elif [ -e "$r_path" ]; then say runner "not-a-file	"
else say runner "missing	"; fi`
    : ''
}
say end ok
} </dev/null
`;
}

/** One interpreter as the probe found it. */
export interface InterpreterFact {
  name: string;
  /** Exit status of the version command: 0 when it ran, 127 when not found. */
  status: number;
  path: string;
  output: string;
}

/** One cache location as the probe found it. */
export interface CacheFact {
  id: string;
  /** Expanded path ('' when the location is unset, e.g. no XDG_RUNTIME_DIR). */
  path: string;
  state: 'exists' | 'created' | 'mkdir-failed' | 'unset';
  mkdirError: string;
  /** `ls -ldn` mode and owner uid, 'symlink' or 'not-a-directory'. */
  mode: string;
  writable: boolean;
  writeError: string;
  executable: boolean;
  execError: string;
  /** Free space in KiB, when df could tell. */
  freeKiB?: number;
}

/** What the probe printed, parsed. */
export interface ProbeFacts {
  /** What the login shell printed on stdout before the probe started. */
  noise: Buffer;
  /** Whether the probe ran to its end marker. */
  complete: boolean;
  values: Map<string, string>;
  interpreters: InterpreterFact[];
  caches: CacheFact[];
  runner?: { state: 'present' | 'missing' | 'not-a-file'; sha256: string };
}

/**
 * Parses the probe's stdout (or that of another script framed the same way, after `markerText`).
 * Returns undefined when the marker never came (the script did not run).
 */
export function parseProbe(stdout: Buffer, markerText: string = MARKER): ProbeFacts | undefined {
  const marker = Buffer.from(`\n${markerText}\n`);
  const at = stdout.indexOf(marker);
  if (at < 0) return undefined;
  const facts: ProbeFacts = { noise: stdout.subarray(0, at), complete: false, values: new Map(), interpreters: [], caches: [] };
  for (const line of stdout.subarray(at + marker.length).toString('utf8').split('\n')) {
    const m = /^@([a-z_0-9]+)\t(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    const f = value.split('\t');
    if (key === 'interp') {
      facts.interpreters.push({ name: f[0] ?? '', status: Number(f[1] ?? 127), path: f[2] ?? '', output: (f[3] ?? '').trim() });
    } else if (key === 'cache') {
      const free = Number(f[9]);
      facts.caches.push({
        id: f[0] ?? '',
        path: f[1] ?? '',
        state: (f[2] as CacheFact['state']) || 'unset',
        mkdirError: f[3] ?? '',
        mode: f[4] ?? '',
        writable: f[5] === '1',
        writeError: f[6] ?? '',
        executable: f[7] === '1',
        execError: f[8] ?? '',
        ...(f[9] && Number.isFinite(free) ? { freeKiB: free } : {}),
      });
    } else if (key === 'runner') {
      facts.runner = { state: (f[0] as 'present' | 'missing' | 'not-a-file') ?? 'missing', sha256: (f[1] ?? '').toLowerCase() };
    } else if (key === 'end') {
      facts.complete = true;
    } else {
      facts.values.set(key, value);
    }
  }
  return facts;
}

/** The last error message of a shell's complaint, e.g. "Read-only file system". */
export function lastReason(message: string): string {
  const parts = message.split(': ').map((p) => p.trim()).filter(Boolean);
  return parts.at(-1) ?? message;
}

/** Why a cache location cannot hold the runner, or undefined when it can (the same rule as SH_PROBE_CACHE's c_ok). */
export function cacheProblem(c: CacheFact, uid: string | undefined): string | undefined {
  if (c.state === 'unset') return c.id === 'xdg-runtime' ? 'XDG_RUNTIME_DIR is not set' : 'not set';
  if (c.state === 'mkdir-failed') return `cannot be created: ${lastReason(c.mkdirError) || 'mkdir failed'}`;
  if (c.mode === 'symlink') return 'is a symlink (refused: it could point anywhere)';
  if (c.mode === 'not-a-directory') return 'exists but is not a directory';
  if (!c.writable) return `not writable: ${lastReason(c.writeError) || 'write failed'}`;
  if (!c.executable) return `not executable: ${lastReason(c.execError) || 'the test script did not run'}${/permission denied/i.test(c.execError) ? ' (mounted noexec?)' : ''}`;
  const [mode, owner] = c.mode.split(' ');
  if (c.state === 'exists' && (mode?.slice(0, 10) !== 'drwx------' || (uid !== undefined && owner !== uid))) {
    return `not private (${mode ?? '?'}, owner uid ${owner ?? '?'}; the runner needs 0700 and owned by uid ${uid ?? '?'})`;
  }
  return undefined;
}
