package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
)

// A protocol 4 foreground run whose output goes straight to stdout shares it
// with helper frames written meanwhile: every frame comes out whole, log and
// exit frames in seq order with every byte, helper frames only after hello,
// nothing after the exit frame.
func TestChannelKeepsFramesWhole(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	p := &protocol.Payload{RunID: "r1", JobID: "j1", Interpreter: "bash", Limits: protocol.Limits{TimeoutMs: 30000}}
	if !job.Direct(p) {
		t.Skip("output is moved straight to stdout on Linux only")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdout := newWire(w, protocol.ProtocolBinary)
	if json3 := newWire(w, protocol.ProtocolJSON); newChannel(newFrameOut(json3, nil), json3, p) != nil {
		t.Fatal("a channel for protocol 3")
	}
	out := newFrameOut(stdout, nil)
	ch := newChannel(out, stdout, p)
	if ch == nil {
		t.Fatal("no channel for a plain protocol 4 run")
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	dir := t.TempDir()
	data := bytes.Repeat([]byte("0123456789abcdef\n"), 1<<20)
	os.WriteFile(filepath.Join(dir, "data"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "script"), []byte("dd if=data bs=8k 2>/dev/null; echo err >&2"), 0o600)

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				if err := out.send(&protocol.Frame{Type: protocol.TypeHelper, ID: int64(i*100 + j + 1), Op: "event", Token: "t", Body: json.RawMessage(`{"n":1}`)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	out.frame(&protocol.Frame{Type: protocol.TypeHello, Protocol: protocol.ProtocolBinary, Version: "v", RunID: "r1", Pid: 1})
	code := ch.supervise(job.Spec{Payload: p, Interpreter: bash, Script: filepath.Join(dir, "script"), Dir: dir, BaseEnv: os.Environ()}, nil)
	wg.Wait()
	w.Close()
	if code != ExitOK {
		t.Fatalf("exit status %d", code)
	}
	raw := <-got
	var helpers int
	var logs, stderr []byte
	var seq int64
	var exit *protocol.Frame
	for i := 0; len(raw) > 0; i++ {
		f, n, err := protocol.DecodeBinary(raw)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		raw = raw[n:]
		if (i == 0) != (f.Type == protocol.TypeHello) {
			t.Fatalf("frame %d is a %s", i, f.Type)
		}
		switch f.Type {
		case protocol.TypeHelper:
			helpers++
			continue
		case protocol.TypeHello, protocol.TypeHeartbeat:
			continue
		}
		if exit != nil {
			t.Fatalf("a %s frame after the exit frame", f.Type)
		}
		if f.Seq != seq+1 {
			t.Fatalf("seq %d after %d", f.Seq, seq)
		}
		seq = f.Seq
		switch {
		case f.Type == protocol.TypeExit:
			exit = f
		case f.Stream == "stdout":
			logs = append(logs, f.Data...)
		default:
			stderr = append(stderr, f.Data...)
		}
	}
	if helpers != 200 || exit == nil || exit.Code == nil || *exit.Code != 0 {
		t.Fatalf("%d helper frames, exit %+v", helpers, exit)
	}
	if !bytes.Equal(logs, data) || string(stderr) != "err\n" {
		t.Fatalf("stdout %d bytes (want %d), stderr %q", len(logs), len(data), stderr)
	}
}
