package app

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
)

// Command is one verb of a command line.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// Main runs the command args name among commands until SIGINT or SIGTERM,
// and exits: 0 on success (help included), 1 for any other error. With no
// command, or flags only, it runs the first command. It serves the
// development command; the controller binary's CLI is NewRootCommand.
func Main(program string, commands []Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Dispatch(ctx, program, commands, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(1)
	}
}

// Dispatch runs the command args names; see Main.
func Dispatch(ctx context.Context, program string, commands []Command, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(stderr, program, commands)
		return nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return commands[0].Run(ctx, args, stdout, stderr)
	}
	for _, cmd := range commands {
		if cmd.Name == args[0] {
			return cmd.Run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr, program, commands)
	return fmt.Errorf("unknown command %q", args[0])
}

func usage(w io.Writer, program string, commands []Command) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n", program)
	fmt.Fprintln(w, "\ncommands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.Name, cmd.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags.\n", program)
}

// NewFlagSet returns a flag set that reports errors instead of exiting, so
// that every error leaves through Main's single exit.
func NewFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
