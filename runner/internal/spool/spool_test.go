package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

func logFrame(seq int64) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeLog, Seq: seq, Stream: "stdout", Ts: 1, Data: []byte{byte(seq)}}
}

func exitFrame(seq int64) *protocol.Frame {
	c := int64(0)
	return &protocol.Frame{Type: protocol.TypeExit, Seq: seq, Code: &c, Reason: protocol.ExitExited, Limiter: protocol.LimiterNone}
}

func TestFollowFrom(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path); err == nil {
		t.Fatal("second Create of one spool succeeded")
	}
	go func() {
		for i := int64(1); i <= 50; i++ {
			w.Append(logFrame(i))
			if i%7 == 0 {
				w.Flush()
				time.Sleep(2 * time.Millisecond)
			}
		}
		w.Append(exitFrame(51))
		w.Close()
	}()
	for _, from := range []int64{1, 20, 51, 99} {
		var got []int64
		last, err := Follow(context.Background(), path, FollowOptions{From: from, Poll: time.Millisecond}, func(_ []byte, _ int, f *protocol.Frame) error {
			got = append(got, f.Seq)
			return nil
		})
		if err != nil || last.Type != protocol.TypeExit {
			t.Fatalf("from %d: %v %+v", from, err, last)
		}
		want := from
		if want > 51 {
			want = 52
		}
		for _, s := range got {
			if s != want {
				t.Fatalf("from %d: got %v", from, got)
			}
			want++
		}
		if want != 52 && from <= 51 {
			t.Fatalf("from %d: ended at %d", from, want)
		}
	}
}

// A reader that catches up in the middle of a frame waits for the rest, in
// both spool formats: binary (protocol 4, what Writer writes) and the JSON lines
// of a run an older runner started.
func TestFollowPartialFrame(t *testing.T) {
	for _, proto := range []int{protocol.ProtocolBinary, protocol.ProtocolJSON} {
		path := filepath.Join(t.TempDir(), "s")
		f, _ := os.Create(path)
		b, _ := logFrame(1).EncodeAs(proto)
		e, _ := exitFrame(2).EncodeAs(proto)
		f.Write(b[:10])
		done := make(chan []int64)
		protos := make(chan int, 4)
		go func() {
			var got []int64
			Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond}, func(raw []byte, p int, f *protocol.Frame) error {
				got = append(got, f.Seq)
				protos <- p
				if f.Type == protocol.TypeLog && p == protocol.ProtocolBinary && (len(f.Data) != 1 || f.Data[0] != 1 || len(raw) != protocol.HeaderLen+1) {
					t.Errorf("log frame %+v from %x", f, raw)
				}
				return nil
			})
			done <- got
		}()
		time.Sleep(20 * time.Millisecond)
		f.Write(b[10:])
		time.Sleep(5 * time.Millisecond)
		f.Write(e)
		f.Close()
		if got := <-done; len(got) != 2 || got[0] != 1 || got[1] != 2 {
			t.Fatalf("protocol %d: got %v", proto, got)
		}
		if p := <-protos; p != proto {
			t.Fatalf("spool read as protocol %d, written as %d", p, proto)
		}
	}
}

// A writer that died in the middle of a frame: the reader says so instead of waiting forever.
func TestFollowWriterGoneMidFrame(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	b, _ := logFrame(1).EncodeAs(protocol.ProtocolBinary)
	c, _ := logFrame(2).EncodeAs(protocol.ProtocolBinary)
	os.WriteFile(path, append(b, c[:protocol.HeaderLen+0]...), 0o600)
	var alive atomic.Bool
	n := 0
	_, err := Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond, Alive: alive.Load}, func([]byte, int, *protocol.Frame) error { n++; return nil })
	if !errors.Is(err, ErrWriterGone) || n != 1 {
		t.Fatalf("err = %v after %d frames", err, n)
	}
}

func TestFollowWriterGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	w, _ := Create(path)
	w.Append(logFrame(1))
	w.Close()
	var alive atomic.Bool
	_, err := Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond, Alive: alive.Load}, func([]byte, int, *protocol.Frame) error { return nil })
	if !errors.Is(err, ErrWriterGone) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := Follow(ctx, path, FollowOptions{Poll: time.Millisecond}, func([]byte, int, *protocol.Frame) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// A write that failed half-way (a full file system) leaves part of a line;
// Recover frees the reserve, cuts the spool back to its last whole frame and
// says which seq that was, so the exit frame can follow it.
func TestRecoverAfterTornWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path + ".reserve"); err != nil || st.Size() != ReserveBytes {
		t.Fatalf("reserve: %v %v", st, err)
	}
	for i := int64(1); i <= 3; i++ {
		if err := w.Append(logFrame(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Half of frame 4 reached the file; frame 5 is still buffered.
	b, _ := logFrame(4).EncodeAs(protocol.ProtocolBinary)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(b[:len(b)/2])
	f.Close()
	w.Append(logFrame(5))
	last, err := w.Recover()
	if err != nil || last != 3 {
		t.Fatalf("Recover: last %d, err %v; want 3", last, err)
	}
	if _, err := os.Stat(path + ".reserve"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the reserve is still there: %v", err)
	}
	if err := w.Append(exitFrame(4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	end, err := Follow(context.Background(), path, FollowOptions{From: 1}, func(_ []byte, _ int, f *protocol.Frame) error {
		seqs = append(seqs, f.Seq)
		return nil
	})
	if err != nil || end == nil || end.Type != protocol.TypeExit {
		t.Fatalf("Follow: %v %v", end, err)
	}
	if len(seqs) != 4 || seqs[0] != 1 || seqs[3] != 4 {
		t.Fatalf("frames %v, want 1 2 3 and the exit frame 4", seqs)
	}
}

// followThroughRecover writes whole log frames 1..whole, then the first `cut` bytes of a big
// frame (the write that hit the full disk), lets a reader follow the spool until it holds them,
// has the writer Recover (cutting the partial frame away) and append the exit frame, and
// returns the seqs the reader saw (-1 for an error).
func followThroughRecover(t *testing.T, whole int64, cut int) []int64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= whole; i++ {
		w.Append(logFrame(i))
	}
	w.Flush()
	big := &protocol.Frame{Type: protocol.TypeLog, Seq: whole + 1, Stream: "stdout", Ts: 1, Data: make([]byte, 60000)}
	b, _ := big.EncodeAs(protocol.ProtocolBinary)
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(b[:cut])
	f.Close()
	var alive atomic.Bool
	alive.Store(true)
	got := make(chan []int64, 1)
	go func() {
		var seqs []int64
		_, err := Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond, Alive: alive.Load}, func(_ []byte, _ int, f *protocol.Frame) error {
			seqs = append(seqs, f.Seq)
			return nil
		})
		if err != nil {
			seqs = append(seqs, -1)
		}
		got <- seqs
	}()
	time.Sleep(30 * time.Millisecond) // the reader has the whole frames and part of the big one
	if last, err := w.Recover(); err != nil || last != whole {
		t.Fatalf("Recover: %d %v", last, err)
	}
	w.Append(exitFrame(whole + 1))
	w.Close()
	alive.Store(false)
	select {
	case s := <-got:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("the reader never saw the exit frame")
		return nil
	}
}

// A reader that already read part of a frame the writer then cut away (Recover after a full
// disk) reads again from its last whole frame and gets the exit frame that follows the cut.
func TestFollowAfterRecoverCut(t *testing.T) {
	if s := followThroughRecover(t, 3, 30000); len(s) != 4 || s[3] != 4 {
		t.Fatalf("frames %v, want 1 2 3 and the exit frame 4", s)
	}
}

// The same when the cut-away part was shorter than what the writer appended after the cut:
// the file is not shorter than what the reader read, and only the writer's end tells.
func TestFollowAfterShortRecoverCut(t *testing.T) {
	if s := followThroughRecover(t, 1, protocol.HeaderLen+6); len(s) != 2 || s[1] != 2 {
		t.Fatalf("frames %v, want 1 and the exit frame 2", s)
	}
}

// A ready frame is serve's, written to its channel only: no spool takes one,
// and a spool file holding one is corrupt (attach never forwards it).
func TestReadyFrameNeverSpooled(t *testing.T) {
	ready := &protocol.Frame{Type: protocol.TypeReady}
	if err := NewBuffer(1 << 20).Append(ready); err == nil {
		t.Error("Buffer took a ready frame")
	}
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(ready); err == nil {
		t.Error("Writer took a ready frame")
	}
	w.Close()
	for name, enc := range map[string]int{"frames.spool": protocol.ProtocolBinary, "frames.ndjson": protocol.ProtocolJSON} {
		var b []byte
		for _, f := range []*protocol.Frame{logFrame(1), ready, exitFrame(2)} {
			e, _ := f.EncodeAs(enc)
			b = append(b, e...)
		}
		path := filepath.Join(dir, name)
		os.WriteFile(path, b, 0o600)
		var seen []string
		_, err := Follow(context.Background(), path, FollowOptions{From: 1, Alive: func() bool { return false }}, func(_ []byte, _ int, f *protocol.Frame) error {
			seen = append(seen, f.Type)
			return nil
		})
		if err == nil || len(seen) != 1 {
			t.Errorf("%s: followed %v, err %v", name, seen, err)
		}
	}
}
