package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
)

// End-to-end tests of the built binary: what the app sees over SSH.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func runnerBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cronium-runner-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "cronium-runner")
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type host struct {
	t        *testing.T
	bin      string
	keyFile  string
	hostFile string
	state    string
	priv     *ecdsa.PrivateKey
	kid      string
	// frameCap is how many frames the session's reader holds before it stops reading (default 1024).
	frameCap int
	// proto is the --protocol of run (0: none, the default 3).
	proto int
}

var fixtureKeys = filepath.Join("..", "..", "..", "test", "fixtures", "runner", "keys")

func newHost(t *testing.T) *host {
	bin := runnerBinary(t)
	dir := t.TempDir()
	block, _ := pem.Decode(mustRead(t, filepath.Join(fixtureKeys, "installation.pem")))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	priv := k.(*ecdsa.PrivateKey)
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	h := &host{t: t, bin: bin, keyFile: filepath.Join(dir, "installation.pub"), hostFile: filepath.Join(dir, "host-id"),
		state: filepath.Join(dir, "state"), priv: priv, kid: protocol.Kid(der)}
	os.WriteFile(h.keyFile, mustRead(t, filepath.Join(fixtureKeys, "installation.pub")), 0o600)
	os.WriteFile(h.hostFile, []byte("host-a\n"), 0o600)
	return h
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var runCounter atomic.Int64

func (h *host) payload(script string, mut func(p map[string]any)) map[string]any {
	n := runCounter.Add(1)
	now := time.Now()
	nonce := make([]byte, 16)
	rand.Read(nonce)
	p := map[string]any{
		"jobId": "job", "runId": fmt.Sprintf("run-%d-%d", os.Getpid(), n), "hostId": "host-a",
		"nonce": base64.StdEncoding.EncodeToString(nonce), "iat": now.UnixMilli(), "exp": now.Add(time.Minute).UnixMilli(),
		"interpreter": "bash", "script": script, "env": map[string]any{},
		"limits": map[string]any{"timeoutMs": 20000, "graceMs": 500}, "detach": false, "pty": false,
		"helper": map[string]any{"transport": "none"},
	}
	if mut != nil {
		mut(p)
	}
	return p
}

func (h *host) sign(p map[string]any) []byte {
	body, _ := json.Marshal(p)
	sum := sha256.Sum256(body)
	sig, _ := ecdsa.SignASN1(rand.Reader, h.priv, sum[:])
	line, _ := json.Marshal(map[string]any{"v": 1, "kid": h.kid, "payload": base64.StdEncoding.EncodeToString(body), "sig": base64.StdEncoding.EncodeToString(sig)})
	return append(line, '\n')
}

// session is one running `cronium-runner` process as the app drives it.
type session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	frames chan *protocol.Frame
	done   chan error
}

func (h *host) start(args []string, firstLine []byte) *session {
	h.t.Helper()
	cmd := exec.Command(h.bin, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	frameCap := 1024
	if h.frameCap > 0 {
		frameCap = h.frameCap
	}
	s := &session{cmd: cmd, stdin: stdin, frames: make(chan *protocol.Frame, frameCap), done: make(chan error, 1)}
	go func() {
		r := bufio.NewReaderSize(stdout, protocol.MaxFrameBytes+protocol.HeaderLen)
		for {
			f, err := readFrame(r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				h.t.Errorf("bad frame: %v", err)
				break
			}
			s.frames <- f
		}
		close(s.frames)
		s.done <- cmd.Wait()
	}()
	if firstLine != nil {
		stdin.Write(firstLine)
	}
	return s
}

// readFrame reads one frame of either protocol, told apart by its first byte
// (a JSON line starts with '{', a binary frame with protocol.Magic).
func readFrame(r *bufio.Reader) (*protocol.Frame, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, err
	}
	if first[0] == '{' {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("unterminated line %.100q", line)
		}
		return protocol.Decode(bytes.TrimSuffix(line, []byte("\n")))
	}
	hdr := make([]byte, protocol.HeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("short header %x", hdr)
	}
	h, err := protocol.DecodeHeader(hdr)
	if err != nil {
		return nil, err
	}
	buf := append(hdr, make([]byte, h.Len)...)
	if _, err := io.ReadFull(r, buf[protocol.HeaderLen:]); err != nil {
		return nil, fmt.Errorf("short body: %v", err)
	}
	f, _, err := protocol.DecodeBinary(buf)
	return f, err
}

