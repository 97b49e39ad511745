//go:build linux

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// residentSupported: serve and run --resident need /proc/self/exe.
const residentSupported = true

// residentRecord is the stat record of the running executable, its directory
// and the directory above (the cache root), one statLine each. The first is
// the inode this process runs from (stat of /proc/self/exe); the path
// os.Executable names must still be that inode (lstat: same device and inode),
// else the binary at the path was replaced (errReplaced).
func residentRecord() ([3]string, error) {
	var rec [3]string
	var exe syscall.Stat_t
	if err := syscall.Stat("/proc/self/exe", &exe); err != nil {
		return rec, fmt.Errorf("stat /proc/self/exe: %w", err)
	}
	path, err := os.Executable()
	if err != nil {
		return rec, err
	}
	var at syscall.Stat_t
	if err := syscall.Lstat(path, &at); err != nil {
		return rec, fmt.Errorf("%w: %s: %v", errReplaced, path, err)
	}
	if uint64(at.Dev) != uint64(exe.Dev) || uint64(at.Ino) != uint64(exe.Ino) {
		return rec, fmt.Errorf("%w: %s is no longer the running binary", errReplaced, path)
	}
	rec[0] = formatStat(&exe)
	dir := filepath.Dir(path)
	for i, p := range []string{dir, filepath.Dir(dir)} {
		line, err := statLine(p)
		if err != nil {
			return rec, fmt.Errorf("%w: %v", errReplaced, err)
		}
		rec[i+1] = line
	}
	return rec, nil
}

// statLine is lstat(path) as GNU `stat -c '%d:%i:%s:%.9Y:%.9Z:%u:%a'` prints it.
func statLine(path string) (string, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return "", &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return formatStat(&st), nil
}

func formatStat(st *syscall.Stat_t) string {
	b := make([]byte, 0, 96)
	b = strconv.AppendUint(b, uint64(st.Dev), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Ino), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(st.Size), 10)
	b = append(b, ':')
	b = appendTime(b, int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
	b = append(b, ':')
	b = appendTime(b, int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Uid), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(st.Mode&0o7777), 8)
	return string(b)
}

// appendTime writes a timespec as GNU stat's %.9Y does: seconds, a dot and nine
// digits of nanoseconds; before 1970 the value as a whole is negative
// ({-2, 500000000} is "-1.500000000").
func appendTime(b []byte, sec, nsec int64) []byte {
	if sec < 0 && nsec > 0 {
		sec, nsec = sec+1, 1e9-nsec
		if sec == 0 {
			b = append(b, '-')
		}
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	ns := strconv.AppendInt(nil, nsec, 10)
	for i := len(ns); i < 9; i++ {
		b = append(b, '0')
	}
	return append(b, ns...)
}
