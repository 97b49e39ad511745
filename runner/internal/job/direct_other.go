//go:build !linux

package job

import (
	"errors"
	"os"

	"github.com/cronium/desktop/runner/internal/spool"
)

// directOutput: the mover needs Linux's splice(2) and FIONREAD on pipes.
const directOutput = false

// mover is Linux-only (direct_linux.go); Direct is false elsewhere.
type mover struct {
	events chan moveEvent
	seq    int64
}

func rawPipe() (*os.File, *os.File, error) { return os.Pipe() }

func newMover(spool.Channel, []*stream, int64) (*mover, error) {
	return nil, errors.New("output is moved straight to the channel on Linux only")
}

func (m *mover) start()    {}
func (m *mover) abandon()  {}
func (m *mover) wait()     {}
func (m *mover) closeFds() {}
