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
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tunnel forwards calls over the SSH reverse forward the app opened on the
// host's 127.0.0.1:Port, as minimal HTTP/1.1 written by hand: net/http would
// add megabytes to a binary whose hash is checked before every run.
type Tunnel struct {
	Port int
	// Timeout bounds a whole call; CallTimeout when zero.
	Timeout time.Duration
}

const tunnelHint = "the app's reverse tunnel to this host is gone: the app disconnected, or the SSH server stopped forwarding"

// Call sends POST /v1/<op> with the token as a bearer and returns the app's answer.
func (t Tunnel) Call(op, token string, body json.RawMessage) Response {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = CallTimeout
	}
	deadline := time.Now().Add(timeout)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(t.Port))
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return t.transportError(err)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST /v1/%s HTTP/1.1\r\nHost: cronium-helper\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", op, token, len(body))
	req.Write(body)
	if _, err := c.Write(req.Bytes()); err != nil {
		return t.transportError(err)
	}
	status, resBody, err := readHTTPResponse(bufio.NewReaderSize(c, 32<<10), MaxResponseBytes)
	if err != nil {
		return t.transportError(err)
	}
	trimmed := bytes.TrimSpace(resBody)
	var buf bytes.Buffer
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Compact(&buf, trimmed) != nil {
		return Fail(statusBadGateway, CodeUnavailable, fmt.Sprintf("the helper API answered status %d with a body that is not a JSON object", status),
			"the port may belong to another program; the app redeploys the tunnel with each run")
	}
	return Response{Status: status, Body: buf.Bytes()}
}

func (t Tunnel) transportError(err error) Response {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Fail(504, CodeTimeout, fmt.Sprintf("the app did not answer within %s", t.timeout()), "the app may be busy or the link slow; try again")
	}
	if errors.Is(err, errResponseTooLarge) {
		return Fail(statusBadGateway, CodeTooLarge, err.Error(), "")
	}
	var proto *protocolError
	if errors.As(err, &proto) {
		return Fail(statusBadGateway, CodeUnavailable, "the helper tunnel answered something other than HTTP: "+proto.msg,
			"the port may belong to another program")
	}
	msg := "cannot reach the app through its tunnel"
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		msg += ": connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		msg += ": connection closed before an answer"
	default:
		msg += ": " + errText(err)
	}
	return Fail(statusUnavailable, CodeUnavailable, msg, tunnelHint)
}

func (t Tunnel) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return CallTimeout
}

func errText(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		var se *os.SyscallError
		if errors.As(op.Err, &se) {
			return se.Err.Error()
		}
		return op.Err.Error()
	}
	return err.Error()
}

var errResponseTooLarge = fmt.Errorf("the helper API's answer is larger than %d bytes", MaxResponseBytes)

type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// readHTTPResponse reads a status line, headers and a body sized by
// Content-Length, chunked transfer coding, or the end of the connection; the
// body is capped at max bytes.
func readHTTPResponse(r *bufio.Reader, max int) (int, []byte, error) {
	line, err := readHeaderLine(r)
	if err != nil {
		return 0, nil, err
	}
	// HTTP/1.1 200 OK
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") || len(parts[1]) != 3 {
		return 0, nil, &protocolError{fmt.Sprintf("bad status line %q", trunc(line, 60))}
	}
	status, err := strconv.Atoi(parts[1])
	if err != nil || status < 100 || status > 599 {
		return 0, nil, &protocolError{fmt.Sprintf("bad status %q", parts[1])}
	}
	length, chunked := -1, false
	headerBytes := 0
	for {
		h, err := readHeaderLine(r)
		if err != nil {
			return 0, nil, err
		}
		if h == "" {
			break
		}
		if headerBytes += len(h); headerBytes > 64<<10 {
			return 0, nil, &protocolError{"headers larger than 64 KiB"}
		}
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return 0, nil, &protocolError{fmt.Sprintf("bad header %q", trunc(h, 60))}
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return 0, nil, &protocolError{fmt.Sprintf("bad Content-Length %q", trunc(value, 20))}
			}
			length = n
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		}
	}
	if status < 200 {
		// 1xx interim answers (100 Continue) precede the real one.
		return readHTTPResponse(r, max)
	}
	switch {
	case chunked:
		b, err := readChunked(r, max)
		return status, b, err
	case length >= 0:
		if length > max {
			return 0, nil, errResponseTooLarge
		}
		b := make([]byte, length)
		_, err := io.ReadFull(r, b)
		return status, b, err
	default:
		b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
		if err != nil {
			return 0, nil, err
		}
		if len(b) > max {
			return 0, nil, errResponseTooLarge
		}
		return status, b, nil
	}
}

func readHeaderLine(r *bufio.Reader) (string, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", &protocolError{"header line too long"}
	}
	if err != nil {
		if err == io.EOF {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func readChunked(r *bufio.Reader, max int) ([]byte, error) {
	var out []byte
	for {
		line, err := readHeaderLine(r)
		if err != nil {
			return nil, err
		}
		sizeText, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sizeText), 16, 64)
		if err != nil || n < 0 {
			return nil, &protocolError{fmt.Sprintf("bad chunk size %q", trunc(line, 20))}
		}
		if n == 0 {
			// Trailers, then the final empty line.
			for {
				t, err := readHeaderLine(r)
				if err != nil || t == "" {
					return out, nil
				}
			}
		}
		if int64(len(out))+n > int64(max) {
			return nil, errResponseTooLarge
		}
		chunk := make([]byte, n)
		if _, err := io.ReadFull(r, chunk); err != nil {
			return nil, err
		}
		out = append(out, chunk...)
		if _, err := readHeaderLine(r); err != nil {
			return nil, err
		}
	}
}
