package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Exit codes of the controller binary, as scripts read them.
const (
	// ExitOK: done, or help printed.
	ExitOK = 0
	// ExitError: the command ran and failed (the cluster refused, an object
	// is missing, the controller stopped on an error).
	ExitError = 1
	// ExitUsage: the command line is wrong (an unknown command or flag, a
	// bad value, a missing argument); nothing was attempted.
	ExitUsage = 2
)

// usageError is a command line that is wrong, as opposed to a command that
// failed: it exits ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef is a usageError with a message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// ExitCode is the process exit code for err, the result of Execute.
func ExitCode(err error) int {
	var usage usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return ExitUsage
	}
	return ExitError
}

// NewRootCommand is the controller binary's command line: run (the default),
// trace, explain, version and completion, in the conventions of kubectl:
// -n/--namespace, --context and kubectl's other connection flags, -o for
// what prints, --version, and -h everywhere.
func NewRootCommand(version string, stdout, stderr io.Writer) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "eso-bridge",
		Short: "Restart the workloads that use an ESO Secret once ESO has written a rotated value, and trace each rotation",
		Long: `eso-bridge runs beside the External Secrets Operator. When a secret rotates in
AWS, it makes ESO fetch it at once, waits until ESO has written the new value,
restarts exactly the workloads that use it, once, and traces the rotation.
With no command, or flags only, it runs the controller (eso-bridge run).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Any argument that is not a command is a usage error.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			hint := ""
			if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
				hint = "; did you mean " + strings.Join(suggestions, " or ") + "?"
			}
			return usagef("unknown command %q%s", args[0], hint)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				fmt.Fprintln(cmd.OutOrStdout(), "eso-bridge", version)
				return nil
			}
			return cmd.Help()
		},
	}
	// --version is the root's own flag rather than cobra's Version field:
	// cobra prints that one through text/template (SetVersionTemplate), and
	// a reachable template Execute makes the linker keep every exported
	// method of every type in the binary — about a third of its size, and
	// of its resident memory, since the pages are mapped whether used or not.
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "print the version")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newRunCommand(version), newTraceCommand(), newExplainCommand(), newVersionCommand(version))
	return root
}

// Execute runs the command line args (without the program name) until ctx
// ends; no command, or flags only, runs the controller.
func Execute(ctx context.Context, version string, args []string, stdout, stderr io.Writer) error {
	if defaultsToRun(args) {
		args = append([]string{"run"}, args...)
	}
	root := NewRootCommand(version, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// defaultsToRun reports whether args name no command: empty, or flags only
// (the controller's flags; help and --version stay the root's).
func defaultsToRun(args []string) bool {
	if len(args) == 0 {
		return true
	}
	switch args[0] {
	case "-h", "--help", "--version", "-v":
		return false
	}
	return strings.HasPrefix(args[0], "-")
}

// Report prints err as the binary does when a command fails, and returns the
// exit code.
func Report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(stderr, "eso-bridge: %v\n", err)
	if ExitCode(err) == ExitUsage {
		fmt.Fprintln(stderr, "Run 'eso-bridge --help' for usage.")
	}
	return ExitCode(err)
}

// exactlyOne is cobra's Args for a command of one object, as a usage error.
func exactlyOne(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("takes one %s, got %d arguments", what, len(args))
		}
		return nil
	}
}

// noArgs is cobra's NoArgs as a usage error.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("takes no arguments, got %q", args)
	}
	return nil
}

// Output formats of -o.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

// checkOutput validates -o against the formats a command prints.
func checkOutput(output string, formats ...string) error {
	for _, f := range formats {
		if output == f {
			return nil
		}
	}
	return usagef("-o must be one of %s, got %q", strings.Join(formats, ", "), output)
}

// printStructured writes v as JSON or YAML, with the JSON field names.
func printStructured(w io.Writer, format string, v any) error {
	if format == outputYAML {
		data, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// versionInfo is what `eso-bridge version -o json` prints.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

func newVersionCommand(version string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == "" {
				fmt.Fprintln(cmd.OutOrStdout(), "eso-bridge", version)
				return nil
			}
			if err := checkOutput(output, outputJSON, outputYAML); err != nil {
				return err
			}
			return printStructured(cmd.OutOrStdout(), output, versionInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json or yaml (default: one line)")
	return cmd
}
