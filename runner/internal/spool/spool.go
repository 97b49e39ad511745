// Package spool is the on-disk log of a run's frames: the supervisor appends
// every log and exit frame, and every reader (the foreground `run`, `attach`)
// tails it from a sequence number.
//
// Invariant: the supervisor is the only writer and appends whole frames in seq
// order; readers never emit a partial frame and skip seq < from, so a reader
// that reattaches with --from N+1 after seeing N gets every later frame exactly
// once. The spool holds protocol 4 (binary) frames; a reader also follows a
// spool of protocol 3 JSON lines (a run started by an older runner before an
// upgrade), telling them apart by the first byte. The spool on disk is also the buffer that keeps a slow consumer from
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
	end, lastSeq, err := lastWhole(r, st.Size())
	if err != nil {
		return 0, err
	}
	if err := w.f.Truncate(end); err != nil {
		return 0, err
	}
	return lastSeq, nil
}

// lastWhole walks the frame headers of a binary spool of size bytes and
// returns the end of its last whole frame and that frame's seq (log and exit
// frames; 0 when none).
func lastWhole(r io.ReaderAt, size int64) (end, lastSeq int64, err error) {
	var hdr [protocol.HeaderLen]byte
	for end+protocol.HeaderLen <= size {
		if _, err := r.ReadAt(hdr[:], end); err != nil {
			return 0, 0, err
		}
		h, err := protocol.DecodeHeader(hdr[:])
		if err != nil {
			// What a failed write left: everything before it is whole.
			break
		}
		if end+int64(h.Size()) > size {
			break
		}
		end += int64(h.Size())
		if h.Seq > 0 && h.Type != protocol.TypeHeartbeat {
			lastSeq = h.Seq
		}
	}
	return end, lastSeq, nil
}

// errReady: a ready frame is serve's, written to its channel only, never to a spool.
var errReady = errors.New("a ready frame never goes into a spool")

// Append buffers one frame (protocol 4); Flush makes it visible to readers.
// A log frame's data is copied once, into the file's buffer.
func (w *Writer) Append(f *protocol.Frame) error {
	if f.Type == protocol.TypeReady {
		return errReady
	}
	hdr, body, err := f.BinaryParts()
	if err != nil {
		return err
	}
	if _, err := w.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err = w.w.Write(body)
	return err
}

// Flush writes buffered frames to the file and wakes an in-process reader.
func (w *Writer) Flush() error {
	err := w.w.Flush()
	signal(w.wake)
	return err
}

// Wait is always nil: a spool file takes frames at the script's pace, whoever reads it.
func (w *Writer) Wait() <-chan struct{} { return nil }

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
// emit gets each frame's bytes as stored (without a JSON line's newline), the
// spool's protocol, and the frame: a log frame read from a binary spool has
// Data aliasing raw, one from a JSON spool has no Data (only its head was
// read); both are valid only during the call.
func Follow(ctx context.Context, path string, opts FollowOptions, emit func(raw []byte, proto int, f *protocol.Frame) error) (*protocol.Frame, error) {
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
	r := bufio.NewReaderSize(file, readerSize)
	t := &tail{ctx: ctx, opts: opts, r: r, f: file}
	for {
		first, err := r.Peek(1)
		if err == nil {
			if first[0] == '{' {
				return t.jsonLines(path, emit)
			}
			return t.binary(path, emit)
		}
		if err := t.caughtUp(1); err != nil {
			return nil, err
		}
	}
}

// readerSize holds any spooled frame whole (log frames are at most 64 KiB + a
// header; exit and error frames a few KiB).
const readerSize = 256 << 10

type tail struct {
	ctx  context.Context
	opts FollowOptions
	r    *bufio.Reader
	f    *os.File
	// pos is the file offset of the next frame the reader has not consumed.
	pos int64
}

// rewindIfCut (true when it rewound) handles the writer's Recover (a full disk): it cut the file back to its last
// whole frame, at or after pos, and appends from there, while the reader may hold the cut
// bytes in its buffer and its file offset past the new end. When the file is shorter than
// what the reader has read, it reads again from pos.
func (t *tail) rewindIfCut() bool {
	st, err := t.f.Stat()
	// Cut below what was consumed never happens (Recover keeps whole frames); not a cut if so.
	if err != nil || st.Size() < t.pos || st.Size() >= t.pos+int64(t.r.Buffered()) {
		return false
	}
	if _, err := t.f.Seek(t.pos, io.SeekStart); err != nil {
		return false
	}
	t.r.Reset(t.f)
	return true
}

