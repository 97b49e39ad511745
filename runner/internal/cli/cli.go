// Package cli dispatches cronium-runner's subcommands.
//
// Output contract: machine-readable results go to stdout as one JSON line;
// failures go to stderr as one JSON line {"code","message"} with a code from
// the app's stable list, and exit with ExitUsage. Nothing fails silently.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cronium/desktop/runner/internal/version"
)

// Exit codes of the dispatcher itself; a script's own exit code is reported
// in the exit frame, never through these.
const (
	ExitOK       = 0
	ExitInternal = 1
	ExitUsage    = 2
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand in usage order; subcommands without an
// implementation yet answer NOT_IMPLEMENTED rather than doing nothing.
var commands = []command{
	{"run", "", "run a signed job payload read from stdin", notImplemented("run")},
	{"attach", "JOB --from SEQ", "reattach to a running job's log stream", notImplemented("attach")},
	{"version", "", "print build information as JSON", runVersion},
	{"doctor", "", "check what this host allows the runner to do", notImplemented("doctor")},
	{"helper", "OP [ARGS]", "call the runtime helper API from a script", notImplemented("helper")},
}

// Run executes the command line args (without the program name), writing to
// stdout and stderr, and returns the process exit code.
func Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stderr)
		return ExitUsage
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	return fail(stderr, "INVALID_INPUT", fmt.Sprintf("unknown command %q; run 'cronium-runner --help' for usage", args[0]))
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "INVALID_INPUT", "version takes no arguments")
	}
	if err := json.NewEncoder(stdout).Encode(version.Current()); err != nil {
		return fail(stderr, "INTERNAL", "writing version: "+err.Error())
	}
	return ExitOK
}

func notImplemented(name string) func([]string, io.Writer, io.Writer) int {
	return func(_ []string, _, stderr io.Writer) int {
		return fail(stderr, "NOT_IMPLEMENTED", fmt.Sprintf("%q is not implemented in cronium-runner %s", name, version.Version))
	}
}

func fail(stderr io.Writer, code, message string) int {
	b, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
	fmt.Fprintf(stderr, "%s\n", b)
	if code == "INTERNAL" {
		return ExitInternal
	}
	return ExitUsage
}

func usage(w io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: cronium-runner <command> [arguments]\n\n")
	fmt.Fprintf(&b, "cronium-runner %s (protocol %d) runs Cronium jobs on this host on behalf of\nthe Cronium app, which deploys it over SSH.\n\ncommands:\n", version.Version, version.Protocol)
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-24s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	io.WriteString(w, b.String())
}