func (h *host) run(line []byte) *session {
	args := []string{"run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state}
	if h.proto != 0 {
		args = append(args, "--protocol", fmt.Sprint(h.proto))
	}
	return h.start(args, line)
}

// forProtocols runs a foreground test under protocol 3 (output read, framed
// and buffered) and protocol 4 (on Linux, output moved from the script's pipes
// straight to stdout), each with a host of its own.
func forProtocols(t *testing.T, test func(t *testing.T, h *host)) {
	for _, proto := range []int{protocol.ProtocolJSON, protocol.ProtocolBinary} {
		t.Run(fmt.Sprintf("protocol %d", proto), func(t *testing.T) {
			t.Parallel()
			h := newHost(t)
			h.proto = proto
			test(t, h)
		})
	}
}

// collect reads frames until the stream ends or d passes.
func (s *session) collect(t *testing.T, d time.Duration) []*protocol.Frame {
	t.Helper()
	var out []*protocol.Frame
	timer := time.After(d)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				return out
			}
			out = append(out, f)
		case <-timer:
			t.Fatalf("stream did not end within %s; got %d frames", d, len(out))
		}
	}
}

func logsOf(frames []*protocol.Frame) string {
	var b strings.Builder
	for _, f := range frames {
		if f.Type == protocol.TypeLog {
			b.Write(f.Data)
		}
	}
	return b.String()
}

func last(frames []*protocol.Frame) *protocol.Frame {
	if len(frames) == 0 {
		return &protocol.Frame{}
	}
	return frames[len(frames)-1]
}

func TestRunScript(t *testing.T) {
	h := newHost(t)
	s := h.run(h.sign(h.payload(`echo "hello $WHO"; echo oops >&2; exit 3`, func(p map[string]any) { p["env"] = map[string]any{"WHO": "world"} })))
	frames := s.collect(t, 10*time.Second)
	s.stdin.Close()
	if frames[0].Type != protocol.TypeHello || frames[0].Protocol != protocol.ProtocolJSON {
		t.Fatalf("first frame %+v", frames[0])
	}
	ex := last(frames)
	if ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 3 || ex.Reason != protocol.ExitExited {
		t.Fatalf("exit %+v", ex)
	}
	if !strings.Contains(logsOf(frames), "hello world\n") || !strings.Contains(logsOf(frames), "oops\n") {
		t.Fatalf("logs %q", logsOf(frames))
	}
	if err := <-s.done; err != nil {
		t.Fatalf("runner exit: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(h.state, "runs")); len(entries) != 0 {
		t.Errorf("run dir left behind: %v", entries)
	}
}

func TestRejections(t *testing.T) {
	h := newHost(t)
	other, _ := ecdsa.GenerateKey(h.priv.Curve, rand.Reader)
	otherDER, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	replayed := h.sign(h.payload("true", nil))
	first := h.run(replayed)
	first.collect(t, 10*time.Second)
	first.stdin.Close()

	tamper := func() []byte {
		var env map[string]any
		json.Unmarshal(h.sign(h.payload("true", nil)), &env)
		body, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
		env["payload"] = base64.StdEncoding.EncodeToString(bytes.Replace(body, []byte(`"true"`), []byte(`"reboot"`), 1))
		b, _ := json.Marshal(env)
		return append(b, '\n')
	}
	wrongKey := func() []byte {
		h2 := *h
		h2.priv, h2.kid = other, protocol.Kid(otherDER)
		return h2.sign(h.payload("true", nil))
	}
	tests := []struct {
		name, reason string
		line         []byte
	}{
		{"tampered", protocol.ReasonBadSignature, tamper()},
		{"wrong key", protocol.ReasonUnknownKey, wrongKey()},
		{"expired", protocol.ReasonExpired, h.sign(h.payload("true", func(p map[string]any) {
			p["iat"], p["exp"] = time.Now().Add(-2*time.Hour).UnixMilli(), time.Now().Add(-time.Hour).UnixMilli()
		}))},
		{"wrong host", protocol.ReasonWrongHost, h.sign(h.payload("true", func(p map[string]any) { p["hostId"] = "host-b" }))},
		{"malformed", protocol.ReasonMalformed, []byte("{nope\n")},
		{"empty stdin", protocol.ReasonMalformed, nil},
		{"replay", protocol.ReasonReplay, replayed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := h.run(tc.line)
			s.stdin.Close()
			frames := s.collect(t, 10*time.Second)
			if len(frames) != 1 || frames[0].Type != protocol.TypeError || frames[0].ErrCode != "PAYLOAD_REJECTED" || frames[0].RejectReason != tc.reason {
				t.Fatalf("frames %+v, want one PAYLOAD_REJECTED %s", frames, tc.reason)
			}
			if err := <-s.done; err == nil {
				t.Error("runner exited 0 on a rejected payload")
			}
		})
	}
}

