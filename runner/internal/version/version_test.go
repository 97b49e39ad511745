package version

import (
	"encoding/json"
	"runtime"
	"testing"
)

func TestTarget(t *testing.T) {
	tests := []struct {
		goos, goarch, goarm, want string
	}{
		{"linux", "amd64", "", "linux-amd64"},
		{"linux", "arm64", "", "linux-arm64"},
		{"linux", "arm", "7", "linux-armv7"},
		{"linux", "arm", "", "linux-arm"},
		{"linux", "386", "", "linux-386"},
		{"darwin", "arm64", "", "darwin-arm64"},
		{"freebsd", "amd64", "7", "freebsd-amd64"}, // GOARM means nothing off arm
	}
	for _, tc := range tests {
		if got := Target(tc.goos, tc.goarch, tc.goarm); got != tc.want {
			t.Errorf("Target(%q, %q, %q) = %q, want %q", tc.goos, tc.goarch, tc.goarm, got, tc.want)
		}
	}
}

func TestCurrent(t *testing.T) {
	info := Current()
	if info.Protocol != 4 {
		t.Errorf("Protocol = %d, want 4 (changing it makes the app redeploy every runner; change RUNNER_PROTOCOL with it)", info.Protocol)
	}
	if info.OS != runtime.GOOS || info.Arch != runtime.GOARCH || info.GoVersion != runtime.Version() {
		t.Errorf("Current() = %+v, does not describe this build", info)
	}
	if info.Version != Version {
		t.Errorf("Version = %q, want %q", info.Version, Version)
	}
}

func TestInfoJSON(t *testing.T) {
	tests := []struct {
		name    string
		info    Info
		wantArm bool
	}{
		{"amd64 has no arm key", Info{Version: "0.1.0", Protocol: 1, OS: "linux", Arch: "amd64", GoVersion: "go1.22.0", Target: "linux-amd64"}, false},
		{"arm carries its level", Info{Version: "0.1.0", Protocol: 1, OS: "linux", Arch: "arm", Arm: "7", GoVersion: "go1.22.0", Target: "linux-armv7"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.info)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"version", "protocol", "os", "arch", "goVersion", "target"} {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing from %s", k, b)
				}
			}
			if _, ok := m["arm"]; ok != tc.wantArm {
				t.Errorf("arm key present = %v, want %v in %s", ok, tc.wantArm, b)
			}
		})
	}
}
