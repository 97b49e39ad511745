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
		last, err := Follow(context.Background(), path, FollowOptions{From: from, Poll: time.Millisecond}, func(_ []byte, f *protocol.Frame) error {
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

func TestFollowPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	f, _ := os.Create(path)
	b, _ := logFrame(1).Encode()
	e, _ := exitFrame(2).Encode()
	f.Write(b[:10])
	done := make(chan []int64)
	go func() {
		var got []int64
		Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond}, func(_ []byte, f *protocol.Frame) error {
			got = append(got, f.Seq)
			return nil
		})
		done <- got
	}()
	time.Sleep(20 * time.Millisecond)
	f.Write(append(b[10:], '\n'))
	time.Sleep(5 * time.Millisecond)
	f.Write(append(e, '\n'))
	f.Close()
	if got := <-done; len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("got %v", got)
	}
}

func TestFollowWriterGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	w, _ := Create(path)
	w.Append(logFrame(1))
	w.Close()
	var alive atomic.Bool
	_, err := Follow(context.Background(), path, FollowOptions{Poll: time.Millisecond, Alive: alive.Load}, func([]byte, *protocol.Frame) error { return nil })
	if !errors.Is(err, ErrWriterGone) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := Follow(ctx, path, FollowOptions{Poll: time.Millisecond}, func([]byte, *protocol.Frame) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}