func TestReplayConcurrent(t *testing.T) {
	h := newHost(t)
	line := h.sign(h.payload("sleep 0.2", nil))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ran := 0
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := h.run(line)
			frames := s.collect(t, 10*time.Second)
			s.stdin.Close()
			if frames[0].Type == protocol.TypeHello {
				mu.Lock()
				ran++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ran != 1 {
		t.Fatalf("one payload ran %d times", ran)
	}
}

func TestInterpreterMissing(t *testing.T) {
	h := newHost(t)
	s := h.run(h.sign(h.payload("1", func(p map[string]any) {
		p["interpreter"] = "python3"
		p["env"] = map[string]any{"PATH": t.TempDir()}
	})))
	s.stdin.Close()
	frames := s.collect(t, 10*time.Second)
	if len(frames) != 1 || frames[0].ErrCode != "INTERPRETER_MISSING" {
		t.Fatalf("frames %+v", frames)
	}
}

func TestRlimits(t *testing.T) {
	h := newHost(t)
	s := h.run(h.sign(h.payload(`ulimit -n; ulimit -v; ulimit -t; while :; do :; done`, func(p map[string]any) {
		p["limits"] = map[string]any{"timeoutMs": 20000, "graceMs": 200, "openFiles": 64, "memoryBytes": 256 << 20, "cpuSeconds": 1}
	})))
	frames := s.collect(t, 15*time.Second)
	s.stdin.Close()
	ex := last(frames)
	if logsOf(frames) != "64\n262144\n1\n" {
		t.Errorf("limits seen by the script: %q", logsOf(frames))
	}
	// The CPU limit ends the busy loop with SIGXCPU (soft) or SIGKILL (hard).
	if ex.Limiter != protocol.LimiterRlimit || ex.Signal == nil || (*ex.Signal != "XCPU" && *ex.Signal != "KILL") {
		t.Errorf("exit %+v signal %v", ex, ex.Signal)
	}
	if ex.Rusage.UserMs+ex.Rusage.SysMs < 500 {
		t.Errorf("rusage %+v for a second of CPU", ex.Rusage)
	}
}

func TestCancelAndDisconnectKillGroup(t *testing.T) {
	forProtocols(t, testCancelAndDisconnectKillGroup)
}

func testCancelAndDisconnectKillGroup(t *testing.T, h *host) {
	for _, tc := range []struct{ name, reason string }{{"cancel frame", protocol.ExitCancelled}, {"stdin closed", protocol.ExitDisconnected}} {
		t.Run(tc.name, func(t *testing.T) {
			s := h.run(h.sign(h.payload(`echo $$; sleep 60 & sleep 60`, nil)))
			var pgid int
			for f := range s.frames {
				if f.Type == protocol.TypeLog {
					fmt.Sscan(string(f.Data), &pgid)
					break
				}
			}
			if tc.reason == protocol.ExitCancelled {
				s.stdin.Write([]byte(`{"type":"cancel"}` + "\n"))
			} else {
				s.stdin.Close()
			}
			frames := s.collect(t, 10*time.Second)
			ex := last(frames)
			if ex.Reason != tc.reason || ex.KilledWith == nil || *ex.KilledWith != "TERM" || ex.Signal == nil || *ex.Signal != "TERM" {
				t.Fatalf("exit %+v", ex)
			}
			if left := job.GroupMembers(pgid); pgid < 2 || len(left) > 0 {
				t.Fatalf("group %d: %v left", pgid, left)
			}
		})
	}
}

func TestDetachAttach(t *testing.T) {
	h := newHost(t)
	p := h.payload(`for i in $(seq 1 12); do echo "line $i"; sleep 0.1; done; echo $$ > "$MARK"; exit 4`, func(p map[string]any) {
		p["detach"] = true
		p["env"] = map[string]any{"MARK": filepath.Join(t.TempDir(), "mark")}
	})
	runID := p["runId"].(string)
	s := h.run(h.sign(p))
	// Take a few frames, then drop the connection as a dying SSH channel would.
	var seen []*protocol.Frame
	for f := range s.frames {
		seen = append(seen, f)
		if f.Seq == 3 {
			break
		}
	}
	s.stdin.Close()
	for f := range s.frames {
		seen = append(seen, f)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("foreground run: %v", err)
	}
	lastSeq := int64(0)
	for _, f := range seen {
		if f.Seq > lastSeq {
			lastSeq = f.Seq
		}
	}
	if last(seen).Type == protocol.TypeExit {
		t.Fatal("run finished before the disconnect; the test proves nothing")
	}
	// The run goes on without any client: reattach from the next seq.
	a := h.start([]string{"attach", runID, "--from", fmt.Sprint(lastSeq + 1), "--state-dir", h.state}, nil)
	rest := a.collect(t, 15*time.Second)
	a.stdin.Close()
	if rest[0].Type != protocol.TypeHello || rest[0].RunID != runID {
		t.Fatalf("attach starts with %+v", rest[0])
	}
	all := append(seen, rest[1:]...)
	var lines strings.Builder
	want := int64(1)
	for _, f := range all {
		if f.Type == protocol.TypeHello || f.Type == protocol.TypeHeartbeat {
			continue
		}
		if f.Seq != want {
			t.Fatalf("seq %d, want %d (lost or duplicated)", f.Seq, want)
		}
		want++
		lines.Write(f.Data)
	}
	var expect strings.Builder
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&expect, "line %d\n", i)
	}
	if lines.String() != expect.String() {
		t.Fatalf("logs %q", lines.String())
	}
	if ex := last(rest); ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 4 {
		t.Fatalf("exit %+v", ex)
	}
	// Attaching again replays everything from the spool, exit included.
	b := h.start([]string{"attach", runID, "--state-dir", h.state}, nil)
	again := b.collect(t, 10*time.Second)
	b.stdin.Close()
	if logsOf(again) != expect.String() || last(again).Type != protocol.TypeExit {
		t.Fatalf("replay %q", logsOf(again))
	}
	nf := h.start([]string{"attach", "no-such-run", "--state-dir", h.state}, nil)
	nf.stdin.Close()
	if f := nf.collect(t, 5*time.Second); len(f) != 1 || f[0].ErrCode != "NOT_FOUND" {
		t.Fatalf("attach unknown run: %+v", f)
	}
}

