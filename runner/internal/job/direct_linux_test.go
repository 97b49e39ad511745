package job

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// chanSink is a spool.Channel over a file (a pipe's write end, a socket, a
// regular file), as the run command's is over stdout: one lock for Append and
// Lend, so frames never interleave.
type chanSink struct {
	mu      sync.Mutex
	f       *os.File
	fd      int
	lends   int
	appends int
	seq     int64
	lost    bool
}

func newChanSink(f *os.File) *chanSink { return &chanSink{f: f, fd: int(f.Fd())} }

func (c *chanSink) Append(f *protocol.Frame) error {
	b, err := f.AppendBinary(nil)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appends++
	if c.lost {
		return nil
	}
	_, err = c.f.Write(b)
	return err
}

func (c *chanSink) Flush() error            { return nil }
func (c *chanSink) Recover() (int64, error) { return c.seq, nil }
func (c *chanSink) Wait() <-chan struct{}   { return nil }

func (c *chanSink) Lend(write func(int) (int64, error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost {
		return io.ErrClosedPipe
	}
	c.lends++
	seq, err := write(c.fd)
	if seq > 0 {
		c.seq = seq
	}
	c.lost = err != nil
	return err
}

func (c *chanSink) counts() (lends, appends int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lends, c.appends
}

// decodeWire parses a protocol 4 stream header by header (DecodeBinary
// refuses a log frame over MaxLogData) and collects its frames.
func decodeWire(t *testing.T, raw []byte) result {
	t.Helper()
	var frames []*protocol.Frame
	for len(raw) > 0 {
		h, err := protocol.DecodeHeader(raw)
		if err != nil {
			t.Fatalf("after %d frames: %v", len(frames), err)
		}
		f, n, err := protocol.DecodeBinary(raw)
		if err != nil {
			t.Fatalf("frame after %d frames (%+v): %v", len(frames), h, err)
		}
		raw = raw[n:]
		frames = append(frames, f)
	}
	return collect(t, frames)
}

// superviseDirect runs script with bash under Supervise into a chanSink over
// dst and returns the exit frame.
func superviseDirect(t *testing.T, script string, lim protocol.Limits, sink *chanSink, cancel <-chan string) *protocol.Frame {
	t.Helper()
	spec, _ := bashSpec(t, script, lim, 30000, false, nil)
	exit, err := Supervise(spec, sink, cancel)
	if err != nil {
		t.Fatal(err)
	}
	return exit
}

// runToPipe runs script into a chanSink over a pipe that a goroutine drains,
// and returns what came out.
func runToPipe(t *testing.T, script string, lim protocol.Limits) (result, *chanSink) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	sink := newChanSink(w)
	superviseDirect(t, script, lim, sink, nil)
	w.Close()
	return decodeWire(t, <-got), sink
}

// seededFile writes n pseudo-random bytes (fixed seed) and returns the path
// and their SHA-256.
func seededFile(t *testing.T, n int) (string, [32]byte) {
	t.Helper()
	b := make([]byte, n)
	rand.New(rand.NewSource(4)).Read(b)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, sha256.Sum256(b)
}

// The bytes the script wrote reach the channel exactly, whatever the size of
// its writes, in frames of at most MaxLogData with strictly increasing seq;
// they are moved (Lend), not appended: only the exit frame is.
func TestDirectBytesExact(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 150 MB")
	}
	path, sum := seededFile(t, 50<<20)
	for _, w := range []struct{ name, script string }{
		{"cat", "cat " + path},
		{"8 KiB writes", "dd if=" + path + " bs=8k 2>/dev/null"},
		{"1 MiB writes", "dd if=" + path + " bs=1M 2>/dev/null"},
	} {
		t.Run(w.name, func(t *testing.T) {
			res, sink := runToPipe(t, w.script+"; echo end >&2", protocol.Limits{})
			if got := sha256.Sum256(res.stdout); got != sum || len(res.stdout) != 50<<20 {
				t.Fatalf("stdout: %d bytes, sha %x, want %d bytes", len(res.stdout), got, 50<<20)
			}
			if string(res.stderr) != "end\n" || code(res.exit) != 0 || res.exit.Reason != protocol.ExitExited {
				t.Fatalf("stderr %q, exit %+v", res.stderr, res.exit)
			}
			lends, appends := sink.counts()
			if lends == 0 || appends != 1 {
				t.Errorf("%d lends, %d appends: want the output moved and only the exit frame appended", lends, appends)
			}
		})
	}
}

