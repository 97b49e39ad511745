//go:build linux

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// exitNoPayload is cli.ExitNoPayload: `run --resident` found stdin ended before any envelope.
const exitNoPayload = 3

// residentHost is a host whose runner sits in a cache layout of its own,
// <root>/v1/cronium-runner with installation.pub and host-id beside it and the
// state in <root>/state, as the app deploys it: nothing else writes into the
// binary's directories, so a resident runner sees only what the test changes.
func residentHost(t *testing.T) (h *host, root string) {
	h = newHost(t)
	root = t.TempDir()
	ver := filepath.Join(root, "v1")
	if err := os.Mkdir(ver, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(ver, "cronium-runner")
	os.WriteFile(bin, mustRead(t, h.bin), 0o755)
	os.WriteFile(filepath.Join(ver, "installation.pub"), mustRead(t, h.keyFile), 0o644)
	os.WriteFile(filepath.Join(ver, "host-id"), mustRead(t, h.hostFile), 0o644)
	h.bin, h.keyFile, h.hostFile, h.state = bin, filepath.Join(ver, "installation.pub"), filepath.Join(ver, "host-id"), filepath.Join(root, "state")
	return h, root
}

func (h *host) serve() *session {
	h.t.Helper()
	return h.start([]string{"serve", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", "4"}, nil)
}

// next is the stream's next frame other than a heartbeat.
func (s *session) next(t *testing.T, d time.Duration) *protocol.Frame {
	t.Helper()
	timer := time.After(d)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatal("the stream ended")
			}
			if f.Type != protocol.TypeHeartbeat {
				return f
			}
		case <-timer:
			t.Fatalf("no frame within %s", d)
		}
	}
}

