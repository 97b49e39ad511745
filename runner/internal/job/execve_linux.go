package job

import (
	"syscall"
	"unsafe"
)

// prepareExec builds execve's arguments now and returns a call that makes no
// allocation, so it still works under a tight RLIMIT_AS. Unlike syscall.Exec
// it does not restore the soft RLIMIT_NOFILE the Go runtime raised at start;
// the supervisor passes --nofile when the payload sets openFiles.
func prepareExec(prog string, argv, env []string) (func() error, error) {
	progp, err := syscall.BytePtrFromString(prog)
	if err != nil {
		return nil, err
	}
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return nil, err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return nil, err
	}
	return func() error {
		_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE,
			uintptr(unsafe.Pointer(progp)), uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])))
		return e
	}, nil
}
