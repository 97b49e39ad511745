package protocol

import (
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
)

// Exit reasons.
const (
	ExitExited       = "exited"
	ExitTimeout      = "timeout"
	ExitCancelled    = "cancelled"
	ExitDisconnected = "disconnected"
	ExitOutputLimit  = "output-limit"
)

// Limiters: how resource limits were enforced, named in the exit frame.
const (
	LimiterSystemd = "systemd-scope"
	LimiterRlimit  = "rlimit"
	LimiterNone    = "none"
)

// MaxLogData is the most data bytes one log frame carries.
const MaxLogData = 64 << 10

// MaxFrameBytes bounds one encoded frame line on either side.
const MaxFrameBytes = 1 << 20

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
	// error
	ErrCode string
	Message string
	// error: the PAYLOAD_REJECTED reason
	RejectReason string
}

// Encode renders f as one JSON line without the newline.
func (f *Frame) Encode() ([]byte, error) {
	var v any
	switch f.Type {
	case TypeHello:
		v = struct {
			Type     string `json:"type"`
			Protocol int64  `json:"protocol"`
			Version  string `json:"version"`
			RunID    string `json:"runId"`
			Pid      int64  `json:"pid"`
		}{f.Type, f.Protocol, f.Version, f.RunID, f.Pid}
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
		}{f.Type, f.Seq, f.Code, f.Signal, f.Reason, f.KilledWith, f.Rusage, f.DurationMs, f.Limiter}
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
	default:
		return nil, fmt.Errorf("unknown frame type %q", f.Type)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return json.Marshal(v)
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
		if m, err = object(line, "type", "protocol", "version", "runId", "pid"); err == nil {
			err = fields(m, kv{"protocol", &f.Protocol}, kv{"version", &f.Version}, kv{"runId", &f.RunID}, kv{"pid", &f.Pid})
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
		if m, err = object(line, "type", "seq", "code", "signal", "reason", "killedWith", "rusage", "durationMs", "limiter"); err == nil {
			err = fields(m, kv{"seq", &f.Seq}, kv{"reason", &f.Reason}, kv{"durationMs", &f.DurationMs}, kv{"limiter", &f.Limiter})
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

var errorCodes = []string{"PAYLOAD_REJECTED", "INTERPRETER_MISSING", "INTERNAL", "INVALID_INPUT", "NOT_FOUND"}

func (f *Frame) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s frame: "+format, append([]any{f.Type}, args...)...)
	}
	switch f.Type {
	case TypeHello:
		if f.Protocol < 1 || f.Pid < 1 || f.Version == "" || len(f.Version) > 64 || !ValidID(f.RunID) {
			return bad("needs protocol >= 1, pid >= 1, a version and a valid runId")
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
		if !contains([]string{ExitExited, ExitTimeout, ExitCancelled, ExitDisconnected, ExitOutputLimit}, f.Reason) {
			return bad("unknown reason %q", truncate(f.Reason, 20))
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
	}
	return nil
}
