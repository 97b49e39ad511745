package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cronium/desktop/runner/internal/version"
)

// versionPkg is the -X target the app's artifact build stamps; -X on a name
// that does not exist is silently ignored, so this test pins it.
const versionPkg = "github.com/cronium/desktop/runner/internal/version"

func TestBinaryStampedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "cronium-runner")
	build := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X "+versionPkg+".Version=9.8.7-test", "-o", bin, ".")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	tests := []struct {
		args     []string
		wantCode int
	}{
		{[]string{"version"}, 0},
		{nil, 2},
		{[]string{"run"}, 2},
		{[]string{"nope"}, 2},
	}
	for _, tc := range tests {
		out, err := exec.Command(bin, tc.args...).Output()
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if code != tc.wantCode {
			t.Errorf("cronium-runner %v: exit %d, want %d", tc.args, code, tc.wantCode)
		}
		if tc.wantCode != 0 {
			continue
		}
		var info version.Info
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatalf("version output %q: %v", out, err)
		}
		if info.Version != "9.8.7-test" || info.Protocol != version.Protocol {
			t.Errorf("version = %+v, want the stamped 9.8.7-test and protocol %d", info, version.Protocol)
		}
	}
}
