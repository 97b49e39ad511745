// Package helper is the runner's half of the runtime helpers: the per-run
// relay a script's `cronium` command and language modules talk to, the
// transports that carry its calls to the app (the SSH reverse tunnel, frames
// on the runner's own channel, or none), the private helper dir a run gets,
// and the `cronium` command itself.
//
// Local protocol (script side -> relay, over the run's unix socket): one
// request per connection, one JSON line {"op","token","body"}, one JSON line
// back {"status","body"}. Every error body is
// {"error":{"code","message","hint"?}} with a code from the app's stable list.
//
// Invariants guarded here:
//   - The helper token travels only in the environment and on the socket (and
//     from there in an HTTP header or an in-band frame): never in any argv.
//   - The socket lives in a 0700 dir and is itself 0600: only the run's user
//     can reach it, and the token is still needed on the app's side.
//   - Every request is bounded (MaxRequestBytes, MaxHelperBodyBytes) before
//     it is parsed, and every answer is a single JSON object.
package helper

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// Bounds of the local protocol.
const (
	// MaxRequestBytes bounds one request line: a body of MaxHelperBodyBytes,
	// a token and the envelope around them.
	MaxRequestBytes = protocol.MaxHelperBodyBytes + 8<<10
	// MaxResponseBytes bounds what the app may answer (tunnel and relay alike).
	MaxResponseBytes = 2 << 20
	// CallTimeout is how long a call waits for the app's answer.
	CallTimeout = 30 * time.Second
	// requestTimeout bounds reading a request from the socket.
	requestTimeout = 10 * time.Second
)

// Error codes the runner itself produces (a subset of the app's list).
const (
	CodeInvalidInput  = "INVALID_INPUT"
	CodeTooLarge      = "PAYLOAD_TOO_LARGE"
	CodeUnavailable   = "HELPER_UNAVAILABLE"
	CodeTimeout       = "HELPER_TIMEOUT"
	CodeTokenInvalid  = "HELPER_TOKEN_INVALID"
	CodeNotFound      = "NOT_FOUND"
	CodeInternal      = "INTERNAL"
	statusBadGateway  = 502
	statusUnavailable = 503
)

// Request is one call as the script side sends it.
type Request struct {
	Op    string          `json:"op"`
	Token string          `json:"token"`
	Body  json.RawMessage `json:"body"`
}

