package job

import (
	"io"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/spool"
)

// directOutput: Linux has what the mover needs (FIONREAD on pipes, splice).
const directOutput = true

// firstLook: while a stream holds less than a frame, the mover looks at it
// again after firstLook, then after twice as long each time, until the frame
// is full, the writer closes the pipe or the first byte has waited
// coalesceWait. A fast writer is caught within tens of microseconds (the pipe
// must not fill while the mover sleeps); a slow one costs a handful of
// wakeups per frame.
const firstLook = 50 * time.Microsecond

const (
	spliceNonblock = 0x2 // SPLICE_F_NONBLOCK
	pollIn         = 0x1
	pollOut        = 0x4
	pollErr        = 0x8
	pollHup        = 0x10
)

// mover moves a foreground run's output from the script's pipes to the app's
// channel (a spool.Channel: stdout in protocol 4) without the bytes passing
// through this process: for each log frame it writes the 24-byte header, then
// splice(2)s exactly the frame's bytes from the pipe to the channel. It runs
// in a goroutine of its own and tells the supervisor what happened through
// events.
//
//   - Framing: a frame takes what FIONREAD says the pipe holds, up to
//     MaxLogData and what the output cap leaves. Fewer bytes wait in the pipe
//     for more, as they would in the framer: until the frame is full, the
//     writers close the pipe, or the first of them has waited coalesceWait.
//     So a script that writes 8 KiB at a time still travels in 64 KiB frames.
//   - Backpressure: while the channel is full the splice waits (poll for
//     POLLOUT) and nothing more is taken from the pipes: the script waits, as
//     on ssh. Only the mover waits: the supervisor still acts on timeouts,
//     cancels and the leader's exit, and the cap is reported before its last
//     frame goes out. A frame once begun is finished whatever becomes of the
//     script (its bytes are in the pipe already): the channel cannot be
//     resynchronised after a short frame.
//   - The script's pipe is never locked by a splice that waits on the other
//     side. A splice into a pipe drops both pipes' locks while it waits; one
//     into a socket can wait holding its source pipe's (SPLICE_F_NONBLOCK
//     does not reach the socket on every kernel: older ones honour only the
//     socket's own O_NONBLOCK there), and the script's next write would then
//     sleep uninterruptibly on that lock, deaf to TERM and KILL. A channel
//     that is not a pipe is therefore fed through a pipe of the mover's own.
//   - The script's pipes are not watched by the runtime's poller (rawPipe):
//     a pipe that was ever polled wakes its watchers on every write, and the
//     poller's thread waking for each of the script's writes cost more than
//     the splicing itself.
//   - Where splice is refused (EINVAL: a file opened O_APPEND, a tty on some
//     kernels; ENOSYS, EPERM: a sandbox), the mover reads each frame's bytes
//     into a buffer behind its header and writes both at once, for the rest
//     of the run.
type mover struct {
	ch     spool.Channel
	srcs   []*source
	left   int64 // bytes the output cap still allows
	seq    int64 // of the last frame moved; read it once wait returned
	capped bool  // the cap is reached: output is read and dropped
	lost   bool  // the channel is lost: output is read and dropped
	events chan moveEvent
	done   chan struct{}
	wake   [2]int // a byte on wake[1]: abandon the pipes

	parts []part   // move's, reused
	fds   []pollFd // poll's, reused

	checked bool   // how the channel is reached is known (on the first frame)
	relay   [2]int // the mover's own pipe in front of a channel that is not one; -1: none
	copying bool   // splice was refused: read and write
	buf     []byte // copying: one frame, header and data; dropping: scratch
}

// source is one of the script's pipes.
type source struct {
	name  string
	fd    int
	open  bool
	hup   bool      // its writers are gone: what it holds is all there will be
	avail int       // bytes it holds (FIONREAD)
	since time.Time // when the bytes waiting for more were first seen; zero: none wait
}

// part is one log frame to move.
type part struct {
	src *source
	n   int
	seq int64
	ts  int64
}

