package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/spool"
)

// fakeSudo stands in for sudo in these unit tests (the real sudo, with real
// sudoers rules, is exercised on the test fleet by the app's integration tests):
// it prompts with -p on stderr and reads the password from stdin like `sudo -S`,
// gives three tries, and then runs the command as the same user.
const fakeSudo = `#!/bin/sh
while [ $# -gt 0 ]; do case $1 in -S) S=1;; -n) N=1;; -p) shift; P=$1;; --) shift; break;; esac; shift; done
if [ -n "$LECTURE" ]; then echo "We trust you have received the usual lecture" >&2; fi
if [ -n "$REFUSE" ]; then echo "sudo: sorry, you must have a tty to run sudo" >&2; exit 1; fi
if [ -n "$S" ]; then
  n=0
  while :; do
    printf '%s' "$P" >&2
    IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
    [ "$pw" = "s3cret pass" ] && break
    echo "Sorry, try again." >&2
    n=$((n+1)); [ $n -ge 3 ] && { echo "sudo: 3 incorrect password attempts" >&2; exit 1; }
  done
elif [ -n "$N" ] && [ -n "$NEEDPW" ]; then echo "sudo: a password is required" >&2; exit 1; fi
exec "$@"
`

// fakeSu stands in for util-linux su: reads the password from stdin at once, then runs -c CMD.
const fakeSu = `#!/bin/sh
[ "$1" = -c ] || { echo "fake su: want -c" >&2; exit 2; }
printf 'Password: ' >&2
IFS= read -r pw || exit 1
[ "$pw" = "r00t pw" ] || { echo "su: Authentication failure" >&2; exit 1; }
exec /bin/sh -c "$2"
`

func superviseElevated(t *testing.T, script string, el *protocol.Elevation, env map[string]string, extraEnv ...string) result {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte(fakeSudo), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "su"), []byte(fakeSu), 0o700); err != nil {
		t.Fatal(err)
	}
	sh := "/bin/sh"
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	path := filepath.Join(dir, "script")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "input")
	if err := os.WriteFile(in, []byte("the input\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := spool.Create(filepath.Join(dir, "frames"))
	if err != nil {
		t.Fatal(err)
	}
	mask := []string{}
	if el.Password != "" {
		mask = append(mask, el.Password)
	}
	p := &protocol.Payload{RunID: "r1", JobID: "j1", Interpreter: "sh", Limits: protocol.Limits{TimeoutMs: 20000, GraceMs: 1000}, Mask: mask, Env: env, Elevation: el}
	base := append(os.Environ(), extraEnv...)
	done := make(chan struct{})
	var exit *protocol.Frame
	go func() {
		defer close(done)
		exit, err = Supervise(Spec{Payload: p, Interpreter: sh, Script: path, Dir: dir, BaseEnv: base, Stdin: in}, w, nil)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the elevated run hung")
	}
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, "frames"))
	var res result
	res.exit = exit
	frames, err := protocol.DecodeStream(raw)
	if err != nil {
		t.Fatalf("spool after %d frames: %v", len(frames), err)
	}
	for _, fr := range frames {
		res.frames = append(res.frames, fr)
		if fr.Type == protocol.TypeLog {
			if fr.Stream == "stdout" {
				res.stdout = append(res.stdout, fr.Data...)
			} else {
				res.stderr = append(res.stderr, fr.Data...)
			}
		}
	}
	return res
}

func TestElevationPasswordOnPrompt(t *testing.T) {
	script := "read l; echo \"in=$l user=$MYVAR run=$CRONIUM_RUN_ID\"; echo oops >&2; exit 3\n"
	res := superviseElevated(t, script, &protocol.Elevation{Method: "sudo", Password: "s3cret pass"}, map[string]string{"MYVAR": "it's $x"}, "LECTURE=1")
	if got := string(res.stdout); got != "in=the input user=it's $x run=r1\n" {
		t.Fatalf("stdout %q", got)
	}
	if got := string(res.stderr); got != "oops\n" {
		t.Fatalf("stderr %q: sudo's lecture and prompt must stay out of the log", got)
	}
	if res.exit.Reason != protocol.ExitExited || code(res.exit) != 3 || res.exit.Detail != "" {
		t.Fatalf("exit %+v", res.exit)
	}
}

