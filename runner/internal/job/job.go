// Package job runs one verified payload's script and turns its life into
// frames: it starts the interpreter in its own session and process group
// with the run's limits, takes its output to the spool, enforces the
// timeout, output cap and cancellation, and writes the exit frame.
//
// Output takes one of two paths:
//   - Read and framed (every run but the one below): a reader per pipe reads
//     up to 256 KiB at a time into a bounded queue (16 reads); one loop masks,
//     caps and frames it (bytes read within coalesceWait share a frame) and
//     appends the frames to the sink. A detached run's sink is its spool file,
//     which never pushes back; a foreground run's is an in-memory Buffer,
//     whose Wait holds the pipes back once its reader is a budget behind.
//   - Moved (Linux, a foreground run in protocol 4 whose output is passed on
//     untouched: no mask, no pty, no elevation; see Direct): the sink is the
//     app's channel itself (spool.Channel), and a mover splices each frame's
//     bytes from the script's pipe to it behind a header it writes, so the
//     bytes never pass through this process. The channel's own pace is the
//     backpressure. See mover.
//
// Invariants guarded here:
//   - Output past maxOutputBytes is never framed: the frame that reaches the
//     cap is cut to it, the rest is read and discarded while the run is
//     stopped with reason output-limit.
//   - Timeouts, cancels and the leader's exit act on time whatever the link
//     does: only the goroutines that move output wait for it, never the loop
//     that stops the script.
//   - The whole process group is gone when Supervise returns: on cancel,
//     timeout, output-limit, or after the leader exits, the group gets TERM,
//     then KILL once the grace period has passed; killedWith records whether a
//     stop needed TERM or KILL.
//   - seq is strictly increasing over log and exit frames, starting at 1, and
//     the exit frame follows the last log frame.
//   - The payload's mask values never reach the spool: each stream goes
//     through its own masker (package mask) before it is framed, so a secret
//     split across writes or reads is masked too; a held-back tail is framed
//     when the next read or the stream's end decides it.
package job

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cronium/desktop/runner/internal/mask"
	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/spool"
)

// PipeBytes is the pipe buffer asked for the script's output (and the runner's stdout).
const PipeBytes = 1 << 20

// readBytes is the most one read of the script's output takes (split into log
// frames of at most MaxLogData); queueChunks of them wait for the supervisor.
const (
	readBytes   = 256 << 10
	queueChunks = 16
)

// Spec is everything Supervise needs to run one payload.
type Spec struct {
	Payload *protocol.Payload
	// Interpreter is the resolved path of Payload.Interpreter.
	Interpreter string
	// Script is the path of the script file.
	Script string
	// Dir is the working directory of the script.
	Dir string
	// Self is the runner binary, re-executed as `exec-limited` to apply rlimits.
	Self string
	// Systemd wraps the script in `systemd-run --user --scope` for memoryBytes.
	Systemd bool
	// BaseEnv is the environment the payload's env is laid over.
	BaseEnv []string
	// Env, when set, is the script's whole environment instead of
	// Environ(BaseEnv, Payload) (the caller added the helper variables).
	Env []string
	// Stdin is a file given to the script as stdin (the job input); /dev/null when empty.
	Stdin string
}

