package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
)

// Protocol 4 foreground runs whose output is untouched (no mask, no pty, no
// elevation) move it from the script's pipes straight to stdout (on Linux,
// with splice where stdout allows it). These tests read what the app would.

// wireStats is a protocol 4 stream decoded header by header.
type wireStats struct {
	stdout, stderr []byte
	logFrames      int
	exit           *protocol.Frame
}

// decodeWire checks every header with protocol.DecodeHeader: hello first, then
// log and exit frames with seq strictly increasing from 1, the exit frame last.
func decodeWire(t *testing.T, raw []byte) wireStats {
	t.Helper()
	var st wireStats
	var seq int64
	for i := 0; len(raw) > 0; i++ {
		h, err := protocol.DecodeHeader(raw)
		if err != nil {
			t.Fatalf("frame %d (after seq %d): %v", i, seq, err)
		}
		f, n, err := protocol.DecodeBinary(raw)
		if err != nil {
			t.Fatalf("frame %d (%+v): %v", i, h, err)
		}
		raw = raw[n:]
		if (i == 0) != (f.Type == protocol.TypeHello) {
			t.Fatalf("frame %d is a %s", i, f.Type)
		}
		if f.Type == protocol.TypeHello || f.Type == protocol.TypeHeartbeat {
			continue
		}
		if st.exit != nil {
			t.Fatalf("a %s frame after the exit frame", f.Type)
		}
		if f.Seq != seq+1 {
			t.Fatalf("seq %d after %d", f.Seq, seq)
		}
		seq = f.Seq
		switch {
		case f.Type == protocol.TypeExit:
			st.exit = f
		case f.Type != protocol.TypeLog:
			t.Fatalf("a %s frame", f.Type)
		case f.Stream == "stdout":
			st.stdout = append(st.stdout, f.Data...)
			st.logFrames++
		default:
			st.stderr = append(st.stderr, f.Data...)
			st.logFrames++
		}
	}
	if st.exit == nil {
		t.Fatal("no exit frame")
	}
	return st
}

// Every byte the script writes arrives, in order, whatever stdout is: a pipe
// (what sshd gives; spliced into), a socket or a file (spliced through a pipe
// of the runner's own), a file opened O_APPEND (splice refuses it: read and
// written instead).
func TestProtocol4OutputExact(t *testing.T) {
	h := newHost(t)
	data := make([]byte, 50<<20)
	rand.New(rand.NewSource(1)).Read(data)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	script := fmt.Sprintf(`echo first >&2; dd if=%s bs=8k 2>/dev/null; echo last >&2`, path)
	for _, kind := range []string{"pipe", "socket", "file", "append"} {
		t.Run(kind, func(t *testing.T) {
			var w *os.File
			var read func() []byte
			switch kind {
			case "pipe", "socket":
				var r *os.File
				if kind == "pipe" {
					r, w, _ = os.Pipe()
				} else {
					syscall.ForkLock.RLock()
					fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
					if err == nil {
						syscall.CloseOnExec(fds[0])
						syscall.CloseOnExec(fds[1])
					}
					syscall.ForkLock.RUnlock()
					if err != nil {
						t.Fatal(err)
					}
					r, w = os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
				}
				got := make(chan []byte, 1)
				go func() { b, _ := io.ReadAll(r); r.Close(); got <- b }()
				read = func() []byte { return <-got }
			default:
				out := filepath.Join(t.TempDir(), "stdout")
				flags := os.O_WRONLY | os.O_CREATE
				if kind == "append" {
					flags |= os.O_APPEND
				}
				var err error
				if w, err = os.OpenFile(out, flags, 0o600); err != nil {
					t.Fatal(err)
				}
				read = func() []byte { return mustRead(t, out) }
			}
			h.runOut(t, protocol.ProtocolBinary, w, h.sign(h.payload(script, nil)), 60*time.Second)
			st := decodeWire(t, read())
			if got := sha256.Sum256(st.stdout); got != want {
				t.Fatalf("stdout: %d bytes, sha256 %x; want %d bytes", len(st.stdout), got, len(data))
			}
			if string(st.stderr) != "first\nlast\n" || st.exit.Code == nil || *st.exit.Code != 0 {
				t.Fatalf("stderr %q, exit %+v", st.stderr, st.exit)
			}
			if perGB := float64(st.logFrames) * float64(1<<30) / float64(len(data)); perGB > 2*16384 {
				t.Errorf("%d frames for %d bytes in 8 KiB writes (%.0f per GB)", st.logFrames, len(data), perGB)
			}
		})
	}
}

