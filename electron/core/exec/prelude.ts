/**
 * The direct-mode prelude: the POSIX sh program the app writes on the stdin of the fixed
 * remote command `sh -s`. Nothing but `sh -s` is ever on the remote command line; the
 * script, its input, its environment and secrets travel only here, on stdin.
 *
 * What it does on the host, in order:
 * 1. umask 077 and noclobber (`set -C`): every file of the run is created O_EXCL, mode 0600, as
 *    `cronium.<nonce>.<what>` in the first of $TMPDIR, /tmp, /var/tmp, /dev/shm, $HOME that takes
 *    one (no directory per run, no mkdir process). The script and the input are written from
 *    single-quoted assignments, by the shell's builtin printf where `command -V printf` says it
 *    is one, else by cat from a here-document that expands only that variable;
 * 2. the helpers (input and output): from the account's shared dir
 *    ~/.cache/cronium/direct-<digest of their text> when it and its files are the account's own,
 *    else written for this run (`cronium.<nonce>.h`) and copied there for the next runs; elevated
 *    runs always write their own;
 * 3. finds the interpreter (`command -v`, a regular file): missing → an error marker and 127;
 * 4. prints the start marker, then (so that nothing the script prints can come before it)
 *    starts `<interpreter> <file>.script < <file>.input` in its own session and process group
 *    (`setsid`, else perl's POSIX::setsid, else `set -m`), with the user's environment exported
 *    (single-quoted values): the interpreter reads the file, so a noexec temp dir works;
 * 5. waits. TERM/HUP/INT to the shell (the app's SSH
 *    "signal" request) and EOF on its stdin (the app closed the channel: cancel, or the app
 *    died) both kill the whole group: TERM, a grace period, KILL. The run's files are removed on
 *    every path, and members of the group left behind by a script that ended are killed too.
 *    After the start marker the shell's own stdout and stderr go to /dev/null: a write to a
 *    closed channel (dash's "Terminated" notice, say) would SIGPIPE it before its cleanup.
 * The whole program is one brace group, so sh parses it completely before running it and
 * never reads stdin again: the app keeps stdin open, and only a background reader waits on it.
 *
 * Control markers go to stdout as `@@cronium:<nonce>:<what>` lines; the nonce is random per
 * run and never reaches the script, so the script cannot forge them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fieldError } from '../../shared/errors';
import { DIRECT_CRONIUM_JS, DIRECT_CRONIUM_PY, DIRECT_CRONIUM_SH } from './direct-helpers';
import { ELEVATE_WRAPPER, type Elevation } from './elevation';

/** Interpreters a job may name. */
export type Interpreter = 'bash' | 'sh' | 'python3' | 'node';

/** What the prelude needs. */
export interface PreludeSpec {
  interpreter: Interpreter;
  script: string;
  /** JSON text given to the script on its stdin (empty when undefined). */
  input?: string;
  env?: Record<string, string>;
  /** Seconds between TERM and KILL of the script's group. */
  graceSeconds?: number;
  /**
   * Run the script as root (elevation.ts): sudo or doas starts ELEVATE_WRAPPER, which prints
   * `marker` on stderr, sources the environment from a file in the private temp dir (sudo drops
   * the caller's), and starts the script. A sudo password goes to sudo's stdin from a shell
   * builtin (never a command line); sudo prompts with `prompt`.
   */
  elevation?: Elevation & { prompt: string; marker: string };
  /** Overrides the random nonce and delimiters (tests). */
  random?: (bytes: number) => string;
}

/** The built prelude and the nonce of its markers. */
export interface Prelude {
  text: string;
  nonce: string;
}

/** Exit status the prelude uses when the interpreter is missing. */
export const INTERPRETER_MISSING_STATUS = 127;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Names the prelude itself uses or that would break the remote shell. */
const RESERVED = new Set(['IFS', 'PATH', 'HOME', 'SHELL', 'PS4', 'ENV', 'BASH_ENV', 'CDPATH']);

/** Quotes a value for POSIX sh: single quotes, with ' as '\''. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A heredoc delimiter that no line of `content` equals. */
export function heredocDelimiter(content: string, random: (bytes: number) => string, prefix = 'CRONIUM_EOF_'): string {
  const lines = new Set(content.split('\n'));
  for (;;) {
    const d = `${prefix}${random(8)}`;
    if (!lines.has(d)) return d;
  }
}

