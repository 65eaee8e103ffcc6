// Command eso-bridge restarts the workloads that consume an External Secrets
// Operator Secret once ESO has really written a rotated value, and shows the
// rotation as one trace. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/eso-bridge/eso-bridge/internal/cli"
)

// subcommand is one verb of the eso-bridge command line.
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func subcommands() []subcommand {
	return []subcommand{
		{"demo", "show eso-bridge at work on a local control plane: two rotations, each traced; nothing to install", cli.Demo},
		{"run", "run the controller (the default when no command is given)", runController},
		{"trace", "print the timeline of an ExternalSecret's or a workload's latest rotation, from cluster state", cli.Trace},
		{"sandbox", "start a local control plane with ESO and an AWS Secrets Manager endpoint, until Ctrl-C", runSandbox},
		{"toolchain", "build (or find in the cache) the local control plane's binaries and the Helm CLI the chart tests use, and print their paths", runToolchain},
		{"version", "print the version", runVersion},
	}
}

// runController runs the controller, logging this binary's version.
func runController(ctx context.Context, args []string, _, stderr io.Writer) error {
	return cli.Run(ctx, args, stderr, versionString())
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "eso-bridge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(stderr)
		return nil
	}
	// With no command, or flags only, eso-bridge runs the controller.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return runController(ctx, args, stdout, stderr)
	}
	for _, cmd := range subcommands() {
		if cmd.name == args[0] {
			return cmd.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: eso-bridge <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, cmd := range subcommands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w, "\nRun 'eso-bridge <command> -h' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting, so
// that every error leaves through main's single exit.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("eso-bridge "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
