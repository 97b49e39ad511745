//go:build !linux

package job

import "syscall"

// prepareExec returns syscall.Exec; outside Linux the runner has no
// allocation-free exec, so a very tight memory limit may fail the exec itself.
func prepareExec(prog string, argv, env []string) (func() error, error) {
	return func() error { return syscall.Exec(prog, argv, env) }, nil
}
