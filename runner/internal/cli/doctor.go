package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/version"
)

// Doctor is the JSON `cronium-runner doctor` prints: what this host lets the runner do.
type Doctor struct {
	Version      version.Info           `json:"version"`
	OS           string                 `json:"os"`
	Arch         string                 `json:"arch"`
	Rlimits      map[string]RlimitInfo  `json:"rlimits"`
	SystemdRun   SystemdInfo            `json:"systemdRun"`
	CgroupV2     bool                   `json:"cgroupV2"`
	Pty          bool                   `json:"pty"`
	Interpreters map[string]Interpreter `json:"interpreters"`
	StateDir     StateDirInfo           `json:"stateDir"`
}

// RlimitInfo is one resource limit of the runner's own process; -1 is unlimited.
type RlimitInfo struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// SystemdInfo says whether `systemd-run --user --scope` works here.
type SystemdInfo struct {
	Path   string `json:"path,omitempty"`
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"`
}

// Interpreter is where an interpreter is and which version it is.
type Interpreter struct {
	Found   bool   `json:"found"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
}

// StateDirInfo is whether the state dir can hold runs and execute files.
type StateDirInfo struct {
	Path     string `json:"path"`
	Writable bool   `json:"writable"`
	Exec     bool   `json:"exec"`
	Reason   string `json:"reason,omitempty"`
}

func runDoctor(args []string, stdout, stderr io.Writer) int {
	f, pos, code, ok := parseFlags("doctor", args, stderr, false)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fail(stderr, "INVALID_INPUT", "doctor takes no arguments")
	}
	d := Doctor{Version: version.Current(), OS: runtime.GOOS, Arch: runtime.GOARCH, Rlimits: rlimits(), Interpreters: map[string]Interpreter{}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range protocol.Interpreters {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			it := probeInterpreter(name)
			mu.Lock()
			d.Interpreters[name] = it
			mu.Unlock()
		}(name)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.SystemdRun = probeSystemd()
	}()
	d.CgroupV2 = fileExists("/sys/fs/cgroup/cgroup.controllers")
	d.Pty = runtime.GOOS == "linux" && fileExists("/dev/ptmx")
	d.StateDir = probeStateDir(f.stateDir)
	wg.Wait()
	b, err := json.Marshal(d)
	if err != nil {
		return fail(stderr, "INTERNAL", err.Error())
	}
	stdout.Write(append(b, '\n'))
	return ExitOK
}

func rlimits() map[string]RlimitInfo {
	out := map[string]RlimitInfo{}
	for name, r := range map[string]int{"cpu": syscall.RLIMIT_CPU, "as": syscall.RLIMIT_AS, "nofile": syscall.RLIMIT_NOFILE} {
		var l syscall.Rlimit
		if syscall.Getrlimit(r, &l) != nil {
			continue
		}
		out[name] = RlimitInfo{Soft: limitInt(uint64(l.Cur)), Hard: limitInt(uint64(l.Max))}
	}
	return out
}

func limitInt(v uint64) int64 {
	if v > 1<<62 {
		return -1
	}
	return int64(v)
}

func probeInterpreter(name string) Interpreter {
	path, err := lookPathIn(name, os.Getenv("PATH"))
	if err != nil {
		return Interpreter{}
	}
	it := Interpreter{Found: true, Path: path}
	if name == "sh" {
		return it // POSIX sh has no portable --version
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	if err == nil {
		first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		it.Version = strings.TrimSpace(first)
	}
	return it
}

var (
	systemdOnce sync.Once
	systemdInfo SystemdInfo
)

// probeSystemd runs a trivial command in a user scope: the only reliable test
// (the binary exists on many hosts without a user manager).
func probeSystemd() SystemdInfo {
	systemdOnce.Do(func() {
		path, err := exec.LookPath("systemd-run")
		if err != nil {
			systemdInfo = SystemdInfo{Reason: "systemd-run not found"}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, path, "--user", "--scope", "--quiet", "--collect", "--", "true").CombinedOutput()
		if err != nil {
			reason := strings.TrimSpace(string(bytes.TrimSpace(out)))
			if reason == "" {
				reason = err.Error()
			}
			systemdInfo = SystemdInfo{Path: path, Reason: truncateMsg(reason)}
			return
		}
		systemdInfo = SystemdInfo{Path: path, Usable: true}
	})
	return systemdInfo
}

// systemdUsable says whether a run should use a systemd scope: only when it
// has a memory limit (cpuSeconds and openFiles are rlimits either way).
func systemdUsable(p *protocol.Payload) bool {
	return p.Limits.MemoryBytes != nil && probeSystemd().Usable
}

func probeStateDir(dir string) StateDirInfo {
	info := StateDirInfo{Path: dir}
	if err := ensurePrivateDir(dir); err != nil {
		info.Reason = err.Error()
		return info
	}
	tmp, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		info.Reason = err.Error()
		return info
	}
	info.Writable = true
	name := tmp.Name()
	defer os.Remove(name)
	_, _ = tmp.WriteString("#!/bin/sh\nexit 0\n")
	tmp.Close()
	if err := os.Chmod(name, 0o700); err != nil {
		info.Reason = err.Error()
		return info
	}
	if err := exec.Command(name).Run(); err != nil {
		info.Reason = "cannot execute files here (noexec mount?): " + err.Error()
		return info
	}
	info.Exec = true
	return info
}

func fileExists(p string) bool {
	_, err := os.Stat(filepath.Clean(p))
	return err == nil
}

func decodeBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