func TestDoctor(t *testing.T) {
	bin := runnerBinary(t)
	out, err := exec.Command(bin, "doctor", "--state-dir", filepath.Join(t.TempDir(), "st")).Output()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		OS           string `json:"os"`
		Interpreters map[string]struct {
			Found bool   `json:"found"`
			Path  string `json:"path"`
		} `json:"interpreters"`
		StateDir struct {
			Writable, Exec bool
		} `json:"stateDir"`
		Rlimits map[string]any `json:"rlimits"`
	}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if d.OS == "" || !d.Interpreters["sh"].Found || !d.StateDir.Writable || d.Rlimits["nofile"] == nil {
		t.Fatalf("doctor %s", out)
	}
}

// A foreground run whose reader stalls: the runner holds at most its budget,
// the script waits (as it would on ssh), nothing goes to disk, and every
// frame arrives in order once the reader goes on.
func TestSlowConsumerHoldsTheScriptBack(t *testing.T) {
	t.Parallel()
	forProtocols(t, testSlowConsumerHoldsTheScriptBack)
}

func testSlowConsumerHoldsTheScriptBack(t *testing.T, h *host) {
	h.frameCap = 1 // the reader really stalls: stdout's pipe fills within a frame or two
	p := h.payload(`head -c 33554432 /dev/urandom | base64 -w0; echo`, func(p map[string]any) {
		p["limits"] = map[string]any{"timeoutMs": 60000, "graceMs": 500, "maxOutputBytes": 64 << 20}
	})
	s := h.run(h.sign(p))
	runDir := filepath.Join(h.state, "runs", p["runId"].(string))
	time.Sleep(3 * time.Second)
	if _, err := os.Stat(filepath.Join(runDir, "frames.spool")); !os.IsNotExist(err) {
		t.Errorf("a foreground run wrote a spool file: %v", err)
	}
	status := string(mustRead(t, fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid)))
	var rssKB int
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			fmt.Sscan(strings.TrimPrefix(l, "VmRSS:"), &rssKB)
		}
	}
	// The budget (4 MiB) and the queue from the pipes (4 MiB) on top of the runner's own ~10 MB.
	if rssKB == 0 || rssKB > 40_000 {
		t.Errorf("runner RSS %d KB with 44 MB of output waiting", rssKB)
	}
	frames := s.collect(t, 30*time.Second)
	s.stdin.Close()
	ex := last(frames)
	if ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v", ex)
	}
	if ex.DurationMs < 3000 {
		t.Errorf("the script ended after %d ms while the reader stalled for 3 s: its output went somewhere", ex.DurationMs)
	}
	if n := len(logsOf(frames)); n != 44739244+1 {
		t.Errorf("got %d bytes of output", n)
	}
	for i, f := range frames[1:] {
		if f.Seq != int64(i+1) {
			t.Fatalf("frame %d has seq %d", i+1, f.Seq)
		}
	}
	if err := <-s.done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("the run dir stayed: %v", err)
	}
}

