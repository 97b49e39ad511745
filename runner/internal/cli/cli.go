// Package cli dispatches cronium-runner's subcommands.
//
// Output contract: machine-readable results go to stdout as one JSON line;
// usage failures go to stderr as one JSON line {"code","message"} with a code
// from the app's stable list, and exit with ExitUsage. `run` and `attach`
// speak the frame protocol instead (package protocol): once their flags
// parse, every outcome, failures included, is a frame on stdout, and they
// exit 0 when the stream ended with an exit frame. Nothing fails silently.
package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cronium/desktop/runner/internal/helper"
	"github.com/cronium/desktop/runner/internal/version"
)

// Exit codes of the dispatcher itself; a script's own exit code is reported
// in the exit frame, never through these.
const (
	ExitOK       = 0
	ExitInternal = 1
	ExitUsage    = 2
	// ExitNoPayload: `run --resident` (a child of serve) found stdin ended
	// before any envelope, and wrote nothing; serve then ends with 0.
	ExitNoPayload = 3
)

type command struct {
	name, args, summary string
	run                 func(args []string, stdout, stderr io.Writer) int
}

// commands lists every subcommand in usage order; subcommands without an
// implementation yet answer NOT_IMPLEMENTED rather than doing nothing.
var commands = []command{
	{"run", "[--key PEM] [--host-id FILE] [--state-dir DIR]", "run a signed job payload read from stdin", runRun},
	{"serve", "[--key PEM] [--host-id FILE] [--state-dir DIR]", "run signed payloads from stdin one after another (Linux; --protocol 4)", runServe},
	{"attach", "RUN [--from SEQ] [--state-dir DIR]", "reattach to a run's frames, replaying from SEQ", runAttach},
	{"version", "", "print build information as JSON", runVersion},
	{"doctor", "[--state-dir DIR]", "check what this host allows the runner to do", runDoctor},
	{"helper", "OP [ARGS]", "call the runtime helper API from a script (also as `cronium`)", runHelper},
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
	if run, ok := internalCommands[args[0]]; ok {
		return run(args[1:], stdout, stderr)
	}
	return fail(stderr, "INVALID_INPUT", fmt.Sprintf("unknown command %q; run 'cronium-runner --help' for usage", args[0]))
}

// internalCommands are run by cronium-runner itself, never by the app.
var internalCommands = map[string]func([]string, io.Writer, io.Writer) int{
	"supervise":    runSupervise,
	"exec-limited": runExecLimited,
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

// runHelper is the `cronium` command scripts call; it speaks to the run's
// relay through CRONIUM_HELPER_SOCKET (see package helper).
func runHelper(args []string, stdout, stderr io.Writer) int {
	return helper.Main(args, helper.EnvFromOS(), os.Stdin, stdout, stderr)
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
		fmt.Fprintf(&b, "  %-52s %s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	b.WriteString("\nrun reads the installation key and host id from installation.pub and host-id\nnext to the binary unless given; the state dir defaults to ../state from it.\nserve runs each payload as run does, in a child started from its own binary,\nand writes a ready frame whenever it takes the next one.\n")
	io.WriteString(w, b.String())
}
