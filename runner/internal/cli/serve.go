package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
)

// A resident runner: `serve` holds one SSH channel and runs its runs one after
// another, each in a child `run --resident REC` started from the very inode
// serve runs from (/proc/self/exe). Between runs it writes a ready frame: the
// app sends the next envelope only after reading it. serve itself never reads
// stdin; each child inherits the channel's stdin and stdout as they are.
//
// REC is the resident record (residentRecord) taken when serve started, right
// after the shell's stat check of the binary passed: each child takes it again
// after reading its envelope and before anything else, and refuses the run
// with RUNNER_CHANGED when any of its lines differs.

// errReplaced: the binary's path no longer names the running inode (renamed
// over, removed), or a directory of the record is gone.
var errReplaced = errors.New("the runner's binary was replaced")

// residentSep joins the record's three lines in the --resident flag.
const residentSep = ";"

// residentWhat names what each line of the record is of, for RUNNER_CHANGED.
var residentWhat = [3]string{"binary", "version directory", "cache directory"}

func runServe(args []string, stdout, stderr io.Writer) int {
	f, pos, code, ok := parseFlags("serve", args, stderr, true)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fail(stderr, "INVALID_INPUT", "serve takes no arguments: the payloads are read from stdin")
	}
	out, isFile := stdout.(*os.File)
	if !isFile {
		return fail(stderr, "INTERNAL", "serve: stdout must be a file")
	}
	w := newWire(out, f.protocol)
	if !residentSupported {
		errorFrame(w, "INTERNAL", "serve needs Linux; use run")
		return ExitUsage
	}
	// The state dir (by default in the cache root) exists before the record is
	// taken: its creation by the first run must not read as a change of the root.
	if err := ensurePrivateDir(f.stateDir); err != nil {
		return errorFrame(w, "INTERNAL", "state dir: "+err.Error())
	}
	rec, err := residentRecord()
	if err != nil {
		if errors.Is(err, errReplaced) || errors.Is(err, fs.ErrNotExist) {
			errorFrame(w, "RUNNER_CHANGED", err.Error())
			return ExitInternal
		}
		return errorFrame(w, "INTERNAL", "resident record: "+err.Error())
	}
	return serveLoop(f, strings.Join(rec[:], residentSep), out)
}

// serveLoop starts a child, says ready (with the status of the child before
// it, if any), waits for the child, and again, until a child finds stdin ended
// before any envelope (ExitNoPayload), stdout is gone, or a signal says stop.
// The next child is started before ready is written: its start overlaps the
// app's turn. No child writes before it has read an envelope, and the app
// sends one only after ready, so ready is never written beside a child's frames.
func serveLoop(f runFlags, rec string, out *os.File) int {
	var stop atomic.Bool
	sigs := make(chan os.Signal, 4)
	// With SIGPIPE notified, a write to a closed stdout returns EPIPE instead of killing serve.
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s != syscall.SIGPIPE {
				// The children are in serve's process group and get their own.
				stop.Store(true)
			}
		}
	}()
	args := []string{"run", "--key", f.key, "--host-id", f.hostID, "--state-dir", f.stateDir,
		"--protocol", fmt.Sprint(protocol.ProtocolBinary), "--resident", rec}
	ready := &protocol.Frame{Type: protocol.TypeReady}
	for {
		// /proc/self/exe: the kernel execs the inode serve runs from, even if the path now names another.
		cmd := exec.Command("/proc/self/exe", args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, out, os.Stderr
		if err := cmd.Start(); err != nil {
			return errorFrame(&wire{Writer: out, proto: protocol.ProtocolBinary}, "INTERNAL", "starting a run: "+err.Error())
		}
		b, err := ready.AppendBinary(nil)
		if err == nil {
			_, err = out.Write(b)
		}
		if err != nil {
			// The channel is gone: the child has no envelope (the app sends one after ready).
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			return ExitOK
		}
		if err := cmd.Wait(); cmd.ProcessState == nil {
			return errorFrame(&wire{Writer: out, proto: protocol.ProtocolBinary}, "INTERNAL", "waiting for a run: "+err.Error())
		}
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if ws.Exited() && ws.ExitStatus() == ExitNoPayload {
			return ExitOK
		}
		if stop.Load() {
			return ExitOK
		}
		ready = readyFrame(ws)
	}
}

// readyFrame is the ready frame after a run whose process ended with ws.
func readyFrame(ws syscall.WaitStatus) *protocol.Frame {
	f := &protocol.Frame{Type: protocol.TypeReady}
	if ws.Signaled() {
		name := job.SignalName(ws.Signal())
		f.Signal = &name
	} else {
		code := int64(ws.ExitStatus())
		f.Code = &code
	}
	return f
}

// errNoEnvelope: stdin ended before an envelope line.
var errNoEnvelope = errors.New("no payload on stdin")

// residentEnvelope reads a resident run's envelope: control lines before it
// (a cancel or helper reply that came late for the run before) are skipped.
func residentEnvelope(in *bufio.Reader) ([]byte, error) {
	for {
		line, err := readLine(in, protocol.MaxEnvelopeBytes)
		if err != nil {
			return nil, err
		}
		if _, cerr := protocol.DecodeControl(bytes.TrimSpace(line)); cerr == nil {
			continue
		}
		return line, nil
	}
}

// residentChanged compares the running binary's record with the one serve
// took (the --resident flag) and says what differs, or "" when nothing does.
func residentChanged(flag string) string {
	want := strings.Split(flag, residentSep)
	rec, err := residentRecord()
	if err != nil {
		if errors.Is(err, errReplaced) {
			return "the runner's binary changed on the host since this channel verified it (" + err.Error() + ")"
		}
		return "the runner's binary cannot be checked: " + err.Error()
	}
	for i, line := range rec {
		if i >= len(want) || want[i] != line {
			return fmt.Sprintf("the runner's %s changed on the host since this channel verified it", residentWhat[i])
		}
	}
	if len(want) != len(rec) {
		return "the resident record has " + fmt.Sprint(len(want)) + " lines, not 3"
	}
	return ""
}
