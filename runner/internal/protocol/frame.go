package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Frame types written by the runner (stdout) and read by it (stdin control).
const (
	TypeHello     = "hello"
	TypeLog       = "log"
	TypeHeartbeat = "heartbeat"
	TypeExit      = "exit"
	TypeError     = "error"
	TypeCancel    = "cancel"
	// TypeHelper carries a script's helper call to the app (transport in-band).
	TypeHelper = "helper"
	// TypeHelperReply is the app's answer to a helper frame, on stdin.
	TypeHelperReply = "helper-reply"
	// TypeReady is written by `serve` (stdout, never a control frame, never in
	// a spool) when it waits for the next envelope: code and signal are null in
	// the first one, afterwards the wait status of the previous run's process.
	TypeReady = "ready"
)

// HelperOps are the helper operations a script may call.
var HelperOps = []string{"input", "output", "getVariable", "setVariable", "setCondition", "event"}

// MaxHelperBodyBytes bounds the JSON body of a helper call or reply.
const MaxHelperBodyBytes = 1 << 20

// Exit reasons.
const (
	ExitExited       = "exited"
	ExitTimeout      = "timeout"
	ExitCancelled    = "cancelled"
	ExitDisconnected = "disconnected"
	ExitOutputLimit  = "output-limit"
	// ExitSpoolFull: the file system of the run's spool filled up; the output
	// was cut at the last frame that could be written and the script stopped.
	ExitSpoolFull = "spool-full"
	// ExitElevationFailed: sudo or doas refused (wrong password, not allowed,
	// requiretty); the script never started. The exit frame's detail has what
	// sudo said.
	ExitElevationFailed = "elevation-failed"
	// MaxExitDetail bounds an exit frame's detail.
	MaxExitDetail = 2048
)

// Limiters: how resource limits were enforced, named in the exit frame.
const (
	LimiterSystemd = "systemd-scope"
	LimiterRlimit  = "rlimit"
	LimiterNone    = "none"
)

// MaxLogData is the most data bytes one log frame carries.
const MaxLogData = 64 << 10

// MaxHelperExposed bounds a hello's helperExposed list.
const MaxHelperExposed = 16

// MaxFrameBytes bounds one encoded frame line on either side: room for a
// helper frame with a body of MaxHelperBodyBytes and a token of MaxTokenBytes.
const MaxFrameBytes = 1<<20 + 16<<10

// Rusage is the resource use of a run.
type Rusage struct {
	UserMs   int64 `json:"userMs"`
	SysMs    int64 `json:"sysMs"`
	MaxRssKb int64 `json:"maxRssKb"`
}

// Frame is any frame; Type says which fields are meaningful. Pointers mark
// fields that are JSON null in some frames (code, signal, killedWith).
type Frame struct {
	Type string
	// hello
	Protocol int64
	Version  string
	RunID    string
	Pid      int64
	// HelperExposed, in a hello: the payload asked for the helper tunnel, but
	// its port listens beyond loopback on these addresses (sshd with
	// GatewayPorts yes), so the run's helpers use in-band frames instead.
	HelperExposed []string
	// log, heartbeat, exit
	Seq    int64
	Stream string
	Ts     int64
	Data   []byte
	// exit
	Code       *int64
	Signal     *string
	Reason     string
	KilledWith *string
	Rusage     Rusage
	DurationMs int64
	Limiter    string
	Detail     string
	// error
	ErrCode string
	Message string
	// error: the PAYLOAD_REJECTED reason
	RejectReason string
	// helper, helper-reply: the call's id (per run, from 1), helper: its
	// operation and token, helper-reply: its status; both: a JSON object.
	ID     int64
	Op     string
	Token  string
	Status int64
	Body   json.RawMessage
}

