package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cronium/desktop/runner/internal/helper"
	"github.com/cronium/desktop/runner/internal/job"
	"github.com/cronium/desktop/runner/internal/protocol"
	"github.com/cronium/desktop/runner/internal/replay"
	"github.com/cronium/desktop/runner/internal/spool"
	"github.com/cronium/desktop/runner/internal/version"
)

// Layout of a run in the state dir: runs/<runId>/{script,frames.spool,supervisor.pid,supervisor.log}.
const (
	spoolFile = "frames.spool"
	// legacySpoolFile: the JSON-lines spool of a run an older runner (protocol 3) started.
	legacySpoolFile = "frames.ndjson"
	pidFile         = "supervisor.pid"
	// helperLibDir holds the part of the helper dirs every run of a runner binary shares.
	helperLibDir = "helper-lib"
	scriptFile   = "script"
	// heartbeatEvery is how often an idle stream says it is still alive.
	heartbeatEvery = 5 * time.Second
	// runRetention is how long a finished run's spool stays attachable.
	runRetention = 7 * 24 * time.Hour
)

// Now is the clock payloads are checked against; tests replace it.
var Now = time.Now

type runFlags struct {
	key, hostID, stateDir string
	// helperSock: the relay's socket, passed by `run` to the detached supervisor.
	helperSock string
	// protocol: the wire protocol of stdout (3 JSON lines, 4 binary frames), as the app asks.
	protocol int
	// resident: the record `serve` took of its binary (run --resident, the child of serve).
	resident string
}

// defaultPaths: the key and host id sit next to the binary; the state dir is
// shared by every version in the cache (<cache>/<version>-<sha>/cronium-runner),
// so a detached run can be attached to after an upgrade.
func defaultPaths() runFlags {
	exe, err := os.Executable()
	if err != nil {
		return runFlags{}
	}
	dir := filepath.Dir(exe)
	return runFlags{key: filepath.Join(dir, "installation.pub"), hostID: filepath.Join(dir, "host-id"), stateDir: filepath.Join(dir, "..", "state")}
}

func parseFlags(name string, args []string, stderr io.Writer, withKey bool) (runFlags, []string, int, bool) {
	f := defaultPaths()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if withKey {
		fs.StringVar(&f.key, "key", f.key, "installation public key (PEM)")
		fs.StringVar(&f.hostID, "host-id", f.hostID, "file holding this host's id, or the id itself")
	}
	fs.StringVar(&f.stateDir, "state-dir", f.stateDir, "private state directory")
	if name == "supervise" {
		fs.StringVar(&f.helperSock, "helper-socket", "", "the helper relay's socket")
	}
	if name == "run" || name == "attach" {
		fs.IntVar(&f.protocol, "protocol", protocol.ProtocolJSON, "wire protocol of stdout: 3 (JSON lines) or 4 (binary frames)")
	}
	if name == "serve" {
		fs.IntVar(&f.protocol, "protocol", protocol.ProtocolBinary, "wire protocol of stdout: 4 (binary frames)")
	}
	if name == "run" {
		fs.StringVar(&f.resident, "resident", "", "the record serve took of its binary (internal)")
	}
	var from int64 = 1
	if name == "attach" {
		fs.Int64Var(&from, "from", 1, "first seq to replay")
	}
	// Go's flag stops at the first positional argument; accept `attach RUN --from N` too.
	var pos []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return f, nil, fail(stderr, "INVALID_INPUT", name+": "+err.Error()), false
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if name == "attach" {
		pos = append(pos, strconv.FormatInt(from, 10))
	}
	if f.stateDir == "" {
		return f, nil, fail(stderr, "INVALID_INPUT", name+": --state-dir is required"), false
	}
	if (name == "run" || name == "attach") && f.protocol != protocol.ProtocolJSON && f.protocol != protocol.ProtocolBinary {
		return f, nil, fail(stderr, "INVALID_INPUT", fmt.Sprintf("%s: --protocol must be %d or %d", name, protocol.ProtocolJSON, protocol.ProtocolBinary)), false
	}
	if name == "serve" && f.protocol != protocol.ProtocolBinary {
		return f, nil, fail(stderr, "INVALID_INPUT", fmt.Sprintf("serve: --protocol must be %d", protocol.ProtocolBinary)), false
	}
	if f.resident != "" && (f.protocol != protocol.ProtocolBinary || !residentSupported) {
		return f, nil, fail(stderr, "INVALID_INPUT", fmt.Sprintf("run: --resident needs --protocol %d and Linux", protocol.ProtocolBinary)), false
	}
	return f, pos, 0, true
}