// A script held back by a stalled reader still times out on time.
func TestTimeoutWhileHeldBack(t *testing.T) {
	t.Parallel()
	forProtocols(t, testTimeoutWhileHeldBack)
}

func testTimeoutWhileHeldBack(t *testing.T, h *host) {
	h.frameCap = 1
	s := h.run(h.sign(h.payload(`yes`, func(p map[string]any) {
		p["limits"] = map[string]any{"timeoutMs": 1000, "graceMs": 300}
	})))
	time.Sleep(3 * time.Second)
	frames := s.collect(t, 30*time.Second)
	s.stdin.Close()
	ex := last(frames)
	if ex.Type != protocol.TypeExit || ex.Reason != protocol.ExitTimeout {
		t.Fatalf("exit %+v", ex)
	}
	if ex.DurationMs > 2500 {
		t.Errorf("timed out after %d ms (timeout 1 s) while held back", ex.DurationMs)
	}
}

// A foreground run whose reader keeps up writes nothing to disk but its script.
func TestForegroundKeepsUpWithoutSpoolFile(t *testing.T) {
	t.Parallel()
	forProtocols(t, testForegroundKeepsUpWithoutSpoolFile)
}

func testForegroundKeepsUpWithoutSpoolFile(t *testing.T, h *host) {
	p := h.payload("", nil)
	runDir := filepath.Join(h.state, "runs", p["runId"].(string))
	p["script"] = `head -c 4000000 /dev/zero | tr '\0' x; ls -a '` + runDir + `'`
	s := h.run(h.sign(p))
	frames := s.collect(t, 30*time.Second)
	s.stdin.Close()
	if ex := last(frames); ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 0 {
		t.Fatalf("exit %+v", ex)
	}
	logs := logsOf(frames)
	if !strings.HasPrefix(logs, strings.Repeat("x", 4000000)) {
		t.Fatalf("output %d bytes", len(logs))
	}
	// What the run dir held while the script ran (listed last).
	if ls := logs[4000000:]; !strings.Contains(ls, "supervisor.pid") || strings.Contains(ls, "frames.spool") {
		t.Errorf("a foreground run with a reader that keeps up has a spool file: %q", logs[4000000:])
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	forProtocols(t, testHeartbeat)
}

func testHeartbeat(t *testing.T, h *host) {
	s := h.run(h.sign(h.payload(`echo start; sleep 6`, nil)))
	frames := s.collect(t, 20*time.Second)
	s.stdin.Close()
	var hb *protocol.Frame
	for _, f := range frames {
		if f.Type == protocol.TypeHeartbeat {
			hb = f
		}
	}
	if hb == nil || hb.Seq != 1 {
		t.Fatalf("heartbeat %+v in %d frames", hb, len(frames))
	}
}

func TestDetachSurvivesKilledSession(t *testing.T) {
	t.Parallel()
	h := newHost(t)
	p := h.payload(`for i in $(seq 1 10); do echo "tick $i"; sleep 0.1; done`, func(p map[string]any) { p["detach"] = true })
	cmd := exec.Command(h.bin, "run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state)
	// Its own process group, standing in for the SSH session that dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write(h.sign(p))
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := protocol.Decode(bytes.TrimSpace(line)); f != nil && f.Seq == 2 {
			break
		}
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	a := h.start([]string{"attach", p["runId"].(string), "--from", "3", "--state-dir", h.state}, nil)
	frames := a.collect(t, 15*time.Second)
	a.stdin.Close()
	var want strings.Builder
	for i := 3; i <= 10; i++ {
		fmt.Fprintf(&want, "tick %d\n", i)
	}
	if logsOf(frames) != want.String() || last(frames).Type != protocol.TypeExit || *last(frames).Code != 0 {
		t.Fatalf("after the session died: %q, %+v", logsOf(frames), last(frames))
	}
}

func TestTightMemoryLimitStillExecs(t *testing.T) {
	h := newHost(t)
	for i := 0; i < 10; i++ {
		s := h.run(h.sign(h.payload(`echo ok; ulimit -v`, func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 20000, "graceMs": 200, "memoryBytes": protocol.MinMemoryBytes}
		})))
		frames := s.collect(t, 10*time.Second)
		s.stdin.Close()
		if got := logsOf(frames); got != "ok\n16384\n" {
			t.Fatalf("run %d: %q", i, got)
		}
	}
}

