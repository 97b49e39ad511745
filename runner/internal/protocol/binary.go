package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol 4: length-prefixed binary frames (runner/README.md, "Wire format").
//
// Every frame is a 24-byte header and a body:
//
//	0      magic 0xC5 (never '{', so a reader tells protocol 3 lines from protocol 4 frames by the first byte)
//	1      type: 1 hello, 2 log, 3 heartbeat, 4 exit, 5 error, 6 helper, 7 helper-reply, 8 cancel, 9 ready
//	2      stream: 1 stdout, 2 stderr for log frames; 0 for every other type
//	3      flags: 0 (reserved; a reader refuses anything else)
//	4..7   body length, uint32 big-endian
//	8..15  seq, uint64 big-endian: log, heartbeat and exit frames; 0 otherwise
//	16..23 ts, uint64 big-endian, milliseconds: log and heartbeat frames; 0 otherwise
//
// Bodies: a log frame's is the output bytes themselves (at most MaxLogData), a
// heartbeat's is empty, every other type's is the frame's protocol 3 JSON
// object (the exit frame's seq also in its header). Decoding is as strict as
// for protocol 3: a known type, exact header fields, bounded lengths, and a
// JSON body that decodes to a frame of the header's type.
const (
	// Magic is the first byte of every protocol 4 frame.
	Magic = 0xC5
	// HeaderLen is the size of a frame's header.
	HeaderLen = 24
	// ProtocolBinary is the protocol number of binary frames.
	ProtocolBinary = 4
	// ProtocolJSON is the protocol number of newline-delimited JSON frames.
	ProtocolJSON = 3
)

var typeCodes = map[string]byte{
	TypeHello: 1, TypeLog: 2, TypeHeartbeat: 3, TypeExit: 4, TypeError: 5,
	TypeHelper: 6, TypeHelperReply: 7, TypeCancel: 8, TypeReady: 9,
}

var typeNames = [...]string{1: TypeHello, 2: TypeLog, 3: TypeHeartbeat, 4: TypeExit, 5: TypeError, 6: TypeHelper, 7: TypeHelperReply, 8: TypeCancel, 9: TypeReady}

// ErrShort means the buffer holds only part of a frame: read more.
var ErrShort = errors.New("incomplete frame")

// Header is a decoded frame header.
type Header struct {
	Type   string
	Stream string
	Len    int
	Seq    int64
	Ts     int64
}

// Size is the whole frame's length, header included.
func (h Header) Size() int { return HeaderLen + h.Len }

// maxBody bounds a body by type.
func maxBody(t string) int {
	switch t {
	case TypeLog:
		return MaxLogData
	case TypeHeartbeat:
		return 0
	}
	return MaxFrameBytes
}

// DecodeHeader parses and checks a frame header (the first HeaderLen bytes of
// b); ErrShort when b is shorter.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrShort
	}
	if b[0] != Magic {
		return Header{}, fmt.Errorf("frame does not start with 0x%02X (got 0x%02X)", Magic, b[0])
	}
	var h Header
	if int(b[1]) >= len(typeNames) || typeNames[b[1]] == "" {
		return h, fmt.Errorf("unknown frame type %d", b[1])
	}
	h.Type = typeNames[b[1]]
	switch {
	case h.Type == TypeLog && b[2] == 1:
		h.Stream = "stdout"
	case h.Type == TypeLog && b[2] == 2:
		h.Stream = "stderr"
	case h.Type == TypeLog || b[2] != 0:
		return h, fmt.Errorf("%s frame: bad stream %d", h.Type, b[2])
	}
	if b[3] != 0 {
		return h, fmt.Errorf("%s frame: reserved flags %d", h.Type, b[3])
	}
	n := binary.BigEndian.Uint32(b[4:8])
	if int64(n) > int64(maxBody(h.Type)) {
		return h, fmt.Errorf("%s frame: body of %d bytes, limit %d", h.Type, n, maxBody(h.Type))
	}
	h.Len = int(n)
	seq, ts := binary.BigEndian.Uint64(b[8:16]), binary.BigEndian.Uint64(b[16:24])
	if seq > MaxSeq || ts > MaxTs {
		return h, fmt.Errorf("%s frame: seq or ts out of range", h.Type)
	}
	h.Seq, h.Ts = int64(seq), int64(ts)
	hasSeq := h.Type == TypeLog || h.Type == TypeHeartbeat || h.Type == TypeExit
	hasTs := h.Type == TypeLog || h.Type == TypeHeartbeat
	if (!hasSeq && h.Seq != 0) || (!hasTs && h.Ts != 0) {
		return h, fmt.Errorf("%s frame: seq and ts must be 0", h.Type)
	}
	if (h.Type == TypeLog || h.Type == TypeExit) && h.Seq < 1 {
		return h, fmt.Errorf("%s frame: seq must be >= 1", h.Type)
	}
	return h, nil
}

