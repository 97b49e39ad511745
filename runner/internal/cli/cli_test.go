package cli

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/cronium/desktop/runner/internal/version"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantUsage  bool   // usage text on stderr
		wantErr    string // error code of the JSON line on stderr
		wantInMsg  string // substring of that error's message
		wantStdout bool
	}{
		{name: "no args", args: nil, wantCode: ExitUsage, wantUsage: true},
		{name: "--help", args: []string{"--help"}, wantCode: ExitUsage, wantUsage: true},
		{name: "-h", args: []string{"-h"}, wantCode: ExitUsage, wantUsage: true},
		{name: "help", args: []string{"help"}, wantCode: ExitUsage, wantUsage: true},
		{name: "version", args: []string{"version"}, wantCode: ExitOK, wantStdout: true},
		{name: "version with args", args: []string{"version", "--json"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "no arguments"},
		{name: "unknown", args: []string{"frobnicate"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: `"frobnicate"`},
		{name: "flag as command", args: []string{"--version"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: `"--version"`},
		{name: "run with an argument", args: []string{"run", "--state-dir", "x", "payload.json"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "stdin"},
		{name: "run unknown flag", args: []string{"run", "--payload", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "payload"},
		{name: "attach without run", args: []string{"attach", "--state-dir", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "usage"},
		{name: "attach bad run id", args: []string{"attach", "../x", "--state-dir", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "usage"},
		{name: "attach from 0", args: []string{"attach", "r1", "--from", "0", "--state-dir", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "--from"},
		{name: "attach from not a number", args: []string{"attach", "r1", "--from", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "from"},
		{name: "doctor with args", args: []string{"doctor", "now"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "no arguments"},
		{name: "serve protocol 3", args: []string{"serve", "--state-dir", "x", "--protocol", "3"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "--protocol must be 4"},
		{name: "serve with an argument", args: []string{"serve", "--state-dir", "x", "payload.json"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "no arguments"},
		{name: "run resident protocol 3", args: []string{"run", "--state-dir", "x", "--resident", "a;b;c"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "--resident needs --protocol 4"},
		{name: "supervise without run", args: []string{"supervise", "--state-dir", "x"}, wantCode: ExitUsage, wantErr: "INVALID_INPUT", wantInMsg: "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := Run(tc.args, &stdout, &stderr); code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if got := stdout.Len() > 0; got != tc.wantStdout {
				t.Errorf("stdout written = %v, want %v: %q", got, tc.wantStdout, stdout.String())
			}
			if tc.wantUsage {
				if !strings.HasPrefix(stderr.String(), "usage: cronium-runner") {
					t.Errorf("stderr is not usage: %q", stderr.String())
				}
				for _, c := range commands {
					if !strings.Contains(stderr.String(), "  "+c.name) {
						t.Errorf("usage does not list %q", c.name)
					}
				}
			}
			if tc.wantErr != "" {
				var e struct{ Code, Message string }
				line := strings.TrimSuffix(stderr.String(), "\n")
				if strings.Contains(line, "\n") || json.Unmarshal([]byte(line), &e) != nil {
					t.Fatalf("stderr is not one JSON line: %q", stderr.String())
				}
				if e.Code != tc.wantErr || !strings.Contains(e.Message, tc.wantInMsg) {
					t.Errorf("error = %+v, want code %s with %q in the message", e, tc.wantErr, tc.wantInMsg)
				}
			}
		})
	}
}

// helper speaks the `cronium` command's own format (see package helper).
func TestHelperDispatch(t *testing.T) {
	t.Setenv("CRONIUM_HELPER_SOCKET", "")
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"helper", "output"}, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "cronium: INVALID_INPUT: ") {
		t.Errorf("helper output without a value: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := Run([]string{"helper", "event"}, &stdout, &stderr); code != 3 || !strings.HasPrefix(stderr.String(), "cronium: HELPER_UNAVAILABLE: ") {
		t.Errorf("helper event outside a run: exit %d, stderr %q", code, stderr.String())
	}
}

func TestVersionJSON(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run([]string{"version"}, &stdout, &stderr); code != ExitOK {
		t.Fatalf("exit code %d, stderr %q", code, stderr.String())
	}
	out := stdout.String()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("want exactly one line, got %q", out)
	}
	var got version.Info
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("version output %q: %v", out, err)
	}
	want := version.Info{
		Version:   version.Version,
		Protocol:  4,
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Arm:       version.Current().Arm,
		GoVersion: runtime.Version(),
		Target:    version.Target(runtime.GOOS, runtime.GOARCH, version.Current().Arm),
	}
	if got != want {
		t.Errorf("version = %+v, want %+v", got, want)
	}
}
