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
	"strings"
	"time"
)

// Exit codes of the `cronium` command.
const (
	ExitOK       = 0
	ExitNotFound = 1
	ExitUsage    = 2
	ExitFailed   = 3
)

// clientTimeout bounds one call from the command's side: the relay answers
// within CallTimeout plus the time it needs to read the request.
const clientTimeout = CallTimeout + 2*requestTimeout

const usageText = `usage: cronium <command> [arguments]

Runtime helpers for scripts run by Cronium (the same as cronium-runner helper).

  cronium input              print the job's input as JSON (null when none)
  cronium output JSON|-      set the run's output (- reads the JSON from stdin)
  cronium get-var KEY        print a variable's value; exit 1 when it is not set
  cronium set-var KEY VALUE  set a variable (VALUE - reads it from stdin,
                             without one trailing newline)
  cronium condition true|false
                             set the run's condition for conditional follow-ups
  cronium event              print what this run is, as JSON
  cronium raw OP             send the JSON body on stdin as operation OP and
                             print the relay's {"status","body"} line (for the
                             python3 and node modules)

Exit status: 0 done, 1 variable not set, 2 usage or invalid input, 3 the call
failed (the code and message are on stderr).
`

// Env is what the command reads from its environment.
type Env struct {
	Socket, Token string
}

// EnvFromOS reads CRONIUM_HELPER_SOCKET and CRONIUM_HELPER_TOKEN.
func EnvFromOS() Env {
	return Env{Socket: os.Getenv("CRONIUM_HELPER_SOCKET"), Token: os.Getenv("CRONIUM_HELPER_TOKEN")}
}

// Main runs the `cronium` command (args without the program name).
func Main(args []string, env Env, stdin io.Reader, stdout, stderr io.Writer) int {
	usage := func(msg string) int {
		fmt.Fprintf(stderr, "cronium: INVALID_INPUT: %s\nhint: run 'cronium --help' for usage\n", msg)
		return ExitUsage
	}
	if len(args) == 0 {
		io.WriteString(stderr, usageText)
		return ExitUsage
	}
	want := func(n int) bool { return len(args) == n }
	var op string
	var body any
	switch args[0] {
	case "-h", "--help", "help":
		io.WriteString(stdout, usageText)
		return ExitOK
	case "input", "event":
		if !want(1) {
			return usage(args[0] + " takes no arguments")
		}
		op, body = args[0], struct{}{}
	case "output":
		if !want(2) {
			return usage("usage: cronium output JSON|-")
		}
		raw := []byte(args[1])
		if args[1] == "-" {
			var err error
			if raw, err = readAll(stdin); err != nil {
				return usage(err.Error())
			}
		}
		raw = bytes.TrimSpace(raw)
		if !json.Valid(raw) {
			return usage("output needs one JSON value (a string is \"quoted\")")
		}
		op, body = "output", map[string]json.RawMessage{"value": raw}
	case "get-var":
		if !want(2) {
			return usage("usage: cronium get-var KEY")
		}
		op, body = "getVariable", map[string]string{"key": args[1]}
	case "set-var":
		if !want(3) {
			return usage("usage: cronium set-var KEY VALUE|-")
		}
		value := args[2]
		if value == "-" {
			raw, err := readAll(stdin)
			if err != nil {
				return usage(err.Error())
			}
			value = strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
		}
		op, body = "setVariable", map[string]string{"key": args[1], "value": value}
	case "condition":
		if !want(2) || (args[1] != "true" && args[1] != "false") {
			return usage("usage: cronium condition true|false")
		}
		op, body = "setCondition", map[string]bool{"value": args[1] == "true"}
	case "raw":
		if !want(2) {
			return usage("usage: cronium raw OP < BODY")
		}
		raw, err := readAll(stdin)
		if err != nil {
			return usage(err.Error())
		}
		res := env.call(args[1], json.RawMessage(bytes.TrimSpace(raw)))
		line, _ := marshal(res)
		fmt.Fprintf(stdout, "%s\n", line)
		return ExitOK
	default:
		return usage(fmt.Sprintf("unknown command %q", args[0]))
	}
	b, err := marshal(body)
	if err != nil {
		return usage(err.Error())
	}
	res := env.call(op, b)
	if !res.OK() {
		e := res.Err()
		fmt.Fprintf(stderr, "cronium: %s: %s\n", e.Code, e.Message)
		if e.Hint != "" {
			fmt.Fprintf(stderr, "hint: %s\n", e.Hint)
		}
		return ExitFailed
	}
	switch op {
	case "input":
		var r struct {
			Value json.RawMessage `json:"value"`
		}
		_ = json.Unmarshal(res.Body, &r)
		if len(r.Value) == 0 {
			r.Value = json.RawMessage("null")
		}
		fmt.Fprintf(stdout, "%s\n", r.Value)
	case "event":
		fmt.Fprintf(stdout, "%s\n", res.Body)
	case "getVariable":
		var r struct {
			Found bool    `json:"found"`
			Value *string `json:"value"`
		}
		if err := json.Unmarshal(res.Body, &r); err != nil {
			fmt.Fprintf(stderr, "cronium: INTERNAL: the helper API's answer is not understood\n")
			return ExitFailed
		}
		if !r.Found || r.Value == nil {
			fmt.Fprintf(stderr, "cronium: NOT_FOUND: variable %s is not set\n", args[1])
			return ExitNotFound
		}
		fmt.Fprintf(stdout, "%s\n", *r.Value)
	}
	return ExitOK
}

func readAll(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxRequestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %v", err)
	}
	if len(b) > MaxRequestBytes {
		return nil, fmt.Errorf("stdin holds more than %d bytes", MaxRequestBytes)
	}
	return b, nil
}

// call sends one request to the relay; failures to reach it are answers too.
func (e Env) call(op string, body json.RawMessage) Response {
	if e.Socket == "" {
		return Fail(statusUnavailable, CodeUnavailable, "CRONIUM_HELPER_SOCKET is not set",
			"cronium helpers work only in scripts run by cronium-runner")
	}
	req, err := marshal(struct {
		Op    string          `json:"op"`
		Token string          `json:"token"`
		Body  json.RawMessage `json:"body"`
	}{op, e.Token, body})
	if err != nil {
		// body was not JSON (raw): let the relay say so in its words.
		req = []byte(fmt.Sprintf(`{"op":%q,"token":%q,"body":null}`, op, e.Token))
	}
	c, err := net.DialTimeout("unix", e.Socket, 5*time.Second)
	if err != nil {
		return Fail(statusUnavailable, CodeUnavailable, "no helper relay is listening ("+errText(err)+")",
			"the run has ended, or a detached run lost its connection to the app")
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(clientTimeout))
	// A failed write is not the end: a relay refusing early (too large) has still answered.
	_, _ = c.Write(append(req, '\n'))
	line, err := bufio.NewReaderSize(c, 64<<10).ReadBytes('\n')
	if err != nil && len(line) == 0 {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Fail(504, CodeTimeout, "the helper relay did not answer in time", "")
		}
		return Fail(statusUnavailable, CodeUnavailable, "the helper relay closed the connection without an answer", "the run may be ending")
	}
	var res Response
	if json.Unmarshal(line, &res) != nil || res.Status < 100 || res.Status > 599 || len(res.Body) == 0 || res.Body[0] != '{' {
		return Fail(statusBadGateway, CodeInternal, "the helper relay's answer is not understood", "")
	}
	return res
}
