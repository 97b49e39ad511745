package protocol

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testSigner signs payloads with a throwaway key.
type testSigner struct {
	priv *ecdsa.PrivateKey
	key  TrustedKey
}

func newTestSigner(t testing.TB) testSigner {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testSigner{priv, TrustedKey{Key: &priv.PublicKey, Kid: Kid(der)}}
}

func (s testSigner) sign(t testing.TB, body []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := ecdsa.SignASN1(rand.Reader, s.priv, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(Envelope{V: 1, Kid: s.key.Kid, Payload: base64.StdEncoding.EncodeToString(body), Sig: base64.StdEncoding.EncodeToString(sig)})
	return line
}

func basePayload(now time.Time) map[string]any {
	return map[string]any{
		"jobId": "j1", "runId": "r1", "hostId": "h1", "nonce": base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"iat": now.UnixMilli(), "exp": now.Add(time.Minute).UnixMilli(),
		"interpreter": "sh", "script": "true", "env": map[string]any{},
		"limits": map[string]any{"timeoutMs": 1000, "graceMs": 100},
		"detach": false, "pty": false, "helper": map[string]any{"transport": "none"},
	}
}

func TestVerifyTable(t *testing.T) {
	s := newTestSigner(t)
	now := time.UnixMilli(1_800_000_000_000)
	tests := []struct {
		name   string
		mutate func(p map[string]any)
		raw    string // replaces the whole payload body when set
		want   string // rejection reason, "" for accepted
	}{
		{name: "ok", mutate: func(map[string]any) {}},
		{name: "optional limits", mutate: func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 1, "graceMs": 0, "cpuSeconds": 1, "memoryBytes": MinMemoryBytes, "openFiles": 16, "maxOutputBytes": 1}
		}},
		{name: "null optional limit", mutate: func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 1, "graceMs": 0, "cpuSeconds": nil}
		}},
		{name: "input any JSON", mutate: func(p map[string]any) { p["input"] = []any{1, "x", nil} }},
		// A host whose clock is 10 minutes behind the app's: iat lies 10 minutes ahead.
		{name: "iat within skew (host 10 min behind)", mutate: func(p map[string]any) {
			p["iat"] = now.Add(10 * time.Minute).UnixMilli()
			p["exp"] = now.Add(40 * time.Minute).UnixMilli()
		}},
		{name: "iat beyond skew (host 20 min behind)", want: ReasonNotYetValid, mutate: func(p map[string]any) {
			p["iat"] = now.Add(20 * time.Minute).UnixMilli()
			p["exp"] = now.Add(50 * time.Minute).UnixMilli()
		}},
		// A host 10 minutes ahead: the app's exp (iat + lifetime + 15 min) has not passed there.
		{name: "exp within skew (host 10 min ahead)", mutate: func(p map[string]any) {
			p["iat"] = now.Add(-10 * time.Minute).UnixMilli()
			p["exp"] = now.Add(-10*time.Minute + 90*time.Second + ClockSkew).UnixMilli()
		}},
		{name: "expired", want: ReasonExpired, mutate: func(p map[string]any) {
			p["iat"] = now.Add(-2 * time.Minute).UnixMilli()
			p["exp"] = now.Add(-time.Millisecond).UnixMilli()
		}},
		{name: "wrong host", want: ReasonWrongHost, mutate: func(p map[string]any) { p["hostId"] = "h2" }},
		{name: "case-folded key", want: ReasonInvalidPayload, raw: `{"JOBID":"j1"}`},
		{name: "duplicate key", want: ReasonInvalidPayload, mutate: func(map[string]any) {}, raw: "dup"},
		{name: "missing limits", want: ReasonInvalidPayload, mutate: func(p map[string]any) { delete(p, "limits") }},
		{name: "float timeout", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["limits"] = map[string]any{"timeoutMs": 1.5, "graceMs": 0} }},
		{name: "timeout zero", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["limits"] = map[string]any{"timeoutMs": 0, "graceMs": 0} }},
		{name: "memory too small", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 1, "graceMs": 0, "memoryBytes": 1}
		}},
		{name: "unknown limit", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			p["limits"] = map[string]any{"timeoutMs": 1, "graceMs": 0, "nice": 1}
		}},
		{name: "tunnel without port", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["helper"] = map[string]any{"transport": "tunnel"} }},
		{name: "port without tunnel", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			p["helper"] = map[string]any{"transport": "none", "port": 22}
		}},
		{name: "bad env key", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["env"] = map[string]any{"A=B": "x"} }},
		{name: "env NUL", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["env"] = map[string]any{"A": "x\x00y"} }},
		{name: "env not strings", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["env"] = map[string]any{"A": 1} }},
		{name: "script too big", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["script"] = strings.Repeat("x", MaxScriptBytes+1) }},
		{name: "short nonce", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["nonce"] = "AAAA" }},
		{name: "run id traversal", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["runId"] = "../x" }},
		{name: "run id dotfile", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["runId"] = ".x" }},
		{name: "detach not bool", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["detach"] = "yes" }},
		{name: "mask", mutate: func(p map[string]any) {
			p["mask"] = []string{"abc", strings.Repeat("é", MaxMaskValueBytes/2), "hunter2"}
		}},
		{name: "empty mask", mutate: func(p map[string]any) { p["mask"] = []string{} }},
		{name: "mask at its bounds", mutate: func(p map[string]any) {
			m := make([]string, MaxMaskEntries)
			for i := range m {
				m[i] = fmt.Sprintf("%03d", i) + strings.Repeat("s", MaxMaskBytes/MaxMaskEntries-3)
			}
			p["mask"] = m
		}},
		{name: "mask value too short", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = []string{"é"} }},
		{name: "mask value too long", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			p["mask"] = []string{strings.Repeat("é", MaxMaskValueBytes/2) + "x"}
		}},
		{name: "mask NUL", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = []string{"ab\x00c"} }},
		{name: "mask too many", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			m := make([]string, MaxMaskEntries+1)
			for i := range m {
				m[i] = "abc"
			}
			p["mask"] = m
		}},
		{name: "mask too big in all", want: ReasonInvalidPayload, mutate: func(p map[string]any) {
			m := make([]string, MaxMaskBytes/MaxMaskValueBytes+1)
			for i := range m {
				m[i] = strings.Repeat("s", MaxMaskValueBytes)
			}
			p["mask"] = m
		}},
		{name: "mask null", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = nil }},
		{name: "mask not an array", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = "hunter2" }},
		{name: "mask null element", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = []any{"abc", nil} }},
		{name: "mask number element", want: ReasonInvalidPayload, mutate: func(p map[string]any) { p["mask"] = []any{12345} }},
		{name: "not an object", want: ReasonInvalidPayload, raw: `[1]`},
		{name: "trailing data", want: ReasonInvalidPayload, raw: "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := basePayload(now)
			if tc.mutate != nil {
				tc.mutate(p)
			}
			body, _ := json.Marshal(p)
			switch tc.raw {
			case "":
			case "dup":
				body = []byte(strings.Replace(string(body), `"detach":false`, `"detach":false,"detach":true`, 1))
			case "trailing":
				body = append(body, []byte(" {}")...)
			default:
				body = []byte(tc.raw)
			}
			_, err := Verify(s.sign(t, body), VerifyOptions{Key: s.key, HostID: "h1", Now: now})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Reason != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

// mask comes through as given; an absent one is none (payloads of protocol 2 apps stay valid).
func TestParseMask(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	p := basePayload(now)
	p["mask"] = []string{"hunter2", "wörld"}
	body, _ := json.Marshal(p)
	got, err := ParsePayload(body)
	if err != nil || !reflect.DeepEqual(got.Mask, []string{"hunter2", "wörld"}) {
		t.Fatalf("mask = %q, %v", got.Mask, err)
	}
	body, _ = json.Marshal(basePayload(now))
	if got, err = ParsePayload(body); err != nil || got.Mask != nil {
		t.Fatalf("absent mask = %q, %v", got.Mask, err)
	}
}

func TestEnvelopeTable(t *testing.T) {
	s := newTestSigner(t)
	now := time.UnixMilli(1_800_000_000_000)
	body, _ := json.Marshal(basePayload(now))
	good := s.sign(t, body)
	var env map[string]any
	_ = json.Unmarshal(good, &env)
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range env {
			m[kk] = vv
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct{ name, line, want string }{
		{"empty", "", ReasonMalformed},
		{"garbage", "\x00\x01", ReasonMalformed},
		{"no sig", with("sig", nil), ReasonUnsigned},
		{"no kid", with("kid", nil), ReasonUnsigned},
		{"empty sig", with("sig", ""), ReasonUnsigned},
		{"no payload", with("payload", nil), ReasonMalformed},
		{"upper-case kid", with("kid", strings.ToUpper(s.key.Kid)), ReasonMalformed},
		{"other kid", with("kid", strings.Repeat("0", 64)), ReasonUnknownKey},
		{"sig not base64", with("sig", "!!!!"), ReasonMalformed},
		{"sig of garbage", with("sig", "AAAA"), ReasonBadSignature},
		{"payload non-canonical base64", with("payload", env["payload"].(string)+"\n"), ReasonMalformed},
		{"v2", with("v", 2), ReasonMalformed},
		{"v string", with("v", "1"), ReasonMalformed},
		{"extra field", with("x", 1), ReasonMalformed},
		{"too large", strings.Repeat(" ", MaxEnvelopeBytes+1), ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify([]byte(tc.line), VerifyOptions{Key: s.key, HostID: "h1", Now: now})
			var rej *Rejection
			if !errors.As(err, &rej) || rej.Reason != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestParsePublicKeyPEM(t *testing.T) {
	tests := []struct {
		name, pem string
		ok        bool
	}{
		{"empty", "", false},
		{"not pem", "hello", false},
		{"private label", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", false},
	}
	for _, tc := range tests {
		if _, err := ParsePublicKeyPEM([]byte(tc.pem)); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if _, err := ParsePublicKeyPEM(mustRead(t, "keys/installation.pub")); err != nil {
		t.Errorf("fixture key: %v", err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	code := int64(0)
	sig := "KILL"
	term := "TERM"
	tests := []Frame{
		{Type: TypeHello, Protocol: 1, Version: "1.0.0", RunID: "r", Pid: 1},
		{Type: TypeLog, Seq: 1, Stream: "stdout", Ts: 1, Data: []byte{0, 1, 2, 0xff}},
		{Type: TypeLog, Seq: 2, Stream: "stderr", Ts: 1, Data: make([]byte, MaxLogData)},
		{Type: TypeHeartbeat, Seq: 0, Ts: 5},
		{Type: TypeExit, Seq: 3, Code: &code, Reason: ExitExited, Limiter: LimiterNone},
		{Type: TypeExit, Seq: 3, Signal: &sig, Reason: ExitTimeout, KilledWith: &term, Limiter: LimiterRlimit, Rusage: Rusage{1, 2, 3}},
		{Type: TypeError, ErrCode: "PAYLOAD_REJECTED", Message: "m", RejectReason: ReasonReplay},
		{Type: TypeError, ErrCode: "INTERNAL", Message: "m"},
		{Type: TypeCancel},
	}
	for _, f := range tests {
		b, err := f.Encode()
		if err != nil {
			t.Fatalf("%s: %v", f.Type, err)
		}
		g, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", f.Type, b, err)
		}
		b2, _ := g.Encode()
		if string(b) != string(b2) {
			t.Errorf("round trip %s != %s", b, b2)
		}
	}
	bad := []Frame{
		{Type: TypeLog, Seq: 1, Stream: "stdout", Data: make([]byte, MaxLogData+1)},
		{Type: TypeExit, Seq: 1, Reason: ExitExited, Limiter: LimiterNone},
		{Type: "nope"},
	}
	for _, f := range bad {
		if b, err := f.Encode(); err == nil {
			t.Errorf("encoded invalid frame %s", b)
		}
	}
}

func TestParseHelperSettings(t *testing.T) {
	tok := strings.Repeat("a", MaxTokenBytes)
	tests := []struct {
		name   string
		helper any
		ok     bool
	}{
		{"none", map[string]any{"transport": "none"}, true},
		{"tunnel", map[string]any{"transport": "tunnel", "port": 65535, "token": "h.p.s"}, true},
		{"in-band, longest token", map[string]any{"transport": "in-band", "token": tok}, true},
		{"token too long", map[string]any{"transport": "in-band", "token": tok + "a"}, false},
		{"token charset", map[string]any{"transport": "in-band", "token": "a/b"}, false},
		{"token empty", map[string]any{"transport": "in-band", "token": ""}, false},
		{"in-band without token", map[string]any{"transport": "in-band"}, false},
		{"tunnel without token", map[string]any{"transport": "tunnel", "port": 1}, false},
		{"tunnel port 0", map[string]any{"transport": "tunnel", "port": 0, "token": "t"}, false},
		{"none with token", map[string]any{"transport": "none", "token": "t"}, false},
		{"token not a string", map[string]any{"transport": "in-band", "token": 5}, false},
		{"unknown key", map[string]any{"transport": "none", "socket": "/x"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := basePayload(time.Now())
			p["helper"] = tc.helper
			body, _ := json.Marshal(p)
			got, err := ParsePayload(body)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err == nil && got.Helper.Transport != tc.helper.(map[string]any)["transport"] {
				t.Errorf("helper %+v", got.Helper)
			}
		})
	}
}

func TestHelperFrameBounds(t *testing.T) {
	body := func(n int) json.RawMessage {
		// {"v":"…"} is n bytes.
		return json.RawMessage(`{"v":"` + strings.Repeat("x", n-8) + `"}`)
	}
	tok := strings.Repeat("t", MaxTokenBytes)
	full := &Frame{Type: TypeHelper, ID: 1 << 40, Op: "setVariable", Token: tok, Body: body(MaxHelperBodyBytes)}
	line, err := full.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// The largest helper frame fits in a frame line and decodes back to itself.
	if len(line) > MaxFrameBytes {
		t.Fatalf("largest helper frame is %d bytes, MaxFrameBytes %d", len(line), MaxFrameBytes)
	}
	back, err := Decode(line)
	if err != nil || back.Token != tok || len(back.Body) != MaxHelperBodyBytes {
		t.Fatalf("decode: %v", err)
	}
	for _, f := range []*Frame{
		{Type: TypeHelper, ID: 1, Op: "input", Token: "t", Body: body(MaxHelperBodyBytes + 1)},
		{Type: TypeHelperReply, ID: 1, Status: 200, Body: body(MaxHelperBodyBytes + 1)},
		{Type: TypeHelperReply, ID: 1, Status: 200, Body: json.RawMessage(`{"a":`)},
		{Type: TypeHelper, ID: 1, Op: "input", Token: tok + "t", Body: json.RawMessage(`{}`)},
	} {
		if _, err := f.Encode(); err == nil {
			t.Errorf("encoded an out-of-bounds %s frame", f.Type)
		}
	}
	reply, _ := (&Frame{Type: TypeHelperReply, ID: 9, Status: 200, Body: body(MaxHelperBodyBytes)}).Encode()
	if f, err := DecodeControl(reply); err != nil || f.ID != 9 {
		t.Errorf("largest reply: %v", err)
	}
	if _, err := DecodeControl(line); err == nil {
		t.Error("a helper frame was taken for a control frame")
	}
}

func TestParseElevation(t *testing.T) {
	for _, bad := range []string{`{"method":"su"}`, `{"method":"runas","password":"x"}`, `{"method":"doas","password":"x"}`, `{"method":"sudo","password":"a\nb"}`, `{"method":"sudo","user":"x"}`, `[]`, `{"method":"sudo","password":7}`} {
		if _, err := parseElevation([]byte(bad)); err == nil {
			t.Fatalf("%s accepted", bad)
		}
	}
	if e, err := parseElevation([]byte(`{"method":"sudo","password":"pw"}`)); err != nil || e.Password != "pw" || e.Method != "sudo" {
		t.Fatalf("%+v %v", e, err)
	}
}

func TestExitDetailOnlyWithElevationFailed(t *testing.T) {
	ok := `{"type":"exit","seq":1,"code":1,"signal":null,"reason":"elevation-failed","killedWith":null,"rusage":{"userMs":0,"sysMs":0,"maxRssKb":0},"durationMs":1,"limiter":"none","detail":"Sorry, try again."}`
	if _, err := Decode([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(ok, `"elevation-failed"`, `"exited"`, 1),
		strings.Replace(ok, `,"detail":"Sorry, try again."`, ``, 1),
		strings.Replace(ok, `"Sorry, try again."`, `"`+strings.Repeat("x", MaxExitDetail+1)+`"`, 1),
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Fatalf("accepted %.120s", bad)
		}
	}
}