// The payload's mask is applied before framing: a secret written in two
// pieces with a pause between (two reads) never reaches a frame or the spool,
// in the foreground and in a detached run.
func TestMaskSecretsAtTheSource(t *testing.T) {
	const secret = "hunter2secret"
	script := strings.Join([]string{
		`printf 'hunter'; sleep 0.3; printf '2secret\n'`,
		`printf 'hunter' >&2; sleep 0.3; printf '2secret\n' >&2`,
		`big=$(head -c 65530 /dev/zero | tr '\0' x); printf '%s\n' "${big}hunter2secret"`,
		`printf 'hun'; sleep 0.3; printf 'gry\n'`,
		`printf 'ends with hunter'`,
	}, "\n")
	wantStdout := "***\n" + strings.Repeat("x", 65530) + "***\nhungry\nends with hunter"
	for _, detach := range []bool{false, true} {
		t.Run(fmt.Sprintf("detach=%v", detach), func(t *testing.T) {
			h := newHost(t)
			p := h.payload(script, func(p map[string]any) {
				p["detach"] = detach
				p["mask"] = []string{secret, "hunter2"}
			})
			s := h.run(h.sign(p))
			frames := s.collect(t, 15*time.Second)
			s.stdin.Close()
			if ex := last(frames); ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 0 {
				t.Fatalf("exit %+v", ex)
			}
			check := func(where string, frames []*protocol.Frame) {
				t.Helper()
				var stdout, stderr strings.Builder
				lastStdout := -1
				for i, f := range frames {
					if f.Type == protocol.TypeLog && f.Stream == "stdout" {
						lastStdout = i
					}
				}
				for i, f := range frames {
					if f.Type != protocol.TypeLog {
						continue
					}
					if bytes.Contains(f.Data, []byte("hunter2")) {
						t.Errorf("%s: frame %d holds the secret: %q", where, i, f.Data)
					}
					// The first piece was held until the second decided it, never framed
					// alone; only the end of stdout releases a "hunter" that stayed a prefix.
					if bytes.HasSuffix(f.Data, []byte("hunter")) && i != lastStdout {
						t.Errorf("%s: frame %d released a piece of the secret: %q", where, i, f.Data)
					}
					if f.Stream == "stderr" {
						stderr.Write(f.Data)
					} else {
						stdout.Write(f.Data)
					}
				}
				if stdout.String() != wantStdout {
					t.Errorf("%s: stdout %q", where, abbreviate(stdout.String()))
				}
				if stderr.String() != "***\n" {
					t.Errorf("%s: stderr %q", where, stderr.String())
				}
			}
			check("stream", frames)
			if !detach {
				return
			}
			// A detached run keeps its spool on disk: it holds only masked data too.
			raw := mustRead(t, filepath.Join(h.state, "runs", p["runId"].(string), "frames.spool"))
			spooled, err := protocol.DecodeStream(raw)
			if err != nil {
				t.Fatalf("spool after %d frames: %v", len(spooled), err)
			}
			check("spool", spooled)
		})
	}
}

func abbreviate(s string) string {
	if len(s) > 120 {
		return s[:60] + "…" + s[len(s)-60:]
	}
	return s
}
