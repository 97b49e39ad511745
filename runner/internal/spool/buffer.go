package spool

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// Sink is what a run's supervisor writes its frames to: a Writer (a detached
// run's spool file, which outlives the channel) or a Buffer (a foreground run's).
type Sink interface {
	// Append adds one frame; it may flush (and fail as Flush does).
	Append(f *protocol.Frame) error
	// Flush makes the appended frames visible to the reader.
	Flush() error
	// Recover makes the sink usable again after a failed Flush (a full file
	// system) and returns the seq of the last frame the reader will get.
	Recover() (lastSeq int64, err error)
	// Wait is nil while the sink takes more frames, else a channel that fires
	// once its reader has made room: until then the supervisor leaves the
	// script's output in its pipes, and the script waits as it would on ssh.
	Wait() <-chan struct{}
}

// Channel is a Sink that is the app's channel itself, with no buffer in
// between: a foreground run's stdout in protocol 4. A supervisor that can
// (package job, on Linux) moves the script's output straight into it, each
// log frame's bytes from the script's pipe to the channel, never through this
// process's memory. Its Wait is always nil: a write to a slow link blocks
// instead, and only the goroutine that moves output is held up by it.
type Channel interface {
	Sink
	// Lend runs write with the channel's file descriptor once every frame
	// appended before has gone out; no other frame goes out until it returns.
	// write puts whole protocol 4 frames on fd and returns the seq of the last
	// one (0: none), which heartbeats repeat. After an error from write the
	// channel is lost: Lend fails at once from then on, and appended frames
	// are dropped.
	Lend(write func(fd int) (lastSeq int64, err error)) error
}

// DefaultMemBytes is how far a foreground run's reader may fall behind before
// the script is held back.
const DefaultMemBytes = 4 << 20

// flushAt: Append flushes once this many bytes wait (whole frames only), so
// a buffer of bufCap never grows.
const (
	flushAt = 256 << 10
	bufCap  = flushAt + protocol.HeaderLen + protocol.MaxLogData
)

// Buffer is a foreground run's spool, in memory. A foreground run ends with its
// channel, so nothing attaches to it later: its frames wait only for the one
// reader in the same process, and once that reader is behind by the budget the
// supervisor stops reading the script's pipes until it catches up. So the link
// sets the pace, as with ssh, memory stays bounded, and no byte of output is
// written to the host's disk (or read back from it). A detached run, which must
// go on without any reader, spools to a file instead (Writer) and never waits.
//
// One goroutine writes (Append, Flush, Close) and one reads (Follow).
type Buffer struct {
	limit int
	wake  chan struct{}
	room  chan struct{}

	// Writer only.
	cur     []byte
	curLast int64 // seq of the last log or exit frame in cur (0: none)

	mu       sync.Mutex
	queue    [][]byte
	memBytes int
	free     [][]byte
	lastSeq  int64 // of the last frame queued
	closed   bool
}

// NewBuffer returns a buffer whose writer waits once memBytes are queued.
func NewBuffer(memBytes int) *Buffer {
	return &Buffer{limit: memBytes, wake: make(chan struct{}, 1), room: make(chan struct{}, 1), cur: make([]byte, 0, bufCap)}
}

// Append buffers one frame; past flushAt bytes it flushes.
func (b *Buffer) Append(f *protocol.Frame) error {
	if f.Type == protocol.TypeReady {
		return errReady
	}
	hdr, body, err := f.BinaryParts()
	if err != nil {
		return err
	}
	b.cur = append(append(b.cur, hdr[:]...), body...)
	if f.Seq > 0 && f.Type != protocol.TypeHeartbeat {
		b.curLast = f.Seq
	}
	if len(b.cur) >= flushAt {
		return b.Flush()
	}
	return nil
}

// Flush queues what was appended for the reader. It never fails: holding the
// writer back is Wait's part.
func (b *Buffer) Flush() error {
	defer signal(b.wake)
	if len(b.cur) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queue = append(b.queue, b.cur)
	b.memBytes += len(b.cur)
	b.lastSeq = max(b.lastSeq, b.curLast)
	b.cur = nil
	if n := len(b.free); n > 0 {
		b.cur, b.free = b.free[n-1], b.free[:n-1]
	} else {
		b.cur = make([]byte, 0, bufCap)
	}
	return nil
}

// Recover returns the seq of the last frame queued (a Flush never fails).
func (b *Buffer) Recover() (int64, error) {
	b.cur, b.curLast = b.cur[:0], 0
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastSeq, nil
}

// Wait is nil while less than the budget is queued.
func (b *Buffer) Wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.memBytes < b.limit {
		return nil
	}
	return b.room
}

// Close flushes; the reader gets ErrWriterGone once it has read everything
// and no terminal frame came.
func (b *Buffer) Close() error {
	err := b.Flush()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	signal(b.wake)
	return err
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Follow emits every frame in order, as Follow does for a spool file (from
// seq 1; opts' Wake and Alive are the buffer's own), and returns the terminal
// frame once emitted.
func (b *Buffer) Follow(ctx context.Context, opts FollowOptions, emit func(raw []byte, proto int, f *protocol.Frame) error) (*protocol.Frame, error) {
	opts.Wake = b.wake
	if opts.Poll <= 0 {
		opts.Poll = 20 * time.Millisecond
	}
	for {
		b.mu.Lock()
		if len(b.queue) == 0 {
			closed := b.closed
			b.mu.Unlock()
			if closed {
				return nil, ErrWriterGone
			}
			if opts.Idle != nil {
				opts.Idle()
			}
			if err := wait(ctx, opts); err != nil {
				return nil, err
			}
			continue
		}
		data := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.mu.Unlock()
		last, err := emitFrames(data, emit)
		b.mu.Lock()
		b.memBytes -= len(data)
		if cap(data) == bufCap && len(b.free) < b.limit/flushAt+2 {
			b.free = append(b.free, data[:0])
		}
		b.mu.Unlock()
		signal(b.room)
		if err != nil || last != nil {
			return last, err
		}
	}
}

// emitFrames emits the whole frames in data and returns the terminal one, if any.
func emitFrames(data []byte, emit func([]byte, int, *protocol.Frame) error) (*protocol.Frame, error) {
	for len(data) > 0 {
		fr, size, err := protocol.DecodeBinary(data)
		if err != nil {
			return nil, fmt.Errorf("a buffered frame is corrupt: %w", err)
		}
		if err := emit(data[:size], protocol.ProtocolBinary, fr); err != nil {
			return nil, err
		}
		if fr.Type == protocol.TypeExit || fr.Type == protocol.TypeError {
			return fr, nil
		}
		data = data[size:]
	}
	return nil, nil
}
