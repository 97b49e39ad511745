//go:build linux

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const gnuStatFormat = "%d:%i:%s:%.9Y:%.9Z:%u:%a"

// gnuStat is coreutils' own text for the paths (lstat, as the app's shell check runs it).
func gnuStat(t *testing.T, paths ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("stat"); err != nil {
		t.Fatal("no stat(1): coreutils is the reference this test compares with")
	}
	cmd := exec.Command("stat", append([]string{"-c", gnuStatFormat, "--"}, paths...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stat: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// statLine is GNU stat's text, field for field: files, directories, modes with
// setuid/setgid/sticky bits, a symlink itself (not followed), times before 1970
// and with nanoseconds.
func TestStatLineMatchesGNUStat(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("twelve bytes"), 0o644)
	setuid := filepath.Join(dir, "setuid")
	os.WriteFile(setuid, nil, 0o755)
	os.Chmod(setuid, 0o4755|os.ModeSetuid)
	sticky := filepath.Join(dir, "sticky")
	os.Mkdir(sticky, 0o700)
	os.Chmod(sticky, 0o1777|os.ModeSticky)
	none := filepath.Join(dir, "none")
	os.WriteFile(none, nil, 0)
	os.Chmod(none, 0)
	old := filepath.Join(dir, "old")
	os.WriteFile(old, []byte("x"), 0o600)
	os.Chtimes(old, time.Unix(-2, 500_000_000), time.Unix(-2, 500_000_000))
	nanos := filepath.Join(dir, "nanos")
	os.WriteFile(nanos, []byte("y"), 0o600)
	os.Chtimes(nanos, time.Unix(1700000000, 7), time.Unix(1700000000, 7))
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	paths := []string{file, setuid, sticky, none, old, nanos, link, dir, "/"}
	want := gnuStat(t, paths...)
	for i, p := range paths {
		got, err := statLine(p)
		if err != nil {
			t.Fatal(err)
		}
		if got != want[i] {
			t.Errorf("%s: %q, GNU stat says %q", filepath.Base(p), got, want[i])
		}
	}
	if _, err := statLine(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

// residentRecord of this test binary: the text the app's shell check prints
// for the binary, its directory and the one above.
func TestResidentRecordMatchesGNUStat(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := residentRecord()
	if err != nil {
		t.Fatal(err)
	}
	want := gnuStat(t, exe, filepath.Dir(exe), filepath.Dir(filepath.Dir(exe)))
	if len(want) != 3 || rec[0] != want[0] || rec[1] != want[1] || rec[2] != want[2] {
		t.Fatalf("record %q, GNU stat says %q", rec, want)
	}
	if residentChanged(strings.Join(rec[:], residentSep)) != "" {
		t.Fatal("the record differs from itself")
	}
	other := rec
	other[1] = strings.Replace(other[1], ":", ":9", 1)
	if msg := residentChanged(strings.Join(other[:], residentSep)); !strings.Contains(msg, "version directory changed") {
		t.Fatalf("changed dir line: %q", msg)
	}
	if msg := residentChanged(rec[0]); msg == "" {
		t.Fatal("a one-line record accepted")
	}
	if msg := residentChanged(strings.Join(append(rec[:], "x"), residentSep)); msg == "" {
		t.Fatal("a four-line record accepted")
	}
}
