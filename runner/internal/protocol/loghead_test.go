package protocol

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodeLogHead(t *testing.T) {
	for _, f := range []*Frame{
		{Type: TypeLog, Seq: 1, Stream: "stdout", Ts: 0, Data: []byte("hello\n")},
		{Type: TypeLog, Seq: 123456789, Stream: "stderr", Ts: 1764322800123, Data: bytes.Repeat([]byte{0xff, 0, '"', '\\'}, MaxLogData/4)},
		{Type: TypeLog, Seq: 7, Stream: "stdout", Ts: 5, Data: []byte("a")},
		{Type: TypeLog, Seq: 8, Stream: "stdout", Ts: 5, Data: []byte("ab")},
	} {
		line, err := f.Encode()
		if err != nil {
			t.Fatal(err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		h, ok := DecodeLogHead(line)
		if !ok {
			t.Fatalf("not read: %.80s", line)
		}
		full, err := Decode(line)
		if err != nil {
			t.Fatal(err)
		}
		if h.Type != full.Type || h.Seq != full.Seq || h.Stream != full.Stream || h.Ts != full.Ts || h.Data != nil {
			t.Fatalf("head %+v, full %+v", h, full)
		}
	}
	good := `{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aGk="}`
	if _, ok := DecodeLogHead([]byte(good)); !ok {
		t.Fatal("a well-formed line was not read")
	}
	for _, bad := range []string{
		`{"type":"heartbeat","ts":1,"seq":3}`,
		`{"type":"log","seq":0,"stream":"stdout","ts":9,"data":"aGk="}`,
		`{"type":"log","seq":03,"stream":"stdout","ts":9,"data":"aGk="}`,
		`{"type":"log","seq":-3,"stream":"stdout","ts":9,"data":"aGk="}`,
		`{"type":"log","seq":+3,"stream":"stdout","ts":9,"data":"aGk="}`,
		`{"type":"log","seq":3,"stream":"system","ts":9,"data":"aGk="}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":-9,"data":"aGk="}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aGk"}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"a=Gk"}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aGl="}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aB=="}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aGk=","x":1}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"aG\u0041="}`,
		`{"type":"log","seq":3,"stream":"stdout","ts":9,"data":"` + strings.Repeat("A", 4*(MaxLogData/3+2)) + `"}`,
		`{"type":"log","seq":99999999999999999999,"stream":"stdout","ts":9,"data":"aGk="}`,
	} {
		if h, ok := DecodeLogHead([]byte(bad)); ok {
			t.Fatalf("read %q as %+v", bad, h)
		}
	}
}