/** Checks an environment for the prelude: names are shell identifiers, values have no NUL. */
export function validateEnv(env: Record<string, string>): void {
  for (const [k, v] of Object.entries(env)) {
    if (!ENV_NAME.test(k)) throw fieldError(`env.${k}`, 'names must be letters, digits and "_", not starting with a digit');
    if (RESERVED.has(k) || k.startsWith('CRONIUM_')) throw fieldError(`env.${k}`, 'is reserved');
    if (v.includes('\0')) throw fieldError(`env.${k}`, 'must not contain NUL bytes');
  }
}

const INTERPRETER_COMMANDS: Record<Interpreter, string[]> = {
  bash: ['bash'],
  sh: ['sh'],
  python3: ['python3'],
  node: ['node', 'nodejs'],
};

const hex = (n: number) => randomBytes(n).toString('hex');

/** Builds the prelude for one run. */
export function buildPrelude(spec: PreludeSpec): Prelude {
  const random = spec.random ?? hex;
  if (spec.script.includes('\0')) throw fieldError('script', 'must not contain NUL bytes');
  const env = spec.env ?? {};
  validateEnv(env);
  const nonce = random(8);
  const grace = Math.max(0, Math.min(300, Math.round(spec.graceSeconds ?? 5)));
  const script = spec.script.endsWith('\n') ? spec.script : `${spec.script}\n`;
  const input = spec.input === undefined ? '' : spec.input.endsWith('\n') ? spec.input : `${spec.input}\n`;
  const sd = heredocDelimiter(script, random);
  const id = heredocDelimiter(input, random);
  const candidates = INTERPRETER_COMMANDS[spec.interpreter].map(shQuote).join(' ');
  const runFiles = ['script', 'input', 'v', 'h', ...(spec.elevation ? ['env'] : []), ...(spec.elevation?.method === 'su' ? ['wrap'] : [])];
  const lines = [
    '{',
    'umask 077',
    `N=${nonce}`,
    `G=${grace * 10}`,
    'P= W= d= h=',
    'm() { printf \'\\n@@cronium:%s:%s\\n\' "$N" "$*"; }',
    // Kill the script's group: TERM, up to the grace period, KILL. Falls back to the pid alone.
    // A timer subshell KILLs after the grace; the shell that started the script reaps its leader
    // (a zombie would still count as a member), then waits for the rest of the group.
    's() { sleep 0.1 2>/dev/null || sleep 1; }',
    'k() { [ -n "$P" ] || return 0; kill -TERM -"$P" 2>/dev/null || kill -TERM "$P" 2>/dev/null; ( i=0; while [ "$i" -lt "$G" ]; do s; i=$((i+1)); done; kill -KILL -"$P"; kill -KILL "$P" ) >/dev/null 2>&1 & K=$!; wait "$P" 2>/dev/null; i=0; while kill -0 -"$P" 2>/dev/null && [ "$i" -lt "$G" ]; do s; i=$((i+1)); done; kill -KILL -"$P" 2>/dev/null; kill "$K" 2>/dev/null; return 0; }',
    // The run's files all carry its nonce; removing one that was never made is a no-op.
    `c() { [ -n "$d" ] && rm -rf ${runFiles.map((f) => `"$d.${f}"`).join(' ')}; }`,
    't() { trap \'\' TERM HUP INT; [ -n "$W" ] && kill "$W" 2>/dev/null; k; c; exit "$1"; }',
    "trap 't 143' TERM; trap 't 129' HUP; trap 't 130' INT",
    // Every file of the run is created by this shell with noclobber (O_CREAT|O_EXCL, mode 0600 by
    // the umask) under a name of the run's nonce (64 random bits, as unguessable as mktemp's): a
    // name someone else made first, a symlink included, is refused, never followed or reused. No
    // directory per run: mkdir would be a process. The first temp dir that takes a file is used.
    'set -C',
    'for b in "${TMPDIR:-/tmp}" /tmp /var/tmp /dev/shm "$HOME"; do d="$b/cronium.$N"; { : >"$d.v"; } 2>/dev/null && break; d=; done',
    '[ -n "$d" ] || { m "error INTERNAL no writable temp dir (tried $TMPDIR /tmp /var/tmp /dev/shm $HOME)"; exit 125; }',
    // Files are written by the shell's own printf where it has one (dash, bash, BusyBox ash, zsh,
    // ksh: no process per file), else by cat from a here-document; either way their text comes
    // from this prelude (the shell's stdin), never from a command line. Asked without a subshell.
    'B=; command -V printf >|"$d.v" 2>/dev/null && IFS= read -r B <"$d.v"; case "$B" in *builtin*) B=1 ;; *) B= ;; esac',
    ...writeFile('$d.script', script, sd),
    ...writeFile('$d.input', input, id),
    // The helpers of direct mode (input and output only; see direct-helpers.ts).
    ...(spec.elevation ? runHelpers(random) : sharedHelpers(random)),
    'X=',
    // command -v gives a path, except for BusyBox applets, which ash names bare ("sh"): then PATH is searched.
    'w() { o=$IFS; IFS=:; for p in $PATH; do [ -f "${p:-.}/$1" ] && [ -x "${p:-.}/$1" ] && { IFS=$o; printf %s "${p:-.}/$1"; return 0; }; done; IFS=$o; return 1; }',
    `I=; for x in ${candidates}; do I=; command -v "$x" >|"$d.v" 2>/dev/null && IFS= read -r I <"$d.v"; case "$I" in /*) [ -f "$I" ] && break ;; esac; I=$(w "$x") && break; I=; done`,
    `[ -n "$I" ] || { m "error INTERPRETER_MISSING ${spec.interpreter} is not installed on this host (not on PATH: $PATH)"; c; exit ${INTERPRETER_MISSING_STATUS}; }`,
    'exec 3<&0',
    // The start marker goes out before the script starts: the script writes to the same
    // stdout, and anything it printed before the marker would be taken for login-shell noise.
    'm started',
    // The user's environment is exported only in the subshell that becomes the script: the
    // prelude's own variables (d, P, W, ...) stay out of its reach, and the subshell itself reads
    // only its positional parameters once the user's names are set.
    ...(spec.elevation ? elevatedStart(spec.elevation, env, grace, random) : plainStart(env)),
    'P=$!',
    // EOF on stdin: the app closed the channel (cancel, or it died). Kill the group.
    "( trap - TERM HUP INT; while IFS= read -r _l; do :; done <&3; k; c ) >/dev/null 2>&1 &",
    'W=$!',
    'exec 3<&-',
    // From here on this shell writes nothing: once the channel is gone a write (even the shell's
    // own "Terminated" notice) would kill it with SIGPIPE before it cleaned up.
    'exec >/dev/null 2>&1',
    'wait "$P"; rc=$?',
    'kill "$W" 2>/dev/null',
    // Whatever the script left in its group goes too (a daemon must detach into its own session).
    'G=10; kill -0 -"$P" 2>/dev/null && k',
    'c',
    'exit "$rc"',
    '}',
    '',
  ];
  return { text: lines.join('\n'), nonce };
}

