package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureDir holds the vectors shared with the TypeScript tests
// (regenerate with test/fixtures/runner/generate.ts).
var fixtureDir = filepath.Join("..", "..", "..", "test", "fixtures", "runner")

type payloadFixtures struct {
	HostID string `json:"hostId"`
	Now    int64  `json:"now"`
	Kid    string `json:"kid"`
	Cases  []struct {
		Name   string  `json:"name"`
		Line   string  `json:"line"`
		Reason *string `json:"reason"`
	} `json:"cases"`
}

func loadFixtureKey(t testing.TB) TrustedKey {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(fixtureDir, "keys", "installation.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParsePublicKeyPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestFixturePayloads(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtureDir, "payloads.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx payloadFixtures
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	key := loadFixtureKey(t)
	if key.Kid != fx.Kid {
		t.Fatalf("kid of installation.pub = %s, fixtures say %s", key.Kid, fx.Kid)
	}
	if len(fx.Cases) < 8 {
		t.Fatalf("only %d cases", len(fx.Cases))
	}
	opts := VerifyOptions{Key: key, HostID: fx.HostID, Now: time.UnixMilli(fx.Now)}
	for _, c := range fx.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p, err := Verify([]byte(c.Line), opts)
			if c.Reason == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if p.HostID != fx.HostID || !ValidID(p.RunID) {
					t.Errorf("payload = %+v", p)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) {
				t.Fatalf("err = %v, want rejection %s", err, *c.Reason)
			}
			if rej.Reason != *c.Reason {
				t.Errorf("reason = %s (%s), want %s", rej.Reason, rej.Detail, *c.Reason)
			}
		})
	}
	// The valid payload is issued in 2100: the real clock must refuse it.
	if _, err := Verify([]byte(fx.Cases[0].Line), VerifyOptions{Key: key, HostID: fx.HostID, Now: time.Now()}); err == nil {
		t.Error("future payload accepted by the real clock")
	}
}

func TestFixtureValidPayloadContent(t *testing.T) {
	raw, _ := os.ReadFile(filepath.Join(fixtureDir, "payloads.json"))
	var fx payloadFixtures
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	p, err := Verify([]byte(fx.Cases[0].Line), VerifyOptions{Key: loadFixtureKey(t), HostID: fx.HostID, Now: time.UnixMilli(fx.Now)})
	if err != nil {
		t.Fatal(err)
	}
	if p.Interpreter != "bash" || p.Env["NAME"] != "wörld" || p.Limits.TimeoutMs != 30000 || p.Limits.CPUSeconds == nil || *p.Limits.CPUSeconds != 10 ||
		p.Helper.Transport != "tunnel" || p.Helper.Port != 40123 || !ValidToken(p.Helper.Token) || !bytes.Contains(p.Input, []byte(`"nested"`)) || p.Mask != nil {
		t.Errorf("payload = %+v", p)
	}
	for _, c := range fx.Cases {
		if c.Name != "valid-mask" {
			continue
		}
		p, err := Verify([]byte(c.Line), VerifyOptions{Key: loadFixtureKey(t), HostID: fx.HostID, Now: time.UnixMilli(fx.Now)})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"hunter2secret", "wörld", strings.Repeat("é", 2048)}; !reflect.DeepEqual(p.Mask, want) {
			t.Errorf("mask = %q", p.Mask)
		}
		return
	}
	t.Error("no valid-mask vector")
}

func TestFixtureFrames(t *testing.T) {
	for _, tc := range []struct {
		file   string
		valid  bool
		decode func([]byte) (*Frame, error)
	}{
		{"frames.ndjson", true, Decode}, {"frames-invalid.ndjson", false, Decode},
		{"control.ndjson", true, DecodeControl}, {"control-invalid.ndjson", false, DecodeControl},
	} {
		f, err := os.Open(filepath.Join(fixtureDir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			fr, err := tc.decode(line)
			if tc.valid {
				if err != nil {
					t.Errorf("%s:%d: %v", tc.file, n, err)
					continue
				}
				// Re-encoding a valid frame gives back the same bytes: one
				// form on the wire, whichever side wrote it.
				out, err := fr.Encode()
				if err != nil || !bytes.Equal(out, line) {
					t.Errorf("%s:%d: re-encoded %s (err %v), want %s", tc.file, n, out, err, line)
				}
			} else if err == nil {
				t.Errorf("%s:%d: accepted %s", tc.file, n, line)
			}
		}
		f.Close()
		if n == 0 {
			t.Errorf("%s is empty", tc.file)
		}
	}
}
