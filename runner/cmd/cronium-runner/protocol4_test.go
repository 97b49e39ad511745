package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// rawRun runs a payload with `run --protocol proto` and returns its whole stdout.
func (h *host) rawRun(t *testing.T, proto int, line []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	h.runOut(t, proto, &out, line, 20*time.Second)
	return out.Bytes()
}

// runOut runs a payload with `run --protocol proto` writing to out (an
// *os.File is the runner's stdout itself, and closed here once the runner
// has it) and waits up to d for the runner to end.
func (h *host) runOut(t *testing.T, proto int, out io.Writer, line []byte, d time.Duration) {
	t.Helper()
	cmd := exec.Command(h.bin, "run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", strconv.Itoa(proto))
	stdin, _ := cmd.StdinPipe()
	cmd.Stdout, cmd.Stderr = out, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if f, ok := out.(*os.File); ok {
		f.Close()
	}
	stdin.Write(line)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run --protocol %d: %v", proto, err)
		}
	case <-time.After(d):
		cmd.Process.Kill()
		t.Fatal("run did not end")
	}
	stdin.Close()
}

// decodeJSONLines parses a protocol 3 stream.
func decodeJSONLines(t *testing.T, b []byte) []*protocol.Frame {
	t.Helper()
	var out []*protocol.Frame
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		f, err := protocol.Decode(line)
		if err != nil {
			t.Fatalf("line %.80q: %v", line, err)
		}
		out = append(out, f)
	}
	return out
}

// The same script under protocol 3 and 4: the same frames (type, seq, stream,
// data bytes, exit), the hello naming the protocol, and protocol 4 carrying
// the output bytes raw (bytes that look like a frame start or a newline included).
func TestProtocol4SameFramesAsProtocol3(t *testing.T) {
	h := newHost(t)
	script := `printf 'one\n'; printf '\305\000{\n' >&2; head -c 300000 /dev/urandom | od -An -tx1 | head -c 200000; printf 'tail-no-newline'; exit 4`
	var streams [2][]*protocol.Frame
	for i, proto := range []int{protocol.ProtocolJSON, protocol.ProtocolBinary} {
		raw := h.rawRun(t, proto, h.sign(h.payload(script, nil)))
		if proto == protocol.ProtocolBinary {
			if len(raw) == 0 || raw[0] != protocol.Magic {
				t.Fatalf("protocol 4 stream starts %x", raw[:min(len(raw), 8)])
			}
			frames, err := protocol.DecodeStream(raw)
			if err != nil {
				t.Fatalf("protocol 4 stream after %d frames: %v", len(frames), err)
			}
			streams[i] = frames
		} else {
			streams[i] = decodeJSONLines(t, raw)
		}
		if hello := streams[i][0]; hello.Type != protocol.TypeHello || hello.Protocol != int64(proto) {
			t.Fatalf("protocol %d: hello %+v", proto, hello)
		}
	}
	strip := func(fs []*protocol.Frame) (out []string, data map[string][]byte) {
		data = map[string][]byte{}
		for _, f := range fs[1:] {
			switch f.Type {
			case protocol.TypeLog:
				data[f.Stream] = append(data[f.Stream], f.Data...)
				out = append(out, fmt.Sprintf("log %d %s", f.Seq, f.Stream))
			case protocol.TypeExit:
				out = append(out, fmt.Sprintf("exit %d %d %s", f.Seq, *f.Code, f.Reason))
			case protocol.TypeHeartbeat:
			default:
				out = append(out, f.Type)
			}
		}
		return out, data
	}
	seq3, data3 := strip(streams[0])
	seq4, data4 := strip(streams[1])
	if !bytes.Equal(data3["stderr"], []byte("\305\000{\n")) || !bytes.Equal(data4["stderr"], data3["stderr"]) {
		t.Fatalf("stderr: %q under 3, %q under 4", data3["stderr"], data4["stderr"])
	}
	out3, out4 := data3["stdout"], data4["stdout"]
	if len(out3) != len("one\n")+200000+len("tail-no-newline") || len(out4) != len(out3) || !bytes.HasSuffix(out4, []byte("tail-no-newline")) {
		t.Fatalf("stdout: %d bytes under 3, %d under 4", len(out3), len(out4))
	}
	// Frame boundaries depend on read timing; the exit frame and its code do not.
	if l3, l4 := seq3[len(seq3)-1], seq4[len(seq4)-1]; !strings.HasPrefix(l3, "exit ") || !strings.HasSuffix(l3, " 4 exited") || !strings.HasSuffix(l4, " 4 exited") {
		t.Fatalf("exit frames %q and %q", l3, l4)
	}
}