func TestElevationWrongPassword(t *testing.T) {
	res := superviseElevated(t, "echo ran\n", &protocol.Elevation{Method: "sudo", Password: "wrong one"}, nil)
	if len(res.stdout) != 0 || len(res.stderr) != 0 {
		t.Fatalf("the script ran: %q %q", res.stdout, res.stderr)
	}
	if res.exit.Reason != protocol.ExitElevationFailed || !strings.Contains(res.exit.Detail, "Sorry, try again.") {
		t.Fatalf("exit %+v", res.exit)
	}
	if strings.Contains(res.exit.Detail, "cronium-sudo") || strings.Contains(res.exit.Detail, "wrong one") {
		t.Fatalf("detail has the prompt or the password: %q", res.exit.Detail)
	}
}

func TestElevationRefusedAndNoPassword(t *testing.T) {
	res := superviseElevated(t, "echo ran\n", &protocol.Elevation{Method: "sudo"}, nil, "REFUSE=1")
	if res.exit.Reason != protocol.ExitElevationFailed || !strings.Contains(res.exit.Detail, "must have a tty") || len(res.stdout) != 0 {
		t.Fatalf("exit %+v stdout %q", res.exit, res.stdout)
	}
	res = superviseElevated(t, "echo ran\n", &protocol.Elevation{Method: "sudo"}, nil, "NEEDPW=1")
	if res.exit.Reason != protocol.ExitElevationFailed || !strings.Contains(res.exit.Detail, "a password is required") {
		t.Fatalf("exit %+v", res.exit)
	}
	// NOPASSWD: no prompt, the password (if any) is never written.
	res = superviseElevated(t, "cat; echo done\n", &protocol.Elevation{Method: "sudo"}, nil)
	if string(res.stdout) != "the input\ndone\n" || res.exit.Reason != protocol.ExitExited {
		t.Fatalf("stdout %q exit %+v", res.stdout, res.exit)
	}
}

func TestElevationNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	res := superviseElevated(t, "echo ran\n", &protocol.Elevation{Method: "doas"}, nil)
	if res.exit.Reason != protocol.ExitElevationFailed || res.exit.Detail != "doas: not installed on this host (not found in PATH)" || code(res.exit) != 127 {
		t.Fatalf("exit %+v", res.exit)
	}
}

func TestElevatedEnvQuoting(t *testing.T) {
	got := string(elevatedEnv([]string{"HOME=/h", "A=1", "CRONIUM_HELPER_BIN=/r/bin/cronium", "PYTHONPATH=/r/lib", "B=x'y"}, map[string]string{"A": "", "B": ""}))
	want := "export A='1'\nexport B='x'\\''y'\nexport CRONIUM_HELPER_BIN='/r/bin/cronium'\nexport PYTHONPATH='/r/lib'\nexport PATH='/r/bin'\"${PATH:+:$PATH}\"\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestElevationSu(t *testing.T) {
	res := superviseElevated(t, "read l; echo \"in=$l var=$MYVAR\"\n", &protocol.Elevation{Method: "su", Password: "r00t pw"}, map[string]string{"MYVAR": "a b'c"})
	if got := string(res.stdout); got != "in=the input var=a b'c\n" || res.exit.Reason != protocol.ExitExited {
		t.Fatalf("stdout %q exit %+v", got, res.exit)
	}
	if len(res.stderr) != 0 {
		t.Fatalf("su's prompt reached the log: %q", res.stderr)
	}
	res = superviseElevated(t, "echo ran\n", &protocol.Elevation{Method: "su", Password: "nope"}, nil)
	if res.exit.Reason != protocol.ExitElevationFailed || !strings.Contains(res.exit.Detail, "Authentication failure") || len(res.stdout) != 0 {
		t.Fatalf("exit %+v stdout %q", res.exit, res.stdout)
	}
}