// Supervise runs spec, appending log frames and finally the exit frame to out;
// a reason received on cancel (cancelled or disconnected) stops the run.
func Supervise(spec Spec, out spool.Sink, cancel <-chan string) (*protocol.Frame, error) {
	lim := spec.Payload.Limits
	argv, limiter := command(spec)
	env := spec.Env
	if env == nil {
		env = Environ(spec.BaseEnv, spec.Payload)
	}
	var el *elevation
	if spec.Payload.Elevation != nil {
		el, argv = newElevation(spec.Payload.Elevation, argv, spec.Stdin, lim.GraceMs, env, spec.Payload.Env)
		if _, err := exec.LookPath(argv[0]); err != nil {
			return notElevated(out, argv[0])
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = spec.Dir
	if el != nil {
		// sudo's stdin: the password (on its prompt), then the wrapper's environment.
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		cmd.Stdin = r
		el.stdin = w
		defer el.closeStdin()
	} else if spec.Stdin != "" {
		in, err := os.Open(spec.Stdin)
		if err != nil {
			return nil, err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}

	// Output moved straight to the channel (see mover), or read and framed here.
	ch, direct := out.(spool.Channel)
	direct = direct && Direct(spec.Payload)
	newPipe := os.Pipe // read through the runtime's poller
	if direct {
		newPipe = rawPipe
	}
	var readers []*stream
	var childEnds []*os.File
	if spec.Payload.Pty {
		master, slave, err := openPty()
		if err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = slave, slave
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 1
		readers = append(readers, &stream{name: "stdout", r: master, pty: true})
		childEnds = append(childEnds, slave)
	} else {
		for _, name := range []string{"stdout", "stderr"} {
			r, w, err := newPipe()
			if err != nil {
				return nil, err
			}
			GrowPipe(r, PipeBytes)
			readers = append(readers, &stream{name: name, r: r})
			childEnds = append(childEnds, w)
		}
		cmd.Stdout, cmd.Stderr = childEnds[0], childEnds[1]
	}
	var mv *mover
	if direct {
		m, err := newMover(ch, readers, lim.OutputCap())
		if err != nil {
			for i, s := range readers {
				s.r.Close()
				childEnds[i].Close()
			}
			return nil, err
		}
		mv = m
	}
	start := time.Now()
	err := cmd.Start()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		for _, s := range readers {
			s.r.Close()
		}
		if mv != nil {
			mv.closeFds()
		}
		return nil, fmt.Errorf("starting %s: %w", spec.Payload.Interpreter, err)
	}
	pgid := cmd.Process.Pid
	if el != nil {
		el.begin()
	}

	chunks := make(chan chunk, queueChunks)
	// The pumps' read buffers, handed back once a chunk is framed (framing copies it).
	bufs := make(chan []byte, queueChunks+len(readers))
	maskers := make(map[string]*mask.Masker, len(readers))
	var moved <-chan moveEvent
	if mv != nil {
		// Output goes from the pipes to the channel without passing through here.
		moved = mv.events
		mv.start()
	} else {
		for _, s := range readers {
			maskers[s.name] = mask.New(spec.Payload.Mask) // nil (pass-through) without secrets
			go s.pump(chunks, bufs)
		}
	}
	waited := make(chan *os.ProcessState, 1)
	go func() {
		// Wait's error only repeats what ProcessState says.
		_ = cmd.Wait()
		waited <- cmd.ProcessState
	}()

	var (
		seq        int64
		fr         = &framer{out: out}
		coalesce   = time.NewTimer(time.Hour)
		coalesceC  <-chan time.Time // armed while read bytes wait to be framed
		total      int64
		capped     bool
		reason     = protocol.ExitExited
		stopping   bool
		killedWith *string
		state      *os.ProcessState
		ended      time.Time // when the script's leader exited: the run's duration ends there
		open       = len(readers)
		timeout    = time.NewTimer(lim.Timeout())
		graceC     <-chan time.Time
		drainC     <-chan time.Time
		writeErr   error
	)
	defer timeout.Stop()
	coalesce.Stop()
	defer coalesce.Stop()
	stop := func(why string) {
		if stopping {
			return
		}
		stopping = true
		// A stop that finds the group already gone did not end the run: the
		// script did (its exit is merely not reaped yet). Truncated output is
		// reported whatever the timing.
		if why == protocol.ExitOutputLimit || why == protocol.ExitSpoolFull {
			reason = why
		}
		if groupAlive(pgid) {
			reason = why
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			term := "TERM"
			killedWith = &term
		}
		graceC = time.After(lim.Grace())
	}
	failed := func() {
		// The spool is the only record of the run: without it there is no point going on.
		if errors.Is(writeErr, syscall.ENOSPC) || errors.Is(writeErr, syscall.EDQUOT) {
			stop(protocol.ExitSpoolFull)
		} else {
			stop(protocol.ExitDisconnected)
		}
	}
	for open > 0 || state == nil {
		// Output waits in the pipes while the sink's reader is a budget behind
		// (a foreground run: the link sets the pace, as with ssh); output past
		// the cap is dropped, so it is read whatever the reader does.
		in, room := chunks, out.Wait()
		if room != nil && !capped {
			in = nil
		}
		select {
		case <-room:
		case c := <-in:
			wasCapped := capped
			var data []byte
			if c.eof {
				open--
				data = maskers[c.stream].End()
			} else {
				data = maskers[c.stream].Push(c.data)
			}
			if el != nil && c.stream == "stderr" {
				data = el.feed(data)
				if c.eof && !el.Started() {
					// sudo is gone without starting the wrapper: nothing more will come.
					el.closeStdin()
				}
			}
			if !wasCapped {
				if left := lim.OutputCap() - total; int64(len(data)) > left {
					data, capped = data[:left], true
				}
				total += int64(len(data))
				if writeErr == nil {
					writeErr = fr.add(c.stream, data)
				}
				if c.eof && writeErr == nil {
					writeErr = fr.frame()
				}
			}
			if c.data != nil {
				select {
				case bufs <- c.data[:cap(c.data)]:
				default:
				}
			}
			if wasCapped {
				continue
			}
			if len(chunks) == 0 && writeErr == nil {
				// Nothing else read yet: whole frames go out now, the rest within coalesceWait.
				if fr.pending() && coalesceC == nil {
					coalesce.Reset(coalesceWait)
					coalesceC = coalesce.C
				}
				writeErr = out.Flush()
			}
			if capped {
				stop(protocol.ExitOutputLimit)
			}
			if writeErr != nil {
				failed()
			}
		case ev := <-moved:
			switch {
			case ev.eof != "":
				open--
			case ev.capped:
				capped = true
				stop(protocol.ExitOutputLimit)
			case writeErr == nil:
				writeErr = ev.err
				failed()
			}
		case <-coalesceC:
			coalesceC = nil
			if writeErr == nil {
				if writeErr = fr.frame(); writeErr == nil {
					writeErr = out.Flush()
				}
				if writeErr != nil {
					failed()
				}
			}
		case why := <-cancel:
			stop(why)
		case <-timeout.C:
			stop(protocol.ExitTimeout)
		case <-graceC:
			graceC = nil
			if groupAlive(pgid) {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				if stopping {
					k := "KILL"
					killedWith = &k
				}
			}
		case st := <-waited:
			state, ended = st, time.Now()
			// The leader's exit ends the run: whatever it left behind in its
			// group goes too, and pipes held open by escaped descendants are
			// abandoned after the grace period rather than waited on forever.
			if !stopping && groupAlive(pgid) {
				_ = syscall.Kill(-pgid, syscall.SIGTERM)
				graceC = time.After(lim.Grace())
			}
			drainC = time.After(lim.Grace() + time.Second)
		case <-drainC:
			drainC = nil
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			if mv != nil {
				mv.abandon()
				continue
			}
			for _, s := range readers {
				s.r.Close()
			}
		}
	}
	if mv != nil {
		mv.wait() // it sent its last event after its last frame: this is quick
	}
	for _, s := range readers {
		s.r.Close()
	}
	if writeErr == nil {
		writeErr = fr.frame()
	}
	seq = fr.seq
	if mv != nil {
		seq = mv.seq
	}
	// Stragglers without pipes (e.g. `sleep 100 >/dev/null &`) may remain.
	reapGroup(pgid, graceC, &killedWith, stopping)

	if writeErr != nil {
		// A full file system: the reserve makes room for the exit frame, which
		// follows the last frame that was written whole.
		last, err := out.Recover()
		if err != nil {
			return nil, err
		}
		seq = last
	}
	f := exitFrame(state, ended.Sub(start))
	seq++
	f.Seq, f.Reason, f.KilledWith, f.Limiter = seq, reason, killedWith, limiter
	if el != nil && !el.Started() && reason == protocol.ExitExited {
		f.Reason, f.Detail = protocol.ExitElevationFailed, el.Detail()
	}
	if err := out.Append(f); err != nil {
		return f, err
	}
	return f, out.Flush()
}

// notElevated ends a run whose elevation command is not installed.
func notElevated(out spool.Sink, tool string) (*protocol.Frame, error) {
	code := int64(127)
	f := &protocol.Frame{Type: protocol.TypeExit, Seq: 1, Code: &code, Reason: protocol.ExitElevationFailed,
		Detail: tool + ": not installed on this host (not found in PATH)", Limiter: protocol.LimiterNone}
	if err := out.Append(f); err != nil {
		return f, err
	}
	return f, out.Flush()
}

// coalesceWait is the longest read bytes wait for more before they are framed.
const coalesceWait = 2 * time.Millisecond

// framer turns the script's output into log frames of up to MaxLogData bytes.
// Bytes read close together share a frame (a script that writes 8 KiB at a
// time still travels in 64 KiB frames, so every hop handles a few frames per
// MB instead of a hundred); one stream at a time, in the order read, each
// frame stamped with the time its first byte was read.
type framer struct {
	out    spool.Sink
	seq    int64
	stream string
	data   []byte // read (masked, within the cap), not framed yet
	ts     int64
}

// add takes data read from stream, framing whatever fills a frame.
func (f *framer) add(stream string, data []byte) error {
	for len(data) > 0 {
		if len(f.data) > 0 && f.stream != stream {
			if err := f.frame(); err != nil {
				return err
			}
		}
		if len(f.data) == 0 {
			f.stream, f.ts = stream, time.Now().UnixMilli()
		}
		n := min(len(data), protocol.MaxLogData-len(f.data))
		f.data = append(f.data, data[:n]...)
		data = data[n:]
		if len(f.data) == protocol.MaxLogData {
			if err := f.frame(); err != nil {
				return err
			}
		}
	}
	return nil
}

// frame appends what waits as one log frame (the sink copies it).
func (f *framer) frame() error {
	if len(f.data) == 0 {
		return nil
	}
	f.seq++
	err := f.out.Append(&protocol.Frame{Type: protocol.TypeLog, Seq: f.seq, Stream: f.stream, Ts: f.ts, Data: f.data})
	f.data = f.data[:0]
	return err
}

func (f *framer) pending() bool { return len(f.data) > 0 }

// reapGroup waits for the group to die: TERM if not yet sent, KILL at the
// grace deadline, then a bounded wait for the kernel to tear it down.
func reapGroup(pgid int, graceC <-chan time.Time, killedWith **string, stopping bool) {
	if !groupAlive(pgid) {
		return
	}
	if graceC == nil {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		graceC = time.After(time.Second)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-graceC:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			if stopping {
				k := "KILL"
				*killedWith = &k
			}
			graceC = nil
			deadline := time.Now().Add(2 * time.Second)
			for groupAlive(pgid) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			return
		case <-tick.C:
		}
	}
}

func exitFrame(state *os.ProcessState, took time.Duration) *protocol.Frame {
	f := &protocol.Frame{Type: protocol.TypeExit, DurationMs: took.Milliseconds()}
	ws, _ := state.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		name := SignalName(ws.Signal())
		f.Signal = &name
	} else {
		code := int64(ws.ExitStatus())
		f.Code = &code
	}
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok && ru != nil {
		f.Rusage = protocol.Rusage{
			UserMs:   ru.Utime.Nano() / 1e6,
			SysMs:    ru.Stime.Nano() / 1e6,
			MaxRssKb: int64(ru.Maxrss),
		}
		if runtime.GOOS == "darwin" {
			f.Rusage.MaxRssKb /= 1024 // bytes there, KiB elsewhere
		}
	}
	return f
}