// caughtUp waits for the writer, or says it is gone (after one more look for
// the need bytes the reader waits for).
func (t *tail) caughtUp(need int) error {
	alive := t.opts.Alive == nil || t.opts.Alive()
	if !alive {
		// One more read: the writer may have finished between our read and the check.
		if more, _ := t.r.Peek(need); len(more) >= need {
			return nil
		}
		return ErrWriterGone
	}
	if t.opts.Idle != nil {
		t.opts.Idle()
	}
	return wait(t.ctx, t.opts)
}

func (t *tail) binary(path string, emit func([]byte, int, *protocol.Frame) error) (*protocol.Frame, error) {
	// Whether the reader read again from its last whole frame since it last consumed one.
	rewound := false
	for {
		need := protocol.HeaderLen
		hdr, err := t.r.Peek(need)
		var h protocol.Header
		if err == nil {
			if h, err = protocol.DecodeHeader(hdr); err != nil {
				return nil, fmt.Errorf("spool %s is corrupt: %w", path, err)
			}
			if h.Type == protocol.TypeReady {
				return nil, fmt.Errorf("spool %s is corrupt: a ready frame (only serve writes those, to its channel)", path)
			}
			if h.Size() > readerSize {
				return nil, fmt.Errorf("spool %s has a frame of %d bytes", path, h.Size())
			}
			var raw []byte
			need = h.Size()
			if raw, err = t.r.Peek(need); err == nil {
				var fr *protocol.Frame
				if h.Type == protocol.TypeLog {
					fr = &protocol.Frame{Type: h.Type, Seq: h.Seq, Stream: h.Stream, Ts: h.Ts, Data: raw[protocol.HeaderLen:]}
				} else if fr, _, err = protocol.DecodeBinary(raw); err != nil {
					return nil, fmt.Errorf("spool %s is corrupt: %w", path, err)
				}
				terminal := fr.Type == protocol.TypeExit || fr.Type == protocol.TypeError
				if fr.Type == protocol.TypeError || fr.Seq >= t.opts.From {
					if err := emit(raw, protocol.ProtocolBinary, fr); err != nil {
						return nil, err
					}
				}
				if terminal {
					return fr, nil
				}
				_, _ = t.r.Discard(h.Size())
				t.pos += int64(h.Size())
				rewound = false
				continue
			}
		}
		if !errors.Is(err, io.EOF) {
			return nil, err
		}
		if t.rewindIfCut() {
			// What the reader held of the cut frame is gone: read the header again.
			continue
		}
		if err := t.caughtUp(need); err != nil {
			// The writer is done and the reader holds an unfinished frame: it may be one the writer
			// cut (Recover) and wrote over with no more bytes than it held, which the size check
			// cannot see. Read once more from the last whole frame before giving up.
			if errors.Is(err, ErrWriterGone) && !rewound {
				if _, serr := t.f.Seek(t.pos, io.SeekStart); serr == nil {
					t.r.Reset(t.f)
					rewound = true
					continue
				}
			}
			return nil, err
		}
	}
}

// jsonLines follows a protocol 3 spool (newline-delimited JSON).
func (t *tail) jsonLines(path string, emit func([]byte, int, *protocol.Frame) error) (*protocol.Frame, error) {
	var partial []byte
	for {
		line, err := t.r.ReadSlice('\n')
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
			if derr == nil && fr.Type == protocol.TypeReady {
				derr = errors.New("a ready frame (only serve writes those, to its channel)")
			}
			if derr != nil {
				return nil, fmt.Errorf("spool %s is corrupt: %w", path, derr)
			}
			terminal := fr.Type == protocol.TypeExit || fr.Type == protocol.TypeError
			if fr.Type == protocol.TypeError || fr.Seq >= t.opts.From {
				if err := emit(body, protocol.ProtocolJSON, fr); err != nil {
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
		if err := t.caughtUp(1); err != nil {
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
