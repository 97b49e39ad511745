package protocol

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mustRead(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzVerify: no input panics, and whatever is accepted satisfies every bound.
// Seeds: testdata/fuzz/FuzzVerify plus the shared fixture lines.
func FuzzVerify(f *testing.F) {
	for _, line := range bytes.Split(mustRead(f, "frames.ndjson"), []byte("\n")) {
		f.Add(line)
	}
	var fx payloadFixtures
	if err := json.Unmarshal(mustRead(f, "payloads.json"), &fx); err != nil {
		f.Fatal(err)
	}
	for _, c := range fx.Cases {
		f.Add([]byte(c.Line))
	}
	key := loadFixtureKey(f)
	f.Fuzz(func(t *testing.T, line []byte) {
		p, err := Verify(line, VerifyOptions{Key: key, HostID: "host-fixture-1", Now: time.UnixMilli(4102444860000)})
		if err != nil {
			return
		}
		if !ValidID(p.RunID) || len(p.Script) > MaxScriptBytes || p.Limits.TimeoutMs < 1 {
			t.Fatalf("accepted out-of-bounds payload %+v", p)
		}
	})
}

// FuzzParsePayload exercises the strict payload parser without a signature.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"jobId":"j","runId":"r","hostId":"h","nonce":"AAAAAAAAAAAAAAAAAAAAAA==","iat":1,"exp":2,"interpreter":"sh","script":"","env":{},"limits":{"timeoutMs":1,"graceMs":0},"detach":false,"pty":false,"helper":{"transport":"none"}}`))
	f.Add([]byte(`{"jobId":"j","runId":"r","hostId":"h","nonce":"AAAAAAAAAAAAAAAAAAAAAA==","iat":1,"exp":2,"interpreter":"sh","script":"","env":{},"limits":{"timeoutMs":1,"graceMs":0},"detach":false,"pty":false,"helper":{"transport":"none"},"mask":["hunter2","w\u00f6rld"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParsePayload(body)
		if err != nil {
			return
		}
		if !ValidID(p.RunID) || !ValidID(p.JobID) || p.Exp <= p.Iat || len(p.Env) > MaxEnvEntries || len(p.Mask) > MaxMaskEntries {
			t.Fatalf("accepted out-of-bounds payload %+v", p)
		}
		total := 0
		for _, v := range p.Mask {
			total += len(v)
			if len(v) < MinMaskValueBytes || len(v) > MaxMaskValueBytes || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("accepted mask value %q", v)
			}
		}
		if total > MaxMaskBytes {
			t.Fatalf("accepted a mask of %d bytes", total)
		}
	})
}

// FuzzFrame: Decode never panics, and a decoded frame re-encodes to a line that
// decodes to the same encoding (the encoder and decoder agree).
func FuzzFrame(f *testing.F) {
	for _, name := range []string{"frames.ndjson", "frames-invalid.ndjson", "control.ndjson", "control-invalid.ndjson"} {
		for _, line := range bytes.Split(mustRead(f, name), []byte("\n")) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fr, err := Decode(line)
		if h, ok := DecodeLogHead(line); ok {
			// The fast path may only read what Decode reads, and reads the same head.
			if err != nil || h.Type != fr.Type || h.Seq != fr.Seq || h.Stream != fr.Stream || h.Ts != fr.Ts {
				t.Fatalf("DecodeLogHead read %+v where Decode says %v (%s)", h, err, line)
			}
		}
		if err != nil {
			return
		}
		enc, err := fr.Encode()
		if err != nil {
			t.Fatalf("decoded frame does not encode: %v (%s)", err, line)
		}
		fr2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v (%s)", err, enc)
		}
		enc2, _ := fr2.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable encoding %s vs %s", enc, enc2)
		}
	})
}