// MaxSeq bounds sequence numbers (one per frame of at most 64 KiB: 2^40 is far beyond any run).
const MaxSeq = 1 << 40

// MaxTs bounds timestamps (milliseconds; year 287396).
const MaxTs = 1<<53 - 1

// DecodeBinary parses the first frame in b and returns it with its size;
// ErrShort when b holds only part of it. The frame's Data aliases b.
func DecodeBinary(b []byte) (*Frame, int, error) {
	h, err := DecodeHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if len(b) < h.Size() {
		return nil, 0, ErrShort
	}
	body := b[HeaderLen:h.Size()]
	var f *Frame
	switch h.Type {
	case TypeLog:
		f = &Frame{Type: TypeLog, Seq: h.Seq, Stream: h.Stream, Ts: h.Ts, Data: body}
	case TypeHeartbeat:
		f = &Frame{Type: TypeHeartbeat, Seq: h.Seq, Ts: h.Ts}
	default:
		if f, err = Decode(body); err != nil {
			return nil, 0, err
		}
		if f.Type != h.Type {
			return nil, 0, fmt.Errorf("%s frame carries a %s body", h.Type, f.Type)
		}
		if f.Type == TypeExit && f.Seq != h.Seq {
			return nil, 0, fmt.Errorf("exit frame: header seq %d, body seq %d", h.Seq, f.Seq)
		}
		if f.Type == TypeHello && f.Protocol != ProtocolBinary {
			return nil, 0, fmt.Errorf("a binary hello frame naming protocol %d", f.Protocol)
		}
	}
	if err := f.validate(); err != nil {
		return nil, 0, err
	}
	return f, h.Size(), nil
}

// BinaryParts returns f's protocol 4 header and body (a log frame's body is f.Data
// itself, not a copy), so a writer can write both without joining them first.
func (f *Frame) BinaryParts() (hdr [HeaderLen]byte, body []byte, err error) {
	code, ok := typeCodes[f.Type]
	if !ok {
		return hdr, nil, fmt.Errorf("unknown frame type %q", f.Type)
	}
	if err := f.validate(); err != nil {
		return hdr, nil, err
	}
	var stream byte
	var seq, ts int64
	switch f.Type {
	case TypeLog:
		body, seq, ts = f.Data, f.Seq, f.Ts
		if f.Stream == "stderr" {
			stream = 2
		} else {
			stream = 1
		}
	case TypeHeartbeat:
		seq, ts = f.Seq, f.Ts
	default:
		if body, err = f.Encode(); err != nil {
			return hdr, nil, err
		}
		if f.Type == TypeExit {
			seq = f.Seq
		}
	}
	if len(body) > maxBody(f.Type) {
		return hdr, nil, fmt.Errorf("%s frame: body of %d bytes, limit %d", f.Type, len(body), maxBody(f.Type))
	}
	hdr[0], hdr[1], hdr[2] = Magic, code, stream
	binary.BigEndian.PutUint32(hdr[4:8], uint32(len(body)))
	binary.BigEndian.PutUint64(hdr[8:16], uint64(seq))
	binary.BigEndian.PutUint64(hdr[16:24], uint64(ts))
	return hdr, body, nil
}

// LogHeader is the header of a log frame of n data bytes (0 < n ≤ MaxLogData,
// seq ≥ 1), for a writer that sends the bytes after it itself without holding
// them: a foreground run's output spliced from the script's pipe to stdout.
func LogHeader(stream string, seq, ts int64, n int) (hdr [HeaderLen]byte) {
	hdr[0], hdr[1], hdr[2] = Magic, typeCodes[TypeLog], 1
	if stream == "stderr" {
		hdr[2] = 2
	}
	binary.BigEndian.PutUint32(hdr[4:8], uint32(n))
	binary.BigEndian.PutUint64(hdr[8:16], uint64(seq))
	binary.BigEndian.PutUint64(hdr[16:24], uint64(ts))
	return hdr
}

// AppendBinary appends f's protocol 4 encoding to dst.
func (f *Frame) AppendBinary(dst []byte) ([]byte, error) {
	hdr, body, err := f.BinaryParts()
	if err != nil {
		return dst, err
	}
	dst = append(dst, hdr[:]...)
	return append(dst, body...), nil
}

// EncodeAs renders f in the given protocol: a JSON line with its newline (3) or a binary frame (4).
func (f *Frame) EncodeAs(proto int) ([]byte, error) {
	if proto == ProtocolBinary {
		return f.AppendBinary(nil)
	}
	b, err := f.Encode()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeStream parses a whole buffer of protocol 4 frames; an incomplete
// last frame is an error. The frames' Data alias b.
func DecodeStream(b []byte) ([]*Frame, error) {
	var out []*Frame
	for len(b) > 0 {
		f, n, err := DecodeBinary(b)
		if err != nil {
			return out, err
		}
		out = append(out, f)
		b = b[n:]
	}
	return out, nil
}
