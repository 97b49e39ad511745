package job

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// ElevateWrapper is the POSIX sh program an elevated run starts as root, through
// sudo or doas: `sh -c ElevateWrapper cronium-elevate STDIN MARKER GRACE10 ENVSRC PROGRAM ARGS...`.
// The app's direct-mode prelude uses the same text (a test keeps the two equal).
//
//  1. It prints MARKER on stderr first: everything on stderr before it came from
//     sudo (lecture, prompt, refusal), everything after from the script.
//  2. The subshell that becomes the script reads the run's environment from
//     ENVSRC (sudo's env_reset drops it): lines of `export NAME='value'`; the
//     runner writes them on the pipe that was sudo's stdin ("-": fd 3), direct
//     mode names a file in its private temp dir. Only that subshell sees them,
//     so no name can change the wrapper's own variables. PATH keeps root's
//     secure path, with the helpers' directory in front.
//  3. The script's stdin is STDIN (the job input): nothing left on the password
//     pipe can reach the script.
//  4. It starts the script in its own session as root and stays as its parent:
//     the unprivileged side can signal sudo (which relays TERM, HUP and INT to this
//     shell) but not root's processes, so this shell stops the script's group itself
//     (TERM, GRACE10 tenths of a second, KILL), and reaps what the script left behind.
//     A script killed by a signal ends this shell with the same signal, which sudo
//     passes on.
const ElevateWrapper = `exec 3<&0; printf '%s\n' "$2" >&2; G=$3; E=$4; I=$1; shift 4
( if [ "$E" = - ]; then . /dev/fd/3; else . "$E"; fi || exit 125; exec 3<&-; if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; fi; exec "$@" ) <"$I" &
P=$!
exec 3<&-
k() { kill -TERM -"$P" 2>/dev/null || kill -TERM "$P" 2>/dev/null; i=0; while kill -0 -"$P" 2>/dev/null && [ "$i" -lt "$G" ]; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; kill -KILL -"$P" 2>/dev/null || kill -KILL "$P" 2>/dev/null; }
trap 'k; wait "$P"; exit 143' TERM; trap 'k; wait "$P"; exit 129' HUP; trap 'k; wait "$P"; exit 130' INT
wait "$P"; rc=$?
kill -0 -"$P" 2>/dev/null && { G=10; k; }
if [ "$rc" -gt 128 ] && [ "$rc" -lt 160 ]; then trap - TERM HUP INT; kill -"$((rc-128))" $$; fi
exit "$rc"`

// Elevation methods a payload may name.
const (
	ElevationSudo = "sudo"
	ElevationDoas = "doas"
	// ElevationSu: `su -c CMD root` with root's password, which su reads from
	// its stdin (util-linux su does when stdin is not a terminal) at once, with
	// no prompt of ours: the password is written first.
	ElevationSu = "su"
)

// elevation runs a payload's script through sudo or doas. It watches sudo's
// stderr (before the wrapper's marker) for the random prompt, answers the first
// prompt with the password on sudo's stdin pipe, closes the pipe on a second
// one (a wrong password: sudo gives up at once instead of asking again), and
// once the marker is seen hands the environment to the wrapper on the same pipe.
type elevation struct {
	method   string
	password string
	prompt   string
	marker   string
	stdin    io.WriteCloser
	env      []byte
	// eager: the password goes first, without waiting for a prompt (su).
	eager bool

	mu      sync.Mutex
	buf     []byte // stderr before the marker (sudo's own words)
	prompts int
	started bool
	closed  bool
}