// Response is the relay's answer: an HTTP-like status and a JSON object.
type Response struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// OK reports a 2xx status.
func (r Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// ErrorInfo is the error object of a failed call.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

// Err reads the error of a non-2xx response; a body without one still gives a code.
func (r Response) Err() ErrorInfo {
	var e struct {
		Error *ErrorInfo `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) == nil && e.Error != nil && e.Error.Code != "" {
		return *e.Error
	}
	return ErrorInfo{Code: CodeInternal, Message: fmt.Sprintf("the helper API answered status %d without an error", r.Status)}
}

// Fail builds an error response.
func Fail(status int, code, message, hint string) Response {
	b, _ := marshal(map[string]ErrorInfo{"error": {Code: code, Message: message, Hint: hint}})
	return Response{Status: status, Body: b}
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Forwarder carries a validated call to the app and returns its answer; it
// never fails otherwise: transport failures are error responses.
type Forwarder interface {
	Call(op, token string, body json.RawMessage) Response
}

// None is the forwarder of a run without a helper channel.
type None struct{}

// Call always answers 503 HELPER_UNAVAILABLE.
func (None) Call(string, string, json.RawMessage) Response {
	return Fail(statusUnavailable, CodeUnavailable, "this run has no helper channel",
		"the app started this run without runtime helpers (direct mode, or helpers turned off)")
}

// Relay serves the local protocol on a unix socket and forwards each call.
type Relay struct {
	ln   net.Listener
	fwd  Forwarder
	path string
	wg   sync.WaitGroup
	once sync.Once
}

// Listen creates the socket at path (mode 0600; its dir should be 0700) and
// serves it until Close. A stale socket file at path is replaced.
func Listen(path string, fwd Forwarder) (*Relay, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	r := &Relay{ln: ln, fwd: fwd, path: path}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Path is the socket's path.
func (r *Relay) Path() string { return r.path }

// Close stops accepting calls and removes the socket; calls in flight finish
// on their own (their forwarder answers or times out).
func (r *Relay) Close() {
	r.once.Do(func() {
		r.ln.Close()
		r.wg.Wait()
		_ = os.Remove(r.path)
	})
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go r.handle(c)
	}
}

func (r *Relay) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(requestTimeout))
	res := r.answer(c)
	_ = c.SetWriteDeadline(time.Now().Add(requestTimeout))
	line, err := marshal(res)
	if err != nil {
		line, _ = marshal(Fail(500, CodeInternal, "encoding the answer: "+err.Error(), ""))
	}
	_, _ = c.Write(append(line, '\n'))
}

func (r *Relay) answer(c net.Conn) Response {
	line, err := readBoundedLine(bufio.NewReaderSize(c, 64<<10), MaxRequestBytes)
	if errors.Is(err, errTooLong) {
		return Fail(413, CodeTooLarge, fmt.Sprintf("a helper request is at most %d bytes", MaxRequestBytes), "pass large values through a file")
	}
	if err != nil {
		return Fail(400, CodeInvalidInput, "reading the request: "+err.Error(), "")
	}
	req, res, ok := ParseRequest(line)
	if !ok {
		return res
	}
	_ = c.SetReadDeadline(time.Time{})
	if _, none := r.fwd.(None); !none && !protocol.ValidToken(req.Token) {
		return Fail(401, CodeTokenInvalid, "the helper token is missing or malformed",
			"CRONIUM_HELPER_TOKEN is set by the runner for this run; do not change or unset it")
	}
	return r.fwd.Call(req.Op, req.Token, req.Body)
}

// ParseRequest validates a request line; when it is refused, the response says why.
func ParseRequest(line []byte) (Request, Response, bool) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, Fail(400, CodeInvalidInput, "the request is not a JSON object {op, token, body}", ""), false
	}
	if req.Op == "toolAction" || req.Op == "tool-action" || req.Op == "tools" {
		// Other Cronium targets have tool actions; an SSH host never does (the app says the same).
		return req, Fail(403, "TOOL_ACTION_FORBIDDEN", "tool actions are not available to scripts on SSH hosts",
			fmt.Sprintf("helpers on SSH hosts offer: %v", protocol.HelperOps)), false
	}
	if !isOp(req.Op) {
		return req, Fail(400, CodeInvalidInput, fmt.Sprintf("unknown helper operation %q", trunc(req.Op, 40)),
			fmt.Sprintf("operations: %v", protocol.HelperOps)), false
	}
	body := bytes.TrimSpace(req.Body)
	if len(body) == 0 || body[0] != '{' {
		return req, Fail(400, CodeInvalidInput, "the request body must be a JSON object", ""), false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, body); err != nil {
		return req, Fail(400, CodeInvalidInput, "the request body is not JSON", ""), false
	}
	if buf.Len() > protocol.MaxHelperBodyBytes {
		return req, Fail(413, CodeTooLarge, fmt.Sprintf("a helper request body is at most %d bytes", protocol.MaxHelperBodyBytes), "pass large values through a file"), false
	}
	req.Body = buf.Bytes()
	return req, Response{}, true
}

func isOp(op string) bool {
	for _, o := range protocol.HelperOps {
		if o == op {
			return true
		}
	}
	return false
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

var errTooLong = errors.New("line too long")

// readBoundedLine reads one line of at most max bytes (without its newline);
// EOF ends the last line. A longer line is drained to its end (so the peer,
// still writing, gets to read the refusal) and refused with errTooLong.
func readBoundedLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max+1 {
			buf = nil
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.ReadSlice('\n')
			}
			return nil, errTooLong
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			if len(buf)-1 > max {
				return nil, errTooLong
			}
			return buf[:len(buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) > 0:
			if len(buf) > max {
				return nil, errTooLong
			}
			return buf, nil
		default:
			return nil, err
		}
	}
}
