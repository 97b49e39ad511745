package cli

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
