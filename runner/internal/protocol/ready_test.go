package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"testing"
)

// The ready frame serve writes between runs: JSON line and binary frame, both
// ways, with the exact bytes the TypeScript encoder writes.
func TestReadyFrameRoundTrip(t *testing.T) {
	code0, code3, kill := int64(0), int64(3), "KILL"
	sigkill := "SIGKILL"
	for _, tc := range []struct {
		f    Frame
		line string
		hex  string
	}{
		{Frame{Type: TypeReady}, `{"type":"ready","code":null,"signal":null}`,
			"c50900000000002a000000000000000000000000000000007b2274797065223a227265616479222c22636f6465223a6e756c6c2c227369676e616c223a6e756c6c7d"},
		{Frame{Type: TypeReady, Code: &code0}, `{"type":"ready","code":0,"signal":null}`,
			"c509000000000027000000000000000000000000000000007b2274797065223a227265616479222c22636f6465223a302c227369676e616c223a6e756c6c7d"},
		{Frame{Type: TypeReady, Code: &code3}, `{"type":"ready","code":3,"signal":null}`, ""},
		{Frame{Type: TypeReady, Signal: &sigkill}, `{"type":"ready","code":null,"signal":"SIGKILL"}`,
			"c50900000000002f000000000000000000000000000000007b2274797065223a227265616479222c22636f6465223a6e756c6c2c227369676e616c223a225349474b494c4c227d"},
		{Frame{Type: TypeReady, Signal: &kill}, `{"type":"ready","code":null,"signal":"KILL"}`, ""},
	} {
		line, err := tc.f.Encode()
		if err != nil || string(line) != tc.line {
			t.Fatalf("Encode = %s (%v), want %s", line, err, tc.line)
		}
		back, err := Decode(line)
		if err != nil || !reflect.DeepEqual(*back, tc.f) {
			t.Fatalf("Decode(%s) = %+v (%v)", line, back, err)
		}
		bin, err := tc.f.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		if bin[0] != Magic || bin[1] != 9 || bin[2] != 0 || bin[3] != 0 || binary.BigEndian.Uint32(bin[4:8]) != uint32(len(tc.line)) ||
			!bytes.Equal(bin[8:24], make([]byte, 16)) || string(bin[HeaderLen:]) != tc.line {
			t.Fatalf("binary %x", bin)
		}
		if tc.hex != "" && hex.EncodeToString(bin) != tc.hex {
			t.Fatalf("binary %x, want %s", bin, tc.hex)
		}
		fr, n, err := DecodeBinary(bin)
		if err != nil || n != len(bin) || !reflect.DeepEqual(*fr, tc.f) {
			t.Fatalf("DecodeBinary = %+v, %d, %v", fr, n, err)
		}
		if _, err := DecodeControl(line); err == nil {
			t.Fatal("a ready frame accepted as a control frame")
		}
	}
}

func TestReadyFrameInvalid(t *testing.T) {
	for _, line := range []string{
		`{"type":"ready","code":0,"signal":"SIGKILL"}`,
		`{"type":"ready","code":256,"signal":null}`,
		`{"type":"ready","code":-1,"signal":null}`,
		`{"type":"ready","code":1.5,"signal":null}`,
		`{"type":"ready","code":"0","signal":null}`,
		`{"type":"ready","code":null,"signal":""}`,
		`{"type":"ready","code":null,"signal":"SIGNAL-NAME-TOO-LONG"}`,
		`{"type":"ready","code":null,"signal":7}`,
		`{"type":"ready","code":null}`,
		`{"type":"ready","signal":null}`,
		`{"type":"ready"}`,
		`{"type":"ready","code":null,"signal":null,"seq":1}`,
		`{"type":"ready","code":null,"signal":null,"Code":1}`,
		`{"type":"ready","code":null,"code":0,"signal":null}`,
	} {
		if f, err := Decode([]byte(line)); err == nil {
			t.Errorf("accepted %s as %+v", line, f)
		}
	}
	code, bad := int64(256), "SIGKILL"
	zero := int64(0)
	for _, f := range []*Frame{{Type: TypeReady, Code: &code}, {Type: TypeReady, Code: &zero, Signal: &bad}} {
		if b, err := f.AppendBinary(nil); err == nil {
			t.Errorf("encoded %+v as %x", f, b)
		}
		if b, err := f.Encode(); err == nil {
			t.Errorf("encoded %+v as %s", f, b)
		}
	}
	good, _ := (&Frame{Type: TypeReady, Code: &zero}).AppendBinary(nil)
	for name, mut := range map[string]func(b []byte){
		"seq":          func(b []byte) { b[15] = 1 },
		"ts":           func(b []byte) { b[23] = 1 },
		"stream 1":     func(b []byte) { b[2] = 1 },
		"stream 2":     func(b []byte) { b[2] = 2 },
		"flags":        func(b []byte) { b[3] = 1 },
		"short length": func(b []byte) { b[7]-- },
	} {
		b := append([]byte(nil), good...)
		mut(b)
		if frames, err := DecodeStream(b); err == nil {
			t.Errorf("%s: accepted as %d frames", name, len(frames))
		}
	}
	// A ready header with another type's body, and a ready body under another type's header.
	exit := []byte(`{"type":"exit","seq":1,"code":0,"signal":null,"reason":"exited","killedWith":null,"rusage":{"userMs":0,"sysMs":0,"maxRssKb":0},"durationMs":0,"limiter":"none"}`)
	hdr := append([]byte(nil), good[:HeaderLen]...)
	binary.BigEndian.PutUint32(hdr[4:8], uint32(len(exit)))
	if _, _, err := DecodeBinary(append(hdr, exit...)); err == nil {
		t.Error("ready header with an exit body accepted")
	}
	asErr := append([]byte(nil), good...)
	asErr[1] = typeCodes[TypeError]
	if _, _, err := DecodeBinary(asErr); err == nil {
		t.Error("error header with a ready body accepted")
	}
}

func TestRunnerChangedErrorCode(t *testing.T) {
	line := `{"type":"error","code":"RUNNER_CHANGED","message":"the runner's binary changed on the host since this channel verified it"}`
	f, err := Decode([]byte(line))
	if err != nil || f.ErrCode != "RUNNER_CHANGED" {
		t.Fatalf("%+v, %v", f, err)
	}
	if out, _ := f.Encode(); string(out) != line {
		t.Fatalf("re-encoded %s", out)
	}
}
