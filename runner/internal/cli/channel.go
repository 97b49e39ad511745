package cli

import (
	"errors"
	"io"
	"os"
	"time"

	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/spool"
)

// channel is a foreground run's stdout as its spool (spool.Channel): in
// protocol 4, for a payload whose output is passed on untouched (job.Direct),
// the supervisor writes every frame to stdout itself, and moves log frames'
// bytes from the script's pipes to stdout without copying them through this
// process (see job's mover). No in-memory spool, no follower: a slow link
// holds the mover back directly, and the script with it.
//
// Frames from other writers (hello, heartbeats, helper frames) share
// frameOut's lock: they go out between two frames, never inside one.
type channel struct {
	o  *frameOut
	fd int
	// Under o.mu:
	ended bool      // the exit (or error) frame is out: no heartbeat may follow it
	last  time.Time // when the last frame went out
}

var _ spool.Channel = (*channel)(nil)

var errChannelLost = errors.New("the channel to the app is gone")

// newChannel returns stdout as a channel when the run qualifies, else nil.
func newChannel(o *frameOut, stdout io.Writer, p *protocol.Payload) *channel {
	w, ok := stdout.(*wire)
	if !ok || o.proto != protocol.ProtocolBinary || !job.Direct(p) {
		return nil
	}
	f, ok := w.Writer.(*os.File)
	if !ok {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	c := &channel{o: o, fd: -1, last: time.Now()}
	// The descriptor stays valid as long as stdout is open: for the whole process.
	_ = rc.Control(func(fd uintptr) { c.fd = int(fd) })
	if c.fd < 0 {
		return nil
	}
	return c
}

// supervise runs spec with this channel as its spool, sending heartbeats
// while the script is quiet, and returns the run command's exit status.
func (c *channel) supervise(spec job.Spec, cancel <-chan string) int {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(heartbeatEvery / 10)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				c.heartbeat()
			}
		}
	}()
	_, err := job.Supervise(spec, c, cancel)
	close(done)
	if err != nil {
		// No exit frame could be written: say why on the stream.
		_ = c.Append(&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())})
		c.o.flush()
		return ExitInternal
	}
	c.o.flush()
	return ExitOK
}

// heartbeat says the stream is alive when no frame went out for heartbeatEvery.
func (c *channel) heartbeat() {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if c.ended || time.Since(c.last) < heartbeatEvery {
		return
	}
	c.last = time.Now()
	o.writeLocked(encodeOr(&protocol.Frame{Type: protocol.TypeHeartbeat, Ts: c.last.UnixMilli(), Seq: o.seq}, o.proto))
	o.flushLocked()
}

// Append writes f (the supervisor's exit frame) at once; a lost channel drops it.
func (c *channel) Append(f *protocol.Frame) error {
	b := encodeOr(f, c.o.proto)
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writeLocked(b)
	o.flushLocked()
	c.last = time.Now()
	if f.Seq > 0 && f.Type != protocol.TypeHeartbeat {
		o.seq = f.Seq
	}
	if f.Type == protocol.TypeExit || f.Type == protocol.TypeError {
		c.ended = true
	}
	return nil
}

func (c *channel) Flush() error { c.o.flush(); return nil }

// Recover returns the seq of the last frame that went out whole.
func (c *channel) Recover() (int64, error) {
	c.o.mu.Lock()
	defer c.o.mu.Unlock()
	return c.o.seq, nil
}

// Wait is always nil: writes to a slow link block instead.
func (c *channel) Wait() <-chan struct{} { return nil }

// Lend runs write with stdout's descriptor once frameOut's buffer is out.
func (c *channel) Lend(write func(fd int) (int64, error)) error {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	if o.broken {
		return errChannelLost
	}
	seq, err := write(c.fd)
	c.last = time.Now()
	if seq > 0 {
		o.seq = seq
	}
	if err != nil {
		o.lost()
	}
	return err
}