// command is the argv that runs the script with its limits, and how they are enforced.
func command(spec Spec) ([]string, string) {
	lim := spec.Payload.Limits
	script := []string{spec.Interpreter, spec.Script}
	var rl []string
	if lim.CPUSeconds != nil {
		rl = append(rl, "--cpu", strconv.FormatInt(*lim.CPUSeconds, 10))
	}
	if lim.OpenFiles != nil {
		rl = append(rl, "--nofile", strconv.FormatInt(*lim.OpenFiles, 10))
	}
	useSystemd := spec.Systemd && lim.MemoryBytes != nil
	if lim.MemoryBytes != nil && !useSystemd {
		rl = append(rl, "--as", strconv.FormatInt(*lim.MemoryBytes, 10))
	}
	argv := script
	limiter := protocol.LimiterNone
	if len(rl) > 0 {
		argv = append(append(append([]string{spec.Self, "exec-limited"}, rl...), "--"), script...)
		limiter = protocol.LimiterRlimit
	}
	if useSystemd {
		argv = append([]string{"systemd-run", "--user", "--scope", "--quiet", "--collect",
			"-p", "MemoryMax=" + strconv.FormatInt(*lim.MemoryBytes, 10), "--"}, argv...)
		limiter = protocol.LimiterSystemd
	}
	return argv, limiter
}