// rawPipe is a pipe the runtime's poller does not watch (os.Pipe's is): the
// mover polls the read end itself, and a watched pipe would wake the poller's
// thread on every write the script makes.
func rawPipe() (r, w *os.File, err error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	return os.NewFile(uintptr(p[0]), "|0"), os.NewFile(uintptr(p[1]), "|1"), nil
}

// newMover prepares a mover of streams' pipes (it owns them until wait
// returns) into ch, with outputCap bytes allowed.
func newMover(ch spool.Channel, streams []*stream, outputCap int64) (*mover, error) {
	m := &mover{ch: ch, left: outputCap, events: make(chan moveEvent, len(streams)+2), done: make(chan struct{}), relay: [2]int{-1, -1}}
	if err := syscall.Pipe2(m.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, err
	}
	for _, s := range streams {
		m.srcs = append(m.srcs, &source{name: s.name, fd: int(s.r.Fd()), open: true})
	}
	return m, nil
}

func (m *mover) start() { go m.run() }

// abandon makes the mover stop once it has moved what the pipes hold now
// (their writers are escaped descendants that may never close them).
func (m *mover) abandon() { _, _ = syscall.Write(m.wake[1], []byte{1}) }

// wait returns once the mover is done (every stream ended or was abandoned)
// and releases its pipes; abandon must not be called after it.
func (m *mover) wait() {
	<-m.done
	m.closeFds()
}

func (m *mover) run() {
	defer close(m.done)
	defer func() {
		for _, s := range m.srcs {
			if s.open {
				s.open = false
				m.events <- moveEvent{eof: s.name}
			}
		}
	}()
	look := firstLook
	for {
		m.look()
		due, moved := m.move(false)
		if !m.opened() {
			return
		}
		timeout := time.Duration(-1)
		if due >= 0 {
			if moved {
				look = firstLook
			}
			timeout = min(look, due)
			look *= 2
		} else {
			look = firstLook
		}
		if m.poll(timeout) {
			m.look()
			m.move(true)
			return
		}
	}
}

func (m *mover) opened() bool {
	for _, s := range m.srcs {
		if s.open {
			return true
		}
	}
	return false
}

// look notes how much each pipe holds; one that is empty and has no writers
// left has ended.
func (m *mover) look() {
	for _, s := range m.srcs {
		if !s.open {
			continue
		}
		var n int32
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(s.fd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
			n, s.hup = 0, true
		}
		s.avail = int(n)
		if s.avail == 0 && s.hup {
			s.open = false
			m.events <- moveEvent{eof: s.name}
		}
	}
}

// move frames what is due (final: everything the pipes hold) and returns how
// long until the bytes that wait for more are due (-1: none wait) and whether
// any frame went out.
func (m *mover) move(final bool) (time.Duration, bool) {
	now := time.Now()
	due := time.Duration(-1)
	parts := m.parts[:0]
	for _, s := range m.srcs {
		if !s.open || s.avail == 0 {
			s.since = time.Time{}
			continue
		}
		if m.capped || m.lost {
			m.discard(s)
			continue
		}
		if s.since.IsZero() {
			s.since = now
		}
		ts := s.since.UnixMilli()
		n := s.avail
		if int64(n) > m.left {
			// Past the cap: the last frame takes what it allows, the rest is dropped.
			n = int(m.left)
			m.capped = true
			m.events <- moveEvent{capped: true}
		} else if tail := n % protocol.MaxLogData; tail > 0 && !final && !s.hup {
			if wait := s.since.Add(coalesceWait).Sub(now); wait > 0 {
				// The tail waits for more: the whole frames go now.
				n -= tail
				if n > 0 {
					s.since = now
				}
				if due < 0 || wait < due {
					due = wait
				}
			}
		}
		for n > 0 {
			k := min(n, protocol.MaxLogData)
			m.seq++
			parts = append(parts, part{src: s, n: k, seq: m.seq, ts: ts})
			ts = now.UnixMilli()
			n -= k
			s.avail -= k
			m.left -= int64(k)
		}
		if s.avail == 0 {
			s.since = time.Time{}
		}
	}
	m.parts = parts
	if len(parts) > 0 {
		err := m.ch.Lend(func(fd int) (int64, error) {
			for _, p := range parts {
				if err := m.frame(fd, p); err != nil {
					return p.seq - 1, err
				}
			}
			return parts[len(parts)-1].seq, nil
		})
		if err != nil && !m.lost {
			m.lost = true
			m.events <- moveEvent{err: err}
		}
	}
	if m.capped {
		// What the pipes hold past the last frame's bytes.
		for _, s := range m.srcs {
			if s.open {
				m.discard(s)
			}
		}
	}
	return due, len(parts) > 0
}