/**
 * Lines that write `content` to `path` (a path in sh syntax, "$d.script" say), created with
 * noclobber (B set: the shell's printf is a builtin). The text is assigned to X once; cat's
 * here-document expands only "$X" (an expansion's result is not expanded again), so the text is
 * never repeated in the prelude. A write that fails (a full disk) ends the run before it starts.
 */
function writeFile(path: string, content: string, delim: string): string[] {
  const failed = writeFailed(path);
  if (content === '') return [`: >"${path}" ${failed}`];
  const body = content.endsWith('\n') ? content.slice(0, -1) : content;
  return [`X=${shQuote(body)}`, `if [ -n "$B" ]; then printf '%s\\n' "$X" >"${path}"; else cat >"${path}" <<${delim}`, '$X', delim, `fi ${failed}`];
}

/** What follows a command writing the run's file `path` (sh syntax): on failure, an error marker and the run ends. */
function writeFailed(path: string): string {
  return `|| { m "error INTERNAL could not write ${path} (is that disk full?)"; c; exit 125; }`;
}

/** The helpers' files, by their path under a helpers dir. */
const HELPER_FILES: readonly [string, string][] = [
  ['bin/cronium', DIRECT_CRONIUM_SH],
  ['python/cronium.py', DIRECT_CRONIUM_PY],
  ['node/cronium.js', DIRECT_CRONIUM_JS],
];

