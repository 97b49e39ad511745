// Package version identifies a build of cronium-runner: the release version
// and ARM level stamped at link time, the wire protocol it speaks, and the
// target it was compiled for.
package version

import "runtime"

// Protocol is the newest wire protocol this build speaks; `run` and `attach`
// speak the one their --protocol flag asks for (3 or 4) and name it in the
// hello frame; the app redeploys a runner that cannot speak its own. 2 added
// runtime helpers; 3 added the payload's mask (secret values masked at the
// source); 4 made frames binary (length-prefixed, raw output bytes).
const Protocol = 4

// Version is the release version, stamped with
// -ldflags "-X github.com/cronium/desktop/runner/internal/version.Version=…".
var Version = "0.0.0-dev"

// Arm is the GOARM level of an arm build ("7"), stamped like Version.
var Arm = ""

// Info describes a build; its JSON form is the output of `cronium-runner version`.
type Info struct {
	Version   string `json:"version"`
	Protocol  int    `json:"protocol"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Arm       string `json:"arm,omitempty"`
	GoVersion string `json:"goVersion"`
	Target    string `json:"target"`
}

// Current returns the Info of the running binary.
func Current() Info {
	arm := ""
	if runtime.GOARCH == "arm" {
		arm = Arm
	}
	return Info{
		Version:   Version,
		Protocol:  Protocol,
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		Arm:       arm,
		GoVersion: runtime.Version(),
		Target:    Target(runtime.GOOS, runtime.GOARCH, arm),
	}
}

// Target names a build target the way the app's artifact manifest does:
// "linux-amd64", or "linux-armv7" for arm with an ARM level.
func Target(goos, goarch, goarm string) string {
	if goarch == "arm" && goarm != "" {
		return goos + "-armv" + goarm
	}
	return goos + "-" + goarch
}
