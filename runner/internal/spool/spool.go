// Package spool is the on-disk log of a run's frames: the supervisor appends
// every log and exit frame, and every reader (the foreground `run`, `attach`)
// tails it from a sequence number.
//
// Invariant: the supervisor is the only writer and appends whole lines in seq
// order; readers never emit a partial line and skip seq < from, so a reader
// that reattaches with --from N+1 after seeing N gets every later frame exactly
// once. The spool on disk is also the buffer that keeps a slow consumer from
// ever blocking the script: the pipes drain into the spool, not into the link.
package spool

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// Writer appends frames to a spool file.
type Writer struct {
	f    *os.File
	w    *bufio.Writer
	wake chan struct{}
	// reserve holds space on the spool's file system for the frames that end a
	// run after a write failed because that file system is full.
	reserve string
}

// ReserveBytes is what Create sets aside next to the spool for Recover.
const ReserveBytes = 64 << 10

// Create opens a new spool file for appending (it must not exist), and a
// reserve file beside it.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	reserve := path + ".reserve"
	if err := os.WriteFile(reserve, make([]byte, ReserveBytes), 0o600); err != nil {
		_ = os.Remove(reserve)
		f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return &Writer{f: f, w: bufio.NewWriterSize(f, 256<<10), wake: make(chan struct{}, 1), reserve: reserve}, nil
}

// Recover makes the writer usable again after a failed write (a full file
// system): it frees the reserve, cuts the file back to its last whole line
// (a failed write may have left part of one) and drops what was buffered, so
// the frames that end the run can still be written. It returns the seq of the
// last frame left in the spool (0 when none), from which the caller goes on.
func (w *Writer) Recover() (lastSeq int64, err error) {
	if w.reserve != "" {
		_ = os.Remove(w.reserve)
		w.reserve = ""
	}
	w.w = bufio.NewWriterSize(w.f, 256<<10)
	r, err := os.Open(w.f.Name())
	if err != nil {
		return 0, err
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return 0, err
	}
	end, err := lastNewline(r, st.Size())
	if err != nil {
		return 0, err
	}
	if err := w.f.Truncate(end); err != nil {
		return 0, err
	}
	if end == 0 {
		return 0, nil
	}
	start, err := lastNewline(r, end-1)
	if err != nil {
		return 0, err
	}
	line := make([]byte, end-1-start)
	if _, err := r.ReadAt(line, start); err != nil {
		return 0, err
	}
	f, err := protocol.Decode(line)
	if err != nil {
		return 0, err
	}
	return f.Seq, nil
}

// lastNewline returns the offset just after the last '\n' before limit, or 0.
func lastNewline(r io.ReaderAt, limit int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for pos := limit; pos > 0; {
		n := min(pos, int64(len(buf)))
		pos -= n
		if _, err := r.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// Append buffers one encoded frame; Flush makes it visible to readers.
func (w *Writer) Append(f *protocol.Frame) error {
	b, err := f.Encode()
	if err != nil {
		return err
	}
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	return w.w.WriteByte('\n')
}

// Flush writes buffered frames to the file and wakes an in-process reader.
func (w *Writer) Flush() error {
	err := w.w.Flush()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return err
}

// Wake fires after each Flush; pass it to Follow in the same process.
func (w *Writer) Wake() <-chan struct{} { return w.wake }

// Close flushes and closes the file, and removes the reserve.
func (w *Writer) Close() error {
	err := w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if w.reserve != "" {
		_ = os.Remove(w.reserve)
	}
	return err
}

// ErrWriterGone means the supervisor died without writing an exit frame.
var ErrWriterGone = errors.New("the run's supervisor exited without an exit frame")

// FollowOptions tunes Follow.
type FollowOptions struct {
	// From is the first seq to emit; frames with a lower seq are skipped.
	From int64
	// Wake, when set, signals new data (an in-process Writer); otherwise Poll is used.
	Wake <-chan struct{}
	// Poll is the interval between checks for new data (default 20 ms).
	Poll time.Duration
	// Alive reports whether the writer may still append; nil means always.
	Alive func() bool
	// Idle is called when Follow has caught up and is waiting (heartbeats).
	Idle func()
}

// Follow emits the spool's frames with seq >= From in order and returns the
// terminal (exit or error) frame once emitted; ctx ends it early with ctx.Err().
func Follow(ctx context.Context, path string, opts FollowOptions, emit func(line []byte, f *protocol.Frame) error) (*protocol.Frame, error) {
	if opts.Poll <= 0 {
		opts.Poll = 20 * time.Millisecond
	}
	var file *os.File
	for file == nil {
		f, err := os.Open(path)
		if err == nil {
			file = f
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if opts.Alive != nil && !opts.Alive() {
			return nil, ErrWriterGone
		}
		if err := wait(ctx, opts); err != nil {
			return nil, err
		}
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 256<<10)
	var partial []byte
	for {
		line, err := r.ReadSlice('\n')
		if err == nil {
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = partial[:0]
			}
			body := bytes.TrimSuffix(line, []byte("\n"))
			// Log lines are forwarded as they are: read only their head (the fast path checks
			// the line's shape; anything else gets the full, strict decode).
			fr, fast := protocol.DecodeLogHead(body)
			var derr error
			if !fast {
				fr, derr = protocol.Decode(body)
			}
			if derr != nil {
				return nil, fmt.Errorf("spool %s is corrupt: %w", path, derr)
			}
			terminal := fr.Type == protocol.TypeExit || fr.Type == protocol.TypeError
			if fr.Type == protocol.TypeError || fr.Seq >= opts.From {
				if err := emit(line[:len(line)-1], fr); err != nil {
					return nil, err
				}
			}
			if terminal {
				return fr, nil
			}
			continue
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			partial = append(partial, line...)
			if len(partial) > protocol.MaxFrameBytes {
				return nil, fmt.Errorf("spool %s has a frame over %d bytes", path, protocol.MaxFrameBytes)
			}
			continue
		}
		if err != io.EOF {
			return nil, err
		}
		// Caught up: keep the partial line and wait for the writer.
		partial = append(partial, line...)
		alive := opts.Alive == nil || opts.Alive()
		if !alive {
			// One more read: the writer may have finished between our read and the check.
			if more, _ := r.Peek(1); len(more) > 0 {
				continue
			}
			return nil, ErrWriterGone
		}
		if opts.Idle != nil {
			opts.Idle()
		}
		if err := wait(ctx, opts); err != nil {
			return nil, err
		}
	}
}

func wait(ctx context.Context, opts FollowOptions) error {
	t := time.NewTimer(opts.Poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-opts.Wake:
	case <-t.C:
	}
	return nil
}