// discard reads what s holds and drops it.
func (m *mover) discard(s *source) {
	if len(m.buf) == 0 {
		m.buf = make([]byte, protocol.HeaderLen+protocol.MaxLogData)
	}
	for s.avail > 0 {
		n, err := syscall.Read(s.fd, m.buf[:min(s.avail, len(m.buf))])
		if err == syscall.EINTR {
			continue
		}
		if n <= 0 {
			break
		}
		s.avail -= n
	}
	s.avail = 0
}

// poll waits until a pipe that holds nothing has bytes, a pipe loses its
// writers, timeout passes (< 0: no timeout) or the mover is abandoned, and
// reports the last. Pipes that hold bytes waiting for more are watched for
// their writers closing only.
func (m *mover) poll(timeout time.Duration) bool {
	fds := m.fds[:0]
	for _, s := range m.srcs {
		pfd := pollFd{fd: int32(s.fd), events: pollIn}
		switch {
		case !s.open:
			pfd.fd = -1 // ignored
		case s.avail > 0:
			pfd.events = 0 // POLLHUP and POLLERR are reported whatever was asked for
		}
		fds = append(fds, pfd)
	}
	fds = append(fds, pollFd{fd: int32(m.wake[0]), events: pollIn})
	m.fds = fds
	if err := ppoll(fds, timeout); err != nil {
		// Not expected (EINVAL, ENOMEM): carry on as if time passed.
		time.Sleep(time.Millisecond)
		return false
	}
	for i, s := range m.srcs {
		if s.open && fds[i].revents&(pollHup|pollErr) != 0 {
			s.hup = true
		}
	}
	return fds[len(fds)-1].revents != 0
}

// frame moves one log frame: header, then p.n bytes of p.src.
func (m *mover) frame(fd int, p part) error {
	hdr := protocol.LogHeader(p.src.name, p.seq, p.ts, p.n)
	if !m.checked {
		m.checked = true
		m.reach(fd)
	}
	if m.copying {
		return m.copy(fd, p.src.fd, hdr[:], p.n)
	}
	if err := writeAll(fd, hdr[:]); err != nil {
		return err
	}
	if m.relay[0] < 0 {
		return m.spliceTo(fd, p.src.fd, p.n)
	}
	return m.spliceVia(fd, p.src.fd, p.n)
}

// reach decides how frames reach fd: spliced into it when it is a pipe,
// through the relay pipe when it is anything else, copied when no relay can
// be had.
func (m *mover) reach(fd int) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFIFO {
		return
	}
	if err := syscall.Pipe2(m.relay[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		m.relay, m.copying = [2]int{-1, -1}, true
		return
	}
	// Room for a whole frame whatever its pages (a pipe holds 16 by default).
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(m.relay[1]), fSetPipeSz, 2*protocol.MaxLogData)
}

// spliceTo splices n bytes from the pipe src into the pipe fd.
func (m *mover) spliceTo(fd, src, n int) error {
	moved, err := spliceOut(fd, src, n)
	if refused(err) {
		m.copying = true
		return m.copy(fd, src, nil, n-moved)
	}
	return err
}

