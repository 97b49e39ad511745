package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cronium/desktop/runner/internal/protocol"
)

// End-to-end tests of the runtime helpers: real bash, sh, python3 and node
// scripts under `run`, calling every helper through each transport, against
// a fake app that also checks that the token never shows in any process's
// command line while the calls are in flight.

// helperApp is the app's helper API as the scripts reach it.
type helperApp struct {
	t     *testing.T
	token string
	input json.RawMessage
	runID string

	mu        sync.Mutex
	vars      map[string]string
	output    map[string]json.RawMessage // by "lang" field of the output
	condition map[string]bool
	ops       []string
	scans     atomic.Int64
	leaks     []string
	replyWait time.Duration
}

func newHelperApp(t *testing.T, runID string) *helperApp {
	tok := make([]byte, 24)
	rand.Read(tok)
	return &helperApp{t: t, token: "eyJhbGciOiJFUzI1NiJ9." + hex.EncodeToString(tok) + ".c2ln", input: json.RawMessage(`{"items":[1,2,3]}`), runID: runID,
		vars: map[string]string{"PRESET": "preset value"}, output: map[string]json.RawMessage{}, condition: map[string]bool{}}
}

// scanCmdlines looks for the token in every process's command line.
func (a *helperApp) scanCmdlines() {
	a.scans.Add(1)
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte(a.token)) {
			a.mu.Lock()
			a.leaks = append(a.leaks, f+": "+strings.ReplaceAll(string(b), "\x00", " "))
			a.mu.Unlock()
		}
	}
}

func errBody(code, msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg}})
	return b
}

// answer is the app's side of one call, whichever transport carried it.
func (a *helperApp) answer(op, token string, body json.RawMessage) (int, json.RawMessage) {
	// The calling process is alive and waiting right now: its argv must not hold the token.
	a.scanCmdlines()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ops = append(a.ops, op)
	if token != a.token {
		return 401, errBody("HELPER_TOKEN_INVALID", "the helper token is not valid")
	}
	var b struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return 400, errBody("INVALID_INPUT", err.Error())
	}
	switch op {
	case "input":
		return 200, json.RawMessage(`{"value":` + string(a.input) + `}`)
	case "output":
		var o struct{ Lang string }
		json.Unmarshal(b.Value, &o)
		a.output[o.Lang] = b.Value
		return 200, json.RawMessage(`{"ok":true}`)
	case "getVariable":
		v, ok := a.vars[b.Key]
		if !ok {
			return 200, json.RawMessage(`{"found":false,"value":null}`)
		}
		vb, _ := json.Marshal(map[string]any{"found": true, "value": v})
		return 200, vb
	case "setVariable":
		var s string
		if json.Unmarshal(b.Value, &s) != nil {
			return 400, errBody("INVALID_INPUT", "value must be a string")
		}
		a.vars[b.Key] = s
		return 200, json.RawMessage(`{"ok":true}`)
	case "setCondition":
		var c bool
		if json.Unmarshal(b.Value, &c) != nil {
			return 400, errBody("INVALID_INPUT", "value must be a boolean")
		}
		a.condition[a.runID] = c
		return 200, json.RawMessage(`{"ok":true}`)
	case "event":
		eb, _ := json.Marshal(map[string]any{"jobId": "job", "runId": a.runID, "host": "host-a", "script": "s", "schedule": nil, "attempt": 1, "trigger": "manual", "parentJobId": nil})
		return 200, eb
	}
	return 400, errBody("INVALID_INPUT", "unknown op")
}

// tunnel serves the app over HTTP on 127.0.0.1, as the SSH reverse forward delivers it.
func (a *helperApp) tunnel(t *testing.T) int {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || r.Host != "cronium-helper" {
			w.WriteHeader(400)
			w.Write(errBody("INVALID_INPUT", "bad request"))
			return
		}
		status, res := a.answer(strings.TrimPrefix(r.URL.Path, "/v1/"), strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(res)
	}))
	t.Cleanup(srv.Close)
	port, _ := strconv.Atoi(srv.URL[strings.LastIndex(srv.URL, ":")+1:])
	return port
}

