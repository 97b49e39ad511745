//go:build !linux

package job

import "syscall"

// groupAlive reports whether process group pgid has members (zombies included:
// without /proc there is no portable way to tell them apart).
func groupAlive(pgid int) bool {
	return syscall.Kill(-pgid, 0) != syscall.ESRCH
}

// GroupMembers is not available without /proc.
func GroupMembers(int) []int { return nil }
