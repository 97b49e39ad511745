package job

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/spool"
)

type result struct {
	exit   *protocol.Frame
	stdout []byte
	stderr []byte
	frames []*protocol.Frame
}

// supervise runs script with bash under Supervise and returns what the spool holds.
func supervise(t *testing.T, script string, lim protocol.Limits, pty bool, cancel <-chan string) result {
	t.Helper()
	return superviseMasked(t, script, lim, pty, cancel, nil)
}

// superviseMasked is supervise with the payload's mask.
func superviseMasked(t *testing.T, script string, lim protocol.Limits, pty bool, cancel <-chan string, mask []string) result {
	t.Helper()
	spec, dir := bashSpec(t, script, lim, 20000, pty, mask)
	w, err := spool.Create(filepath.Join(dir, "frames"))
	if err != nil {
		t.Fatal(err)
	}
	exit, err := Supervise(spec, w, cancel)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	raw, _ := os.ReadFile(filepath.Join(dir, "frames"))
	frames, err := protocol.DecodeStream(raw)
	if err != nil {
		t.Fatalf("spool after %d frames: %v", len(frames), err)
	}
	res := collect(t, frames)
	res.exit = exit
	return res
}

// bashSpec writes script to a dir of its own and returns the Spec that runs it
// with bash under lim (a TimeoutMs of 0: defaultTimeoutMs), and the dir.
func bashSpec(t *testing.T, script string, lim protocol.Limits, defaultTimeoutMs int64, pty bool, mask []string) (Spec, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "script")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if lim.TimeoutMs == 0 {
		lim.TimeoutMs = defaultTimeoutMs
	}
	p := &protocol.Payload{RunID: "r1", JobID: "j1", Interpreter: "bash", Limits: lim, Pty: pty, Mask: mask}
	return Spec{Payload: p, Interpreter: bash, Script: path, Dir: dir, BaseEnv: os.Environ()}, dir
}

// collect gathers a run's frames (heartbeats left out): seq strictly
// increasing from 1 over log and exit frames, and the exit frame last.
func collect(t *testing.T, frames []*protocol.Frame) result {
	t.Helper()
	var res result
	var last int64
	for _, f := range frames {
		if f.Type == protocol.TypeHeartbeat {
			continue
		}
		if res.exit != nil {
			t.Fatalf("a %s frame after the exit frame", f.Type)
		}
		if f.Seq != last+1 {
			t.Fatalf("seq %d after %d", f.Seq, last)
		}
		last = f.Seq
		res.frames = append(res.frames, f)
		switch f.Type {
		case protocol.TypeLog:
			if f.Stream == "stdout" {
				res.stdout = append(res.stdout, f.Data...)
			} else {
				res.stderr = append(res.stderr, f.Data...)
			}
		case protocol.TypeExit:
			res.exit = f
		}
	}
	if res.exit == nil {
		t.Fatal("the frames do not end with an exit frame")
	}
	return res
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func code(f *protocol.Frame) int64 {
	if f.Code == nil {
		return -1
	}
	return *f.Code
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name, script string
		code         int64
		signal       string
	}{
		{"zero", "true", 0, "<nil>"},
		{"exit 3", "exit 3", 3, "<nil>"},
		{"exit 255", "exit 255", 255, "<nil>"},
		{"kill -9 self", "kill -9 $$", -1, "KILL"},
		{"segv self", "kill -SEGV $$", -1, "SEGV"},
		{"term self", "kill -TERM $$", -1, "TERM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := supervise(t, tc.script, protocol.Limits{GraceMs: 100}, false, nil)
			if code(res.exit) != tc.code || str(res.exit.Signal) != tc.signal || res.exit.Reason != protocol.ExitExited || res.exit.KilledWith != nil {
				t.Errorf("exit = code %d signal %s reason %s killedWith %s; want code %d signal %s, exited",
					code(res.exit), str(res.exit.Signal), res.exit.Reason, str(res.exit.KilledWith), tc.code, tc.signal)
			}
		})
	}
}