// drive reads a session's frames until the stream ends, answering helper
// frames in-band (concurrently, each after a short delay, so replies arrive
// out of order), and returns every other frame.
func (a *helperApp) drive(t *testing.T, s *session, d time.Duration) []*protocol.Frame {
	t.Helper()
	var out []*protocol.Frame
	var wmu sync.Mutex
	var wg sync.WaitGroup
	timer := time.After(d)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				wg.Wait()
				return out
			}
			if f.Type != protocol.TypeHelper {
				out = append(out, f)
				continue
			}
			wg.Add(1)
			go func(f *protocol.Frame) {
				defer wg.Done()
				time.Sleep(time.Duration(f.ID%3) * a.replyWait)
				status, body := a.answer(f.Op, f.Token, f.Body)
				line, err := (&protocol.Frame{Type: protocol.TypeHelperReply, ID: f.ID, Status: int64(status), Body: body}).Encode()
				if err != nil {
					t.Errorf("reply: %v", err)
					return
				}
				wmu.Lock()
				s.stdin.Write(append(line, '\n'))
				wmu.Unlock()
			}(f)
		case <-timer:
			t.Fatalf("stream did not end within %s; got %d frames: %q", d, len(out), logsOf(out))
		}
	}
}

// watchCmdlines scans /proc in the background until stop is closed.
func (a *helperApp) watchCmdlines(stop <-chan struct{}) {
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				a.scanCmdlines()
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
}

// The same script for bash and sh: POSIX only.
const shellScript = `set -e
echo "input=$(cronium input)"
echo "stdin=$(cat)"
echo "file=$(cat "$CRONIUM_INPUT_FILE")"
cronium output '{"lang":"LANG","n":[1,2]}'
cronium set-var K_LANG "v LANG 1"
echo "var=$(cronium get-var K_LANG)"
printf '%s' 'from stdin' | cronium set-var K2_LANG -
echo "var2=$(cronium get-var K2_LANG)"
rc=0; cronium get-var MISSING 2>"$CRONIUM_RUN_ID.err" || rc=$?
echo "missing=$rc $(cat "$CRONIUM_RUN_ID.err")"; rm -f "$CRONIUM_RUN_ID.err"
rc=0; cronium output '{nope' 2>/dev/null || rc=$?
echo "badjson=$rc"
cronium condition true
echo "event=$(cronium event)"
rc=0; CRONIUM_HELPER_TOKEN=forged cronium event 2>/dev/null || rc=$?
echo "forged=$rc"
i=0; while [ $i -lt 6 ]; do cronium get-var PRESET > "$CRONIUM_RUN_ID.$i" & i=$((i+1)); done; wait
echo "parallel=$(cat "$CRONIUM_RUN_ID".[0-5] | sort -u)"; rm -f "$CRONIUM_RUN_ID".[0-5]
echo "modes=$(stat -c %a "$CRONIUM_HELPER_SOCKET") $(stat -c %a "$(dirname "$(dirname "$CRONIUM_HELPER_BIN")")")"
echo "transport=$CRONIUM_HELPER_TRANSPORT"
`

const pythonScript = `import json, os, sys, threading
import cronium
print("input=" + json.dumps(cronium.input(), separators=(",", ":")))
print("stdin=" + sys.stdin.read().strip())
print("file=" + open(os.environ["CRONIUM_INPUT_FILE"]).read().strip())
cronium.output({"lang": "LANG", "n": [1, 2]})
cronium.setVariable("K_LANG", "v LANG 1")
print("var=" + cronium.getVariable("K_LANG"))
cronium.setVariable("K2_LANG", "from stdin")
print("var2=" + cronium.getVariable("K2_LANG"))
print("missing=" + repr(cronium.getVariable("MISSING")))
try:
    cronium.setVariable("K", 1)
except TypeError:
    print("typeerror=yes")
cronium.setCondition(True)
print("event=" + json.dumps(cronium.event(), separators=(",", ":"), sort_keys=True))
os.environ["CRONIUM_HELPER_TOKEN"] = "forged"
try:
    cronium.event()
except cronium.CroniumError as e:
    print("forged=" + e.code)
print("modes=%o" % (os.stat(os.environ["CRONIUM_HELPER_SOCKET"]).st_mode & 0o777))
print("transport=" + os.environ["CRONIUM_HELPER_TRANSPORT"])
`

