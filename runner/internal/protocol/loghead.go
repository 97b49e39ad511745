package protocol

import (
	"bytes"
	"encoding/base64"
	"strconv"
)

var (
	logHeadPrefix = []byte(`{"type":"log","seq":`)
	logStdout     = []byte(`"stream":"stdout","ts":`)
	logStderr     = []byte(`"stream":"stderr","ts":`)
	logData       = []byte(`"data":"`)
	logEnd        = []byte(`"}`)
)

// DecodeLogHead reads a log frame laid out exactly as Encode writes it,
// {"type":"log","seq":N,"stream":"stdout"|"stderr","ts":T,"data":"<base64>"},
// without decoding its data: the frame it returns has Type, Seq, Stream and Ts
// but no Data. It checks the whole line has that shape and that the data is
// standard base64 of at most MaxLogData bytes; ok is false for anything else,
// and the caller then uses Decode. It is for a follower that forwards spooled
// lines as they are and needs only their sequence numbers: Decode would parse
// each up-to-87 KiB line several times and allocate its data twice (the app
// parses every frame strictly anyway).
func DecodeLogHead(line []byte) (*Frame, bool) {
	rest, ok := bytes.CutPrefix(line, logHeadPrefix)
	if !ok {
		return nil, false
	}
	seq, rest, ok := cutUint(rest)
	if !ok || seq < 1 {
		return nil, false
	}
	var stream string
	switch {
	case bytes.HasPrefix(rest, logStdout):
		stream = "stdout"
	case bytes.HasPrefix(rest, logStderr):
		stream = "stderr"
	default:
		return nil, false
	}
	ts, rest, ok := cutUint(rest[len(logStdout):])
	if !ok {
		return nil, false
	}
	data, ok := bytes.CutPrefix(rest, logData)
	if !ok || !bytes.HasSuffix(data, logEnd) {
		return nil, false
	}
	data = data[:len(data)-len(logEnd)]
	if len(data)%4 != 0 || len(data) > base64.StdEncoding.EncodedLen(MaxLogData) || !isBase64(data) {
		return nil, false
	}
	return &Frame{Type: TypeLog, Seq: seq, Stream: stream, Ts: ts}, true
}

// cutUint reads a decimal number without sign or leading zeros up to a comma.
func cutUint(b []byte) (int64, []byte, bool) {
	i := bytes.IndexByte(b, ',')
	if i <= 0 || i > 18 || (i > 1 && b[0] == '0') {
		return 0, nil, false
	}
	for _, c := range b[:i] {
		if c < '0' || c > '9' {
			return 0, nil, false
		}
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

// isBase64 reports whether b is canonical standard base64 (padding only at its
// end, and zero padding bits, as Decode requires).
func isBase64(b []byte) bool {
	n := len(b)
	for i, c := range b {
		if b64Value(c) < 0 && !(c == '=' && (i == n-1 || (i == n-2 && b[n-1] == '='))) {
			return false
		}
	}
	switch {
	case n >= 3 && b[n-2] == '=':
		return b64Value(b[n-3])&0x0f == 0
	case n >= 2 && b[n-1] == '=':
		return b64Value(b[n-2])&0x03 == 0
	}
	return true
}

// b64Value is the 6-bit value of a standard base64 digit, or -1.
func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
