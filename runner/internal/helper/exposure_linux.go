package helper

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Exposed lists the non-loopback local addresses of TCP sockets listening on
// port, and whether anything could be checked at all.
//
// The app asks sshd for its helper tunnel on 127.0.0.1, but an sshd with
// `GatewayPorts yes` ignores the address and binds every one, which would put
// the run's helper port on the host's network. Only the host can tell, so the
// runner checks before the script starts (and the run's helpers then go
// in-band instead). The check asks the kernel for its listening sockets only
// (sock_diag over netlink: a dump of the listen tables, a few entries,
// however many connections the host holds); where netlink is unavailable it
// reads /proc/net/tcp and tcp6, which list every connection.
func Exposed(port int) (addrs []string, checked bool) {
	if port <= 0 || port > 65535 {
		return nil, false
	}
	var all []net.IP
	ok := true
	for _, family := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
		ips, err := diagListeners(family, uint16(port))
		if err != nil {
			ok = false
			break
		}
		all = append(all, ips...)
	}
	if !ok {
		all = nil
		var err error
		if all, err = procListeners(port); err != nil {
			return nil, false
		}
	}
	for _, ip := range all {
		if !ip.IsLoopback() {
			addrs = append(addrs, ip.String())
		}
	}
	return addrs, true
}

// Netlink sock_diag (linux/inet_diag.h, linux/sock_diag.h).
const (
	sockDiagByFamily = 20
	tcpListen        = 10
	diagReqLen       = 56 // struct inet_diag_req_v2
	diagMsgLen       = 72 // struct inet_diag_msg
)

// diagListeners asks the kernel for the TCP sockets of family in state LISTEN
// and returns the local addresses of those on port.
func diagListeners(family uint8, port uint16) ([]net.IP, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 2}
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, err
	}
	req := make([]byte, syscall.NLMSG_HDRLEN+diagReqLen)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], sockDiagByFamily)
	binary.NativeEndian.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1)
	body := req[syscall.NLMSG_HDRLEN:]
	body[0] = family
	body[1] = syscall.IPPROTO_TCP
	binary.NativeEndian.PutUint32(body[4:], 1<<tcpListen)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, err
	}
	var out []net.IP
	buf := make([]byte, 64<<10)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return out, nil
			case syscall.NLMSG_ERROR:
				return nil, syscall.EINVAL
			case sockDiagByFamily:
				d := m.Data
				if len(d) < diagMsgLen || d[1] != tcpListen {
					continue
				}
				// struct inet_diag_sockid at offset 4: sport (big-endian), dport, src[16], ...
				if binary.BigEndian.Uint16(d[4:6]) != port {
					continue
				}
				if d[0] == syscall.AF_INET {
					out = append(out, net.IP(append([]byte(nil), d[8:12]...)))
				} else {
					out = append(out, net.IP(append([]byte(nil), d[8:24]...)))
				}
			}
		}
	}
}

// procListeners reads the listening sockets on port from /proc/net/tcp and tcp6.
func procListeners(port int) ([]net.IP, error) {
	var out []net.IP
	read := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		read++
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "0A" {
				continue
			}
			host, p, ok := strings.Cut(fs[1], ":")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(p, 16, 16); err != nil || int(n) != port {
				continue
			}
			raw, err := hex.DecodeString(host)
			if err != nil || (len(raw) != 4 && len(raw) != 16) {
				continue
			}
			// The kernel prints each 32-bit word of the address as a number read in host byte order.
			ip := make(net.IP, len(raw))
			for w := 0; w < len(raw); w += 4 {
				binary.NativeEndian.PutUint32(ip[w:], binary.BigEndian.Uint32(raw[w:]))
			}
			out = append(out, ip)
		}
		f.Close()
	}
	if read == 0 {
		return nil, os.ErrNotExist
	}
	return out, nil
}