// wire is stdout with the protocol the app asked for; errorFrame and
// newFrameOut read it from there (plain writers get protocol 3).
type wire struct {
	io.Writer
	proto int
}

func protocolOf(w io.Writer) int {
	if ww, ok := w.(*wire); ok {
		return ww.proto
	}
	return protocol.ProtocolJSON
}

// frameOut writes frames to stdout, as JSON lines (protocol 3) or binary
// frames (4); after a write error it drops frames and reports the loss once
// through onLost. It is safe for concurrent use: log frames from the spool and
// helper frames from the relay share it, each written whole.
type frameOut struct {
	mu     sync.Mutex
	proto  int
	w      *bufio.Writer
	broken bool
	onLost func()
	seq    int64
	lastHB time.Time
	// ready is closed once hello is out: helper frames wait for it.
	ready     chan struct{}
	readyOnce sync.Once
}

func newFrameOut(w io.Writer, onLost func()) *frameOut {
	return &frameOut{proto: protocolOf(w), w: bufio.NewWriterSize(w, 256<<10), onLost: onLost, lastHB: time.Now(), ready: make(chan struct{})}
}

func (o *frameOut) setOnLost(f func()) {
	o.mu.Lock()
	o.onLost = f
	o.mu.Unlock()
}

// forward writes a frame read from the spool: its bytes as they are when the
// spool is in the stdout's protocol, else re-encoded (an old runner's JSON
// spool attached to with protocol 4, or the reverse).
func (o *frameOut) forward(raw []byte, spoolProto int, f *protocol.Frame) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if spoolProto == o.proto {
		o.writeLocked(raw)
		if o.proto == protocol.ProtocolJSON {
			o.writeLocked([]byte{'\n'})
		}
		return
	}
	if f.Type == protocol.TypeLog && f.Data == nil && len(raw) > 0 {
		// A JSON spool's log line was read by its head only: decode it whole.
		full, err := protocol.Decode(raw)
		if err != nil {
			o.writeLocked(encodeOr(&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())}, o.proto))
			return
		}
		f = full
	}
	o.writeLocked(encodeOr(f, o.proto))
}

// encodeOr encodes f, or an INTERNAL error frame saying why it could not be.
func encodeOr(f *protocol.Frame, proto int) []byte {
	b, err := f.EncodeAs(proto)
	if err != nil {
		b, _ = (&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())}).EncodeAs(proto)
	}
	return b
}

func (o *frameOut) writeLocked(b []byte) {
	if o.broken {
		return
	}
	if _, err := o.w.Write(b); err == nil {
		return
	}
	o.lost()
}

func (o *frameOut) lost() {
	o.broken = true
	if o.onLost != nil {
		go o.onLost()
	}
}

func (o *frameOut) frame(f *protocol.Frame) {
	b := encodeOr(f, o.proto)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writeLocked(b)
	o.flushLocked()
	if f.Type == protocol.TypeHello {
		o.readyOnce.Do(func() { close(o.ready) })
	}
}

// send writes a helper frame once hello is out and reports whether it went.
func (o *frameOut) send(f *protocol.Frame) error {
	<-o.ready
	b, err := f.EncodeAs(o.proto)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writeLocked(b)
	o.flushLocked()
	if o.broken {
		return helper.ErrChannelGone
	}
	return nil
}

func (o *frameOut) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *frameOut) flushLocked() {
	if !o.broken && o.w.Flush() != nil {
		o.lost()
	}
}