func (s *session) wantReady(t *testing.T, code *int64, signal *string) {
	t.Helper()
	f := s.next(t, 10*time.Second)
	if f.Type != protocol.TypeReady || !eqPtr(f.Code, code) || !eqPtr(f.Signal, signal) {
		t.Fatalf("got %+v (code %v, signal %v), want a ready frame with code %v, signal %v", f, deref(f.Code), deref(f.Signal), deref(code), deref(signal))
	}
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

// send writes an envelope and reads that run's frames up to its exit or error frame.
func (s *session) send(t *testing.T, line []byte) []*protocol.Frame {
	t.Helper()
	if _, err := s.stdin.Write(line); err != nil {
		t.Fatal(err)
	}
	var out []*protocol.Frame
	for {
		f := s.next(t, 20*time.Second)
		out = append(out, f)
		if f.Type == protocol.TypeExit || f.Type == protocol.TypeError {
			return out
		}
		if f.Type == protocol.TypeReady {
			t.Fatalf("a ready frame inside a run: %+v", out)
		}
	}
}

// end closes stdin: serve ends with 0 within a few seconds, writing nothing more.
func (s *session) end(t *testing.T) {
	t.Helper()
	s.stdin.Close()
	if rest := s.collect(t, 5*time.Second); len(rest) > 0 {
		t.Fatalf("serve wrote %d frames after stdin closed, first %+v", len(rest), rest[0])
	}
	if err := <-s.done; err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// Several runs through one serve, one pair of pipes: ready, hello … exit,
// ready with the run process's status, and so on; each run's output arrives
// byte for byte, each run is a process of its own (never serve, which does not
// read stdin), and closing stdin ends serve quietly.
func TestServeRunsSequentially(t *testing.T) {
	h, _ := residentHost(t)
	s := h.serve()
	s.wantReady(t, nil, nil)
	big := strings.Repeat("0123456789abcdef", 20000)
	runs := []struct {
		script, out string
		code        int64
	}{
		{`printf 'one\n'`, "one\n", 0},
		{`printf '\305\000{\n'; printf '` + big + `'; printf 'no-newline'; exit 3`, "\305\000{\n" + big + "no-newline", 3},
		{`echo "$((6*7))"`, "42\n", 0},
	}
	pids := map[int64]bool{int64(s.cmd.Process.Pid): true}
	for i, r := range runs {
		frames := s.send(t, h.sign(h.payload(r.script, nil)))
		hello, ex := frames[0], last(frames)
		if hello.Type != protocol.TypeHello || hello.Protocol != protocol.ProtocolBinary {
			t.Fatalf("run %d: first frame %+v", i, hello)
		}
		if pids[hello.Pid] {
			t.Fatalf("run %d: hello from pid %d, serve's or an earlier run's (serve %d)", i, hello.Pid, s.cmd.Process.Pid)
		}
		pids[hello.Pid] = true
		if ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != r.code || ex.Reason != protocol.ExitExited {
			t.Fatalf("run %d: last frame %+v", i, ex)
		}
		if got := logsOf(frames); got != r.out {
			t.Fatalf("run %d: stdout %d bytes %.60q, want %d bytes", i, len(got), got, len(r.out))
		}
		// The run process's own status: 0 once its stream ended with an exit frame.
		s.wantReady(t, ptr(int64(0)), nil)
	}
	// A refused payload: its error frame, then ready with the run process's status 2.
	frames := s.send(t, h.sign(h.payload("true", func(p map[string]any) { p["hostId"] = "host-b" })))
	if len(frames) != 1 || frames[0].ErrCode != "PAYLOAD_REJECTED" || frames[0].RejectReason != protocol.ReasonWrongHost {
		t.Fatalf("frames %+v", frames)
	}
	s.wantReady(t, ptr(int64(2)), nil)
	// A detached payload is not served resident.
	frames = s.send(t, h.sign(h.payload("true", func(p map[string]any) { p["detach"] = true })))
	if len(frames) != 1 || frames[0].ErrCode != "INVALID_INPUT" || !strings.Contains(frames[0].Message, "resident") {
		t.Fatalf("frames %+v", frames)
	}
	s.wantReady(t, ptr(int64(2)), nil)
	s.end(t)
	if entries, _ := os.ReadDir(filepath.Join(h.state, "runs")); len(entries) != 0 {
		t.Errorf("run dirs left behind: %v", entries)
	}
}

// A cancel or helper reply that arrives after its run's exit frame is skipped
// by the next run's process, whether it is read before or after ready: the
// next envelope still runs, uncancelled.
func TestServeSkipsStrayControlLines(t *testing.T) {
	h, _ := residentHost(t)
	s := h.serve()
	s.wantReady(t, nil, nil)
	s.send(t, h.sign(h.payload("true", nil)))
	// Late, before ready: read by the finished run's process or by the next one.
	s.stdin.Write([]byte(`{"type":"cancel"}` + "\n"))
	s.wantReady(t, ptr(int64(0)), nil)
	// After ready: the next run's process reads them before its envelope.
	s.stdin.Write([]byte(`{"type":"cancel"}` + "\n" + `{"type":"helper-reply","id":1,"status":200,"body":{}}` + "\n"))
	time.Sleep(100 * time.Millisecond)
	frames := s.send(t, h.sign(h.payload(`sleep 0.3; echo done`, nil)))
	if ex := last(frames); frames[0].Type != protocol.TypeHello || ex.Type != protocol.TypeExit || ex.Reason != protocol.ExitExited || logsOf(frames) != "done\n" {
		t.Fatalf("frames %+v", frames)
	}
	s.wantReady(t, ptr(int64(0)), nil)
	// In one write with the envelope.
	s.stdin.Write([]byte(`{"type":"cancel"}` + "\n"))
	frames = s.send(t, h.sign(h.payload(`sleep 0.3; echo again`, nil)))
	if ex := last(frames); ex.Type != protocol.TypeExit || ex.Reason != protocol.ExitExited || logsOf(frames) != "again\n" {
		t.Fatalf("frames %+v", frames)
	}
	s.wantReady(t, ptr(int64(0)), nil)
	s.end(t)
}

// Any change to the binary or its two directories after serve started refuses
// the next envelope with RUNNER_CHANGED, before the envelope is even read as
// one; serve goes on (the app closes the channel).
func TestServeRunnerChanged(t *testing.T) {
	for _, tc := range []struct {
		name, what string
		change     func(t *testing.T, bin, root string)
	}{
		{"touch", "binary", func(t *testing.T, bin, _ string) { run(t, "touch", bin) }},
		{"touch back", "binary", func(t *testing.T, bin, _ string) {
			st, _ := os.Stat(bin)
			os.Chtimes(bin, st.ModTime(), st.ModTime())
		}},
		{"chmod", "binary", func(t *testing.T, bin, _ string) { os.Chmod(bin, 0o775) }},
		{"rename replacement", "binary", func(t *testing.T, bin, _ string) {
			os.WriteFile(bin+".new", mustRead(t, bin), 0o755)
			if err := os.Rename(bin+".new", bin); err != nil {
				t.Fatal(err)
			}
		}},
		{"file in the version dir", "version directory", func(t *testing.T, bin, _ string) {
			os.WriteFile(filepath.Join(filepath.Dir(bin), "host-id.other"), []byte("host-b\n"), 0o600)
		}},
		{"version dir chmod", "version directory", func(t *testing.T, bin, _ string) { os.Chmod(filepath.Dir(bin), 0o700) }},
		{"new version in the cache", "cache directory", func(t *testing.T, _, root string) { os.Mkdir(filepath.Join(root, "v2"), 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, root := residentHost(t)
			s := h.serve()
			s.wantReady(t, nil, nil)
			if frames := s.send(t, h.sign(h.payload("echo before", nil))); logsOf(frames) != "before\n" {
				t.Fatalf("before the change: %+v", frames)
			}
			s.wantReady(t, ptr(int64(0)), nil)
			tc.change(t, h.bin, root)
			for _, line := range [][]byte{h.sign(h.payload("echo after", nil)), []byte("{not an envelope\n")} {
				frames := s.send(t, line)
				if len(frames) != 1 || frames[0].ErrCode != "RUNNER_CHANGED" || !strings.Contains(frames[0].Message, tc.what) {
					t.Fatalf("frames %+v, want one RUNNER_CHANGED naming the %s", frames, tc.what)
				}
				s.wantReady(t, ptr(int64(1)), nil)
			}
			s.end(t)
		})
	}
}

// Writing to the binary in place while serve runs: the kernel refuses it
// (ETXTBSY, Linux), so the next run runs; where a kernel lets it through, the
// next run is refused with RUNNER_CHANGED. Either way no run uses changed bytes.
func TestServeBinaryWrittenInPlace(t *testing.T) {
	h, _ := residentHost(t)
	s := h.serve()
	s.wantReady(t, nil, nil)
	want := mustRead(t, h.bin)
	f, err := os.OpenFile(h.bin, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.Write([]byte{0})
		f.Close()
	}
	frames := s.send(t, h.sign(h.payload("echo after", nil)))
	switch {
	case errors.Is(err, syscall.ETXTBSY):
		if logsOf(frames) != "after\n" || !bytes.Equal(mustRead(t, h.bin), want) {
			t.Fatalf("write refused, yet frames %+v or the file changed", frames)
		}
		s.wantReady(t, ptr(int64(0)), nil)
	case err == nil:
		if len(frames) != 1 || frames[0].ErrCode != "RUNNER_CHANGED" {
			t.Fatalf("written in place, frames %+v, want RUNNER_CHANGED", frames)
		}
		s.wantReady(t, ptr(int64(1)), nil)
	default:
		t.Fatalf("open for writing: %v", err)
	}
	s.end(t)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// A signal stops serve once the current run's process ends: a run in progress
// (or the one waiting for its envelope) still completes, and no ready follows.
func TestServeStopsOnSignal(t *testing.T) {
	h, _ := residentHost(t)
	s := h.serve()
	s.wantReady(t, nil, nil)
	s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(50 * time.Millisecond)
	frames := s.send(t, h.sign(h.payload("echo still", nil)))
	if logsOf(frames) != "still\n" || last(frames).Type != protocol.TypeExit {
		t.Fatalf("frames %+v", frames)
	}
	if rest := s.collect(t, 5*time.Second); len(rest) > 0 {
		t.Fatalf("after the signal: %+v", rest)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	s.stdin.Close()
}

// stdout gone (the channel's reader closed): serve's write of ready fails with
// EPIPE and serve ends, neither killed by SIGPIPE nor left waiting.
func TestServeStdoutGone(t *testing.T) {
	h, _ := residentHost(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(h.bin, "serve", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", "4")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v (%v)", err, cmd.ProcessState)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve did not end")
	}
}

// run --resident with stdin ending before any envelope (control lines only,
// or nothing) exits ExitNoPayload and writes nothing.
func TestResidentRunNoPayload(t *testing.T) {
	h, _ := residentHost(t)
	for _, in := range []string{"", `{"type":"cancel"}` + "\n"} {
		cmd := exec.Command(h.bin, "run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", "4", "--resident", "a;b;c")
		var out bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(in), &out, &out
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitNoPayload || out.Len() > 0 {
			t.Fatalf("stdin %q: %v, output %q", in, err, out.String())
		}
	}
	// With an envelope, a record that is not this binary's: RUNNER_CHANGED, exit 1.
	cmd := exec.Command(h.bin, "run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", "4", "--resident", "a;b;c")
	cmd.Stdin, cmd.Stderr = bytes.NewReader(h.sign(h.payload("true", nil))), os.Stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	frames, derr := protocol.DecodeStream(out)
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || derr != nil || len(frames) != 1 || frames[0].ErrCode != "RUNNER_CHANGED" {
		t.Fatalf("%v: %+v (%v)", err, frames, derr)
	}
}