const nodeScript = `const fs = require('fs');
const cronium = require('cronium');
console.log('input=' + JSON.stringify(cronium.input()));
console.log('stdin=' + fs.readFileSync(0, 'utf8').trim());
console.log('file=' + fs.readFileSync(process.env.CRONIUM_INPUT_FILE, 'utf8').trim());
cronium.output({ lang: 'LANG', n: [1, 2] });
cronium.setVariable('K_LANG', 'v LANG 1');
console.log('var=' + cronium.getVariable('K_LANG'));
cronium.setVariable('K2_LANG', 'from stdin');
console.log('var2=' + cronium.getVariable('K2_LANG'));
console.log('missing=' + cronium.getVariable('MISSING'));
try { cronium.setVariable('K', 1); } catch (e) { if (e instanceof TypeError) console.log('typeerror=yes'); }
cronium.setCondition(true);
const ev = cronium.event();
console.log('event=' + JSON.stringify(Object.keys(ev).sort().reduce((o, k) => { o[k] = ev[k]; return o; }, {})));
process.env.CRONIUM_HELPER_TOKEN = 'forged';
try { cronium.event(); } catch (e) { if (e instanceof cronium.CroniumError) console.log('forged=' + e.code); }
console.log('modes=' + (fs.statSync(process.env.CRONIUM_HELPER_SOCKET).mode & 0o777).toString(8));
console.log('transport=' + process.env.CRONIUM_HELPER_TRANSPORT);
`

func TestHelpersEveryLanguageEveryTransport(t *testing.T) {
	h := newHost(t)
	for _, transport := range []string{"tunnel", "in-band"} {
		for _, lang := range []string{"bash", "sh", "python3", "node"} {
			t.Run(transport+"/"+lang, func(t *testing.T) {
				if _, err := exec.LookPath(lang); err != nil {
					t.Fatalf("%s is needed by this test: %v", lang, err)
				}
				script := map[string]string{"bash": shellScript, "sh": shellScript, "python3": pythonScript, "node": nodeScript}[lang]
				p := h.payload(strings.ReplaceAll(script, "LANG", lang), func(p map[string]any) { p["interpreter"] = lang })
				app := newHelperApp(t, p["runId"].(string))
				app.replyWait = 5 * time.Millisecond
				p["input"] = app.input
				p["env"] = map[string]any{"PATH": os.Getenv("PATH")}
				if transport == "tunnel" {
					p["helper"] = map[string]any{"transport": "tunnel", "port": app.tunnel(t), "token": app.token}
				} else {
					p["helper"] = map[string]any{"transport": "in-band", "token": app.token}
				}
				stop := make(chan struct{})
				app.watchCmdlines(stop)
				s := h.run(h.sign(p))
				frames := app.drive(t, s, 30*time.Second)
				close(stop)
				s.stdin.Close()
				logs := logsOf(frames)
				ex := last(frames)
				if ex.Type != protocol.TypeExit || ex.Code == nil || *ex.Code != 0 {
					t.Fatalf("exit %+v, logs:\n%s", ex, logs)
				}
				missing := map[string]string{"bash": "missing=1 cronium: NOT_FOUND: variable MISSING is not set", "python3": "missing=None", "node": "missing=null"}
				missing["sh"] = missing["bash"]
				want := []string{
					`input={"items":[1,2,3]}`, `stdin={"items":[1,2,3]}`, `file={"items":[1,2,3]}`,
					"var=v " + lang + " 1", "var2=from stdin", missing[lang],
					`"runId":"` + app.runID + `"`, "modes=600", "transport=" + transport,
				}
				if lang == "bash" || lang == "sh" {
					want = append(want, "badjson=2", "forged=3", "parallel=preset value\n", "modes=600 700")
				} else {
					want = append(want, "typeerror=yes", "forged=HELPER_TOKEN_INVALID")
				}
				for _, w := range want {
					if !strings.Contains(logs, w) {
						t.Errorf("logs lack %q:\n%s", w, logs)
					}
				}
				app.mu.Lock()
				defer app.mu.Unlock()
				if app.vars["K_"+lang] != "v "+lang+" 1" || app.vars["K2_"+lang] != "from stdin" || !app.condition[app.runID] ||
					string(app.output[lang]) != `{"lang":"`+lang+`","n":[1,2]}` {
					t.Errorf("app state: vars %v output %s condition %v", app.vars, app.output[lang], app.condition)
				}
				if len(app.ops) < 9 {
					t.Errorf("only %d calls reached the app: %v", len(app.ops), app.ops)
				}
				if len(app.leaks) > 0 || app.scans.Load() < int64(len(app.ops)) {
					t.Errorf("token in a command line: %v (%d scans)", app.leaks, app.scans.Load())
				}
				if entries, _ := os.ReadDir(filepath.Join(h.state, "runs")); len(entries) != 0 {
					t.Errorf("run dir left behind: %v", entries)
				}
			})
		}
	}
}