func TestOutputIntact(t *testing.T) {
	t.Run("5 MB single line", func(t *testing.T) {
		res := supervise(t, `head -c 5242880 /dev/zero | tr '\0' x; echo`, protocol.Limits{}, false, nil)
		want := append(bytes.Repeat([]byte("x"), 5<<20), '\n')
		if !bytes.Equal(res.stdout, want) {
			t.Fatalf("got %d bytes, want %d", len(res.stdout), len(want))
		}
		for _, f := range res.frames {
			if len(f.Data) > protocol.MaxLogData {
				t.Fatalf("frame of %d bytes", len(f.Data))
			}
		}
	})
	t.Run("binary", func(t *testing.T) {
		var all bytes.Buffer
		for i := 0; i < 4; i++ {
			for b := 0; b < 256; b++ {
				all.WriteByte(byte(b))
			}
		}
		// printf emits every byte value, NUL and invalid UTF-8 included.
		res := supervise(t, `for r in 1 2 3 4; do for i in $(seq 0 255); do printf "\\$(printf %03o $i)"; done; done`, protocol.Limits{}, false, nil)
		if !bytes.Equal(res.stdout, all.Bytes()) {
			t.Fatalf("binary output differs: %d bytes, sha %x", len(res.stdout), sha256.Sum256(res.stdout))
		}
	})
	t.Run("stdout and stderr apart", func(t *testing.T) {
		res := supervise(t, "echo out; echo err >&2; echo out2", protocol.Limits{}, false, nil)
		if string(res.stdout) != "out\nout2\n" || string(res.stderr) != "err\n" {
			t.Fatalf("stdout %q stderr %q", res.stdout, res.stderr)
		}
	})
	t.Run("environment", func(t *testing.T) {
		res := supervise(t, `echo "$PYTHONUNBUFFERED $CRONIUM_RUN_ID"; read x || echo stdin-empty`, protocol.Limits{}, false, nil)
		if string(res.stdout) != "1 r1\nstdin-empty\n" {
			t.Fatalf("stdout %q", res.stdout)
		}
	})
}

func TestOutputLimit(t *testing.T) {
	cap := int64(100000)
	res := supervise(t, `yes 0123456789`, protocol.Limits{GraceMs: 200, MaxOutputBytes: &cap}, false, nil)
	if int64(len(res.stdout)) != cap {
		t.Errorf("got %d bytes, want exactly the cap %d", len(res.stdout), cap)
	}
	if res.exit.Reason != protocol.ExitOutputLimit {
		t.Errorf("reason %s", res.exit.Reason)
	}
}

// pgidOfChild starts a script that reports its pgid first, for the group checks.
func TestStopKillsGroup(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		timeoutMs  int64
		cancel     string
		wantReason string
		wantKill   string
	}{
		{"timeout TERM", "sleep 30 & sleep 30", 300, "", protocol.ExitTimeout, "TERM"},
		{"timeout traps TERM", `trap "" TERM; sleep 30 & while :; do sleep 0.05; done`, 300, "", protocol.ExitTimeout, "KILL"},
		{"cancel", "sleep 30 & sleep 30", 20000, protocol.ExitCancelled, protocol.ExitCancelled, "TERM"},
		{"disconnect", "sleep 30 & sleep 30", 20000, protocol.ExitDisconnected, protocol.ExitDisconnected, "TERM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cancel := make(chan string, 1)
			if tc.cancel != "" {
				go func() {
					time.Sleep(300 * time.Millisecond)
					cancel <- tc.cancel
				}()
			}
			start := time.Now()
			res := supervise(t, "echo $$\n"+tc.script, protocol.Limits{TimeoutMs: tc.timeoutMs, GraceMs: 400}, false, cancel)
			if res.exit.Reason != tc.wantReason || str(res.exit.KilledWith) != tc.wantKill {
				t.Errorf("reason %s killedWith %s, want %s %s", res.exit.Reason, str(res.exit.KilledWith), tc.wantReason, tc.wantKill)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
			var pgid int
			if _, err := fmtSscan(strings.TrimSpace(string(res.stdout)), &pgid); err != nil {
				t.Fatalf("stdout %q", res.stdout)
			}
			assertGroupGone(t, pgid)
		})
	}
}

