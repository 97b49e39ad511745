package helper

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// ErrChannelGone is what a send function returns once the app's channel is closed.
var ErrChannelGone = errors.New("the app's channel is gone")

// InBand forwards calls as helper frames on the runner's own stdout and
// matches the app's helper-reply control frames to them by id. Several calls
// may be in flight; ids count from 1 per run.
type InBand struct {
	// Send writes one frame through the run's serialized frame writer.
	send func(*protocol.Frame) error
	// Timeout bounds the wait for a reply; CallTimeout when zero.
	Timeout time.Duration

	mu      sync.Mutex
	next    int64
	pending map[int64]chan Response
	gone    chan struct{}
	closed  bool
	unknown atomic.Int64
}

// NewInBand returns an in-band forwarder writing frames with send.
func NewInBand(send func(*protocol.Frame) error) *InBand {
	return &InBand{send: send, pending: map[int64]chan Response{}, gone: make(chan struct{})}
}

const inBandHint = "the run lost its connection to the app (a detached run outlives it); the app answers again once it reattaches"

// Call writes a helper frame and waits for its reply.
func (b *InBand) Call(op, token string, body json.RawMessage) Response {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return Fail(statusUnavailable, CodeUnavailable, "the app's channel to this run is gone", inBandHint)
	}
	b.next++
	id := b.next
	ch := make(chan Response, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.pending, id)
		b.mu.Unlock()
	}()

	if err := b.send(&protocol.Frame{Type: protocol.TypeHelper, ID: id, Op: op, Token: token, Body: body}); err != nil {
		return Fail(statusUnavailable, CodeUnavailable, "cannot write to the app's channel: "+err.Error(), inBandHint)
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = CallTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res
	case <-b.gone:
		return Fail(statusUnavailable, CodeUnavailable, "the app's channel closed before it answered", inBandHint)
	case <-timer.C:
		return Fail(504, CodeTimeout, fmt.Sprintf("the app did not answer within %s", timeout), "the app may be busy or the link slow; try again")
	}
}

// Deliver hands a helper-reply frame to the call waiting for it; replies to
// ids nobody waits for (answered, timed out, never sent) are counted and dropped.
func (b *InBand) Deliver(f *protocol.Frame) {
	b.mu.Lock()
	ch, ok := b.pending[f.ID]
	if ok {
		delete(b.pending, f.ID)
	}
	b.mu.Unlock()
	if !ok {
		b.unknown.Add(1)
		return
	}
	ch <- Response{Status: int(f.Status), Body: append(json.RawMessage(nil), f.Body...)}
}

// Unknown is how many replies matched no call in flight.
func (b *InBand) Unknown() int64 { return b.unknown.Load() }

// Close marks the channel gone: calls in flight and every later call answer
// 503 HELPER_UNAVAILABLE at once.
func (b *InBand) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.gone)
	}
}
