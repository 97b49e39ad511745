package helper

import (
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"testing"
)

func listen(t *testing.T, network, addr string) int {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("listen %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func TestExposedLoopbackListenerIsNotExposed(t *testing.T) {
	port := listen(t, "tcp4", "127.0.0.1:0")
	addrs, checked := Exposed(port)
	if !checked || len(addrs) != 0 {
		t.Fatalf("127.0.0.1:%d: exposed %v, checked %v; want none, checked", port, addrs, checked)
	}
	// Both readings of the kernel's tables agree on the listener itself.
	v4, err := diagListeners(syscall.AF_INET, uint16(port))
	if err != nil {
		t.Fatalf("netlink: %v", err)
	}
	proc, err := procListeners(port)
	if err != nil {
		t.Fatalf("/proc/net/tcp: %v", err)
	}
	want := []string{"127.0.0.1"}
	if got := ipStrings(v4); !slices.Equal(got, want) {
		t.Fatalf("netlink listeners on %d: %v, want %v", port, got, want)
	}
	if got := ipStrings(proc); !slices.Equal(got, want) {
		t.Fatalf("/proc listeners on %d: %v, want %v", port, got, want)
	}
}

func TestExposedIgnoresConnectionsAndOtherPorts(t *testing.T) {
	port := listen(t, "tcp4", "127.0.0.1:0")
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	other := listen(t, "tcp4", "127.0.0.2:0")
	got, _ := diagListeners(syscall.AF_INET, uint16(other))
	if s := ipStrings(got); !slices.Equal(s, []string{"127.0.0.2"}) {
		t.Fatalf("listeners on %d: %v", other, s)
	}
	if addrs, _ := Exposed(0); addrs != nil {
		t.Fatalf("port 0: %v", addrs)
	}
}

// A wildcard listener, as sshd with `GatewayPorts yes` makes, is exposed. The
// test binds it inside a network namespace of its own that holds nothing but a
// loopback interface (the test re-executes itself under unshare), so nothing
// listens on the machine's network.
func TestExposedSeesWildcardListener(t *testing.T) {
	if os.Getenv("CRONIUM_EXPOSURE_IN_NETNS") == "1" {
		p4 := listen(t, "tcp4", "0.0.0.0:0")
		addrs, checked := Exposed(p4)
		if !checked || !slices.Equal(addrs, []string{"0.0.0.0"}) {
			t.Fatalf("0.0.0.0:%d: exposed %v, checked %v", p4, addrs, checked)
		}
		proc, err := procListeners(p4)
		if err != nil || !slices.Equal(ipStrings(proc), []string{"0.0.0.0"}) {
			t.Fatalf("/proc: %v %v", ipStrings(proc), err)
		}
		p6 := listen(t, "tcp6", "[::]:0")
		if addrs, _ := Exposed(p6); !slices.Equal(addrs, []string{"::"}) {
			t.Fatalf("[::]:%d: exposed %v", p6, addrs)
		}
		return
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Fatalf("unshare (util-linux) is needed to bind a wildcard address in a private network namespace: %v", err)
	}
	args := []string{"--net"}
	if os.Geteuid() != 0 {
		args = append(args, "--user", "--map-root-user")
	}
	args = append(args, os.Args[0], "-test.run=^TestExposedSeesWildcardListener$", "-test.count=1")
	cmd := exec.Command(unshare, args...)
	cmd.Env = append(os.Environ(), "CRONIUM_EXPOSURE_IN_NETNS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("in a private network namespace: %v\n%s", err, out)
	}
}

func ipStrings(ips []net.IP) []string {
	var s []string
	for _, ip := range ips {
		s = append(s, ip.String())
	}
	return s
}
