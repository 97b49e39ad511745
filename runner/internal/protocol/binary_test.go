package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand"
	"reflect"
	"testing"
)

type v4Fixtures struct {
	Valid []struct {
		Frame json.RawMessage `json:"frame"`
		Hex   string          `json:"hex"`
	} `json:"valid"`
	Invalid []struct {
		Name string `json:"name"`
		Hex  string `json:"hex"`
	} `json:"invalid"`
}

func loadV4(t testing.TB) v4Fixtures {
	var fx v4Fixtures
	if err := json.Unmarshal(mustRead(t, "frames-v4.json"), &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Valid) < 10 || len(fx.Invalid) < 20 {
		t.Fatalf("only %d valid and %d invalid vectors", len(fx.Valid), len(fx.Invalid))
	}
	return fx
}

// The shared protocol 4 vectors: this encoder writes each valid frame byte for
// byte as the TypeScript one did, this decoder reads it back as the JSON frame,
// and refuses every invalid one (the app's decoder gives the same verdicts).
func TestFixtureFramesV4(t *testing.T) {
	fx := loadV4(t)
	for i, c := range fx.Valid {
		want, err := Decode(c.Frame)
		if err != nil {
			t.Fatalf("vector %d: its JSON frame: %v", i, err)
		}
		raw, _ := hex.DecodeString(c.Hex)
		got, err := DecodeStream(raw)
		if err != nil || len(got) != 1 {
			t.Fatalf("vector %d (%s): %v", i, want.Type, err)
		}
		if got[0].Type == TypeLog && len(got[0].Data) == 0 {
			got[0].Data = want.Data
		}
		if !reflect.DeepEqual(got[0], want) {
			t.Fatalf("vector %d: decoded %+v, want %+v", i, got[0], want)
		}
		enc, err := want.AppendBinary(nil)
		if err != nil || !bytes.Equal(enc, raw) {
			t.Fatalf("vector %d: encoded %x (%v), want %s", i, enc, err, c.Hex)
		}
	}
	for _, c := range fx.Invalid {
		raw, _ := hex.DecodeString(c.Hex)
		if frames, err := DecodeStream(raw); err == nil {
			t.Errorf("%s: accepted as %d frames", c.Name, len(frames))
		}
	}
}

// Any split of a valid stream decodes to the same frames: a frame is whole or
// ErrShort, never a wrong frame.
func TestDecodeBinaryIncremental(t *testing.T) {
	fx := loadV4(t)
	var stream []byte
	for _, c := range fx.Valid {
		raw, _ := hex.DecodeString(c.Hex)
		stream = append(stream, raw...)
	}
	want, err := DecodeStream(stream)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	for round := 0; round < 200; round++ {
		var got []*Frame
		var buf []byte
		for at := 0; at < len(stream); {
			n := 1 + rng.Intn(40)
			buf = append(buf, stream[at:min(at+n, len(stream))]...)
			at += n
			for {
				f, size, err := DecodeBinary(buf)
				if errors.Is(err, ErrShort) {
					break
				}
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				got = append(got, f)
				buf = append([]byte(nil), buf[size:]...)
			}
		}
		if len(got) != len(want) || len(buf) != 0 {
			t.Fatalf("round %d: %d frames, %d bytes left", round, len(got), len(buf))
		}
	}
}

// FuzzDecodeBinary: no input panics or is read past its end; whatever is
// accepted satisfies every bound and survives a round trip through the encoder.
func FuzzDecodeBinary(f *testing.F) {
	fx := loadV4(f)
	for _, c := range fx.Valid {
		raw, _ := hex.DecodeString(c.Hex)
		f.Add(raw)
	}
	for _, c := range fx.Invalid {
		raw, _ := hex.DecodeString(c.Hex)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeBinary(b)
		if err != nil {
			return
		}
		if n < HeaderLen || n > len(b) {
			t.Fatalf("consumed %d of %d bytes", n, len(b))
		}
		if fr.Type == TypeLog && (len(fr.Data) > MaxLogData || fr.Seq < 1 || fr.Seq > MaxSeq) {
			t.Fatalf("accepted out-of-bounds log frame seq %d, %d bytes", fr.Seq, len(fr.Data))
		}
		enc, err := fr.AppendBinary(nil)
		if err != nil {
			t.Fatalf("accepted frame does not encode: %v", err)
		}
		back, m, err := DecodeBinary(enc)
		if err != nil || m != len(enc) || !reflect.DeepEqual(back, fr) && !(fr.Type == TypeLog && bytes.Equal(back.Data, fr.Data)) {
			t.Fatalf("round trip: %+v -> %+v (%v)", fr, back, err)
		}
	})
}

// LogHeader writes the header BinaryParts writes for a log frame of that many bytes.
func TestLogHeader(t *testing.T) {
	for _, f := range []*Frame{
		{Type: TypeLog, Seq: 1, Stream: "stdout", Ts: 0, Data: []byte("x")},
		{Type: TypeLog, Seq: MaxSeq, Stream: "stderr", Ts: MaxTs, Data: make([]byte, MaxLogData)},
		{Type: TypeLog, Seq: 77, Stream: "stderr", Ts: 1700000000123, Data: []byte("\xc5\x00{\n")},
	} {
		want, _, err := f.BinaryParts()
		if err != nil {
			t.Fatal(err)
		}
		got := LogHeader(f.Stream, f.Seq, f.Ts, len(f.Data))
		if got != want {
			t.Errorf("seq %d: %x, want %x", f.Seq, got, want)
		}
		if h, err := DecodeHeader(got[:]); err != nil || h.Len != len(f.Data) || h.Stream != f.Stream {
			t.Errorf("seq %d: decodes as %+v, %v", f.Seq, h, err)
		}
	}
}