/** Names the shared helpers dir of this app version: its files' digest. */
export const DIRECT_HELPERS_DIR = `direct-${createHash('sha256').update(JSON.stringify(HELPER_FILES)).digest('hex').slice(0, 12)}`;

/** Lines that make the run's own helpers dir "$d.h" (h names it). */
function runHelpers(random: (bytes: number) => string): string[] {
  return [
    'mkdir -m 700 "$d.h" "$d.h/bin" "$d.h/python" "$d.h/node" || { m "error INTERNAL could not make $d.h"; c; exit 125; }',
    ...HELPER_FILES.flatMap(([file, text]) => writeFile(`$d.h/${file}`, text, heredocDelimiter(text, random))),
    'chmod 700 "$d.h/bin/cronium"',
    'h=$d.h',
  ];
}

/**
 * Lines that find the helpers in the account's shared dir, ~/.cache/cronium/<DIRECT_HELPERS_DIR>
 * (beside the runner's cache), else make the run's own and copy them there for the next runs.
 * The shared dir is used only when it, its parent and each file are the account's own (test -O)
 * and the command is executable: only the account (or root) can then have written them, as with
 * the run's own files. The copy is staged under a name of this run and renamed into place, so the
 * dir is whole or absent; a dir that is there but fails the check is left alone, and runs make
 * their own helpers.
 */
function sharedHelpers(random: (bytes: number) => string): string[] {
  return [
    `H=\${HOME:-}/.cache/cronium/${DIRECT_HELPERS_DIR}`,
    'case "$H" in /*) ;; *) H= ;; esac',
    'u() { [ -d "$1" ] && [ -O "$1" ] && [ -O "${1%/*}" ] && [ -x "$1/bin/cronium" ] && [ -O "$1/bin/cronium" ] && [ -O "$1/python/cronium.py" ] && [ -O "$1/node/cronium.js" ]; }',
    'if [ -n "$H" ] && u "$H"; then h=$H; else',
    ...runHelpers(random),
    '  if [ -n "$H" ] && [ ! -e "$H" ] && [ ! -L "$H" ]; then',
    '    mkdir -p "${H%/*}" 2>/dev/null && cp -R "$d.h" "$H.$N" 2>/dev/null && mv "$H.$N" "$H" 2>/dev/null',
    '    rm -rf "$H.$N" "$H/${H##*/}.$N" 2>/dev/null',
    '  fi',
    'fi',
  ];
}

/** Starts the script as the SSH user (x: the subshell that becomes the script). */
function plainStart(env: Record<string, string>): string[] {
  return [
    // The user's environment is exported only in the subshell that becomes the script: the
    // prelude's own variables (d, P, W, ...) stay out of its reach, and the subshell itself reads
    // only its positional parameters once the user's names are set.
      `x() { set -- "$d" "$I" "$h" "$@"${Object.entries(env).map(([k, v]) => `; export ${k}=${shQuote(v)}`).join('')}`,
      '  export CRONIUM_INPUT_FILE="$1.input" PATH="$3/bin:$PATH" PYTHONPATH="$3/python${PYTHONPATH:+:$PYTHONPATH}" NODE_PATH="$3/node${NODE_PATH:+:$NODE_PATH}" CRONIUM_HELPER_TRANSPORT=none',
      '  set -- "$@" "$2" "$1.script"; shift 3; exec "$@"; }',
      'if command -v setsid >/dev/null 2>&1; then ( x setsid ) <"$d.input" 3<&- &',
      "elif command -v perl >/dev/null 2>&1; then ( x perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or exit 127' ) <\"$d.input\" 3<&- &",
      'else set -m 2>/dev/null; ( x ) <"$d.input" 3<&- & fi',
  ];
}

