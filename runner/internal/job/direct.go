package job

import "github.com/cronium/desktop/runner/internal/protocol"

// Direct reports whether Supervise moves p's output straight from the
// script's pipes to a spool.Channel (a mover) instead of reading and framing
// it here: on Linux, for a payload whose output is passed on untouched. Mask
// values are replaced at the source, a pty has no pipe to splice from, and an
// elevated run's stderr is sudo's as well as the script's until the wrapper's
// marker: those runs read and frame their output as always.
func Direct(p *protocol.Payload) bool {
	return directOutput && len(p.Mask) == 0 && !p.Pty && p.Elevation == nil
}

// moveEvent is what a mover tells the supervisor: one of a stream's end, the
// output cap reached (the frame going out now is the last) or the channel lost.
type moveEvent struct {
	eof    string
	capped bool
	err    error
}
