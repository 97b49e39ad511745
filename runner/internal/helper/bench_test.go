package helper

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// Round trip of one helper call from the script's side (the `cronium`
// command's client) through the relay to a fake app and back, per transport.
// The shell command adds a process start on top; the app's own work is not
// measured here (see the app's helper benchmark).
//
//	go test -run XXX -bench . ./internal/helper/

func benchCalls(b *testing.B, fwd Forwarder) {
	sock := filepath.Join(shortTemp(b), "sock")
	r, err := Listen(sock, fwd)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	env := Env{Socket: sock, Token: "a.b.c"}
	body := json.RawMessage(`{"key":"K"}`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := env.call("getVariable", body); res.Status != 200 {
			b.Fatalf("%d %s", res.Status, res.Body)
		}
	}
}

func BenchmarkRoundTripTunnel(b *testing.B) {
	benchCalls(b, tunnelTo(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"found":true,"value":"v"}`)
	})))
}

func BenchmarkRoundTripInBand(b *testing.B) {
	pr, pw := io.Pipe()
	var ib *InBand
	ib = NewInBand(func(f *protocol.Frame) error {
		line, err := f.Encode()
		if err != nil {
			return err
		}
		_, err = pw.Write(append(line, '\n'))
		return err
	})
	// The app: decode each helper frame, answer with a helper-reply frame.
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, protocol.MaxFrameBytes)
		for sc.Scan() {
			f, err := protocol.Decode(sc.Bytes())
			if err != nil {
				continue
			}
			line, _ := (&protocol.Frame{Type: protocol.TypeHelperReply, ID: f.ID, Status: 200, Body: json.RawMessage(`{"found":true,"value":"v"}`)}).Encode()
			reply, _ := protocol.DecodeControl(line)
			ib.Deliver(reply)
		}
	}()
	defer pw.Close()
	benchCalls(b, ib)
}
