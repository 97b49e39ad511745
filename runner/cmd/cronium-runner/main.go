// Command cronium-runner runs Cronium jobs on a remote host on behalf of the
// Cronium Desktop app, which deploys it over SSH.
//
// Trust model: the binary is trusted because the app uploads only an artifact
// whose SHA-256 and ECDSA P-256 signature (cosign sign-blob format, made with
// the release key) verify, and the host re-checks the SHA-256 before each run.
// Everything the binary receives at run time is untrusted: `run` executes a
// payload only if it is signed by the installation's payload key pinned next
// to the binary (installation.pub), addressed to this host (host-id), within
// its validity window and never seen before (see internal/protocol and
// internal/replay); control frames can only cancel the run they arrived with.
package main

import (
	"os"
	"path/filepath"

	"github.com/cronium/desktop/runner/internal/cli"
)

func main() {
	args := os.Args[1:]
	// Invoked as `cronium` (the link in a run's helper dir), it is `cronium-runner helper`.
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) == "cronium" {
		args = append([]string{"helper"}, args...)
	}
	os.Exit(cli.Run(args, os.Stdout, os.Stderr))
}
