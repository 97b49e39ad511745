package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

func TestReadLine(t *testing.T) {
	tests := []struct {
		name, in, want string
		max            int
		err            bool
	}{
		{"line", "abc\nrest", "abc", 10, false},
		{"no newline", "abc", "abc", 10, false},
		{"empty", "", "", 10, true},
		{"too long", strings.Repeat("x", 100) + "\n", "", 10, true},
		{"longer than the buffer", strings.Repeat("y", 100000) + "\n", strings.Repeat("y", 100000), 200000, false},
	}
	for _, tc := range tests {
		got, err := readLine(bufio.NewReaderSize(strings.NewReader(tc.in), 16), tc.max)
		if (err != nil) != tc.err || string(got) != tc.want {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}
}

func TestLookPathIn(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), []byte(""), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	tests := []struct {
		name string
		ok   bool
	}{{"tool", true}, {"plain", false}, {"sub", false}, {"missing", false}}
	for _, tc := range tests {
		if _, err := lookPathIn(tc.name, "/nonexistent:"+dir); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestEnsurePrivateDir(t *testing.T) {
	base := t.TempDir()
	loose := filepath.Join(base, "loose")
	os.Mkdir(loose, 0o777)
	os.Chmod(loose, 0o777)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	link := filepath.Join(base, "link")
	os.Symlink(loose, link)
	tests := []struct {
		name, dir string
		ok        bool
	}{
		{"new", filepath.Join(base, "a", "b"), true},
		{"loose perms tightened", loose, true},
		{"a file", file, false},
		{"a symlink", link, false},
	}
	for _, tc := range tests {
		err := ensurePrivateDir(tc.dir)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.ok {
			if info, _ := os.Stat(tc.dir); info.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v", tc.name, info.Mode())
			}
		}
	}
}

func TestPruneRuns(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	old := now.Add(-8 * 24 * time.Hour)
	mk := func(name string, mtime time.Time, pid int) {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0o700)
		os.WriteFile(filepath.Join(d, spoolFile), nil, 0o600)
		if pid > 0 {
			os.WriteFile(filepath.Join(d, pidFile), []byte(strconv.Itoa(pid)), 0o600)
		}
		os.Chtimes(filepath.Join(d, spoolFile), mtime, mtime)
		os.Chtimes(d, mtime, mtime)
	}
	mk("old-finished", old, 0)
	mk("old-but-running", old, os.Getpid())
	mk("recent", now, 0)
	pruneRuns(dir, now, 7*24*time.Hour)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != "old-but-running,recent" {
		t.Fatalf("left %v", left)
	}
}

// The prunes run at most once per interval: a marker's mtime says when they last ran; a marker
// from the future (a clock set back) does not stop them.
func TestPruneDue(t *testing.T) {
	marker := filepath.Join(t.TempDir(), ".pruned")
	now := time.Now()
	if !pruneDue(marker, now, time.Minute) {
		t.Fatal("never pruned: due")
	}
	if pruneDue(marker, now.Add(30*time.Second), time.Minute) {
		t.Fatal("due again after 30 s")
	}
	if !pruneDue(marker, now.Add(61*time.Second), time.Minute) {
		t.Fatal("not due after 61 s")
	}
	if !pruneDue(marker, now.Add(-time.Hour), time.Minute) {
		t.Fatal("a marker from the future stopped the prune")
	}
}

// Control frames: cancel and helper replies up to a frame's full size get
// through; oversized lines and frames of other types are skipped, not fatal.
func TestControlFrames(t *testing.T) {
	big := `{"type":"helper-reply","id":2,"status":200,"body":{"value":"` + strings.Repeat("x", protocol.MaxHelperBodyBytes-12) + `"}}`
	tooBig := `{"type":"helper-reply","id":3,"status":200,"body":{"value":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}}`
	in := strings.Join([]string{
		`{"type":"helper-reply","id":1,"status":200,"body":{}}`,
		tooBig,
		`{"type":"log","seq":1,"stream":"stdout","ts":1,"data":""}`,
		`{"type":"helper","id":1,"op":"input","token":"t","body":{}}`,
		"not json",
		big,
		`{"type":"cancel"}`,
		`{"type":"helper-reply","id":4,"status":204,"body":{}}`,
	}, "\n")
	cancel := make(chan string, 4)
	eof := make(chan struct{})
	var ids []int64
	controlFrames(bufio.NewReaderSize(strings.NewReader(in), 64<<10), cancel, eof, func(f *protocol.Frame) { ids = append(ids, f.ID) })
	<-eof
	if len(ids) != 3 || ids[0] != 1 || ids[1] != 2 || ids[2] != 4 {
		t.Errorf("replies delivered: %v, want [1 2 4]", ids)
	}
	if len(cancel) != 1 || <-cancel != protocol.ExitCancelled {
		t.Error("cancel not delivered")
	}
}

// Helper frames from the relay and log lines from the spool share stdout:
// every line comes out whole, helper frames only after hello.
func TestFrameOutConcurrentWriters(t *testing.T) {
	var buf syncBuffer
	out := newFrameOut(&buf, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				if err := out.send(&protocol.Frame{Type: protocol.TypeHelper, ID: int64(i*100 + j + 1), Op: "event", Token: "t", Body: json.RawMessage(`{}`)}); err != nil {
					t.Error(err)
				}
			}
		}(i)
	}
	time.Sleep(20 * time.Millisecond)
	if buf.Len() != 0 {
		t.Fatal("helper frames before hello")
	}
	out.frame(&protocol.Frame{Type: protocol.TypeHello, Protocol: 2, Version: "v", RunID: "r", Pid: 1})
	for j := 1; j <= 200; j++ {
		line, _ := (&protocol.Frame{Type: protocol.TypeLog, Seq: int64(j), Stream: "stdout", Data: []byte(strings.Repeat("z", 100))}).Encode()
		out.forward(line, protocol.ProtocolJSON, nil)
		out.setSeq(int64(j))
	}
	wg.Wait()
	out.flush()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 1+400+200 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		f, err := protocol.Decode([]byte(l))
		if err != nil || (i == 0) != (f.Type == protocol.TypeHello) {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
