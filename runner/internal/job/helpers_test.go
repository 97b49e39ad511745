package job

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// assertGroupGone checks /proc: no live process may remain in the group.
func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if pgid <= 1 {
		t.Fatalf("bad pgid %d", pgid)
	}
	if runtime.GOOS != "linux" {
		return
	}
	deadline := time.Now().Add(time.Second)
	for {
		left := GroupMembers(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has %v", pgid, left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