// Encode renders f as one JSON line without the newline.
func (f *Frame) Encode() ([]byte, error) {
	var v any
	switch f.Type {
	case TypeHello:
		v = struct {
			Type          string   `json:"type"`
			Protocol      int64    `json:"protocol"`
			Version       string   `json:"version"`
			RunID         string   `json:"runId"`
			Pid           int64    `json:"pid"`
			HelperExposed []string `json:"helperExposed,omitempty"`
		}{f.Type, f.Protocol, f.Version, f.RunID, f.Pid, f.HelperExposed}
	case TypeLog:
		v = struct {
			Type   string `json:"type"`
			Seq    int64  `json:"seq"`
			Stream string `json:"stream"`
			Ts     int64  `json:"ts"`
			Data   string `json:"data"`
		}{f.Type, f.Seq, f.Stream, f.Ts, base64.StdEncoding.EncodeToString(f.Data)}
	case TypeHeartbeat:
		v = struct {
			Type string `json:"type"`
			Ts   int64  `json:"ts"`
			Seq  int64  `json:"seq"`
		}{f.Type, f.Ts, f.Seq}
	case TypeExit:
		v = struct {
			Type       string  `json:"type"`
			Seq        int64   `json:"seq"`
			Code       *int64  `json:"code"`
			Signal     *string `json:"signal"`
			Reason     string  `json:"reason"`
			KilledWith *string `json:"killedWith"`
			Rusage     Rusage  `json:"rusage"`
			DurationMs int64   `json:"durationMs"`
			Limiter    string  `json:"limiter"`
			Detail     string  `json:"detail,omitempty"`
		}{f.Type, f.Seq, f.Code, f.Signal, f.Reason, f.KilledWith, f.Rusage, f.DurationMs, f.Limiter, f.Detail}
	case TypeError:
		v = struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
			Reason  string `json:"reason,omitempty"`
		}{f.Type, f.ErrCode, f.Message, f.RejectReason}
	case TypeCancel:
		v = struct {
			Type string `json:"type"`
		}{f.Type}
	case TypeHelper:
		v = struct {
			Type  string          `json:"type"`
			ID    int64           `json:"id"`
			Op    string          `json:"op"`
			Token string          `json:"token"`
			Body  json.RawMessage `json:"body"`
		}{f.Type, f.ID, f.Op, f.Token, f.Body}
	case TypeHelperReply:
		v = struct {
			Type   string          `json:"type"`
			ID     int64           `json:"id"`
			Status int64           `json:"status"`
			Body   json.RawMessage `json:"body"`
		}{f.Type, f.ID, f.Status, f.Body}
	case TypeReady:
		v = struct {
			Type   string  `json:"type"`
			Code   *int64  `json:"code"`
			Signal *string `json:"signal"`
		}{f.Type, f.Code, f.Signal}
	default:
		return nil, fmt.Errorf("unknown frame type %q", f.Type)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	// No HTML escaping: a frame is the same bytes JSON.stringify writes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Decode parses one frame line strictly: known type, exact fields, valid values.
func Decode(line []byte) (*Frame, error) {
	if len(line) > MaxFrameBytes {
		return nil, fmt.Errorf("frame is %d bytes, limit %d", len(line), MaxFrameBytes)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return nil, fmt.Errorf("frame is not a JSON object: %v", err)
	}
	f := &Frame{Type: head.Type}
	var m map[string]json.RawMessage
	var err error
	switch head.Type {
	case TypeHello:
		if m, err = object(line, "type", "protocol", "version", "runId", "pid", "helperExposed"); err == nil {
			err = fields(m, kv{"protocol", &f.Protocol}, kv{"version", &f.Version}, kv{"runId", &f.RunID}, kv{"pid", &f.Pid})
		}
		if err == nil {
			var present bool
			if present, err = optional(m, "helperExposed", &f.HelperExposed); err == nil && present && len(f.HelperExposed) == 0 {
				err = errors.New("field \"helperExposed\": empty (omit it instead)")
			}
		}
	case TypeLog:
		var data string
		if m, err = object(line, "type", "seq", "stream", "ts", "data"); err == nil {
			err = fields(m, kv{"seq", &f.Seq}, kv{"stream", &f.Stream}, kv{"ts", &f.Ts}, kv{"data", &data})
		}
		if err == nil {
			if f.Data, err = base64Std.DecodeString(data); err != nil {
				err = errors.New("log data is not canonical base64")
			}
		}
	case TypeHeartbeat:
		if m, err = object(line, "type", "ts", "seq"); err == nil {
			err = fields(m, kv{"ts", &f.Ts}, kv{"seq", &f.Seq})
		}
	case TypeExit:
		if m, err = object(line, "type", "seq", "code", "signal", "reason", "killedWith", "rusage", "durationMs", "limiter", "detail"); err == nil {
			err = fields(m, kv{"seq", &f.Seq}, kv{"reason", &f.Reason}, kv{"durationMs", &f.DurationMs}, kv{"limiter", &f.Limiter})
		}
		if err == nil {
			_, err = optional(m, "detail", &f.Detail)
		}
		if err == nil {
			err = nullable(m, "code", &f.Code, "signal", &f.Signal, "killedWith", &f.KilledWith)
		}
		if err == nil {
			var rm map[string]json.RawMessage
			if rm, err = object(m["rusage"], "userMs", "sysMs", "maxRssKb"); err == nil {
				err = fields(rm, kv{"userMs", &f.Rusage.UserMs}, kv{"sysMs", &f.Rusage.SysMs}, kv{"maxRssKb", &f.Rusage.MaxRssKb})
			} else {
				err = fmt.Errorf("rusage: %w", err)
			}
		}
	case TypeError:
		if m, err = object(line, "type", "code", "message", "reason"); err == nil {
			err = fields(m, kv{"code", &f.ErrCode}, kv{"message", &f.Message})
		}
		if err == nil {
			_, err = optional(m, "reason", &f.RejectReason)
		}
	case TypeCancel:
		_, err = object(line, "type")
	case TypeHelper:
		if m, err = object(line, "type", "id", "op", "token", "body"); err == nil {
			err = fields(m, kv{"id", &f.ID}, kv{"op", &f.Op}, kv{"token", &f.Token})
		}
		if err == nil {
			f.Body, err = jsonObject(m, "body")
		}
	case TypeHelperReply:
		if m, err = object(line, "type", "id", "status", "body"); err == nil {
			err = fields(m, kv{"id", &f.ID}, kv{"status", &f.Status})
		}
		if err == nil {
			f.Body, err = jsonObject(m, "body")
		}
	case TypeReady:
		if m, err = object(line, "type", "code", "signal"); err == nil {
			err = nullable(m, "code", &f.Code, "signal", &f.Signal)
		}
	default:
		return nil, fmt.Errorf("unknown frame type %q", truncate(head.Type, 20))
	}
	if err != nil {
		return nil, fmt.Errorf("%s frame: %w", head.Type, err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// jsonObject returns the required key's value, which must be a JSON object,
// compacted (the form the encoder writes back).
func jsonObject(m map[string]json.RawMessage, key string) (json.RawMessage, error) {
	raw, ok := m[key]
	if !ok {
		return nil, fmt.Errorf("missing field %q", key)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("field %q: want a JSON object", key)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("field %q: %v", key, err)
	}
	return buf.Bytes(), nil
}

// DecodeControl parses one line of the app's stdin after the envelope: a
// cancel or helper-reply frame, nothing else.
func DecodeControl(line []byte) (*Frame, error) {
	f, err := Decode(line)
	if err != nil {
		return nil, err
	}
	if f.Type != TypeCancel && f.Type != TypeHelperReply {
		return nil, fmt.Errorf("%s is not a control frame", f.Type)
	}
	return f, nil
}

type kv struct {
	key string
	dst any
}

func fields(m map[string]json.RawMessage, list ...kv) error {
	for _, f := range list {
		if err := field(m, f.key, f.dst); err != nil {
			return err
		}
	}
	return nil
}

// nullable decodes required keys whose value may be null: pairs of key and **T.
func nullable(m map[string]json.RawMessage, pairs ...any) error {
	for i := 0; i < len(pairs); i += 2 {
		key := pairs[i].(string)
		if _, ok := m[key]; !ok {
			return fmt.Errorf("missing field %q", key)
		}
		switch dst := pairs[i+1].(type) {
		case **int64:
			var v int64
			if ok, err := optional(m, key, &v); err != nil {
				return err
			} else if ok {
				*dst = &v
			}
		case **string:
			var v string
			if ok, err := optional(m, key, &v); err != nil {
				return err
			} else if ok {
				*dst = &v
			}
		}
	}
	return nil
}

// errorCodes: RUNNER_CHANGED is a resident runner's (`run --resident`) refusal
// of an envelope because its binary or the binary's directories changed since
// `serve` started.
var errorCodes = []string{"PAYLOAD_REJECTED", "INTERPRETER_MISSING", "INTERNAL", "INVALID_INPUT", "NOT_FOUND", "RUNNER_CHANGED"}

func (f *Frame) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s frame: "+format, append([]any{f.Type}, args...)...)
	}
	switch f.Type {
	case TypeHello:
		if f.Protocol < 1 || f.Pid < 1 || f.Version == "" || len(f.Version) > 64 || !ValidID(f.RunID) {
			return bad("needs protocol >= 1, pid >= 1, a version and a valid runId")
		}
		if len(f.HelperExposed) > MaxHelperExposed {
			return bad("lists %d exposed addresses, at most %d", len(f.HelperExposed), MaxHelperExposed)
		}
		for _, a := range f.HelperExposed {
			if !isAddress(a) {
				return bad("needs exposed addresses written as IP addresses (2 to 45 of 0-9, a-f, '.' and ':')")
			}
		}
	case TypeLog:
		if f.Seq < 1 || f.Ts < 0 || (f.Stream != "stdout" && f.Stream != "stderr") || len(f.Data) > MaxLogData {
			return bad("needs seq >= 1, ts >= 0, stream stdout|stderr and at most %d data bytes", MaxLogData)
		}
	case TypeHeartbeat:
		if f.Seq < 0 || f.Ts < 0 {
			return bad("needs seq >= 0 and ts >= 0")
		}
	case TypeExit:
		if f.Seq < 1 || f.DurationMs < 0 || f.Rusage.UserMs < 0 || f.Rusage.SysMs < 0 || f.Rusage.MaxRssKb < 0 {
			return bad("needs seq >= 1 and non-negative durations")
		}
		if (f.Code == nil) == (f.Signal == nil) {
			return bad("needs exactly one of code and signal")
		}
		if f.Code != nil && (*f.Code < 0 || *f.Code > 255) {
			return bad("code must be 0..255")
		}
		if f.Signal != nil && (*f.Signal == "" || len(*f.Signal) > 16) {
			return bad("signal must be a short name")
		}
		if !contains([]string{ExitExited, ExitTimeout, ExitCancelled, ExitDisconnected, ExitOutputLimit, ExitSpoolFull, ExitElevationFailed}, f.Reason) {
			return bad("unknown reason %q", truncate(f.Reason, 20))
		}
		if (f.Detail != "") != (f.Reason == ExitElevationFailed) || len(f.Detail) > MaxExitDetail {
			return bad("detail goes with reason elevation-failed only, at most %d bytes", MaxExitDetail)
		}
		if f.KilledWith != nil && *f.KilledWith != "TERM" && *f.KilledWith != "KILL" {
			return bad("killedWith must be null, TERM or KILL")
		}
		if !contains([]string{LimiterSystemd, LimiterRlimit, LimiterNone}, f.Limiter) {
			return bad("unknown limiter %q", truncate(f.Limiter, 20))
		}
	case TypeError:
		if !contains(errorCodes, f.ErrCode) || len(f.Message) > 4096 {
			return bad("unknown code %q", truncate(f.ErrCode, 30))
		}
		if (f.ErrCode == "PAYLOAD_REJECTED") != (f.RejectReason != "") {
			return bad("reason is required with PAYLOAD_REJECTED and only there")
		}
	case TypeReady:
		if f.Code != nil && f.Signal != nil {
			return bad("has at most one of code and signal")
		}
		if f.Code != nil && (*f.Code < 0 || *f.Code > 255) {
			return bad("code must be 0..255")
		}
		if f.Signal != nil && (*f.Signal == "" || len(*f.Signal) > 16) {
			return bad("signal must be a short name")
		}
	case TypeHelper:
		if f.ID < 1 || !contains(HelperOps, f.Op) || !ValidToken(f.Token) {
			return bad("needs id >= 1, an operation of %v and a valid token", HelperOps)
		}
		if err := checkBody(f.Body); err != nil {
			return bad("%v", err)
		}
	case TypeHelperReply:
		if f.ID < 1 || f.Status < 100 || f.Status > 599 {
			return bad("needs id >= 1 and status 100..599")
		}
		if err := checkBody(f.Body); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

// checkBody: a helper body is one JSON object of at most MaxHelperBodyBytes.
func checkBody(b json.RawMessage) error {
	if len(b) > MaxHelperBodyBytes {
		return fmt.Errorf("body is %d bytes, limit %d", len(b), MaxHelperBodyBytes)
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return errors.New("body must be a JSON object")
	}
	return nil
}

// isAddress says whether s is written like an IPv4 or IPv6 address: 2 to 45
// characters of hex digits, '.' and ':' (what net.IP.String gives; never text
// that could pass for a log line).
func isAddress(s string) bool {
	if len(s) < 2 || len(s) > 45 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