// Environ lays the payload's env over base and adds the runner's defaults:
// unbuffered Python and the run's ids. Variables the payload sets win.
func Environ(base []string, p *protocol.Payload) []string {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok && !strings.HasPrefix(k, "CRONIUM_RUNNER_") {
			set(k, v)
		}
	}
	set("PYTHONUNBUFFERED", "1")
	set("CRONIUM_RUN_ID", p.RunID)
	set("CRONIUM_JOB_ID", p.JobID)
	if p.Pty {
		if _, ok := env["TERM"]; !ok {
			set("TERM", "xterm-256color")
		}
	}
	for k, v := range p.Env {
		set(k, v)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

type chunk struct {
	stream string
	data   []byte
	eof    bool
}

type stream struct {
	name string
	r    *os.File
	pty  bool
}

// pump reads until EOF; every chunk is a buffer of its own (from bufs, which
// the supervisor refills once it has framed a chunk) of at most readBytes.
func (s *stream) pump(out chan<- chunk, bufs chan []byte) {
	for {
		var buf []byte
		select {
		case buf = <-bufs:
		default:
			buf = make([]byte, readBytes)
		}
		n, err := s.r.Read(buf)
		if n > 0 {
			out <- chunk{stream: s.name, data: buf[:n]}
		}
		if err != nil {
			// A pty master reads EIO once the last slave fd closes: that is its EOF.
			if err != io.EOF && !(s.pty && errors.Is(err, syscall.EIO)) && !errors.Is(err, os.ErrClosed) {
				fmt.Fprintf(os.Stderr, "cronium-runner: reading %s: %v\n", s.name, err)
			}
			out <- chunk{stream: s.name, eof: true}
			return
		}
	}
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT", syscall.SIGILL: "ILL",
	syscall.SIGTRAP: "TRAP", syscall.SIGABRT: "ABRT", syscall.SIGBUS: "BUS", syscall.SIGFPE: "FPE",
	syscall.SIGKILL: "KILL", syscall.SIGUSR1: "USR1", syscall.SIGSEGV: "SEGV", syscall.SIGUSR2: "USR2",
	syscall.SIGPIPE: "PIPE", syscall.SIGALRM: "ALRM", syscall.SIGTERM: "TERM", syscall.SIGCHLD: "CHLD",
	syscall.SIGCONT: "CONT", syscall.SIGSTOP: "STOP", syscall.SIGTSTP: "TSTP", syscall.SIGTTIN: "TTIN",
	syscall.SIGTTOU: "TTOU", syscall.SIGURG: "URG", syscall.SIGXCPU: "XCPU", syscall.SIGXFSZ: "XFSZ",
	syscall.SIGVTALRM: "VTALRM", syscall.SIGPROF: "PROF", syscall.SIGWINCH: "WINCH", syscall.SIGIO: "IO",
	syscall.SIGSYS: "SYS",
}

// SignalName is a signal's name without "SIG" ("KILL"), or its number ("SIG34").
func SignalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return "SIG" + strconv.Itoa(int(s))
}
