package spool

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// bigLog is a log frame of n bytes whose data says its seq.
func bigLog(seq int64, n int) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeLog, Seq: seq, Stream: "stdout", Ts: 1, Data: bytes.Repeat([]byte{byte(seq)}, n)}
}

// follow reads b to its end in the background; gate, when set, holds the
// reader before each frame until it is closed.
func follow(b *Buffer, gate <-chan struct{}) <-chan []int64 {
	got := make(chan []int64, 1)
	go func() {
		var seqs []int64
		last, err := b.Follow(context.Background(), FollowOptions{Poll: time.Millisecond}, func(raw []byte, proto int, f *protocol.Frame) error {
			if gate != nil {
				<-gate
			}
			if proto != protocol.ProtocolBinary || (f.Type == protocol.TypeLog && (len(f.Data) == 0 || f.Data[0] != byte(f.Seq))) {
				seqs = append(seqs, -f.Seq)
			} else {
				seqs = append(seqs, f.Seq)
			}
			return nil
		})
		if err != nil || last == nil || last.Type != protocol.TypeExit {
			seqs = append(seqs, -1)
		}
		got <- seqs
	}()
	return got
}

func inOrder(t *testing.T, seqs []int64, n int64) {
	t.Helper()
	if int64(len(seqs)) != n {
		t.Fatalf("got %d frames, want %d: ...%v", len(seqs), n, seqs[max(0, len(seqs)-5):])
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("frame %d is %d (negative: bad data, -1: no exit frame)", i+1, s)
		}
	}
}

// A reader that keeps up gets every frame, in order, and the writer is never held.
func TestBufferInOrder(t *testing.T) {
	b := NewBuffer(1 << 20)
	got := follow(b, nil)
	for i := int64(1); i <= 2000; i++ {
		if err := b.Append(bigLog(i, 1000)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			b.Flush()
			// 10 KB per flush never comes near the 1 MiB budget once the reader has caught up.
			for b.backlog() > 256<<10 {
				time.Sleep(time.Millisecond)
			}
			if b.Wait() != nil {
				t.Fatalf("held back at frame %d with %d bytes queued", i, b.backlog())
			}
		}
	}
	b.Append(exitFrame(2001))
	b.Close()
	inOrder(t, <-got, 2001)
}

// A reader held back: once the budget is queued Wait holds the writer, and
// fires when the reader has made room; nothing is lost or reordered.
func TestBufferWaitsAtBudget(t *testing.T) {
	const budget = 1 << 20
	b := NewBuffer(budget)
	gate := make(chan struct{})
	got := follow(b, gate)
	seq := int64(0)
	for b.Wait() == nil {
		seq++
		b.Append(bigLog(seq, 60_000))
		if seq > 100 {
			t.Fatalf("not held after %d bytes", b.backlog())
		}
	}
	held := b.backlog()
	if held < budget || held > budget+flushAt+protocol.MaxLogData+protocol.HeaderLen {
		t.Fatalf("held at %d bytes, budget %d", held, budget)
	}
	room := b.Wait()
	select {
	case <-room:
		t.Fatal("room while the reader is stalled")
	case <-time.After(50 * time.Millisecond):
	}
	close(gate)
	select {
	case <-room:
	case <-time.After(5 * time.Second):
		t.Fatal("no room after the reader went on")
	}
	for b.Wait() != nil {
		<-b.Wait()
	}
	b.Append(bigLog(seq+1, 10))
	b.Append(exitFrame(seq + 2))
	b.Close()
	inOrder(t, <-got, seq+2)
}

// A writer that closes without an exit frame: the reader drains and is told.
func TestBufferWriterGone(t *testing.T) {
	b := NewBuffer(1 << 20)
	b.Append(logFrame(1))
	b.Close()
	n := 0
	_, err := b.Follow(context.Background(), FollowOptions{}, func([]byte, int, *protocol.Frame) error { n++; return nil })
	if !errors.Is(err, ErrWriterGone) || n != 1 {
		t.Fatalf("got %d frames, %v", n, err)
	}
}

func (b *Buffer) backlog() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.memBytes
}