func randomMarker(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// newElevation prepares the elevated argv around argv.
func newElevation(el *protocol.Elevation, argv []string, stdinFile string, graceMs int64, env []string, userEnv map[string]string) (*elevation, []string) {
	e := &elevation{method: el.Method, password: el.Password, prompt: randomMarker("[cronium-sudo-"), marker: randomMarker("@@cronium-elevated:")}
	e.prompt += "] "
	if stdinFile == "" {
		stdinFile = "/dev/null"
	}
	g := graceMs / 100
	if g < 1 {
		g = 1
	}
	inner := append([]string{"/bin/sh", "-c", ElevateWrapper, "cronium-elevate", stdinFile, e.marker, strconv.FormatInt(g, 10), "-"}, argv...)
	e.env = elevatedEnv(env, userEnv)
	if el.Method == ElevationSu {
		quoted := make([]string, len(inner))
		for i, a := range inner {
			quoted[i] = shQuote(a)
		}
		e.eager = true
		return e, []string{"su", "-c", "exec " + strings.Join(quoted, " "), "root"}
	}
	var pre []string
	switch el.Method {
	case ElevationDoas:
		pre = []string{"doas", "-n", "--"}
	default:
		if el.Password != "" {
			pre = []string{"sudo", "-S", "-p", e.prompt, "--"}
		} else {
			pre = []string{"sudo", "-n", "--"}
		}
	}
	return e, append(pre, inner...)
}

// elevatedEnv is the wrapper's environment script: the payload's variables, the
// run's CRONIUM_* ones and the interpreters' helper paths; PATH gets only the
// helpers' directory in front of root's own.
func elevatedEnv(env []string, userEnv map[string]string) []byte {
	keep := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		_, user := userEnv[k]
		if user || strings.HasPrefix(k, "CRONIUM_") || k == "PYTHONUNBUFFERED" || k == "PYTHONPATH" || k == "NODE_PATH" || k == "TERM" {
			keep[k] = v
		}
	}
	names := make([]string, 0, len(keep))
	for k := range keep {
		names = append(names, k)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, k := range names {
		if k == "PATH" {
			continue
		}
		b.WriteString("export " + k + "=" + shQuote(keep[k]) + "\n")
	}
	if bin, ok := keep["CRONIUM_HELPER_BIN"]; ok {
		b.WriteString("export PATH=" + shQuote(filepath.Dir(bin)) + "\"${PATH:+:$PATH}\"\n")
	}
	return b.Bytes()
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// feed takes stderr bytes (already masked). It returns what belongs to the
// script's log: nothing before the marker, everything after it.
func (e *elevation) feed(data []byte) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return data
	}
	e.buf = append(e.buf, data...)
	for {
		if i := bytes.Index(e.buf, []byte(e.marker+"\n")); i >= 0 {
			rest := append([]byte(nil), e.buf[i+len(e.marker)+1:]...)
			e.buf = e.buf[:i]
			e.started = true
			e.answerStarted()
			return rest
		}
		n := bytes.Count(e.buf, []byte(e.prompt))
		if n <= e.prompts {
			break
		}
		e.prompts = n
		if n == 1 && e.password != "" {
			e.write([]byte(e.password + "\n"))
		} else {
			// A second prompt: the password was wrong. EOF makes sudo give up now.
			e.closeStdin()
		}
		break
	}
	// Bounded: sudo's lecture and errors are short; keep the tail.
	if len(e.buf) > 64<<10 {
		e.buf = append([]byte(nil), e.buf[len(e.buf)-(32<<10):]...)
	}
	return nil
}

func (e *elevation) answerStarted() {
	env := e.env
	w := e.stdin
	e.closed = true
	// The pipe holds 64 KiB; a larger environment must not block the log loop.
	go func() {
		_, _ = w.Write(env)
		_ = w.Close()
	}()
}

func (e *elevation) write(b []byte) {
	if !e.closed {
		_, _ = e.stdin.Write(b)
	}
}

func (e *elevation) closeStdin() {
	if !e.closed {
		e.closed = true
		_ = e.stdin.Close()
	}
}

// begin writes the password at once for a tool that prompts in its own words (su).
func (e *elevation) begin() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.eager && e.password != "" {
		e.write([]byte(e.password + "\n"))
	}
}

// Started reports whether the script itself started.
func (e *elevation) Started() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

// Detail is sudo's own stderr (prompts removed, password masked by the caller's
// masker before feed), for an exit frame of reason elevation-failed.
func (e *elevation) Detail() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := strings.ReplaceAll(string(e.buf), e.prompt, "")
	if e.password != "" {
		s = strings.ReplaceAll(s, e.password, "***")
	}
	s = strings.ToValidUTF8(strings.TrimSpace(s), "?")
	if len(s) > protocol.MaxExitDetail {
		s = s[len(s)-protocol.MaxExitDetail:]
		s = strings.ToValidUTF8(s, "")
	}
	if s == "" {
		s = "(" + e.method + " said nothing)"
	}
	return s
}
