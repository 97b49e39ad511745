package job

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
)

// ExecLimited is the `cronium-runner exec-limited` trampoline: it applies
// rlimits to itself and execs the script's interpreter, which inherits them.
// (SysProcAttr cannot set rlimits, and prlimit after start would race.)
// args: [--cpu SEC] [--as BYTES] [--nofile N] -- PROGRAM ARGS...
//
// Everything that allocates happens before the limits are set: once
// RLIMIT_AS is below the Go runtime's own reservation, any new mapping
// fails, so the exec itself must not need one (see execve_linux.go).
func ExecLimited(args []string, env []string) error {
	type limit struct {
		resource   int
		soft, hard uint64
	}
	var limits []limit
	var as *limit
	for len(args) > 0 && args[0] != "--" {
		if len(args) < 2 {
			return fmt.Errorf("flag %s needs a value", args[0])
		}
		v, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return fmt.Errorf("flag %s: %w", args[0], err)
		}
		switch args[0] {
		case "--cpu":
			// The soft limit sends SIGXCPU; the hard limit a second later SIGKILL.
			limits = append(limits, limit{syscall.RLIMIT_CPU, v, v + 1})
		case "--as":
			as = &limit{syscall.RLIMIT_AS, v, v}
		case "--nofile":
			limits = append(limits, limit{syscall.RLIMIT_NOFILE, v, v})
		default:
			return fmt.Errorf("unknown flag %s", args[0])
		}
		args = args[2:]
	}
	if len(args) < 2 {
		return errors.New("usage: exec-limited [--cpu S] [--as B] [--nofile N] -- PROGRAM ARGS")
	}
	prog, err := exec.LookPath(args[1])
	if err != nil {
		return err
	}
	execFn, err := prepareExec(prog, args[1:], env)
	if err != nil {
		return err
	}
	if as != nil {
		limits = append(limits, *as) // last: nothing may allocate after it
	}
	for _, l := range limits {
		if err := setLimit(l.resource, l.soft, l.hard); err != nil {
			return fmt.Errorf("setrlimit %d to %d: %w", l.resource, l.soft, err)
		}
	}
	return execFn()
}

// setLimit lowers a limit; it never tries to raise the hard limit, which an
// unprivileged process cannot do.
func setLimit(resource int, soft, hard uint64) error {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(resource, &cur); err != nil {
		return err
	}
	if uint64(cur.Max) < hard {
		hard = uint64(cur.Max)
	}
	if soft > hard {
		soft = hard
	}
	return syscall.Setrlimit(resource, &syscall.Rlimit{Cur: rlimitValue(soft), Max: rlimitValue(hard)})
}
