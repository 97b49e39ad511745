//go:build !linux

package cli

import "errors"

// residentSupported: serve and run --resident need Linux's /proc/self/exe.
const residentSupported = false

func residentRecord() ([3]string, error) {
	return [3]string{}, errors.New("a resident runner needs Linux")
}
