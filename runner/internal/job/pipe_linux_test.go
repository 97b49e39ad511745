package job

import (
	"os"
	"syscall"
	"testing"
)

// fGetPipeSz is F_GETPIPE_SZ.
const fGetPipeSz = 1032

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n := 0
	rc, _ := f.SyscallConn()
	rc.Control(func(fd uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, fGetPipeSz, 0)
		if errno != 0 {
			t.Fatal(errno)
		}
		n = int(r)
	})
	return n
}

func TestGrowPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	before := pipeSize(t, w)
	GrowPipe(r, PipeBytes)
	if got := pipeSize(t, w); got != PipeBytes || got <= before {
		t.Fatalf("pipe of %d bytes after GrowPipe (was %d)", got, before)
	}
	// Not a pipe: nothing happens, nothing fails.
	f, _ := os.CreateTemp(t.TempDir(), "f")
	GrowPipe(f, PipeBytes)
	f.Close()
}