// idle flushes and sends a heartbeat when the stream has been quiet for a while.
func (o *frameOut) idle() {
	o.flush()
	o.mu.Lock()
	due := time.Since(o.lastHB) >= heartbeatEvery
	if due {
		o.lastHB = time.Now()
	}
	seq := o.seq
	o.mu.Unlock()
	if due {
		o.frame(&protocol.Frame{Type: protocol.TypeHeartbeat, Ts: time.Now().UnixMilli(), Seq: seq})
	}
}

// setSeq records the last seq written (heartbeats repeat it).
func (o *frameOut) setSeq(seq int64) {
	o.mu.Lock()
	o.seq = seq
	o.mu.Unlock()
}

func errorFrame(out io.Writer, code, msg string) int {
	o := newFrameOut(out, nil)
	o.frame(&protocol.Frame{Type: protocol.TypeError, ErrCode: code, Message: truncateMsg(msg)})
	if code == "INTERNAL" {
		return ExitInternal
	}
	return ExitUsage
}

func rejected(out io.Writer, rej *protocol.Rejection) int {
	o := newFrameOut(out, nil)
	o.frame(&protocol.Frame{Type: protocol.TypeError, ErrCode: "PAYLOAD_REJECTED", RejectReason: rej.Reason, Message: truncateMsg(rej.Error())})
	return ExitUsage
}

func truncateMsg(s string) string {
	if len(s) > 4000 {
		return s[:4000]
	}
	return s
}