// spliceVia moves n bytes from src to fd through the relay pipe: src to the
// relay never waits, and the relay to fd may wait with only the relay locked.
func (m *mover) spliceVia(fd, src, n int) error {
	for n > 0 {
		k, err := syscall.Splice(src, nil, m.relay[1], nil, n, spliceNonblock)
		switch {
		case k > 0:
		case err == syscall.EINTR:
			continue
		case err != nil:
			return err
		default:
			return io.ErrUnexpectedEOF
		}
		n -= int(k)
		moved, err := spliceOut(fd, m.relay[0], int(k))
		if refused(err) {
			m.copying = true
			if err := m.copy(fd, m.relay[0], nil, int(k)-moved); err != nil {
				return err
			}
			return m.copy(fd, src, nil, n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// spliceOut splices n bytes from the pipe src, which holds them, into fd,
// waiting while fd is full, and returns how many went; a splice that fd
// refuses (see refused) returns that error with the count so far.
func spliceOut(fd, src, n int) (int, error) {
	moved := 0
	for moved < n {
		k, err := syscall.Splice(src, nil, fd, nil, n-moved, spliceNonblock)
		switch {
		case k > 0:
			moved += int(k)
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			// src holds the bytes (FIONREAD said so): fd is full.
			if err := waitWritable(fd); err != nil {
				return moved, err
			}
		case err != nil:
			return moved, err
		default:
			return moved, io.ErrUnexpectedEOF
		}
	}
	return moved, nil
}

// copy reads n bytes of src into the buffer behind hdr (nil: the header went
// out already) and writes both at once.
func (m *mover) copy(fd, src int, hdr []byte, n int) error {
	if len(m.buf) == 0 {
		m.buf = make([]byte, protocol.HeaderLen+protocol.MaxLogData)
	}
	for n > 0 {
		b := m.buf[:copy(m.buf, hdr)]
		hdr = nil
		k, err := readFull(src, m.buf[len(b):len(b)+min(n, protocol.MaxLogData)])
		if err != nil {
			return err
		}
		if err := writeAll(fd, m.buf[:len(b)+k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// closeFds closes the mover's own pipes (not the script's: Supervise does).
func (m *mover) closeFds() {
	for _, fd := range []*int{&m.wake[0], &m.wake[1], &m.relay[0], &m.relay[1]} {
		if *fd >= 0 {
			syscall.Close(*fd)
			*fd = -1
		}
	}
}

// refused: splice cannot reach this file (or is not allowed to); read and write can.
func refused(err error) bool {
	return err == syscall.EINVAL || err == syscall.ENOSYS || err == syscall.EPERM || err == syscall.EOPNOTSUPP
}

func readFull(fd int, b []byte) (int, error) {
	done := 0
	for done < len(b) {
		n, err := syscall.Read(fd, b[done:])
		switch {
		case n > 0:
			done += n
		case err == syscall.EINTR:
		case err != nil:
			return done, err
		default:
			return done, io.ErrUnexpectedEOF
		}
	}
	return done, nil
}

// writeAll writes b to fd, waiting while fd is full (it may be non-blocking).
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		switch {
		case n > 0:
			b = b[n:]
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			if err := waitWritable(fd); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			return io.ErrShortWrite
		}
	}
	return nil
}

// waitWritable waits until fd has room, or an error to report on the next write.
func waitWritable(fd int) error {
	return ppoll([]pollFd{{fd: int32(fd), events: pollOut}}, -1)
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// ppoll waits for fds as poll(2) does, with a timeout to the microsecond
// (< 0: none); a signal (the Go runtime sends them) only restarts the wait.
func ppoll(fds []pollFd, timeout time.Duration) error {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		var ts *syscall.Timespec
		if timeout >= 0 {
			t := syscall.NsecToTimespec(max(int64(time.Until(deadline)), 0))
			ts = &t
		}
		_, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return os.NewSyscallError("ppoll", e)
		}
		return nil
	}
}
