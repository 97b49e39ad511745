package job

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// groupAlive reports whether any non-zombie process is in process group pgid.
// kill(-pgid, 0) alone would count zombies, which a container's PID 1 may
// never reap, so /proc is read instead.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	return len(GroupMembers(pgid)) > 0
}

// GroupMembers lists the live (non-zombie) pids in process group pgid.
func GroupMembers(pgid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		// comm may contain spaces and parens: fields start after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 3 || string(f[0]) == "Z" || string(f[0]) == "X" {
			continue
		}
		if pg, _ := strconv.Atoi(string(f[2])); pg == pgid {
			pids = append(pids, pid)
		}
	}
	return pids
}