// The output cap is exact in protocol 4 too: the last frame is cut to what it
// allows and the run stops with output-limit.
func TestProtocol4OutputCap(t *testing.T) {
	h := newHost(t)
	for _, c := range []int{100000, 5*protocol.MaxLogData + 7} {
		r, w, _ := os.Pipe()
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(r); got <- b }()
		h.runOut(t, protocol.ProtocolBinary, w, h.sign(h.payload(`yes 0123456789abcdef`, func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 20000, "graceMs": 300, "maxOutputBytes": c}
		})), 60*time.Second)
		st := decodeWire(t, <-got)
		if len(st.stdout) != c || st.exit.Reason != protocol.ExitOutputLimit {
			t.Errorf("cap %d: %d bytes, reason %s", c, len(st.stdout), st.exit.Reason)
		}
	}
}

// A run whose stdout nobody reads (the runner waits in the middle of a frame)
// still stops on time, however it is told to: SIGTERM, a cancel frame, stdin
// closing, its timeout. The script's group is gone within the grace period
// while the stream is still stalled; once it is read, the exit frame says why.
func TestProtocol4StopsWhileStdoutStalled(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	for _, tc := range []struct {
		name, reason string
		timeoutMs    int
	}{
		{"SIGTERM", protocol.ExitCancelled, 30000},
		{"cancel frame", protocol.ExitCancelled, 30000},
		{"stdin closed", protocol.ExitDisconnected, 30000},
		{"timeout", protocol.ExitTimeout, 800},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHost(t)
			h.proto, h.frameCap = protocol.ProtocolBinary, 1
			pidFile := filepath.Join(t.TempDir(), "pid")
			s := h.run(h.sign(h.payload(fmt.Sprintf(`echo $$ > %s; exec yes stalled`, pidFile), func(p map[string]any) {
				p["limits"] = map[string]any{"timeoutMs": tc.timeoutMs, "graceMs": 300}
			})))
			var pgid int
			for deadline := time.Now().Add(10 * time.Second); pgid == 0; time.Sleep(10 * time.Millisecond) {
				if b, err := os.ReadFile(pidFile); err == nil {
					pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				}
				if time.Now().After(deadline) {
					t.Fatal("the script did not start")
				}
			}
			time.Sleep(time.Second) // stdout (1 MiB) and the script's pipe fill
			stopAt := time.Now()
			switch tc.name {
			case "SIGTERM":
				s.cmd.Process.Signal(syscall.SIGTERM)
			case "cancel frame":
				s.stdin.Write([]byte(`{"type":"cancel"}` + "\n"))
			case "stdin closed":
				s.stdin.Close()
			}
			// TERM is due at once (the timeout is already past), KILL after 300 ms.
			deadline := stopAt.Add(1500 * time.Millisecond)
			for len(job.GroupMembers(pgid)) > 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if left := job.GroupMembers(pgid); len(left) > 0 {
				t.Fatalf("%s after the stop, the group still has %v", time.Since(stopAt), left)
			}
			if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid)); err != nil || strings.Contains(string(st), ") Z ") {
				t.Fatal("the runner ended before its stdout was read: the test proves nothing")
			}
			frames := s.collect(t, 30*time.Second)
			s.stdin.Close()
			ex := last(frames)
			if ex.Type != protocol.TypeExit || ex.Reason != tc.reason {
				t.Fatalf("exit %+v", ex)
			}
			for i, f := range frames[1:] {
				if f.Type != protocol.TypeHeartbeat && f.Seq != int64(i+1) {
					t.Fatalf("frame %d has seq %d", i+1, f.Seq)
				}
			}
			if err := <-s.done; err != nil {
				t.Fatalf("runner: %v", err)
			}
		})
	}
}