func TestStragglersReaped(t *testing.T) {
	// The leader exits at once; its background child holds no pipe.
	res := supervise(t, "echo $$; sleep 30 >/dev/null 2>&1 &\nexit 0", protocol.Limits{GraceMs: 300}, false, nil)
	if code(res.exit) != 0 || res.exit.Reason != protocol.ExitExited {
		t.Errorf("exit %+v", res.exit)
	}
	var pgid int
	fmtSscan(strings.TrimSpace(string(res.stdout)), &pgid)
	assertGroupGone(t, pgid)
}

func TestPipeHeldOpenByEscapee(t *testing.T) {
	// A descendant that leaves the group keeps stdout open: the run must still end.
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	start := time.Now()
	res := supervise(t, "setsid sleep 3 &\necho done", protocol.Limits{GraceMs: 100}, false, nil)
	if string(res.stdout) != "done\n" || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("stdout %q after %s", res.stdout, time.Since(start))
	}
}

func TestPty(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pty is Linux-only")
	}
	res := supervise(t, `[ -t 1 ] && [ -t 2 ] && echo tty || echo notty; [ "$(cut -d' ' -f7 /proc/$$/stat)" != 0 ] && echo ctty`, protocol.Limits{}, true, nil)
	if got := strings.ReplaceAll(string(res.stdout), "\r", ""); got != "tty\nctty\n" {
		t.Fatalf("stdout %q", res.stdout)
	}
	if code(res.exit) != 0 {
		t.Fatalf("exit %+v", res.exit)
	}
}

func TestEnviron(t *testing.T) {
	p := &protocol.Payload{RunID: "r", JobID: "j", Env: map[string]string{"PATH": "/x", "PYTHONUNBUFFERED": "0"}}
	env := Environ([]string{"PATH=/usr/bin", "HOME=/h", "CRONIUM_RUNNER_SECRET=1"}, p)
	got := strings.Join(env, " ")
	for _, want := range []string{"PATH=/x", "HOME=/h", "PYTHONUNBUFFERED=0", "CRONIUM_RUN_ID=r", "CRONIUM_JOB_ID=j"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("env %q lacks %s", got, want)
		}
	}
	if strings.Contains(got, "CRONIUM_RUNNER_SECRET") || strings.Count(got, "PATH=") != 1 {
		t.Errorf("env %q", got)
	}
}

func TestCommand(t *testing.T) {
	cpu, mem := int64(5), int64(64<<20)
	tests := []struct {
		name    string
		lim     protocol.Limits
		systemd bool
		want    string
		limiter string
	}{
		{"none", protocol.Limits{}, false, "/bin/bash s", protocol.LimiterNone},
		{"rlimits", protocol.Limits{CPUSeconds: &cpu, MemoryBytes: &mem}, false, "self exec-limited --cpu 5 --as 67108864 -- /bin/bash s", protocol.LimiterRlimit},
		{"systemd", protocol.Limits{MemoryBytes: &mem}, true, "systemd-run --user --scope --quiet --collect -p MemoryMax=67108864 -- /bin/bash s", protocol.LimiterSystemd},
		{"systemd unused without memory", protocol.Limits{CPUSeconds: &cpu}, true, "self exec-limited --cpu 5 -- /bin/bash s", protocol.LimiterRlimit},
	}
	for _, tc := range tests {
		argv, limiter := command(Spec{Payload: &protocol.Payload{Limits: tc.lim}, Interpreter: "/bin/bash", Script: "s", Self: "self", Systemd: tc.systemd})
		if got := strings.Join(argv, " "); got != tc.want || limiter != tc.limiter {
			t.Errorf("%s: %q %s, want %q %s", tc.name, got, limiter, tc.want, tc.limiter)
		}
	}
}

func TestSignalName(t *testing.T) {
	if SignalName(9) != "KILL" || SignalName(15) != "TERM" || SignalName(64) != "SIG64" {
		t.Error("signal names")
	}
}