func TestHelpersWithoutChannel(t *testing.T) {
	h := newHost(t)
	for _, lang := range []string{"bash", "python3", "node"} {
		t.Run(lang, func(t *testing.T) {
			script := map[string]string{
				"bash":    `cronium event; echo "rc=$?"; [ -z "${CRONIUM_HELPER_TOKEN+x}" ] && echo notoken; cat`,
				"python3": "import cronium, os, sys\ntry:\n    cronium.input()\nexcept cronium.CroniumError as e:\n    print('code=' + e.code + ' ' + e.message)\nprint('stdin=' + sys.stdin.read())",
				"node":    "const c = require('cronium');\ntry { c.output(1); } catch (e) { console.log('code=' + e.code); }\nconsole.log('stdin=' + require('fs').readFileSync(0, 'utf8'));",
			}[lang]
			s := h.run(h.sign(h.payload(script, func(p map[string]any) {
				p["interpreter"] = lang
				p["env"] = map[string]any{"PATH": os.Getenv("PATH")}
			})))
			frames := s.collect(t, 20*time.Second)
			s.stdin.Close()
			logs := logsOf(frames)
			want := map[string][]string{
				"bash":    {"cronium: HELPER_UNAVAILABLE: this run has no helper channel\n", "rc=3\n", "notoken\n"},
				"python3": {"code=HELPER_UNAVAILABLE this run has no helper channel\n", "stdin=\n"},
				"node":    {"code=HELPER_UNAVAILABLE\n", "stdin=\n"},
			}[lang]
			for _, w := range want {
				if !strings.Contains(logs, w) {
					t.Errorf("logs lack %q:\n%s", w, logs)
				}
			}
		})
	}
}