// controlFrames reads control frames from stdin until EOF; it sends
// "cancelled" on a cancel frame, hands helper-reply frames to replies (when
// set) and closes eof when stdin ends. Lines that are not valid control
// frames, oversized ones included, are skipped.
func controlFrames(r *bufio.Reader, cancel chan<- string, eof chan<- struct{}, replies func(*protocol.Frame)) {
	defer close(eof)
	for {
		line, err := readControlLine(r, protocol.MaxFrameBytes)
		if len(line) > 0 {
			if f, derr := protocol.DecodeControl(bytes.TrimSpace(line)); derr == nil {
				switch {
				case f.Type == protocol.TypeCancel:
					select {
					case cancel <- protocol.ExitCancelled:
					default:
					}
				case f.Type == protocol.TypeHelperReply && replies != nil:
					replies(f)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// readControlLine returns the next line of at most max bytes (without its
// newline), skipping longer ones; err is set at the end of stdin.
func readControlLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	skip := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !skip {
			if len(buf)+len(chunk) > max+1 {
				skip, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil && skip:
			skip = false
			continue
		case err == nil:
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			if skip {
				return nil, err
			}
			return buf, err
		}
	}
}

func runRun(args []string, stdout, stderr io.Writer) int {
	f, pos, code, ok := parseFlags("run", args, stderr, true)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fail(stderr, "INVALID_INPUT", "run takes no arguments: the payload is read from stdin")
	}
	return runSession(f, os.Stdin, newWire(stdout, f.protocol))
}

// newWire is stdout as the app's channel: on a pipe (from sshd) a larger buffer
// means fewer wakeups per MB of output on both sides.
func newWire(stdout io.Writer, proto int) *wire {
	if f, ok := stdout.(*os.File); ok {
		job.GrowPipe(f, job.PipeBytes)
	}
	return &wire{Writer: stdout, proto: proto}
}

func runSession(f runFlags, stdin io.Reader, stdout io.Writer) int {
	in := bufio.NewReaderSize(stdin, 64<<10)
	var line []byte
	var err error
	if f.resident == "" {
		line, err = readLine(in, protocol.MaxEnvelopeBytes)
	} else {
		line, err = residentEnvelope(in)
		if errors.Is(err, errNoEnvelope) {
			// The channel closed between runs: serve ends, and nothing is written.
			return ExitNoPayload
		}
	}
	if err != nil {
		return rejected(stdout, &protocol.Rejection{Reason: protocol.ReasonMalformed, Detail: err.Error()})
	}
	if f.resident != "" {
		// Before anything else: is this still the binary, in the directories, serve was verified as?
		if msg := residentChanged(f.resident); msg != "" {
			errorFrame(stdout, "RUNNER_CHANGED", msg)
			return ExitInternal
		}
	}
	keyPEM, err := os.ReadFile(f.key)
	if err != nil {
		return errorFrame(stdout, "INTERNAL", "no installation key: "+err.Error())
	}
	key, err := protocol.ParsePublicKeyPEM(keyPEM)
	if err != nil {
		return errorFrame(stdout, "INTERNAL", "installation key "+f.key+": "+err.Error())
	}
	hostID, err := readHostID(f.hostID)
	if err != nil {
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	now := Now()
	p, err := protocol.Verify(line, protocol.VerifyOptions{Key: key, HostID: hostID, Now: now})
	if err != nil {
		var rej *protocol.Rejection
		if errors.As(err, &rej) {
			return rejected(stdout, rej)
		}
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	if p.Detach && f.resident != "" {
		return errorFrame(stdout, "INVALID_INPUT", "detached runs are not served by a resident runner")
	}
	if err := ensurePrivateDir(f.stateDir); err != nil {
		return errorFrame(stdout, "INTERNAL", "state dir: "+err.Error())
	}
	// Both prunes list a directory that grows with every run (all the runs of an account share
	// it): done at most once a minute, not on every run, so a run's cost does not grow with the
	// number of recent runs. Replay protection is the O_EXCL claim below, never the prune.
	if pruneDue(filepath.Join(f.stateDir, ".pruned"), now, time.Minute) {
		pruneRuns(filepath.Join(f.stateDir, "runs"), now, runRetention)
		_ = replay.Store{Dir: filepath.Join(f.stateDir, "replay"), Skew: protocol.ClockSkew}.Prune(now)
	}
	store := replay.Store{Dir: filepath.Join(f.stateDir, "replay"), Skew: protocol.ClockSkew}
	if err := store.Claim(p.RunID, p.Nonce, time.UnixMilli(p.Exp)); err != nil {
		if errors.Is(err, replay.ErrReplay) {
			return rejected(stdout, &protocol.Rejection{Reason: protocol.ReasonReplay, Detail: fmt.Sprintf("run %s: %v", p.RunID, err)})
		}
		return errorFrame(stdout, "INTERNAL", "replay store: "+err.Error())
	}
	if p.Helper.Transport == protocol.TransportTunnel {
		// sshd was asked for the tunnel on 127.0.0.1, but GatewayPorts yes binds every address:
		// then the helpers take this run's own channel, and the hello says why.
		if exposed, _ := helper.Exposed(int(p.Helper.Port)); len(exposed) > 0 {
			p.Helper = protocol.Helper{Transport: protocol.TransportInBand, Token: p.Helper.Token, Exposed: exposed}
		}
	}
	env := job.Environ(os.Environ(), p)
	interp, err := lookPathIn(p.Interpreter, envValue(env, "PATH"))
	if err != nil {
		return errorFrame(stdout, "INTERPRETER_MISSING", fmt.Sprintf("%s is not installed on this host (not found in PATH)", p.Interpreter))
	}
	runDir := filepath.Join(f.stateDir, "runs", p.RunID)
	if err := os.MkdirAll(filepath.Dir(runDir), 0o700); err != nil {
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	if err := os.Mkdir(runDir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// A spool kept for attach outlives the replay claim: the run id is still taken.
			return rejected(stdout, &protocol.Rejection{Reason: protocol.ReasonReplay, Detail: fmt.Sprintf("run %s already exists on this host", p.RunID)})
		}
		return errorFrame(stdout, "INTERNAL", "run dir: "+err.Error())
	}
	if err := os.WriteFile(filepath.Join(runDir, scriptFile), []byte(p.Script), 0o600); err != nil {
		return errorFrame(stdout, "INTERNAL", "writing script: "+err.Error())
	}
	self, err := os.Executable()
	if err != nil {
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	hd, err := helper.Prepare(runDir, filepath.Join(f.stateDir, helperLibDir), p, self)
	if err != nil {
		_ = os.RemoveAll(runDir)
		return errorFrame(stdout, "INTERNAL", "helper dir: "+err.Error())
	}
	body, _ := payloadBody(line)
	if p.Detach {
		return detach(f, runDir, hd, p, body, in, stdout)
	}
	return foreground(runDir, hd, p, interp, hd.Environ(env, p.Helper), in, stdout)
}

// helperRelay is the relay of a run whose app channel is out.
type helperRelay struct {
	relay  *helper.Relay
	inBand *helper.InBand
}

// startRelay listens on the run's helper socket before the script starts;
// in-band calls go out through out once its hello is written.
func startRelay(hd *helper.Dir, h protocol.Helper, out *frameOut) (*helperRelay, error) {
	fwd := helper.ForwarderFor(h, out.send)
	r, err := helper.Listen(hd.Sock, fwd)
	if err != nil {
		return nil, err
	}
	ib, _ := fwd.(*helper.InBand)
	return &helperRelay{relay: r, inBand: ib}, nil
}

// reply hands a helper-reply control frame to the in-band forwarder.
func (h *helperRelay) reply(f *protocol.Frame) {
	if h != nil && h.inBand != nil {
		h.inBand.Deliver(f)
	}
}

// channelGone: in-band calls answer HELPER_UNAVAILABLE from now on.
func (h *helperRelay) channelGone() {
	if h != nil && h.inBand != nil {
		h.inBand.Close()
	}
}

func (h *helperRelay) close() {
	if h != nil {
		h.channelGone()
		h.relay.Close()
	}
}

// foreground supervises in this process; the run ends when stdin closes.
func foreground(runDir string, hd *helper.Dir, p *protocol.Payload, interp string, env []string, in *bufio.Reader, stdout io.Writer) int {
	defer os.RemoveAll(runDir)
	defer hd.Remove()
	_ = os.WriteFile(filepath.Join(runDir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
	cancel := make(chan string, 4)
	send := func(why string) {
		select {
		case cancel <- why:
		default:
		}
	}
	sigs := make(chan os.Signal, 4)
	// Notify also makes a write to a closed stdout return EPIPE instead of killing us.
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			switch s {
			case syscall.SIGTERM:
				send(protocol.ExitCancelled)
			case syscall.SIGPIPE:
			default:
				send(protocol.ExitDisconnected)
			}
		}
	}()
	out := newFrameOut(stdout, func() { send(protocol.ExitDisconnected) })
	hr, err := startRelay(hd, p.Helper, out)
	if err != nil {
		return errorFrame(stdout, "INTERNAL", "helper socket: "+err.Error())
	}
	defer hr.close()
	eof := make(chan struct{})
	go controlFrames(in, cancel, eof, hr.reply)
	go func() {
		<-eof
		hr.channelGone()
		send(protocol.ExitDisconnected)
	}()
	out.frame(&protocol.Frame{Type: protocol.TypeHello, Protocol: int64(out.proto), Version: version.Version, RunID: p.RunID, Pid: int64(os.Getpid()), HelperExposed: p.Helper.Exposed})

	self, _ := os.Executable()
	spec := job.Spec{
		Payload: p, Interpreter: interp, Script: filepath.Join(runDir, scriptFile),
		Dir: workDir(runDir), Self: self, Systemd: systemdUsable(p), BaseEnv: os.Environ(),
		Env: env, Stdin: hd.Input,
	}
	if ch := newChannel(out, stdout, p); ch != nil {
		// Protocol 4, output untouched: the supervisor writes to stdout itself.
		return ch.supervise(spec, cancel)
	}
	// Nothing attaches to a foreground run: its frames wait in memory, and the
	// script waits once the link is behind by the buffer's budget.
	w := spool.NewBuffer(spool.DefaultMemBytes)
	go func() {
		_, err := job.Supervise(spec, w, cancel)
		if err != nil {
			// No exit frame could be written: say why on the stream.
			_ = w.Append(&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())})
		}
		_ = w.Close()
	}()
	last, err := w.Follow(context.Background(), spool.FollowOptions{Idle: out.idle}, func(raw []byte, spoolProto int, f *protocol.Frame) error {
		out.forward(raw, spoolProto, f)
		if f.Seq > 0 {
			out.setSeq(f.Seq)
		}
		return nil
	})
	out.flush()
	if err != nil {
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	if last.Type == protocol.TypeError {
		return ExitInternal
	}
	return ExitOK
}

// detach starts a supervisor in its own session, which outlives this process
// and the SSH channel, then follows its spool like attach does. This process
// serves the run's helper socket while it holds the app's channel; once the
// channel is gone the socket goes too, and helper calls fail at once with
// HELPER_UNAVAILABLE. The supervisor removes the helper dir when the run ends.
func detach(f runFlags, runDir string, hd *helper.Dir, p *protocol.Payload, body []byte, in *bufio.Reader, stdout io.Writer) int {
	self, err := os.Executable()
	if err != nil {
		hd.Remove()
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	out := newFrameOut(stdout, nil)
	hr, err := startRelay(hd, p.Helper, out)
	if err != nil {
		hd.Remove()
		return errorFrame(stdout, "INTERNAL", "helper socket: "+err.Error())
	}
	defer hr.close()
	logf, err := os.OpenFile(filepath.Join(runDir, "supervisor.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		hd.Remove()
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	cmd := exec.Command(self, "supervise", "--state-dir", f.stateDir, "--helper-socket", hd.Sock, p.RunID)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// The payload (secrets and the helper token included) reaches the
	// supervisor on a pipe, never on disk or argv.
	pw, err := cmd.StdinPipe()
	if err != nil {
		hd.Remove()
		return errorFrame(stdout, "INTERNAL", err.Error())
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		hd.Remove()
		return errorFrame(stdout, "INTERNAL", "starting the supervisor: "+err.Error())
	}
	logf.Close()
	_, werr := pw.Write(body)
	pw.Close()
	if werr != nil {
		return errorFrame(stdout, "INTERNAL", "handing over the payload: "+werr.Error())
	}
	var alive atomic.Bool
	alive.Store(true)
	go func() {
		_ = cmd.Wait()
		alive.Store(false)
	}()
	return follow(runDir, p.RunID, cmd.Process.Pid, 1, alive.Load, in, out, hr, p.Helper.Exposed)
}

// follow streams a run's spool from seq `from` until its exit frame; a cancel
// frame on stdin is passed to the supervisor as SIGTERM; stdin closing ends
// only the stream, never the run. hr, when set, is the run's helper relay,
// whose in-band calls travel on this stream.
func follow(runDir, runID string, pid int, from int64, alive func() bool, in *bufio.Reader, out *frameOut, hr *helperRelay, exposed []string) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	cancel := make(chan string, 4)
	eof := make(chan struct{})
	go controlFrames(in, cancel, eof, hr.reply)
	go func() {
		for {
			select {
			case <-cancel:
				_ = syscall.Kill(pid, syscall.SIGTERM)
			case <-eof:
				hr.channelGone()
				stop()
				return
			}
		}
	}()
	out.setOnLost(func() {
		hr.channelGone()
		stop()
	})
	out.setSeq(from - 1)
	out.frame(&protocol.Frame{Type: protocol.TypeHello, Protocol: int64(out.proto), Version: version.Version, RunID: runID, Pid: int64(pid), HelperExposed: exposed})
	last, err := spool.Follow(ctx, spoolPath(runDir), spool.FollowOptions{
		From: from, Alive: alive, Idle: out.idle,
	}, func(raw []byte, spoolProto int, f *protocol.Frame) error {
		out.forward(raw, spoolProto, f)
		if f.Seq > 0 {
			out.setSeq(f.Seq)
		}
		return nil
	})
	out.flush()
	switch {
	case errors.Is(err, context.Canceled):
		return ExitOK
	case err != nil:
		out.frame(&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())})
		return ExitInternal
	case last.Type == protocol.TypeError:
		return ExitInternal
	}
	return ExitOK
}

// pruneDue reports whether the prune the marker file stands for is due (last done more than
// every ago, or never, or the marker is from the future) and, if so, marks it done now.
func pruneDue(marker string, now time.Time, every time.Duration) bool {
	if st, err := os.Stat(marker); err == nil {
		if age := now.Sub(st.ModTime()); age >= 0 && age < every {
			return false
		}
	}
	if f, err := os.OpenFile(marker, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		f.Close()
	}
	_ = os.Chtimes(marker, now, now)
	return true
}

// spoolPath is the run's spool: the JSON-lines file of a run an older runner
// started (it is attached to after an upgrade), else this runner's.
func spoolPath(runDir string) string {
	if _, err := os.Stat(filepath.Join(runDir, legacySpoolFile)); err == nil {
		return filepath.Join(runDir, legacySpoolFile)
	}
	return filepath.Join(runDir, spoolFile)
}

// runSupervise is the detached supervisor (hidden subcommand): it reads the
// verified payload JSON on stdin and runs it, writing only to the spool.
func runSupervise(args []string, _, stderr io.Writer) int {
	f, pos, code, ok := parseFlags("supervise", args, stderr, false)
	if !ok {
		return code
	}
	if len(pos) != 1 || !protocol.ValidID(pos[0]) {
		return fail(stderr, "INVALID_INPUT", "usage: supervise --state-dir DIR [--helper-socket PATH] RUN")
	}
	body, err := io.ReadAll(io.LimitReader(os.Stdin, protocol.MaxEnvelopeBytes))
	if err != nil {
		return fail(stderr, "INTERNAL", err.Error())
	}
	p, err := protocol.ParsePayload(body)
	if err != nil || p.RunID != pos[0] {
		return fail(stderr, "INVALID_INPUT", fmt.Sprintf("payload: %v", err))
	}
	runDir := filepath.Join(f.stateDir, "runs", p.RunID)
	_ = os.WriteFile(filepath.Join(runDir, pidFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
	w, err := spool.Create(filepath.Join(runDir, spoolFile))
	if err != nil {
		return fail(stderr, "INTERNAL", err.Error())
	}
	cancel := make(chan string, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			if s != syscall.SIGHUP {
				select {
				case cancel <- protocol.ExitCancelled:
				default:
				}
			}
		}
	}()
	if ri, ok := helper.ReadRelayInfo(runDir); ok && p.Helper.Transport == protocol.TransportTunnel && ri.Transport == protocol.TransportInBand {
		// The run process found the tunnel's port exposed and serves the helpers in-band.
		p.Helper = protocol.Helper{Transport: protocol.TransportInBand, Token: p.Helper.Token}
	}
	env := job.Environ(os.Environ(), p)
	interp, err := lookPathIn(p.Interpreter, envValue(env, "PATH"))
	var hd *helper.Dir
	if err == nil && f.helperSock == "" {
		err = errors.New("supervise: --helper-socket is required")
	}
	self, _ := os.Executable()
	var libDir string
	if err == nil {
		libDir, err = helper.SharedLib(filepath.Join(f.stateDir, helperLibDir), self)
	}
	if err == nil {
		hd = helper.Open(runDir, libDir, p, f.helperSock)
		_, err = job.Supervise(job.Spec{
			Payload: p, Interpreter: interp, Script: filepath.Join(runDir, scriptFile),
			Dir: workDir(runDir), Self: self, Systemd: systemdUsable(p), BaseEnv: os.Environ(),
			Env: hd.Environ(env, p.Helper), Stdin: hd.Input,
		}, w, cancel)
	}
	if err != nil {
		_ = w.Append(&protocol.Frame{Type: protocol.TypeError, ErrCode: "INTERNAL", Message: truncateMsg(err.Error())})
	}
	_ = os.Remove(filepath.Join(runDir, scriptFile))
	if hd != nil {
		hd.Remove()
	} else {
		_ = os.RemoveAll(filepath.Join(runDir, helper.DirName))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitInternal
	}
	return ExitOK
}

func runAttach(args []string, stdout, stderr io.Writer) int {
	f, pos, code, ok := parseFlags("attach", args, stderr, false)
	if !ok {
		return code
	}
	if len(pos) != 2 || !protocol.ValidID(pos[0]) {
		return fail(stderr, "INVALID_INPUT", "usage: attach RUN [--from SEQ] [--state-dir DIR]")
	}
	from, _ := strconv.ParseInt(pos[1], 10, 64)
	if from < 1 {
		return fail(stderr, "INVALID_INPUT", "--from must be at least 1")
	}
	stdout = newWire(stdout, f.protocol)
	runDir := filepath.Join(f.stateDir, "runs", pos[0])
	pidText, err := os.ReadFile(filepath.Join(runDir, pidFile))
	if err != nil {
		return errorFrame(stdout, "NOT_FOUND", fmt.Sprintf("no run %s in this state dir", pos[0]))
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if pid < 1 {
		return errorFrame(stdout, "INTERNAL", "corrupt "+pidFile)
	}
	alive := func() bool { return syscall.Kill(pid, 0) == nil }
	out := newFrameOut(stdout, nil)
	// A detached in-band run's helper calls travel on this channel again
	// (a tunnel's port died with the connection that opened it).
	var hr *helperRelay
	if ri, ok := helper.ReadRelayInfo(runDir); ok && ri.Transport == protocol.TransportInBand && alive() {
		if r, err := startRelay(&helper.Dir{Sock: ri.Socket}, protocol.Helper{Transport: protocol.TransportInBand}, out); err == nil {
			hr = r
			defer hr.close()
		}
	}
	return follow(runDir, pos[0], pid, from, alive, bufio.NewReaderSize(os.Stdin, 64<<10), out, hr, nil)
}

func runExecLimited(args []string, _, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" && len(args) == 1 {
		return fail(stderr, "INVALID_INPUT", "exec-limited: no program")
	}
	err := job.ExecLimited(args, os.Environ())
	// Only reached when exec failed.
	fmt.Fprintf(stderr, "cronium-runner exec-limited: %v\n", err)
	return 127
}

// readLine reads one line of at most max bytes (without its newline).
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > max+1 {
			return nil, fmt.Errorf("payload line longer than %d bytes", max)
		}
		if err == nil {
			return buf[:len(buf)-1], nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return buf, nil
		}
		if err == io.EOF {
			return nil, errNoEnvelope
		}
		return nil, err
	}
}

// payloadBody returns the verified payload bytes of an envelope line.
func payloadBody(line []byte) ([]byte, error) {
	env, err := protocol.ParseEnvelope(line)
	if err != nil {
		return nil, err
	}
	return decodeBase64(env.Payload)
}

func readHostID(arg string) (string, error) {
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", fmt.Errorf("no host id: %v", err)
	}
	id := strings.TrimSpace(string(b))
	if !protocol.ValidID(id) {
		return "", fmt.Errorf("host id in %s is not valid", arg)
	}
	return id, nil
}

// ensurePrivateDir creates dir 0700, or checks an existing one is a real
// directory owned by this user and private.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not this user", dir, st.Uid)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return os.Chmod(dir, 0o700)
	}
	return nil
}

// workDir is where the script starts: the home directory, as over plain SSH.
func workDir(runDir string) string {
	if h, err := os.UserHomeDir(); err == nil {
		if st, err := os.Stat(h); err == nil && st.IsDir() {
			return h
		}
	}
	return runDir
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPathIn finds an executable named name in the given PATH value.
func lookPathIn(name, path string) (string, error) {
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// pruneRuns removes run dirs untouched for longer than retention whose
// supervisor is gone: finished detached runs nobody reattached to, and the
// leftovers of runners that were killed outright.
func pruneRuns(dir string, now time.Time, retention time.Duration) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		runDir := filepath.Join(dir, e.Name())
		latest := time.Time{}
		for _, name := range []string{"", spoolFile, legacySpoolFile} {
			if info, err := os.Stat(filepath.Join(runDir, name)); err == nil && info.ModTime().After(latest) {
				latest = info.ModTime()
			}
		}
		if latest.IsZero() || now.Sub(latest) < retention {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(runDir, pidFile)); err == nil {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
				continue
			}
		}
		_ = os.RemoveAll(runDir)
	}
}
