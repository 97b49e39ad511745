//go:build !linux

package job

import (
	"errors"
	"os"
)

// openPty is implemented for Linux only so far.
func openPty() (master, slave *os.File, err error) {
	return nil, nil, errors.New("pty runs are supported on Linux only")
}