// Masking happens before framing, per stream; a held tail released with a full
// read is split so that no frame exceeds MaxLogData; the output cap counts
// masked bytes; and a pty's single stream is masked too.
func TestSuperviseMasks(t *testing.T) {
	mask := []string{"hunter2secret"}
	r := superviseMasked(t, `printf 'a hunter'; sleep 0.2; printf '2secret b\n'
printf 'hunter' >&2; sleep 0.2; head -c 70000 /dev/zero | tr '\0' x >&2
printf 'end hunter2'`, protocol.Limits{GraceMs: 500}, false, nil, mask)
	if string(r.stdout) != "a *** b\nend hunter2" {
		t.Errorf("stdout %q", r.stdout)
	}
	if want := "hunter" + strings.Repeat("x", 70000); string(r.stderr) != want {
		t.Errorf("stderr is %d bytes, want %d", len(r.stderr), len(want))
	}
	for _, f := range r.frames {
		if len(f.Data) > protocol.MaxLogData || bytes.Contains(f.Data, []byte("hunter2secret")) {
			t.Fatalf("frame seq %d: %d bytes %.40q", f.Seq, len(f.Data), f.Data)
		}
	}
	if *r.exit.Code != 0 {
		t.Errorf("exit %+v", r.exit)
	}

	nine := int64(9)
	capped := superviseMasked(t, `for i in 1 2 3; do echo hunter2secret; done`, protocol.Limits{GraceMs: 500, MaxOutputBytes: &nine}, false, nil, mask)
	if string(capped.stdout) != "***\n***\n*" || capped.exit.Reason != protocol.ExitOutputLimit {
		t.Errorf("capped: %q, reason %s", capped.stdout, capped.exit.Reason)
	}

	if runtime.GOOS == "linux" {
		tty := superviseMasked(t, `printf 'hunter'; sleep 0.2; printf '2secret\n'`, protocol.Limits{GraceMs: 500}, true, nil, mask)
		if !bytes.Contains(tty.stdout, []byte("***")) || bytes.Contains(tty.stdout, []byte("hunter")) {
			t.Errorf("pty stdout %q", tty.stdout)
		}
	}
}

// The framer fills frames up to MaxLogData from reads of any size, starts a
// new one when the stream changes, and never gives an empty frame a seq.
func TestFramerCoalescesAndSplits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frames")
	w, err := spool.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &framer{out: w, seq: 4}
	var stderr, stdout []byte
	for i := range 20 { // 20 reads of 8000 bytes: 160,000 bytes in three frames
		d := bytes.Repeat([]byte{byte('a' + i)}, 8000)
		stderr = append(stderr, d...)
		if err := f.add("stderr", d); err != nil {
			t.Fatal(err)
		}
	}
	f.add("stdout", []byte("x\n")) // frames what stderr had, then waits
	stdout = append(stdout, "x\n"...)
	f.add("stdout", nil)
	if !f.pending() {
		t.Fatal("the stdout bytes were framed before they had to be")
	}
	if err := f.frame(); err != nil || f.pending() || f.frame() != nil {
		t.Fatal(err)
	}
	w.Close()
	raw, _ := os.ReadFile(path)
	frames, err := protocol.DecodeStream(raw)
	if err != nil {
		t.Fatal(err)
	}
	var gotErr, gotOut []byte
	var sizes []int
	for i, fr := range frames {
		if fr.Seq != int64(5+i) {
			t.Fatalf("frame %d has seq %d", i, fr.Seq)
		}
		sizes = append(sizes, len(fr.Data))
		if fr.Stream == "stderr" {
			gotErr = append(gotErr, fr.Data...)
		} else {
			gotOut = append(gotOut, fr.Data...)
		}
	}
	if fmt.Sprint(sizes) != fmt.Sprint([]int{protocol.MaxLogData, protocol.MaxLogData, 160000 - 2*protocol.MaxLogData, 2}) {
		t.Errorf("frame sizes %v", sizes)
	}
	if !bytes.Equal(gotErr, stderr) || !bytes.Equal(gotOut, stdout) || f.seq != 8 {
		t.Errorf("stderr %d bytes, stdout %q, last seq %d", len(gotErr), gotOut, f.seq)
	}
}