// writeRun makes a run dir as a supervisor leaves it: a spool and a live pid (this test's).
func writeRun(t *testing.T, state, id, file string, frames []*protocol.Frame, proto int) {
	t.Helper()
	dir := filepath.Join(state, "runs", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, f := range frames {
		e, err := f.EncodeAs(proto)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, e...)
	}
	os.WriteFile(filepath.Join(dir, file), b, 0o600)
	os.WriteFile(filepath.Join(dir, "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
}

// attach converts between the spool's protocol and the one asked for: a run an
// older runner (protocol 3, frames.ndjson) started is followed in protocol 4,
// and this runner's binary spool in protocol 3; --from is honoured in both.
func TestAttachConvertsSpools(t *testing.T) {
	h := newHost(t)
	code := int64(0)
	frames := []*protocol.Frame{
		{Type: protocol.TypeLog, Seq: 1, Stream: "stdout", Ts: 5, Data: []byte("first\n")},
		{Type: protocol.TypeLog, Seq: 2, Stream: "stderr", Ts: 6, Data: []byte("\xc5second\x00\n")},
		{Type: protocol.TypeLog, Seq: 3, Stream: "stdout", Ts: 7, Data: []byte("third")},
		{Type: protocol.TypeExit, Seq: 4, Code: &code, Reason: protocol.ExitExited, Limiter: protocol.LimiterNone},
	}
	cases := []struct {
		id, file     string
		spool, asked int
	}{
		{"legacy-run", "frames.ndjson", protocol.ProtocolJSON, protocol.ProtocolBinary},
		{"binary-run", "frames.spool", protocol.ProtocolBinary, protocol.ProtocolJSON},
		{"same-run", "frames.spool", protocol.ProtocolBinary, protocol.ProtocolBinary},
	}
	for _, c := range cases {
		writeRun(t, h.state, c.id, c.file, frames, c.spool)
		cmd := exec.Command(h.bin, "attach", c.id, "--from", "2", "--state-dir", h.state, "--protocol", strconv.Itoa(c.asked))
		stdin, _ := cmd.StdinPipe()
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		stdin.Close()
		var got []*protocol.Frame
		if c.asked == protocol.ProtocolBinary {
			var err error
			if got, err = protocol.DecodeStream(out.Bytes()); err != nil {
				t.Fatalf("%s: %v", c.id, err)
			}
		} else {
			got = decodeJSONLines(t, out.Bytes())
		}
		if len(got) != 4 || got[0].Type != protocol.TypeHello || got[0].Protocol != int64(c.asked) {
			t.Fatalf("%s: %d frames, first %+v", c.id, len(got), got[0])
		}
		for i, want := range frames[1:] {
			g := got[i+1]
			if g.Type != want.Type || g.Seq != want.Seq || g.Stream != want.Stream || g.Ts != want.Ts || !bytes.Equal(g.Data, want.Data) {
				t.Fatalf("%s: frame %d = %+v, want %+v", c.id, i+1, g, want)
			}
		}
	}
}

func TestProtocolFlagChecked(t *testing.T) {
	h := newHost(t)
	cmd := exec.Command(h.bin, "run", "--key", h.keyFile, "--host-id", h.hostFile, "--state-dir", h.state, "--protocol", "5")
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stderr = strings.NewReader(""), &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "--protocol must be 3 or 4") {
		t.Fatalf("err %v, stderr %q", err, stderr.String())
	}
}
