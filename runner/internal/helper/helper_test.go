package helper

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// fakeApp is the app's helper API as the tunnel sees it (net/http is fine in
// tests: it never reaches the binary).
type fakeApp struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (a *fakeApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	a.reqs = append(a.reqs, r)
	a.body = append(a.body, b)
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/v1/getVariable":
		fmt.Fprint(w, `{"found":true,"value":"v1"}`)
	case "/v1/event":
		// Written in pieces without a length: chunked transfer coding.
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		fmt.Fprint(w, `{"runId":`)
		w.(http.Flusher).Flush()
		fmt.Fprint(w, `"r1"}`)
	case "/v1/setCondition":
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"code":"HELPER_TOKEN_EXPIRED","message":"expired","hint":"h"}}`)
	default:
		fmt.Fprint(w, `{"ok":true}`)
	}
}

func tunnelTo(t testing.TB, h http.Handler) Tunnel {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	n, _ := strconv.Atoi(port)
	return Tunnel{Port: n, Timeout: 2 * time.Second}
}

func errCode(t *testing.T, r Response) string {
	t.Helper()
	return r.Err().Code
}

func TestTunnelSpeaksHTTP(t *testing.T) {
	app := &fakeApp{}
	tun := tunnelTo(t, app)
	res := tun.Call("getVariable", "tok.en", json.RawMessage(`{"key":"K"}`))
	if res.Status != 200 || string(res.Body) != `{"found":true,"value":"v1"}` {
		t.Fatalf("getVariable: %d %s", res.Status, res.Body)
	}
	r := app.reqs[0]
	if r.Method != "POST" || r.URL.Path != "/v1/getVariable" || r.Host != "cronium-helper" || r.Header.Get("Authorization") != "Bearer tok.en" ||
		r.Header.Get("Content-Type") != "application/json" || r.ContentLength != int64(len(`{"key":"K"}`)) || !r.Close || string(app.body[0]) != `{"key":"K"}` {
		t.Errorf("request %s %s host %s headers %v close %v body %s", r.Method, r.URL.Path, r.Host, r.Header, r.Close, app.body[0])
	}
	if res := tun.Call("event", "t", json.RawMessage(`{}`)); res.Status != 200 || string(res.Body) != `{"runId":"r1"}` {
		t.Errorf("chunked answer: %d %s", res.Status, res.Body)
	}
	res = tun.Call("setCondition", "t", json.RawMessage(`{"value":true}`))
	if e := res.Err(); res.Status != 401 || e.Code != "HELPER_TOKEN_EXPIRED" || e.Hint != "h" {
		t.Errorf("error answer: %d %+v", res.Status, e)
	}
}

// rawServer answers every connection with the bytes of reply (after reading the request head).
func rawServer(t *testing.T, reply func(c net.Conn)) Tunnel {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				reply(c)
			}()
		}
	}()
	return Tunnel{Port: ln.Addr().(*net.TCPAddr).Port, Timeout: 500 * time.Millisecond}
}

func TestTunnelFailures(t *testing.T) {
	// A port nobody listens on: the reverse forward is gone.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	res := Tunnel{Port: port}.Call("input", "t", json.RawMessage(`{}`))
	if e := res.Err(); res.Status != 503 || e.Code != CodeUnavailable || !strings.Contains(e.Message, "refused") || e.Hint == "" {
		t.Errorf("refused: %d %+v", res.Status, e)
	}
	cases := []struct {
		name   string
		reply  string
		status int
		code   string
	}{
		{"reset before an answer", "", 503, CodeUnavailable},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 502, CodeUnavailable},
		{"not a JSON object", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", 502, CodeUnavailable},
		{"to EOF", "HTTP/1.1 201 Created\r\n\r\n{\"ok\":true}", 201, ""},
		{"continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"ok\":true}", 200, ""},
		{"too large", "HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n{", 502, CodeTooLarge},
		{"too large to EOF", "HTTP/1.1 200 OK\r\n\r\n{\"v\":\"" + strings.Repeat("x", MaxResponseBytes) + "\"}", 502, CodeTooLarge},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}", 503, CodeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tun := rawServer(t, func(c net.Conn) { io.WriteString(c, tc.reply) })
			res := tun.Call("input", "t", json.RawMessage(`{}`))
			if res.Status != tc.status || (tc.code != "" && errCode(t, res) != tc.code) || (tc.code == "" && string(res.Body) != `{"ok":true}`) {
				t.Errorf("got %d %s", res.Status, res.Body)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		tun := rawServer(t, func(c net.Conn) { time.Sleep(2 * time.Second) })
		if res := tun.Call("input", "t", json.RawMessage(`{}`)); res.Status != 504 || errCode(t, res) != CodeTimeout {
			t.Errorf("got %d %s", res.Status, res.Body)
		}
	})
}

// pipeApp is the app on the other end of the runner's channel: it reads the
// frames InBand writes and answers through deliver.
type pipeApp struct {
	frames chan *protocol.Frame
}

func newInBandOverPipe(t *testing.T) (*InBand, *pipeApp) {
	pr, pw := io.Pipe()
	var mu sync.Mutex
	app := &pipeApp{frames: make(chan *protocol.Frame, 100)}
	ib := NewInBand(func(f *protocol.Frame) error {
		b, err := f.Encode()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		_, err = pw.Write(append(b, '\n'))
		return err
	})
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, protocol.MaxFrameBytes)
		for sc.Scan() {
			f, err := protocol.Decode(sc.Bytes())
			if err != nil {
				t.Errorf("runner wrote a bad frame %q: %v", sc.Text(), err)
				continue
			}
			app.frames <- f
		}
	}()
	t.Cleanup(func() { pw.Close() })
	return ib, app
}

func TestInBandMatchesRepliesById(t *testing.T) {
	ib, app := newInBandOverPipe(t)
	const n = 20
	results := make([]Response, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = ib.Call("getVariable", "tok", json.RawMessage(fmt.Sprintf(`{"key":"k%d"}`, i)))
		}(i)
	}
	// Collect every call before answering any: all n are in flight at once.
	var got []*protocol.Frame
	for len(got) < n {
		got = append(got, <-app.frames)
	}
	ids := map[int64]bool{}
	for _, f := range got {
		if f.Type != protocol.TypeHelper || f.Op != "getVariable" || f.Token != "tok" || f.Seq != 0 {
			t.Fatalf("frame %+v", f)
		}
		ids[f.ID] = true
	}
	for id := int64(1); id <= n; id++ {
		if !ids[id] {
			t.Fatalf("ids %v are not 1..%d", ids, n)
		}
	}
	ib.Deliver(&protocol.Frame{Type: protocol.TypeHelperReply, ID: 999, Status: 200, Body: json.RawMessage(`{}`)})
	// Answer in reverse order, echoing each call's key.
	for i := len(got) - 1; i >= 0; i-- {
		var b struct{ Key string }
		json.Unmarshal(got[i].Body, &b)
		ib.Deliver(&protocol.Frame{Type: protocol.TypeHelperReply, ID: got[i].ID, Status: 200, Body: json.RawMessage(`{"found":true,"value":"` + b.Key + `"}`)})
	}
	wg.Wait()
	for i, r := range results {
		if want := fmt.Sprintf(`{"found":true,"value":"k%d"}`, i); r.Status != 200 || string(r.Body) != want {
			t.Errorf("call %d got %d %s, want %s", i, r.Status, r.Body, want)
		}
	}
	// A duplicate reply for an answered id is unknown too.
	ib.Deliver(&protocol.Frame{Type: protocol.TypeHelperReply, ID: 1, Status: 200, Body: json.RawMessage(`{}`)})
	if ib.Unknown() != 2 {
		t.Errorf("unknown replies = %d, want 2", ib.Unknown())
	}
}

func TestInBandTimeoutAndChannelGone(t *testing.T) {
	ib, app := newInBandOverPipe(t)
	ib.Timeout = 200 * time.Millisecond
	res := ib.Call("event", "tok", json.RawMessage(`{}`))
	if res.Status != 504 || errCode(t, res) != CodeTimeout {
		t.Fatalf("no reply: %d %s", res.Status, res.Body)
	}
	late := <-app.frames
	ib.Deliver(&protocol.Frame{Type: protocol.TypeHelperReply, ID: late.ID, Status: 200, Body: json.RawMessage(`{}`)})
	if ib.Unknown() != 1 {
		t.Errorf("a reply after the timeout is unknown: %d", ib.Unknown())
	}
	ib.Timeout = time.Minute
	done := make(chan Response)
	go func() { done <- ib.Call("input", "tok", json.RawMessage(`{}`)) }()
	<-app.frames
	ib.Close()
	select {
	case res := <-done:
		if res.Status != 503 || errCode(t, res) != CodeUnavailable {
			t.Errorf("in flight when the channel went: %d %s", res.Status, res.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a call in flight was not answered when the channel went")
	}
	if res := ib.Call("input", "tok", json.RawMessage(`{}`)); res.Status != 503 {
		t.Errorf("after the channel went: %d %s", res.Status, res.Body)
	}
	// A broken writer answers at once too.
	broken := NewInBand(func(*protocol.Frame) error { return ErrChannelGone })
	if res := broken.Call("input", "tok", json.RawMessage(`{}`)); res.Status != 503 {
		t.Errorf("broken writer: %d %s", res.Status, res.Body)
	}
}

// recorder is a forwarder that answers {"op":…} and records what it got.
type recorder struct {
	mu    sync.Mutex
	calls []Request
}

func (r *recorder) Call(op, token string, body json.RawMessage) Response {
	r.mu.Lock()
	r.calls = append(r.calls, Request{Op: op, Token: token, Body: body})
	r.mu.Unlock()
	switch op {
	case "input":
		return Response{Status: 200, Body: json.RawMessage(`{"value":{"n":1}}`)}
	case "getVariable":
		var b struct{ Key string }
		json.Unmarshal(body, &b)
		if b.Key == "missing" {
			return Response{Status: 200, Body: json.RawMessage(`{"found":false,"value":null}`)}
		}
		return Response{Status: 200, Body: json.RawMessage(`{"found":true,"value":"val of ` + b.Key + `"}`)}
	case "event":
		return Response{Status: 200, Body: json.RawMessage(`{"runId":"r1","attempt":1}`)}
	case "setCondition":
		return Fail(403, "HELPER_FORBIDDEN", "not allowed", "ask nicely")
	}
	return Response{Status: 200, Body: json.RawMessage(`{"ok":true}`)}
}

func shortTemp(t testing.TB) string {
	// t.TempDir can exceed a unix socket path's length.
	d, err := os.MkdirTemp("", "ch")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func roundTrip(t *testing.T, sock string, line []byte) Response {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		c.Write(line)
		if !bytes.HasSuffix(line, []byte("\n")) {
			c.(*net.UnixConn).CloseWrite()
		}
	}()
	b, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var r Response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("answer %q: %v", b, err)
	}
	return r
}

func TestRelayValidatesAndForwards(t *testing.T) {
	dir := shortTemp(t)
	sock := filepath.Join(dir, "sock")
	rec := &recorder{}
	r, err := Listen(sock, rec)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(sock)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v mode %v", err, st.Mode())
	}
	big := strings.Repeat("x", protocol.MaxHelperBodyBytes)
	cases := []struct {
		name   string
		line   string
		status int
		code   string
	}{
		{"ok", `{"op":"setVariable","token":"a.b","body":{ "key":"K", "value":"V" }}` + "\n", 200, ""},
		{"no newline at EOF", `{"op":"output","token":"a.b","body":{"value":1}}`, 200, ""},
		{"tool action", `{"op":"toolAction","token":"a.b","body":{}}` + "\n", 403, "TOOL_ACTION_FORBIDDEN"},
		{"unknown op", `{"op":"launch","token":"a.b","body":{}}` + "\n", 400, CodeInvalidInput},
		{"unknown field", `{"op":"input","token":"a.b","body":{},"x":1}` + "\n", 400, CodeInvalidInput},
		{"body not an object", `{"op":"input","token":"a.b","body":[]}` + "\n", 400, CodeInvalidInput},
		{"not JSON", "hello\n", 400, CodeInvalidInput},
		{"no token", `{"op":"input","token":"","body":{}}` + "\n", 401, CodeTokenInvalid},
		{"bad token", `{"op":"input","token":"a b","body":{}}` + "\n", 401, CodeTokenInvalid},
		{"body over 1 MiB", `{"op":"output","token":"a.b","body":{"value":"` + big + `"}}` + "\n", 413, CodeTooLarge},
		{"line over the limit", `{"op":"output","token":"a.b","body":{"value":"` + big + strings.Repeat("y", 9<<10) + `"}}` + "\n", 413, CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := roundTrip(t, sock, []byte(tc.line))
			if res.Status != tc.status || (tc.code != "" && errCode(t, res) != tc.code) {
				t.Errorf("got %d %s", res.Status, res.Body)
			}
		})
	}
	rec.mu.Lock()
	if len(rec.calls) != 2 || rec.calls[0].Op != "setVariable" || string(rec.calls[0].Body) != `{"key":"K","value":"V"}` || rec.calls[0].Token != "a.b" {
		t.Errorf("forwarded %+v", rec.calls)
	}
	rec.mu.Unlock()
	r.Close()
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left after Close: %v", err)
	}
	if _, err := net.Dial("unix", sock); err == nil {
		t.Error("relay still answers after Close")
	}
}

func TestRelayNone(t *testing.T) {
	sock := filepath.Join(shortTemp(t), "sock")
	r, err := Listen(sock, None{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, op := range protocol.HelperOps {
		res := roundTrip(t, sock, []byte(`{"op":"`+op+`","token":"","body":{}}`+"\n"))
		if e := res.Err(); res.Status != 503 || e.Code != CodeUnavailable || e.Message != "this run has no helper channel" {
			t.Errorf("%s: %d %+v", op, res.Status, e)
		}
	}
}

func TestCommand(t *testing.T) {
	sock := filepath.Join(shortTemp(t), "sock")
	rec := &recorder{}
	r, err := Listen(sock, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	env := Env{Socket: sock, Token: "tok.en"}
	cases := []struct {
		name         string
		args         []string
		stdin        string
		code         int
		stdout       string
		stderrPrefix string
		forwarded    string // body the relay got, "" = no call
	}{
		{"help", []string{"--help"}, "", 0, usageText, "", ""},
		{"no args", nil, "", 2, "", "usage: cronium", ""},
		{"unknown", []string{"frob"}, "", 2, "", "cronium: INVALID_INPUT: unknown command", ""},
		{"input", []string{"input"}, "", 0, "{\"n\":1}\n", "", `{}`},
		{"input with args", []string{"input", "x"}, "", 2, "", "cronium: INVALID_INPUT:", ""},
		{"output", []string{"output", `{"a": [1, 2]}`}, "", 0, "", "", `{"value":{"a":[1,2]}}`},
		{"output stdin", []string{"output", "-"}, "\"hi <there>\"\n", 0, "", "", `{"value":"hi <there>"}`},
		{"output invalid", []string{"output", "{nope"}, "", 2, "", "cronium: INVALID_INPUT: output needs one JSON value", ""},
		{"output bare word", []string{"output", "hello"}, "", 2, "", "cronium: INVALID_INPUT:", ""},
		{"get-var", []string{"get-var", "K"}, "", 0, "val of K\n", "", `{"key":"K"}`},
		{"get-var missing", []string{"get-var", "missing"}, "", 1, "", "cronium: NOT_FOUND: variable missing is not set", `{"key":"missing"}`},
		{"set-var", []string{"set-var", "K", "a b"}, "", 0, "", "", `{"key":"K","value":"a b"}`},
		{"set-var stdin", []string{"set-var", "K", "-"}, "line1\nline2\n", 0, "", "", `{"key":"K","value":"line1\nline2"}`},
		{"set-var no value", []string{"set-var", "K"}, "", 2, "", "cronium: INVALID_INPUT:", ""},
		{"condition bad", []string{"condition", "yes"}, "", 2, "", "cronium: INVALID_INPUT: usage: cronium condition true|false", ""},
		{"condition refused", []string{"condition", "true"}, "", 3, "", "cronium: HELPER_FORBIDDEN: not allowed\nhint: ask nicely\n", `{"value":true}`},
		{"event", []string{"event"}, "", 0, "{\"runId\":\"r1\",\"attempt\":1}\n", "", `{}`},
		{"raw", []string{"raw", "getVariable"}, `{"key":"Z"}`, 0, "{\"status\":200,\"body\":{\"found\":true,\"value\":\"val of Z\"}}\n", "", `{"key":"Z"}`},
		{"raw unknown op", []string{"raw", "nope"}, `{}`, 0, "{\"status\":400,", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			before := len(rec.calls)
			rec.mu.Unlock()
			var stdout, stderr bytes.Buffer
			code := Main(tc.args, env, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code || !strings.HasPrefix(stdout.String(), tc.stdout) || (tc.stdout == "" && stdout.Len() > 0) || !strings.HasPrefix(stderr.String(), tc.stderrPrefix) {
				t.Errorf("exit %d stdout %q stderr %q", code, stdout.String(), stderr.String())
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			switch {
			case tc.forwarded == "" && len(rec.calls) != before:
				t.Errorf("forwarded %+v", rec.calls[before:])
			case tc.forwarded != "" && (len(rec.calls) != before+1 || string(rec.calls[before].Body) != tc.forwarded || rec.calls[before].Token != "tok.en"):
				t.Errorf("forwarded %+v, want %s", rec.calls[before:], tc.forwarded)
			}
		})
	}
	// No relay: the run is over (or the channel of a detached run is gone).
	var stderr bytes.Buffer
	if code := Main([]string{"event"}, Env{Socket: sock + ".gone", Token: "t"}, nil, io.Discard, &stderr); code != 3 || !strings.HasPrefix(stderr.String(), "cronium: HELPER_UNAVAILABLE: ") {
		t.Errorf("no relay: exit %d %q", code, stderr.String())
	}
}

func TestPrepareAndEnviron(t *testing.T) {
	state := shortTemp(t)
	runDir := filepath.Join(state, "run")
	os.Mkdir(runDir, 0o700)
	p := &protocol.Payload{RunID: "r1", Input: json.RawMessage(`{"a":1}`), Helper: protocol.Helper{Transport: "in-band", Token: "x.y.z"}}
	d, err := Prepare(runDir, filepath.Join(state, "helper-lib"), p, "/opt/cronium-runner")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(d.Lib) != filepath.Join(state, "helper-lib") {
		t.Errorf("shared part %s", d.Lib)
	}
	for path, mode := range map[string]os.FileMode{d.Root: 0o700, d.Lib: 0o700, filepath.Join(d.Lib, "bin"): 0o700, d.Input: 0o600, filepath.Join(d.Lib, "lib", "python", "cronium.py"): 0o600, filepath.Join(d.Lib, "lib", "node", "cronium.js"): 0o600} {
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want %v", path, err, st.Mode(), mode)
		}
	}
	if target, err := os.Readlink(d.Bin()); err != nil || target != "/opt/cronium-runner" || filepath.Base(d.Bin()) != "cronium" {
		t.Errorf("bin %s -> %s (%v)", d.Bin(), target, err)
	}
	if b, _ := os.ReadFile(d.Input); string(b) != "{\"a\":1}\n" {
		t.Errorf("input.json %q", b)
	}
	if d.Sock != filepath.Join(d.Root, "sock") || d.SockDir != "" {
		t.Errorf("sock %s dir %s", d.Sock, d.SockDir)
	}
	env := d.Environ([]string{"PATH=/usr/bin", "HOME=/h", "NODE_PATH=/n", "CRONIUM_HELPER_TOKEN=stale"}, p.Helper)
	want := map[string]string{
		"PATH": filepath.Join(d.Lib, "bin") + ":/usr/bin", "PYTHONPATH": filepath.Join(d.Lib, "lib", "python"),
		"NODE_PATH": filepath.Join(d.Lib, "lib", "node") + ":/n", "CRONIUM_HELPER_SOCKET": d.Sock, "CRONIUM_HELPER_BIN": d.Bin(),
		"CRONIUM_HELPER_TRANSPORT": "in-band", "CRONIUM_HELPER_TOKEN": "x.y.z", "CRONIUM_INPUT_FILE": d.Input, "HOME": "/h",
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s twice", k)
		}
		got[k] = v
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q", k, got[k], v)
		}
	}
	// transport none: no token at all, even a stale one from the base env.
	if none := d.Environ([]string{"CRONIUM_HELPER_TOKEN=stale"}, protocol.Helper{Transport: "none"}); strings.Contains(strings.Join(none, "\n"), "CRONIUM_HELPER_TOKEN") {
		t.Errorf("none env %v", none)
	}
	d.Remove()
	if _, err := os.Stat(d.Root); !os.IsNotExist(err) {
		t.Errorf("helper dir left: %v", err)
	}
	if entries, _ := os.ReadDir(runDir); len(entries) != 0 {
		t.Errorf("run dir keeps %v", entries)
	}
}

// The shared part is made once per runner binary, reused, and made again
// when anything in it differs from what it must be.
func TestSharedLibReusedAndRepaired(t *testing.T) {
	root := filepath.Join(shortTemp(t), "helper-lib")
	a, err := SharedLib(root, "/opt/runner-a")
	if err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(a, "lib", "python", "cronium.py")
	st1, _ := os.Stat(py)
	again, err := SharedLib(root, "/opt/runner-a")
	if err != nil || again != a {
		t.Fatalf("second call: %s %v, want %s", again, err, a)
	}
	if st2, _ := os.Stat(py); !os.SameFile(st1, st2) {
		t.Error("an intact shared part was made again")
	}
	if b, _ := SharedLib(root, "/opt/runner-b"); b == a || b == "" {
		t.Errorf("another binary shares %s", b)
	}
	want, _ := lib.ReadFile("lib/python/cronium.py")
	for name, tamper := range map[string]func(){
		"module edited":  func() { os.WriteFile(py, []byte("import os  # changed"), 0o600) },
		"module removed": func() { os.Remove(py) },
		"link retargeted": func() {
			os.Remove(filepath.Join(a, "bin", "cronium"))
			os.Symlink("/tmp/elsewhere", filepath.Join(a, "bin", "cronium"))
		},
		"dir opened to others": func() { os.Chmod(a, 0o755) },
	} {
		tamper()
		got, err := SharedLib(root, "/opt/runner-a")
		if err != nil || got != a {
			t.Fatalf("%s: %s %v", name, got, err)
		}
		if b, _ := os.ReadFile(py); !bytes.Equal(b, want) {
			t.Errorf("%s: module not restored", name)
		}
		if target, _ := os.Readlink(filepath.Join(a, "bin", "cronium")); target != "/opt/runner-a" {
			t.Errorf("%s: link -> %s", name, target)
		}
		if st, _ := os.Stat(a); st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v", name, st.Mode())
		}
	}
	// Many runs making it at once all get one whole dir, and nothing else is left.
	fresh := filepath.Join(shortTemp(t), "helper-lib")
	var wg sync.WaitGroup
	dirs := make([]string, 16)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], _ = SharedLib(fresh, "/opt/runner-a")
		}()
	}
	wg.Wait()
	for _, d := range dirs {
		if d == "" || d != dirs[0] {
			t.Fatalf("concurrent makes: %v", dirs)
		}
	}
	if entries, _ := os.ReadDir(fresh); len(entries) != 1 {
		t.Errorf("left in the root: %v", entries)
	}
}

func TestPrepareLongPathUsesShortSocketDir(t *testing.T) {
	runDir := filepath.Join(shortTemp(t), strings.Repeat("r", 120))
	os.Mkdir(runDir, 0o700)
	d, err := Prepare(runDir, filepath.Join(shortTemp(t), "helper-lib"), &protocol.Payload{Helper: protocol.Helper{Transport: "none"}}, "/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if d.SockDir == "" || len(d.Sock) > maxSockPath || d.Input != "" {
		t.Fatalf("sock %s (dir %q)", d.Sock, d.SockDir)
	}
	if st, err := os.Stat(d.SockDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("sock dir %v %v", err, st.Mode())
	}
	r, err := Listen(d.Sock, None{})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if o := Open(runDir, d.Lib, &protocol.Payload{}, d.Sock); o.SockDir != d.SockDir || o.Bin() != d.Bin() {
		t.Errorf("Open finds sock dir %q, want %q", o.SockDir, d.SockDir)
	}
	d.Remove()
	if _, err := os.Stat(d.SockDir); !os.IsNotExist(err) {
		t.Errorf("sock dir left: %v", err)
	}
}