// Lines written alternately to stdout and stderr arrive in order on each stream.
func TestDirectStreamsStayOrdered(t *testing.T) {
	const n = 20000
	res, _ := runToPipe(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "o $i"; echo "e $i" >&2; done`, n), protocol.Limits{})
	for _, s := range []struct {
		name, prefix string
		data         []byte
	}{{"stdout", "o", res.stdout}, {"stderr", "e", res.stderr}} {
		lines := strings.Split(strings.TrimSuffix(string(s.data), "\n"), "\n")
		if len(lines) != n {
			t.Fatalf("%s: %d lines", s.name, len(lines))
		}
		for i, l := range lines {
			if l != s.prefix+" "+strconv.Itoa(i+1) {
				t.Fatalf("%s line %d is %q", s.name, i+1, l)
			}
		}
	}
}

// The cap cuts the output at exactly that many bytes (the last frame
// truncated) and stops the run with output-limit; output of exactly the cap is
// not cut.
func TestDirectOutputCap(t *testing.T) {
	for _, tc := range []struct {
		name, script string
		cap          int64
		reason       string
	}{
		{"yes", "yes 0123456789", 100000, protocol.ExitOutputLimit},
		{"mid-frame", "head -c 10485760 /dev/zero", 3*protocol.MaxLogData + 123, protocol.ExitOutputLimit},
		{"on a frame boundary", "head -c 10485760 /dev/zero", 2 * protocol.MaxLogData, protocol.ExitOutputLimit},
		{"exactly the cap", "head -c 100000 /dev/zero", 100000, protocol.ExitExited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cap
			res, _ := runToPipe(t, tc.script, protocol.Limits{GraceMs: 300, MaxOutputBytes: &c})
			if int64(len(res.stdout)) != tc.cap || res.exit.Reason != tc.reason {
				t.Fatalf("%d bytes, reason %s; want %d, %s", len(res.stdout), res.exit.Reason, tc.cap, tc.reason)
			}
		})
	}
}

// A script that writes 8 KiB at a time still travels in frames of about
// MaxLogData, and a burst of short lines shares a few frames.
func TestDirectCoalesces(t *testing.T) {
	res, _ := runToPipe(t, "dd if=/dev/zero bs=8k count=1024 2>/dev/null", protocol.Limits{})
	if len(res.stdout) != 8<<20 {
		t.Fatalf("%d bytes", len(res.stdout))
	}
	if min := (8 << 20) / protocol.MaxLogData; len(res.frames)-1 > 2*min {
		t.Errorf("8 MiB in 8 KiB writes took %d frames (%d at least)", len(res.frames)-1, min)
	}
	res, _ = runToPipe(t, "for i in $(seq 1 200); do echo line $i; done", protocol.Limits{})
	if !strings.HasSuffix(string(res.stdout), "line 200\n") {
		t.Fatalf("stdout %q", res.stdout)
	}
	if n := len(res.frames) - 1; n > 40 {
		t.Errorf("200 lines written at once took %d frames", n)
	}
}

// A descendant that leaves the group keeps stdout open: the run still ends,
// with what was written.
func TestDirectPipeHeldOpenByEscapee(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid")
	}
	start := time.Now()
	res, _ := runToPipe(t, "setsid sleep 3 &\necho done", protocol.Limits{GraceMs: 100})
	if string(res.stdout) != "done\n" || time.Since(start) > 2500*time.Millisecond {
		t.Errorf("stdout %q after %s", res.stdout, time.Since(start))
	}
}

// While nobody reads the channel (the mover waits in the middle of a frame),
// a timeout or a cancel still stops the script within its grace; once the
// reader goes on, every frame arrives whole and the exit frame says why. On a
// socket too: a splice into a socket waits holding its source pipe's lock, so
// the script's pipe must not be that source (the script would sleep on the
// lock, deaf to TERM and KILL).
func TestDirectStopsWhileChannelStalled(t *testing.T) {
	for _, tc := range []struct {
		name, cancel, reason string
		timeoutMs            int64
		socket               bool
	}{
		{"timeout", "", protocol.ExitTimeout, 700, false},
		{"cancel", protocol.ExitCancelled, protocol.ExitCancelled, 30000, false},
		{"timeout on a socket", "", protocol.ExitTimeout, 700, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			r, w, err := os.Pipe()
			if tc.socket {
				var fds [2]int
				fds, err = syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
				r, w = os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			sink := newChanSink(w)
			cancel := make(chan string, 1)
			type done struct{ exit *protocol.Frame }
			finished := make(chan done, 1)
			start := time.Now()
			go func() {
				exit := superviseDirect(t, fmt.Sprintf("echo $$ > %s; exec yes stalled", pidFile), protocol.Limits{TimeoutMs: tc.timeoutMs, GraceMs: 300}, sink, cancel)
				w.Close()
				finished <- done{exit}
			}()
			var pgid int
			for deadline := time.Now().Add(5 * time.Second); pgid == 0; time.Sleep(10 * time.Millisecond) {
				if b, err := os.ReadFile(pidFile); err == nil {
					pgid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
				}
				if time.Now().After(deadline) {
					t.Fatal("the script did not start")
				}
			}
			if tc.cancel != "" {
				time.Sleep(300 * time.Millisecond)
				cancel <- tc.cancel
			}
			// The stop is due by now: the timeout (or cancel) plus the grace, and a margin.
			time.Sleep(time.Until(start.Add(time.Duration(min(tc.timeoutMs, 300)+300+700) * time.Millisecond)))
			select {
			case <-finished:
				t.Fatal("the run ended while nobody read its channel: the test proves nothing")
			default:
			}
			assertGroupGone(t, pgid)
			raw, _ := io.ReadAll(r)
			d := <-finished
			res := decodeWire(t, raw)
			if res.exit.Reason != tc.reason || d.exit.Seq != res.exit.Seq {
				t.Fatalf("exit %+v", res.exit)
			}
			if !bytes.HasPrefix(res.stdout, []byte("stalled\nstalled\n")) || len(res.stdout)%len("stalled\n") != 0 {
				t.Errorf("stdout: %d bytes, %.20q", len(res.stdout), res.stdout)
			}
			if limit := time.Duration(min(tc.timeoutMs, 300)+300+500) * time.Millisecond; time.Duration(res.exit.DurationMs)*time.Millisecond > limit {
				t.Errorf("durationMs %d: the script outlived its stop", res.exit.DurationMs)
			}
		})
	}
}

// The mover reaches each kind of channel: a pipe by splice, a socket or a
// file through a pipe of its own (never holding the script's pipe while the
// other side waits), and a file splice refuses (O_APPEND) by reading and
// writing; the bytes are the same.
func TestMoverReachesEveryChannel(t *testing.T) {
	data := make([]byte, 3<<20+12345)
	rand.New(rand.NewSource(7)).Read(data)
	open := func(t *testing.T, kind string) (w *os.File, read func() []byte) {
		switch kind {
		case "pipe":
			r, w, _ := os.Pipe()
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(r); r.Close(); got <- b }()
			return w, func() []byte { return <-got }
		case "socket":
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			r, w := os.NewFile(uintptr(fds[0]), "r"), os.NewFile(uintptr(fds[1]), "w")
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(r); r.Close(); got <- b }()
			return w, func() []byte { return <-got }
		default:
			path := filepath.Join(t.TempDir(), "out")
			flags := os.O_WRONLY | os.O_CREATE
			if kind == "append" {
				flags |= os.O_APPEND
			}
			w, err := os.OpenFile(path, flags, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			return w, func() []byte { b, _ := os.ReadFile(path); return b }
		}
	}
	for _, tc := range []struct {
		kind           string
		relay, copying bool
	}{
		{"pipe", false, false},
		{"socket", true, false},
		{"file", true, false},
		{"append", true, true},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			w, read := open(t, tc.kind)
			sr, sw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			GrowPipe(sr, PipeBytes)
			m, err := newMover(newChanSink(w), []*stream{{name: "stdout", r: sr}}, 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			m.start()
			go func() { sw.Write(data); sw.Close() }()
			<-m.done
			if (m.relay[0] >= 0) != tc.relay || m.copying != tc.copying {
				t.Errorf("relay %v copying %v, want %v %v", m.relay[0] >= 0, m.copying, tc.relay, tc.copying)
			}
			m.wait()
			sr.Close()
			w.Close()
			res := decodeWire(t, append(read(), exitBytes(t, m.seq+1)...))
			if !bytes.Equal(res.stdout, data) {
				t.Fatalf("%d bytes, want %d", len(res.stdout), len(data))
			}
		})
	}
}

func exitBytes(t *testing.T, seq int64) []byte {
	zero := int64(0)
	b, err := (&protocol.Frame{Type: protocol.TypeExit, Seq: seq, Code: &zero, Reason: protocol.ExitExited, Limiter: protocol.LimiterNone}).AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Output that must be changed or filtered is read and framed as always, even
// into a channel: masked values, a pty, elevation.
func TestDirectOnlyForUntouchedOutput(t *testing.T) {
	base := protocol.Payload{RunID: "r", JobID: "j"}
	masked, pty, elevated := base, base, base
	masked.Mask = []string{"hunter2"}
	pty.Pty = true
	elevated.Elevation = &protocol.Elevation{Method: ElevationSudo}
	if !Direct(&base) || Direct(&masked) || Direct(&pty) || Direct(&elevated) {
		t.Fatalf("Direct: plain %v, masked %v, pty %v, elevated %v", Direct(&base), Direct(&masked), Direct(&pty), Direct(&elevated))
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "script")
	os.WriteFile(path, []byte("echo a hunter2 b"), 0o600)
	r, w, _ := os.Pipe()
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); got <- b }()
	sink := newChanSink(w)
	masked.Interpreter, masked.Limits = "bash", protocol.Limits{TimeoutMs: 10000}
	if _, err := Supervise(Spec{Payload: &masked, Interpreter: bash, Script: path, Dir: dir, BaseEnv: os.Environ()}, sink, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	res := decodeWire(t, <-got)
	if string(res.stdout) != "a *** b\n" {
		t.Errorf("stdout %q", res.stdout)
	}
	if lends, _ := sink.counts(); lends != 0 {
		t.Errorf("masked output was moved (%d lends)", lends)
	}
}

// A quiet script costs the mover nothing while it waits: not after a stream
// ended (its pipe reports POLLHUP from then on), not while a few bytes wait to
// be framed, not while nothing comes.
func TestDirectIdleCostsNothing(t *testing.T) {
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	res, _ := runToPipe(t, "exec >&-; printf x >&2; sleep 0.5; printf y >&2; sleep 0.5", protocol.Limits{})
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	if string(res.stderr) != "xy" || len(res.frames) != 3 {
		t.Fatalf("stderr %q in %d frames", res.stderr, len(res.frames)-1)
	}
	if wall := time.Since(start); cpu > wall/10 {
		t.Errorf("%s of CPU in %s for a script that sleeps", cpu, wall)
	}
}

// A script that writes many short lines costs the mover little next to what
// the script spends writing them: the pipes are not watched by the runtime's
// poller (which would wake on every write), and bytes wait for more in the
// pipe without a wakeup per write.
func TestDirectChattyScriptIsCheap(t *testing.T) {
	var before, after, kids0, kids1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
	res, _ := runToPipe(t, `for i in $(seq 1 50000); do echo "line $i"; done`, protocol.Limits{})
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
	if !strings.HasSuffix(string(res.stdout), "line 50000\n") {
		t.Fatalf("stdout ends %q", res.stdout[max(0, len(res.stdout)-20):])
	}
	cpu := func(a, b syscall.Rusage) time.Duration {
		return time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano())
	}
	self, script := cpu(before, after), cpu(kids0, kids1)
	t.Logf("mover and test %s, script %s, %d frames", self, script, len(res.frames)-1)
	if self > script/3 {
		t.Errorf("%s of CPU here for a script that spent %s writing", self, script)
	}
}