/**
 * Starts the script as root: sudo/doas in its own session runs ELEVATE_WRAPPER, which sources
 * "$d.env" (written here: sudo resets the environment) and starts the interpreter on the script.
 * With a password, a shell builtin writes it on sudo's stdin; the wrapper gives the script the
 * input file instead, so an unread password never reaches it.
 */
function elevatedStart(el: NonNullable<PreludeSpec['elevation']>, env: Record<string, string>, grace: number, random: (bytes: number) => string): string[] {
  const envText = [
    // I is the wrapper's input path, "$d.input": the run's helpers are "$d.h" beside it. The
    // user's names come after, so none of them can change these lines.
    'D=${I%.input}.h',
    'export CRONIUM_INPUT_FILE="$I" PATH="$D/bin${PATH:+:$PATH}" PYTHONPATH="$D/python${PYTHONPATH:+:$PYTHONPATH}" NODE_PATH="$D/node${NODE_PATH:+:$NODE_PATH}" CRONIUM_HELPER_TRANSPORT=none',
    'unset D',
    ...Object.entries(env).map(([k, v]) => `export ${k}=${shQuote(v)}`),
    '',
  ].join('\n');
  const delim = heredocDelimiter(envText, random);
  const g = Math.max(1, grace * 10);
  const wrapper = `/bin/sh -c ${shQuote(ELEVATE_WRAPPER)} cronium-elevate "$d.input" ${shQuote(el.marker)} ${g} "$d.env" "$I" "$d.script"`;
  // su runs one command string through root's shell: the wrapper as a file of the run, its
  // arguments quoted (the paths are checked for quotes before).
  const cmd =
    el.method === 'su'
      ? `su -c "exec /bin/sh '$d.wrap' '$d.input' '${el.marker}' ${g} '$d.env' '$I' '$d.script'" root`
      : `${el.method === 'doas' ? 'doas -n --' : el.password ? `sudo -S -p ${shQuote(el.prompt)} --` : 'sudo -n --'} ${wrapper}`;
  const lines = [`cat >"$d.env" <<'${delim}' ${writeFailed('$d.env')}`, `${envText}${delim}`];
  // The tool is looked up as the SSH user: missing, it is reported like the runner does.
  const name = el.method;
  lines.push(`command -v ${name} >/dev/null 2>&1 || { printf '%s\\n' ${shQuote(`${name}: not installed on this host (not found in PATH)`)} >&2; }`);
  if (el.method === 'su') {
    const wd = heredocDelimiter(ELEVATE_WRAPPER, random);
    lines.push(`cat >"$d.wrap" <<'${wd}' ${writeFailed('$d.wrap')}`, `${ELEVATE_WRAPPER}\n${wd}`);
    // A quote in a path would end su's quoting early: refused (the nonce and command -v give none).
    lines.push(`case "$d$I" in *"'"*) m "error INTERNAL a path of this run has a quote in it: $d $I"; c; exit 125;; esac`);
  }
  lines.push(`y() { exec "$@" ${cmd}; }`);
  if (el.password) {
    lines.push(`Q=${shQuote(el.password)}`);
    // q gives the password to sudo's stdin: by the builtin printf, or (where printf is a program,
    // whose arguments are on the process list) by cat from a here-document expanding only $Q.
    const qd = `CRONIUM_EOF_${random(8)}`;
    lines.push(`q() { if [ -n "$B" ]; then printf '%s\\n' "$Q"; else cat <<${qd}`, '$Q', qd, 'fi; }');
    lines.push('if command -v setsid >/dev/null 2>&1; then q | ( y setsid ) 3<&- &');
    lines.push("elif command -v perl >/dev/null 2>&1; then q | ( y perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or exit 127' ) 3<&- &");
    lines.push('else set -m 2>/dev/null; q | ( y ) 3<&- & fi');
    lines.push('Q=');
  } else {
    lines.push('if command -v setsid >/dev/null 2>&1; then ( y setsid ) </dev/null 3<&- &');
    lines.push("elif command -v perl >/dev/null 2>&1; then ( y perl -MPOSIX -e 'POSIX::setsid(); exec @ARGV or exit 127' ) </dev/null 3<&- &");
    lines.push('else set -m 2>/dev/null; ( y ) </dev/null 3<&- & fi');
  }
  return lines;
}