// A detached run's helpers work while the app holds the channel, fail at once
// with HELPER_UNAVAILABLE while it is gone, and work again through `attach`;
// the helper dir goes with the run.
func TestHelpersDetachedInBand(t *testing.T) {
	h := newHost(t)
	tmp := t.TempDir()
	gate1, gate2, mark := filepath.Join(tmp, "gate1"), filepath.Join(tmp, "gate2"), filepath.Join(tmp, "mark")
	p := h.payload(`cronium get-var PRESET; echo "dir=$(dirname "$CRONIUM_HELPER_SOCKET")"; echo ready
while [ ! -e "$GATE1" ]; do sleep 0.05; done
cronium event; echo "rc=$?"; touch "$MARK"
while [ ! -e "$GATE2" ]; do sleep 0.05; done
echo "again=$(cronium get-var PRESET) rc2=$?"`, func(p map[string]any) {
		p["detach"] = true
		p["env"] = map[string]any{"GATE1": gate1, "GATE2": gate2, "MARK": mark}
	})
	app := newHelperApp(t, p["runId"].(string))
	p["helper"] = map[string]any{"transport": "in-band", "token": app.token}
	s := h.run(h.sign(p))
	var got strings.Builder
	deadline := time.After(20 * time.Second)
	for !strings.Contains(got.String(), "ready\n") {
		select {
		case f, ok := <-s.frames:
			if !ok {
				t.Fatalf("stream ended early: %q", got.String())
			}
			if f.Type == protocol.TypeHelper {
				status, body := app.answer(f.Op, f.Token, f.Body)
				line, _ := (&protocol.Frame{Type: protocol.TypeHelperReply, ID: f.ID, Status: int64(status), Body: body}).Encode()
				s.stdin.Write(append(line, '\n'))
			}
			got.Write(f.Data)
		case <-deadline:
			t.Fatalf("no ready line: %q", got.String())
		}
	}
	if !strings.HasPrefix(got.String(), "preset value\n") {
		t.Fatalf("helper call over the channel: %q", got.String())
	}
	var helperDir string
	for _, l := range strings.Split(got.String(), "\n") {
		if strings.HasPrefix(l, "dir=") {
			helperDir = strings.TrimPrefix(l, "dir=")
		}
	}
	if st, err := os.Stat(helperDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("helper dir %q: %v", helperDir, err)
	}
	// The app goes away; the run goes on and its next call must not wait 30 s for a reply.
	s.stdin.Close()
	for range s.frames {
	}
	<-s.done
	os.WriteFile(gate1, nil, 0o600)
	for i := 0; ; i++ {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if i > 400 {
			t.Fatal("the script never got past its call without a channel")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The app comes back: attach serves the run's in-band calls again.
	a := h.start([]string{"attach", p["runId"].(string), "--state-dir", h.state}, nil)
	if hello := <-a.frames; hello == nil || hello.Type != protocol.TypeHello {
		t.Fatalf("attach starts with %+v", hello)
	}
	os.WriteFile(gate2, nil, 0o600)
	frames := app.drive(t, a, 20*time.Second)
	a.stdin.Close()
	logs := logsOf(frames)
	if !strings.Contains(logs, "cronium: HELPER_UNAVAILABLE: ") || !strings.Contains(logs, "rc=3\n") || !strings.Contains(logs, "again=preset value rc2=0\n") || last(frames).Type != protocol.TypeExit {
		t.Fatalf("after the channel went and came back: %q", logs)
	}
	if _, err := os.Stat(helperDir); !os.IsNotExist(err) {
		t.Errorf("helper dir left after the run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.state, "runs", p["runId"].(string), "frames.spool")); err != nil {
		t.Errorf("the spool must stay for attach: %v", err)
	}
}

// The `cronium` name and `cronium-runner helper` are the same command.
func TestCroniumNameIsHelper(t *testing.T) {
	bin := runnerBinary(t)
	dir := t.TempDir()
	link := filepath.Join(dir, "cronium")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{link, "--help"}, {bin, "helper", "--help"}} {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil || !strings.HasPrefix(string(out), "usage: cronium <command>") {
			t.Errorf("%v: %v %q", argv, err, out)
		}
	}
	cmd := exec.Command(link, "get-var", "X")
	cmd.Env = []string{"CRONIUM_HELPER_SOCKET=" + filepath.Join(dir, "none")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 || !strings.HasPrefix(stderr.String(), "cronium: HELPER_UNAVAILABLE: ") {
		t.Errorf("no relay: %v %q", err, stderr.String())
	}
}

// Bodies near the limit travel both ways in-band; a larger one is refused
// before it leaves the host.
func TestHelperSizeLimits(t *testing.T) {
	h := newHost(t)
	p := h.payload(`echo "input=$(cronium input | wc -c)"
v=$(head -c 1000000 /dev/zero | tr '\0' x)
printf '"%s"' "$v" | cronium output -; echo "ok=$?"
printf '"%s%s"' "$v" "$(head -c 50000 /dev/zero | tr '\0' y)" | cronium output - 2>&1; echo "big=$?"`, nil)
	app := newHelperApp(t, p["runId"].(string))
	app.input = json.RawMessage(`"` + strings.Repeat("i", 1000000) + `"`)
	p["helper"] = map[string]any{"transport": "in-band", "token": app.token}
	s := h.run(h.sign(p))
	frames := app.drive(t, s, 30*time.Second)
	s.stdin.Close()
	logs := logsOf(frames)
	for _, w := range []string{"input=1000003\n", "ok=0\n", "cronium: PAYLOAD_TOO_LARGE: ", "big=3\n"} {
		if !strings.Contains(logs, w) {
			t.Errorf("logs lack %q: %.500s", w, logs)
		}
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.ops) != 2 || app.ops[1] != "output" {
		t.Errorf("calls that reached the app: %v", app.ops)
	}
}
