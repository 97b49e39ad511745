package job

import (
	"os"
	"syscall"
)

// fSetPipeSz is F_SETPIPE_SZ (F_LINUX_SPECIFIC_BASE + 7).
const fSetPipeSz = 1031

// GrowPipe asks for a pipe buffer of size bytes (at most the system's
// pipe-max-size, 1 MiB by default for any user); f may be either end. Fewer,
// larger reads and writes mean fewer wakeups on both sides. Not a pipe, or
// refused: nothing changes.
func GrowPipe(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, fd, fSetPipeSz, uintptr(size))
	})
}
